"""The user's own categories: a small file, or a name and parts on the command line.

A category file is TOML (read with the standard library's tomllib: people write these by hand,
and TOML has comments and no trailing-comma traps) or JSON (what partdistill records in its
outputs). For example `teapot.toml`:

    name = "teapot"                       # how pd refers to it; not a catalogue name
    noun = "teapot"                       # the words in sentences (default: the name)
    parts = ["lid", "spout", "handle", "body"]     # in label order

    # a part may give the words a 2D teacher is asked for:
    # [[parts]]
    # name = "body"
    # teacher = "pot body"

    [prompts]                             # optional: text-to-3D prompt words
    templates = ["a {style} {material} {noun} {feature}"]
    styles = ["victorian", "modern"]
    materials = ["porcelain", "cast iron"]
    features = ["with a long spout", "with a bamboo handle"]

On the command line: `--category teapot --parts "lid,spout,handle,body"`.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from partdistill.errors import PdError
from partdistill.prompts.catalog import Category, Part, PromptWords, find_category, register_category

FILE_SUFFIXES = (".toml", ".json")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_KEYS = {"name", "noun", "title", "parts", "prompts"}


def resolve_category(spec: str, parts: str | None = None) -> Category:
    """The category a command line names: a category file, a new name with `parts` ("lid,spout"),
    or a known category (built in, or registered in this process). User categories are registered."""
    path = Path(spec)
    if path.suffix.lower() in FILE_SUFFIXES:
        if parts is not None:
            raise PdError("Give the parts either in the category file or with --parts, not both.")
        return register_category(load_category_file(path))
    if parts is not None:
        names = [part.strip() for part in parts.split(",")]
        return register_category(user_category({"name": spec, "parts": names}, "--parts"))
    return find_category(spec)


def load_category_file(path: str | Path) -> Category:
    """The category a TOML or JSON file defines (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise PdError(f"{path} does not exist: expected a category file (.toml or .json).")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text())
        else:
            data = _toml().loads(path.read_text())
    except (UnicodeDecodeError, ValueError) as error:  # tomllib.TOMLDecodeError is a ValueError
        raise PdError(f"{path} is not a readable category file ({error}).") from error
    if not isinstance(data, dict):
        raise PdError(f"{path} does not define a category (expected name, noun and parts).")
    return user_category(data, str(path))


def user_category(data: dict, source: str) -> Category:
    """A user category from a parsed definition; one PdError naming `source` if it is not one."""
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise PdError(f"{source}: unknown keys {unknown}; a category has {sorted(_KEYS)}.")
    try:
        json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError as error:
        raise PdError(f"{source}: holds text that is not valid Unicode ({error.reason}).") from error
    name = str(data.get("name", "")).strip().lower()
    if not _NAME.fullmatch(name):
        raise PdError(
            f"{source}: the category name {data.get('name')!r} must be lower-case letters, digits, "
            "'-' or '_'."
        )
    raw_parts = data.get("parts")
    if not isinstance(raw_parts, list) or not raw_parts:
        raise PdError(f"{source}: 'parts' must list the category's parts in label order.")
    parts = []
    for entry in raw_parts:
        if isinstance(entry, str):
            part_name, teacher = entry.strip(), entry.strip()
        elif isinstance(entry, dict) and isinstance(entry.get("name"), str):
            part_name = entry["name"].strip()
            teacher = str(entry.get("teacher", part_name)).strip()
        else:
            raise PdError(
                f"{source}: a part is a name, or a table with a name (and teacher words): {entry!r}."
            )
        if not part_name or not teacher:
            raise PdError(f"{source}: part names and teacher words must not be empty.")
        parts.append(Part(part_name, teacher))
    names = [part.name for part in parts]
    if len(set(names)) != len(names):
        raise PdError(f"{source}: the part names repeat: {names}.")
    prompts = data.get("prompts") or {}
    if not isinstance(prompts, dict) or set(prompts) - set(PromptWords.__dataclass_fields__):
        raise PdError(
            f"{source}: 'prompts' may give {sorted(PromptWords.__dataclass_fields__)}, each a list."
        )
    words = {}
    for field, value in prompts.items():
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise PdError(f"{source}: prompts.{field} must be a list of words or sentences.")
        words[field] = tuple(v.strip() for v in value)
    for template in words.get("templates", ()):
        try:
            template.format(noun="", style="", material="", feature="")
        except (KeyError, IndexError, ValueError) as error:
            raise PdError(
                f"{source}: the template {template!r} may use only "
                "{noun}, {style}, {material} and {feature}."
            ) from error
    noun = str(data.get("noun") or name.replace("_", " ").replace("-", " ")).strip()
    return Category(
        name=name,
        title=str(data.get("title") or name),
        dataset="user",
        synset=None,
        noun=noun,
        parts=tuple(parts),
        words=PromptWords(**words),
    )


def _toml():
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    import tomli  # the same parser, for Python 3.10

    return tomli
