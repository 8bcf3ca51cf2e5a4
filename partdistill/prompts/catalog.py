"""Category catalogues: which parts each category has, their benchmark ids and teacher words.

Two vocabularies ship as data files beside this module: ShapeNetPart's 16 categories (global part
ids 0-49) and PartNetE's 45 categories (103 parts). A category is named by its short name
("chair"); where both datasets have it, the plain name means ShapeNetPart and
"partnete/Chair" selects PartNetE's.

A third kind are the user's own categories (`partdistill.prompts.user`): defined in a file or on
the command line, registered in this process with `register_category`, and recorded in every
output that uses them, so a collection or a run folder brings its category along.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import re
import string
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal, cast

from partdistill.errors import PdError, option
from partdistill.records import Fields
from partdistill.shapes import MAX_PARTS

Dataset = Literal["shapenetpart", "partnete", "user"]
DATASETS: tuple[Dataset, ...] = ("shapenetpart", "partnete", "user")
SLOTS = ("noun", "style", "material", "feature")  # the fields a prompt template may fill
# Bounds on a category read from a file or a record: every accepted category shows and makes its
# prompts in a fraction of a second.
MAX_PHRASE = 100  # characters in a name, a noun, a part's teacher words or one prompt word
MAX_TEMPLATE = 200  # characters in one prompt template
MAX_CHOICES = 100  # templates, or words for one slot
MAX_PROMPTS = 25_000  # sentences the templates make with every choice of words (before repeats go)
NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")  # a category name: it becomes part of folder names


@dataclass(frozen=True)
class Part:
    """One part of a category.

    Attributes:
        name: the benchmark's name for the part ("seat").
        teacher: the words a 2D teacher is asked to find ("seat pad").
        global_id: ShapeNetPart's global part id (0-49), or None for PartNetE.
    """

    name: str
    teacher: str
    global_id: int | None = None

    @classmethod
    def read(cls, fields: Fields) -> Part:
        """A part from its record: a name, teacher words (default: the name) and a benchmark id."""
        fields.only({"name", "teacher", "id"})
        name = fields.text("name", max_length=MAX_PHRASE).strip()
        teacher = fields.text("teacher", None, max_length=MAX_PHRASE)
        return cls(name, name if teacher is None else teacher.strip(), fields.whole("id", None, at_least=0))


@dataclass(frozen=True)
class PromptWords:
    """How text-to-3D prompts for a category are written (see `partdistill.prompts.text`).

    Attributes:
        templates: sentences with {noun}, {style}, {material} and {feature} slots; empty: the
            shared templates.
        nouns, styles, materials, features: words for the slots; empty: the shared generic
            words (for a user category, its noun, and its parts as features).
    """

    templates: tuple[str, ...] = ()
    nouns: tuple[str, ...] = ()
    styles: tuple[str, ...] = ()
    materials: tuple[str, ...] = ()
    features: tuple[str, ...] = ()

    @classmethod
    def read(cls, fields: Fields) -> PromptWords:
        """The words a record or category file gives: each a list of at most MAX_CHOICES texts
        (stripped), and templates that fill only the bare slots (see `template_slots`)."""
        fields.only(set(cls.__dataclass_fields__))
        words = {
            key: tuple(
                text.strip()
                for text in fields.texts(
                    key,
                    (),
                    max_items=MAX_CHOICES,
                    max_length=MAX_TEMPLATE if key == "templates" else MAX_PHRASE,
                )
            )
            for key in cls.__dataclass_fields__
        }
        for template in words["templates"]:
            template_slots(template, fields.source)
        return cls(**words)


@dataclass(frozen=True)
class Category:
    """A category and its parts, in label order (label i = parts[i]).

    Attributes:
        name: lower-case catalogue name ("chair", "coffeemachine", "teapot").
        title: the dataset's own spelling ("Chair", "CoffeeMachine").
        dataset: the vocabulary it comes from ("user" for the user's own).
        synset: ShapeNet synset id ("03001627"), or None.
        noun: the category as words in a sentence ("coffee machine").
        parts: its parts.
        words: its own text-to-3D prompt words (user categories; built-in ones use the data file).
    """

    name: str
    title: str
    dataset: Dataset
    synset: str | None
    noun: str
    parts: tuple[Part, ...]
    words: PromptWords = PromptWords()

    @property
    def part_names(self) -> tuple[str, ...]:
        return tuple(part.name for part in self.parts)

    def part_named(self, names: Sequence[str]) -> int | None:
        """The part a file's names for a piece name (`part_matching`), trying them in order; None
        where none names one of this category's parts."""
        for name in names:
            found = part_matching(name, self.parts)
            if found is not None:
                return found
        return None

    @property
    def qualified_name(self) -> str:
        return f"{self.dataset}/{self.name}"

    @property
    def key(self) -> str:
        """The shortest name `find_category` maps back to this category ("chair", "partnete/chair",
        a user category's own name)."""
        return self.qualified_name if self.dataset == "partnete" else self.name

    def to_record(self) -> dict[str, object]:
        """The category as JSON-ready data, for outputs that must bring it along."""
        return {
            "name": self.name,
            "title": self.title,
            "dataset": self.dataset,
            "synset": self.synset,
            "noun": self.noun,
            "parts": [{"name": p.name, "teacher": p.teacher, "id": p.global_id} for p in self.parts],
            "words": {field: list(getattr(self.words, field)) for field in PromptWords.__dataclass_fields__},
        }

    @classmethod
    def from_record(cls, record: object, source: str = "a category record") -> Category:
        """The category `to_record` wrote, its fields typed and bounded as a category file's are;
        one PdError naming `source` (the file and where in it) when it is not one."""
        fields = Fields(record, source, "a category record")
        fields.only({"name", "title", "dataset", "synset", "noun", "parts", "words"})
        dataset = fields.text("dataset")
        if dataset not in DATASETS:
            raise PdError(f"{source}: 'dataset' must be one of {', '.join(DATASETS)}, not {dataset!r}.")
        words = fields.record("words", None)
        category = cls(
            name=category_name(fields.text("name", max_length=MAX_PHRASE), source),
            title=fields.text("title", max_length=MAX_PHRASE),
            dataset=cast(Dataset, dataset),
            synset=fields.text("synset", None, max_length=MAX_PHRASE),
            noun=fields.text("noun", max_length=MAX_PHRASE),
            parts=read_parts(fields, source),
            words=PromptWords() if words is None else PromptWords.read(words),
        )
        return checked_category(category, source)


def _tokens(text: str) -> list[str]:
    """A name as lower-case words and numbers: camelCase, '_', '-', '.' and spaces split it
    ("FrontLeg_3" -> ["front", "leg", "3"])."""
    return re.findall(r"[a-z]+|[0-9]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower())


def _words(text: str) -> tuple[str, ...]:
    """A name as `_tokens`, the numbers at its end gone ("Leg.001", "leg_2", "FrontLeg3" ->
    ("front", "leg"))."""
    words = _tokens(text)
    while words and words[-1].isdigit():
        words.pop()
    return tuple(words)


def part_matching(name: str, parts: Sequence[Part]) -> int | None:
    """The part `name` (a GLB node's name, a label's name in a file) stands for: the part whose name
    or teacher words it is, case, separators and a number at its end aside ("Spout.001" is spout,
    "pot_body" the part taught as "pot body"), or a plural of it ("legs"); else the one part whose
    name or teacher words appear in it as whole words ("chair_leg_front" is leg; "lid handle"
    names two parts, so none). None where nothing fits."""
    words = _words(name)
    if not words:
        return None
    known = [{_words(part.name), _words(part.teacher)} - {()} for part in parts]
    singular = words[:-1] + (words[-1][:-1],) if words[-1].endswith("s") else words
    for candidate in (words, singular):
        exact = [i for i, forms in enumerate(known) if candidate in forms]
        if len(exact) == 1:
            return exact[0]

    def inside(form: tuple[str, ...]) -> bool:
        return any(
            words[i : i + len(form)] == form or singular[i : i + len(form)] == form
            for i in range(len(words) - len(form) + 1)
        )

    within = [i for i, forms in enumerate(known) if any(inside(form) for form in forms)]
    return within[0] if len(within) == 1 else None


def read_parts(fields: Fields, source: str) -> tuple[Part, ...]:
    """The 'parts' of a category record or file: 1 to MAX_PARTS parts, each a name or a table."""
    entries = fields.entries("parts", min_items=1, max_items=MAX_PARTS)
    return tuple(
        Part.read(
            Fields({"name": entry} if isinstance(entry, str) else entry, f"{source}: part {i + 1}", "a part")
        )
        for i, entry in enumerate(entries)
    )


def category_name(name: str, source: str) -> str:
    """`name` if it is a category name (lower-case letters, digits, '-' and '_'), else a PdError."""
    if not NAME.fullmatch(name):
        raise PdError(f"{source}: the category name {name!r} must be lower-case letters, digits, '-' or '_'.")
    return name


def checked_category(category: Category, source: str) -> Category:
    """`category` once its part names are distinct, its texts valid Unicode (JSON escapes can hold
    lone surrogates) and its prompts at most MAX_PROMPTS; else a PdError naming `source`."""
    names = category.part_names
    if len(set(names)) != len(names):
        raise PdError(f"{source}: the part names repeat: {list(names)[:10]}.")
    texts = [category.name, category.title, *names, *(part.teacher for part in category.parts)]
    control = next((text for text in texts if any(unicodedata.category(c) == "Cc" for c in text)), None)
    if control is not None:  # a newline or a NUL breaks every table and line a name is shown in
        raise PdError(f"{source}: {control!r} holds a control character; names are one line of text.")
    seen: dict[tuple[str, ...], str] = {}
    for name in names:  # "Lid" and "lid", "front_leg" and "FrontLeg": one part to a reader
        form = tuple(_tokens(name))
        if form and form in seen:
            raise PdError(
                f"{source}: the parts {seen[form]!r} and {name!r} differ only in case or separators; "
                "give parts names that tell them apart."
            )
        seen[form] = name
    try:
        json.dumps(category.to_record(), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        raise PdError(f"{source}: holds text that is not valid Unicode ({error.reason}).") from error
    check_prompt_count(category, source)
    return category


def template_slots(template: str, source: str = "the built-in prompts") -> tuple[str, ...]:
    """The slots a prompt template fills, in `SLOTS` order; a PdError naming `source` for anything
    else `str.format` would do with it: a format spec ({noun:>100000000} asks for 100 MB), a
    conversion, an attribute or index ({noun.__class__}), another name, or an unmatched brace."""
    try:
        fields = [
            (name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template)
        ]
    except ValueError:
        fields = [("{", None, None)]
    used = {name for name, _, _ in fields if name is not None}
    if not used <= set(SLOTS) or any(
        name is not None and (spec or conversion) for name, spec, conversion in fields
    ):
        raise PdError(
            f"{source}: the template {template!r} may use only {{noun}}, {{style}}, {{material}} and "
            "{feature}, each bare (no format spec, conversion, attribute or index)."
        )
    return tuple(slot for slot in SLOTS if slot in used)


def fix_articles(text: str) -> str:
    """Turn "a" into "an" before a vowel: templates are written with "a" only."""
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", text)


def _noun(title: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", title).lower()


def _read(name: str) -> dict:
    return json.loads(resources.files("partdistill.prompts").joinpath(name).read_text())


@cache
def _vocabulary() -> dict:
    return _read("text_to_3d.json")


def prompt_words(category: Category) -> PromptWords:
    """The templates and words `prompt_space` makes a category's prompts from: the category's own
    where it gives them, else ShapeNetPart's words for it, else the generic words with its noun
    (and a user category's parts as features, "with a spout", so prompts ask for the parts its
    teacher will look for)."""
    vocab = _vocabulary()
    words = vocab["categories"].get(category.name if category.dataset == "shapenetpart" else "", None)
    if words is None:
        parts = (
            [fix_articles(f"with a {part.teacher}") for part in category.parts]
            if category.dataset == "user"
            else []
        )
        words = {
            **vocab["generic"],
            "nouns": [category.noun],
            "features": vocab["generic"]["features"] + parts,
        }
    own = category.words
    return PromptWords(
        templates=own.templates or tuple(vocab["templates"]),
        nouns=own.nouns or tuple(words["nouns"]),
        styles=own.styles or tuple(words["styles"]),
        materials=own.materials or tuple(words["materials"]),
        features=own.features or tuple(words["features"]),
    )


def slot_words(words: PromptWords) -> dict[str, tuple[str, ...]]:
    """The words for each slot of `SLOTS`."""
    return {
        "noun": words.nouns,
        "style": words.styles,
        "material": words.materials,
        "feature": words.features,
    }


def check_prompt_count(category: Category, source: str) -> None:
    """Refuse (PdError) a category whose templates would make more than MAX_PROMPTS sentences: each
    template makes one per choice of words for the slots it uses."""
    words = prompt_words(category)
    choices = {slot: len(options) for slot, options in slot_words(words).items()}
    count = sum(math.prod(choices[slot] for slot in template_slots(t, source)) for t in words.templates)
    if count > MAX_PROMPTS:
        raise PdError(
            f"{source}: its prompt words make {count:,} text-to-3D prompts, more than the {MAX_PROMPTS:,} "
            "a category may have; give fewer templates or words."
        )


@cache
def shapenetpart_categories() -> tuple[Category, ...]:
    """ShapeNetPart's 16 categories in the benchmark's (alphabetical) order."""
    return tuple(
        Category(
            name=entry["name"],
            title=entry["title"],
            dataset="shapenetpart",
            synset=entry["synset"],
            noun=entry["name"],
            parts=tuple(Part(p["name"], p["teacher"], p["id"]) for p in entry["parts"]),
        )
        for entry in _read("shapenetpart.json")["categories"]
    )


@cache
def partnete_categories() -> tuple[Category, ...]:
    """PartNetE's 45 categories in the order of PartNetE_meta.json."""
    return tuple(
        Category(
            name=title.lower(),
            title=title,
            dataset="partnete",
            synset=None,
            noun=_noun(title),
            parts=tuple(Part(name, name) for name in parts),
        )
        for title, parts in _read("partnete.json")["categories"].items()
    )


_USER: dict[str, Category] = {}  # the user categories registered in this process, by name


def register_category(category: Category) -> Category:
    """Make a user category known to `find_category` in this process; returns it.

    Registering the same definition twice is harmless; another definition under a registered
    name, or a name a catalogue already uses, is refused.
    """
    if category.dataset != "user":
        return category
    clash = catalogue_name(category.name)
    if clash is not None:
        raise PdError(
            f"The category name '{category.name}' is taken by {clash.qualified_name}; "
            "give yours another name."
        )
    known = _USER.get(category.name)
    if known is not None and known != category:
        raise PdError(
            f"Two different categories are called '{category.name}' here (their parts or words differ); "
            "rename one of them (this Python process keeps the first it met: in a notebook, "
            f"partdistill.prompts.forget_category('{category.name}') lets another in)."
        )
    _USER[category.name] = category
    return category


def forget_category(name: str) -> None:
    """Make a registered user category unknown again in this process, so that another definition
    may take its name (a notebook's edited category file). Collections and runs made with the old
    one still bring it along, and are refused beside the new one."""
    key = name.strip().lower()
    _USER.pop(key.removeprefix("user/"), None)


@contextlib.contextmanager
def registered_on_success() -> Iterator[None]:
    """The user categories registered inside are forgotten again if it raises: a call that failed
    (a misspelt part, a missing folder) leaves nothing to clash with its corrected repeat."""
    before = set(_USER)
    try:
        yield
    except BaseException:
        for name in set(_USER) - before:  # only its own: another thread's call may have added more
            _USER.pop(name, None)
        raise


def catalogue_name(name: str) -> Category | None:
    """The built-in category a name would mean (its name, noun or synset, in either catalogue)."""
    key = name.strip().lower()
    for category in shapenetpart_categories() + partnete_categories():
        if key in (category.name, category.synset, category.noun):
            return category
    return None


def categories(dataset: Dataset | None = None) -> tuple[Category, ...]:
    """All categories of one vocabulary, or of all (ShapeNetPart, PartNetE, then the user's)."""
    if dataset == "shapenetpart":
        return shapenetpart_categories()
    if dataset == "partnete":
        return partnete_categories()
    if dataset == "user":
        return tuple(_USER.values())
    return shapenetpart_categories() + partnete_categories() + tuple(_USER.values())


def find_category(name: str) -> Category:
    """The category called `name`.

    Accepts "chair", "Chair", a ShapeNet synset ("03001627"), or a qualified name
    ("shapenetpart/chair", "partnete/Chair"). An unqualified name found in both vocabularies means
    ShapeNetPart's category.
    """
    key = name.strip().lower()
    dataset: str | None = None
    if "/" in key:
        dataset, key = key.split("/", 1)
        if dataset not in ("shapenetpart", "partnete", "user"):
            if not dataset or "/" in key:  # a path, such as a category file without its suffix
                raise PdError(
                    f"Unknown category '{name}': a category is a name (chair, partnete/Kettle) or a "
                    f"category file ending in .toml or .json."
                )
            raise PdError(
                f"Unknown category vocabulary '{dataset}' in '{name}': use shapenetpart/, partnete/ or user/."
            )
    for category in categories(dataset):  # type: ignore[arg-type]
        if key in (category.name, category.synset, category.noun):
            return category
    known = sorted({c.name for c in categories(dataset)})  # type: ignore[arg-type]
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    if dataset in ("shapenetpart", "partnete"):  # a benchmark's own: no category of the user's
        raise PdError(f"Unknown category '{name}'.{hint} {dataset}'s categories: {', '.join(known)}.")
    listed = f" Known categories: {', '.join(known)};" if known else " No category of yours is known here:"
    raise PdError(
        f"Unknown category '{name}'.{hint}{listed} define your own with a category file or "
        f"{option('parts')} (see `pd categories`)."
    )


QUERIES = ("part", "part-of-category")
"""How a teacher is asked for one part: its words alone ("seat pad"), as PartSLIP's released code
asks GLIP, or with the category ("seat pad of a chair"), as the PartSLIP and PartDistill papers."""


def part_prompt(category: Category, part: int, query: str) -> str:
    """The query for one part: "seat pad" or "seat pad of a chair" (see `QUERIES`)."""
    if query not in QUERIES:
        raise PdError(f"Unknown query style '{query}': use one of {', '.join(QUERIES)}.")
    words = category.parts[part].teacher
    return words if query == "part" else fix_articles(f"{words} of a {category.noun}")


def same_category(name: str, category: Category) -> bool:
    """Whether a category name found in a file means `category` (a name no catalogue knows, such
    as another user's category, is compared as written)."""
    try:
        return find_category(name) == category
    except PdError:
        return name.strip().lower() == category.key
