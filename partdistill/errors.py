"""The one exception type users see.

Library code raises `PdError` for anything the user can fix (a missing file, a corrupt PLY, an
unknown category). Its message is a single sentence that says what is wrong and, where it helps,
what to do. The CLI prints that sentence and exits non-zero; every other exception is a bug and
keeps its traceback.
"""

MAX_SEED = 2**63 - 1  # torch.manual_seed takes a signed 64-bit seed


class PdError(Exception):
    """A problem with the user's input or environment, explained in one sentence."""


class MissingDependencyError(PdError):
    """An optional package needed for the requested feature is not installed."""

    def __init__(self, package: str, feature: str, install: str) -> None:
        super().__init__(f"{feature} needs the '{package}' package, which is not installed: {install}")


def check_number(
    value: float, option: str, *, above: float | None = None, at_least: float | None = None,
    at_most: float | None = None,
) -> float:  # fmt: skip
    """`value` if it is a finite number in the range given, else a PdError naming `option`.

    `above` is an open lower bound, `at_least` a closed one, `at_most` a closed upper bound.
    """
    import math

    finite = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))  # ints of any size
    if isinstance(value, bool) or not finite:
        raise PdError(f"{option} must be a finite number, not {value}.")
    if above is not None and not value > above:
        raise PdError(f"{option} must be above {above}, not {value}.")
    if at_least is not None and not value >= at_least:
        raise PdError(f"{option} must be at least {at_least}, not {value}.")
    if at_most is not None and not value <= at_most:
        raise PdError(f"{option} must be at most {at_most}, not {value}.")
    return value
