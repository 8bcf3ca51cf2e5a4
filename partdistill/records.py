"""Typed reading of the records in files a user may hand over (manifests, metadata, settings).

JSON and the metadata inside shape files can hold anything: a number where a name belongs, a list
of a million parts, `Infinity`, `false` where a reason was expected. `Fields` reads one record
field by field, checking each field's type, range and size before anything is built from it, and
turns every problem into one `PdError` that names the file and the field. Nothing is coerced: a
name must be a string, a count a whole number (never a bool or a float).
"""

from __future__ import annotations

import math
from typing import Any

from partdistill.errors import PdError

MAX_TEXT = 1_000  # characters in one name, id, prompt or reason
MAX_ITEMS = 10_000  # entries in one list field (part names, part counts)
_MISSING: Any = object()


class Fields:
    """The fields of one record (a JSON object) read from `source`.

    Each reader takes the field's key and, where the field may be absent, a `default`; a missing
    field without a default, or a field of the wrong type, size or range, is a PdError.
    """

    def __init__(self, data: object, source: str, what: str = "a record") -> None:
        if not isinstance(data, dict):
            raise PdError(f"{source} is not {what} (a JSON object): it holds a {_kind(data)}.")
        self.data = data
        self.source = source

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str, default: Any) -> Any:
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise PdError(f"{self.source} has no '{key}'.")
        return default

    def _wrong(self, key: str, expected: str, value: object) -> PdError:
        return PdError(f"{self.source}: '{key}' must be {expected}, not {_short(value)}.")

    def only(self, known: set[str] | frozenset[str]) -> None:
        """Refuse keys outside `known`."""
        unknown = sorted(str(key) for key in self.data if key not in known)
        if unknown:
            raise PdError(f"{self.source}: unknown keys {unknown[:5]}; it may have {sorted(known)}.")

    def text(self, key: str, default: Any = _MISSING, *, max_length: int = MAX_TEXT) -> Any:
        """A non-empty string of at most `max_length` characters (or `default` where absent; a
        None value is `default` too where the default is None)."""
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if value is None and default is None:
            return None
        if not isinstance(value, str) or not value.strip() or len(value) > max_length:
            raise self._wrong(key, f"a non-empty text of at most {max_length:,} characters", value)
        return value

    def whole(
        self, key: str, default: Any = _MISSING, *, at_least: int | None = None, at_most: int | None = None
    ) -> Any:
        """A whole number (not a bool, not a float) in [at_least, at_most]."""
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if value is None and default is None:
            return None
        if not _is_whole(value, at_least, at_most):
            raise self._wrong(key, "a whole number" + _range(at_least, at_most), value)
        return value

    def number(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        at_least: float | None = None,
        at_most: float | None = None,
    ) -> Any:
        """A finite number (not a bool) in [at_least, at_most]."""
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if value is None and default is None:
            return None
        finite = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if (
            not finite
            or (at_least is not None and value < at_least)
            or (at_most is not None and value > at_most)
        ):
            raise self._wrong(key, "a finite number" + _range(at_least, at_most), value)
        return value

    def flag(self, key: str, default: Any = _MISSING) -> Any:
        """true or false."""
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self._wrong(key, "true or false", value)
        return value

    def texts(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        max_items: int = MAX_ITEMS,
        max_length: int = MAX_TEXT,
        unique: bool = False,
    ) -> Any:
        """A list of at most `max_items` non-empty strings (distinct with `unique`), as a tuple."""
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        expected = f"a list of at most {max_items:,} non-empty texts"
        if not isinstance(value, list) or len(value) > max_items:
            raise self._wrong(key, expected, value)
        if not all(isinstance(v, str) and v.strip() and len(v) <= max_length for v in value):
            raise self._wrong(key, expected, value)
        if unique and len(set(value)) < len(value):
            raise self._wrong(key, "a list of distinct texts", value)
        return tuple(value)

    def wholes(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        max_items: int = MAX_ITEMS,
        at_least: int | None = None,
        at_most: int | None = None,
    ) -> Any:
        """A list of at most `max_items` whole numbers in [at_least, at_most], as a tuple."""
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if (
            not isinstance(value, list)
            or len(value) > max_items
            or not all(_is_whole(v, at_least, at_most) for v in value)
        ):
            raise self._wrong(
                key, f"a list of at most {max_items:,} whole numbers{_range(at_least, at_most)}", value
            )
        return tuple(value)

    def entries(
        self, key: str, default: Any = _MISSING, *, min_items: int = 0, max_items: int = MAX_ITEMS
    ) -> Any:
        """A list of `min_items` to `max_items` values of any kind, as a tuple, for the caller to
        read one by one (an object with `Fields`): for lists whose entries may take several forms."""
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, list) or not min_items <= len(value) <= max_items:
            raise self._wrong(key, f"a list of {min_items:,} to {max_items:,} entries", value)
        return tuple(value)

    def records(self, key: str, default: Any = _MISSING, *, max_items: int = MAX_ITEMS) -> Any:
        """A list of at most `max_items` JSON objects, each as `Fields` naming its key and position."""
        value = self.entries(key, default, max_items=max_items)
        if value is default and default is not _MISSING:
            return value
        return tuple(
            Fields(item, f"{self.source}: '{key}' entry {i}", "an object") for i, item in enumerate(value)
        )

    def record(self, key: str, default: Any = _MISSING) -> Any:
        """A nested JSON object, as `Fields` naming this record's source and the key."""
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        return Fields(value, f"{self.source}: '{key}'", "an object")


def _is_whole(value: object, at_least: int | None, at_most: int | None) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and (at_least is None or value >= at_least)
        and (at_most is None or value <= at_most)
    )


def _range(at_least: float | None, at_most: float | None) -> str:
    if at_least is not None and at_most is not None:
        return f" from {at_least:,} to {at_most:,}"
    if at_least is not None:
        return f" of at least {at_least:,}"
    if at_most is not None:
        return f" of at most {at_most:,}"
    return ""


def _kind(value: object) -> str:
    return {dict: "object", list: "list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "number" if isinstance(value, int | float) else type(value).__name__
    )


def refuse_other_settings(earlier: dict, ours: dict, made: str, advice: str) -> None:
    """Refuse (one PdError) to continue work that was made with other settings than `ours`: `made`
    says what holds it ("runs/x was started"), then which settings differ and how, then `advice`.
    Settings `earlier` lacks or has beyond `ours` count as different."""
    changed = sorted(key for key in ours.keys() | earlier.keys() if earlier.get(key) != ours.get(key))
    if not changed:
        return
    details = "; ".join(
        f"{key} was {_short(earlier.get(key))}, now {_short(ours.get(key))}" for key in changed
    )
    raise PdError(f"{made} with other settings ({', '.join(changed)}): {details}; {advice}")


def _short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
