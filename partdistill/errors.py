"""The one exception type users see.

Library code raises `PdError` for anything the user can fix (a missing file, a corrupt PLY, an
unknown category). Its message is a single sentence that says what is wrong and, where it helps,
what to do. The CLI prints that sentence and exits non-zero; every other exception is a bug and
keeps its traceback.
"""


class PdError(Exception):
    """A problem with the user's input or environment, explained in one sentence."""


class MissingDependencyError(PdError):
    """An optional package needed for the requested feature is not installed."""

    def __init__(self, package: str, feature: str, install: str) -> None:
        super().__init__(f"{feature} needs the '{package}' package, which is not installed: {install}")
