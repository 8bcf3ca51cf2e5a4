"""The user's own categories: a small file, or a name and parts on the command line.

A category file is TOML (read with the standard library's tomllib: people write these by hand,
and TOML has comments and no trailing-comma traps) or JSON (what partdistill records in its
outputs). For example `teapot.toml`:

    name = "teapot"                       # how pd refers to it; not a catalogue name
    noun = "teapot"                       # the words in sentences (default: the name)
    parts = ["lid", "spout", "handle", {name = "body", teacher = "pot body"}]   # in label order
    # (a part given as a table may name the words a 2D teacher is asked for)

    [prompts]                             # optional: text-to-3D prompt words
    templates = ["a {style} {material} {noun} {feature}"]
    styles = ["victorian", "modern"]
    materials = ["porcelain", "cast iron"]
    features = ["with a long spout", "with a bamboo handle"]

On the command line: `--category teapot --parts "lid,spout,handle,body"`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from partdistill.errors import PdError, option
from partdistill.files import parse_json
from partdistill.prompts.catalog import (
    MAX_PHRASE,
    Category,
    PromptWords,
    category_name,
    checked_category,
    find_category,
    read_parts,
    register_category,
)
from partdistill.records import Fields

FILE_SUFFIXES = (".toml", ".json")
MAX_FILE_BYTES = 1 << 20  # a category file; the largest a person would write takes a few kilobytes
_KEYS = {"name", "noun", "title", "parts", "prompts"}


def resolve_category(spec: str, parts: str | None = None) -> Category:
    """The category a command line names: a category file, a new name with `parts` ("lid,spout"),
    or a known category (built in, or registered in this process). User categories are registered."""
    path = Path(spec)
    if path.suffix.lower() in FILE_SUFFIXES:
        if parts is not None:
            raise PdError(f"Give the parts either in the category file or with {option('parts')}, not both.")
        return register_category(load_category_file(path))
    if parts is not None:
        names = [part.strip() for part in parts.split(",")]
        return register_category(user_category({"name": spec, "parts": names}, option("parts")))
    return find_category(spec)


def load_category_file(path: str | Path) -> Category:
    """The category a TOML or JSON file defines (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise PdError(f"{path} {what}: expected a category file (.toml or .json).")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise PdError(f"{path} holds {size:,} bytes; a category file holds at most {MAX_FILE_BYTES:,}.")
    try:
        if path.suffix.lower() == ".json":
            data = parse_json(path.read_text())
        else:
            data = _toml().loads(path.read_text())
    except (UnicodeDecodeError, ValueError, RecursionError) as error:  # TOMLDecodeError is a ValueError
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise PdError(f"{path} is not a readable category file ({reason}).") from error
    return user_category(data, str(path))


def user_category(data: object, source: str) -> Category:
    """A user category from a parsed definition, every field typed and bounded (nothing coerced);
    one PdError naming `source` if it is not one."""
    fields = Fields(data, source, "a category definition (name, noun and parts)")
    fields.only(_KEYS)
    name = category_name(fields.text("name", max_length=MAX_PHRASE).strip().lower(), source)
    if name == "all":
        raise PdError(f"{source}: 'all' stands for ShapeNetPart's 16 categories; give yours another name.")
    noun = fields.text("noun", None, max_length=MAX_PHRASE)
    title = fields.text("title", None, max_length=MAX_PHRASE)
    prompts = fields.record("prompts", None)
    category = Category(
        name=name,
        title=name if title is None else title.strip(),
        dataset="user",
        synset=None,
        noun=name.replace("_", " ").replace("-", " ") if noun is None else noun.strip(),
        parts=read_parts(fields, source),
        words=PromptWords() if prompts is None else PromptWords.read(prompts),
    )
    checked_category(category, source)
    asked: dict[str, str] = {}
    for part in category.parts:  # a teacher asked the same words twice cannot tell the parts apart
        if part.teacher.lower() in asked:
            raise PdError(
                f"{source}: the parts {asked[part.teacher.lower()]!r} and {part.name!r} ask the teacher for "
                f"the same words ({part.teacher!r}); give each part words of its own."
            )
        asked[part.teacher.lower()] = part.name
    return category


def _toml():
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib
    import tomli  # the same parser, for Python 3.10

    return tomli
