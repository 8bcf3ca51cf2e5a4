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

import difflib
import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from partdistill.errors import PdError

Dataset = Literal["shapenetpart", "partnete", "user"]


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
    def from_record(cls, record: dict) -> Category:
        """The category `to_record` wrote (KeyError, TypeError or ValueError when it is not one)."""
        words = record.get("words") or {}
        return cls(
            name=str(record["name"]),
            title=str(record["title"]),
            dataset=record["dataset"],
            synset=record.get("synset"),
            noun=str(record["noun"]),
            parts=tuple(Part(str(p["name"]), str(p["teacher"]), p.get("id")) for p in record["parts"]),
            words=PromptWords(**{field: tuple(str(w) for w in value) for field, value in words.items()}),
        )


def fix_articles(text: str) -> str:
    """Turn "a" into "an" before a vowel: templates are written with "a" only."""
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", r"\1n ", text)


def _noun(title: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", title).lower()


def _read(name: str) -> dict:
    return json.loads(resources.files("partdistill.prompts").joinpath(name).read_text())


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
            "rename one of them."
        )
    _USER[category.name] = category
    return category


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
            raise PdError(
                f"Unknown category vocabulary '{dataset}' in '{name}': use shapenetpart/, partnete/ or user/."
            )
    for category in categories(dataset):  # type: ignore[arg-type]
        if key in (category.name, category.synset, category.noun):
            return category
    known = sorted({c.name for c in categories(dataset)})  # type: ignore[arg-type]
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise PdError(
        f"Unknown category '{name}'.{hint} Known categories: {', '.join(known)}; "
        "or define your own with a category file or --parts (see `pd categories`)."
    )


QUERIES = ("part", "part-of-category")
"""How a teacher is asked for one part: its words alone ("seat pad"), as PartSLIP's released code
asks GLIP, or with the category ("seat pad of a chair"), as the PartSLIP and PartDistill papers."""


def part_prompt(category: Category, part: int, query: str = "part-of-category") -> str:
    """The query for one part: "seat pad" or "seat pad of a chair" (see `QUERIES`)."""
    if query not in QUERIES:
        raise PdError(f"Unknown query style '{query}': use one of {', '.join(QUERIES)}.")
    words = category.parts[part].teacher
    return words if query == "part" else fix_articles(f"{words} of a {category.noun}")


def teacher_prompt(category: Category) -> str:
    """The prompt a 2D teacher gets for the whole category: "back, seat pad, leg, armrest of a chair"."""
    template = _read("text_to_3d.json")["teacher_prompt"]
    return fix_articles(
        template.format(parts=", ".join(p.teacher for p in category.parts), category=category.noun)
    )


def same_category(name: str, category: Category) -> bool:
    """Whether a category name found in a file means `category` (a name no catalogue knows, such
    as another user's category, is compared as written)."""
    try:
        return find_category(name) == category
    except PdError:
        return name.strip().lower() == category.key
