"""The one exception type users see.

Library code raises `PdError` for anything the user can fix (a missing file, a corrupt PLY, an
unknown category). Its message is a single sentence that says what is wrong and, where it helps,
what to do. The CLI prints that sentence and exits non-zero; every other exception is a bug and
keeps its traceback.

A message that names a setting writes it with `option("image_size")`: a Python caller reads it
as `image_size`, and the command line, through `PdError.render`, as its flag `--image-size`.
"""

import re
from collections.abc import Callable

MAX_SEED = 2**63 - 1  # torch.manual_seed takes a signed 64-bit seed
# Around a setting's name in a message: private-use characters, which no path or value holds.
_SETTING = re.compile("\ue000([a-z0-9_]+)\ue001")


def option(setting: str) -> str:
    """`setting` (a keyword of the library's calls, such as "image_size") marked inside a message or
    a progress note, so that each reader sees its own name for it (see `named`)."""
    return f"\ue000{setting}\ue001"


def named(text: str, name: Callable[[str], str] | None = None) -> str:
    """`text` with each setting it names (`option`) written as `name(setting)`; by default as a
    Python caller writes it, in backquotes (`image_size`)."""
    return _SETTING.sub(lambda match: name(match.group(1)) if name else f"`{match.group(1)}`", text)


def first_few(names: list[str], shown: int) -> str:
    """The first `shown` of `names`, comma-separated, and how many more ("a, b, c and 4 more"): a
    list in a message."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


class PdError(Exception):
    """A problem with the user's input or environment, explained in one sentence."""

    def render(self, name: Callable[[str], str]) -> str:
        """The message with each setting it names written as `name(setting)` (see `named`)."""
        return named(super().__str__(), name)

    def __str__(self) -> str:
        return named(super().__str__())

    def _render_traceback_(self) -> list[str]:
        """IPython's hook: a notebook shows the sentence alone, as the command line does, not the
        library's frames (a wrong input is the caller's to fix, not a fault to trace)."""
        return [f"{type(self).__name__}: {self}"]


class MissingDependencyError(PdError):
    """An optional package needed for the requested feature is not installed."""

    def __init__(self, package: str, feature: str, install: str) -> None:
        super().__init__(f"{feature} needs the '{package}' package, which is not installed: {install}")


def check_number(
    value: float, setting: str, *, above: float | None = None, at_least: float | None = None,
    at_most: float | None = None, whole: bool = False,
) -> float:  # fmt: skip
    """`value` if it is a finite number in the range given, else a PdError naming `setting`.

    `above` is an open lower bound, `at_least` a closed one, `at_most` a closed upper bound. With
    `whole`, it must be a whole number (a Python int): a count of 12.5 is refused, never truncated.
    """
    import math

    finite = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))  # ints of any size
    name = option(setting)
    if isinstance(value, bool) or not finite:
        raise PdError(f"{name} must be a finite number, not {value!r}.")
    if whole and not isinstance(value, int):
        raise PdError(f"{name} must be a whole number, not {value!r}.")
    if above is not None and not value > above:
        raise PdError(f"{name} must be above {above}, not {value}.")
    if at_least is not None and not value >= at_least:
        raise PdError(f"{name} must be at least {at_least}, not {value}.")
    if at_most is not None and not value <= at_most:
        raise PdError(f"{name} must be at most {at_most}, not {value}.")
    return value
