"""A knowledge folder: the units one teacher run made for a collection, and how they are stored.

    <collection>/knowledge/<name>/teach_config.json   the settings the units were made with
    <collection>/knowledge/<name>/units/<id>.npz      one shape's knowledge units, and the digest
                                                      of the shape file they were made from
    <collection>/knowledge/<name>/sheets/<id>.png     its views with the teacher's predictions drawn

This module owns that layout; every other module asks a `KnowledgeStore` for its paths. Each one
stays inside its folder once links are followed (`partdistill.files.inside`): a knowledge folder,
or the `knowledge/` folder of a collection, that is a link to elsewhere is refused, so nothing is
read, written or deleted outside the collection.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import zipfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from partdistill.errors import PdError, option
from partdistill.files import (
    SAFE_NAME,
    TEMPORARY,
    atomic_path,
    check_id,
    inside,
    parse_json,
    read_json,
    read_npz_array,
    write_bytes,
    write_json,
)
from partdistill.knowledge.units import MAX_ENTRIES, MAX_UNITS, Knowledge
from partdistill.records import Fields
from partdistill.shapes import MAX_POINTS

if TYPE_CHECKING:
    from partdistill.collection import Collection, ShapeRecord

KNOWLEDGE_DIR = "knowledge"  # inside a collection
CONFIG_FILE = "teach_config.json"
UNITS_DIR = "units"
SHEETS_DIR = "sheets"
MADE_FROM = "made_from"  # in a units file: the digest of the shape file they were made from
_MAX_NAMES_BYTES = 1 << 20  # a units file's part names, as JSON


class KnowledgeStore:
    """The units of one teacher run over a collection (see the module docstring for the layout)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"KnowledgeStore({str(self.root)!r})"

    @classmethod
    def named(cls, collection_root: Path, name: str) -> KnowledgeStore:
        """The knowledge called `name` of the collection at `collection_root` (`name`: one safe
        file name)."""
        if not SAFE_NAME.fullmatch(name):
            raise PdError(
                f"The knowledge name {name!r} ({option('name')}) must be one folder name: ASCII letters, "
                "digits, '.', '_' and '-', starting with a letter or digit."
            )
        return cls(inside(collection_root, f"{KNOWLEDGE_DIR}/{name}"))

    @staticmethod
    def is_store(path: Path) -> bool:
        """Whether `path` is a knowledge folder written by `pd teach` (rather than a tree of h5 files)."""
        return (path / CONFIG_FILE).is_file()

    @classmethod
    def of_collection(cls, collection_root: Path) -> list[KnowledgeStore]:
        """The knowledge folders of the collection at `collection_root`, by name."""
        folder = inside(collection_root, KNOWLEDGE_DIR)
        return [
            cls.named(collection_root, path.name) for path in sorted(folder.glob("*")) if cls.is_store(path)
        ]

    @property
    def collection_root(self) -> Path:
        """The collection this knowledge belongs to (two folders up)."""
        return self.root.parent.parent

    def units_path(self, shape_id: str) -> Path:
        return inside(self.root, f"{UNITS_DIR}/{check_id(shape_id, str(self.root))}.npz")

    def sheet_path(self, shape_id: str) -> Path:
        return inside(self.root, f"{SHEETS_DIR}/{check_id(shape_id, str(self.root))}.png")

    def has(self, shape_id: str) -> bool:
        return self.units_path(shape_id).is_file()

    def made_from(self, shape_id: str) -> str | None:
        """The digest (`Collection.read`) of the shape file a shape's units were made from; None
        for units written before units recorded it."""
        path = self.units_path(shape_id)
        try:
            with zipfile.ZipFile(path) as archive:
                digest = read_npz_array(
                    archive, MADE_FROM, str(path), kinds="u", max_values=64, required=False
                )
        except (PdError, OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as error:
            raise _damaged(path, error) from error
        return None if digest is None else digest.tobytes().decode("ascii", errors="replace")

    def current(self, record: ShapeRecord, collection: Collection) -> bool:
        """Whether a shape of `collection` has units here made from its file as it is now. Units
        written before units recorded their shape's digest count as the shape's."""
        if not self.has(record.id):
            return False
        made = self.made_from(record.id)
        return made is None or made == collection.digest(record)

    def untaught(self, collection: Collection) -> list[ShapeRecord]:
        """The shapes of `collection` without `current` units here: none yet, or units made from
        another file than the shape's now (replaced since, perhaps while a teacher run was on it)."""
        return [record for record in collection.ok_records if not self.current(record, collection)]

    def holds_units(self) -> bool:
        """Whether any shape's units were written (a run that failed before its first has none)."""
        return any(TEMPORARY not in path.name for path in inside(self.root, UNITS_DIR).rglob("*.npz"))

    def sheet_count(self) -> int:
        """How many contact sheets are drawn."""
        return sum(1 for path in inside(self.root, SHEETS_DIR).rglob("*.png") if TEMPORARY not in path.name)

    def load(self, shape_id: str) -> Knowledge:
        """One shape's units, refused unless their parts are those of the category the folder was
        taught for (as its teach_config.json records it)."""
        if not self.has(shape_id):
            raise PdError(
                f"{self.root} has no knowledge for shape {shape_id}; run `pd teach` on its collection."
            )
        try:
            knowledge = load_knowledge(self.units_path(shape_id))
        except PdError as error:
            raise _damaged(self.units_path(shape_id), error) from error
        if self.taught_for is not None:
            category, part_names = self.taught_for
            knowledge.require_parts(part_names, category, str(self.units_path(shape_id)))
        return knowledge

    @functools.cached_property
    def taught_for(self) -> tuple[str, tuple[str, ...]] | None:
        """The category the units were taught for and its part names, from teach_config.json (None
        where it records no category)."""
        settings = self.settings()
        if settings is None or "catalogue" not in settings:
            return None
        fields = Fields(settings, str(self.root / CONFIG_FILE), "the settings of a pd teach run")
        parts = fields.record("catalogue").records("parts")
        names = tuple(part.text("name") for part in parts)
        if len(set(names)) < len(names):
            raise PdError(f"{self.root / CONFIG_FILE}: its category names a part more than once.")
        return fields.text("category"), names

    def save(self, shape_id: str, knowledge: Knowledge, made_from: str, sheet: bytes | None = None) -> None:
        """Write one shape's contact sheet (PNG bytes, if any) first and its units last, with the
        digest of the shape file they were `made_from`: the units mark the shape done."""
        if sheet is not None:
            write_bytes(self.sheet_path(shape_id), sheet)
        save_knowledge(knowledge, self.units_path(shape_id), made_from)

    def forget(self, shape_id: str) -> None:
        """Delete one shape's units and contact sheet (units first: they mark the shape done), as
        when the shape they were made from is replaced."""
        self.units_path(shape_id).unlink(missing_ok=True)
        self.sheet_path(shape_id).unlink(missing_ok=True)

    def settings(self) -> dict | None:
        """The settings the knowledge was made with, as `teach_config.json` records them (None before any)."""
        path = inside(self.root, CONFIG_FILE)
        return read_json(path, "the settings of a pd teach run") if path.exists() else None

    def write_settings(self, record: dict) -> None:
        write_json(inside(self.root, CONFIG_FILE), record)


def _damaged(path: Path, error: Exception) -> PdError:
    """The sentence for a units file that cannot be read, wherever it is found."""
    reason = (
        error.args[0] if isinstance(error, PdError) else f"{path} is not a readable knowledge file ({error})."
    )
    return PdError(f"{reason} Delete it and run `pd teach` again to remake it.")


def save_knowledge(knowledge: Knowledge, path: str | Path, made_from: str | None = None) -> None:
    """Write one shape's units as an .npz, atomically, with the digest of the shape file they were
    `made_from` where given."""
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.savez(
            handle,
            **(
                {}
                if made_from is None
                else {MADE_FROM: np.frombuffer(made_from.encode("ascii"), dtype=np.uint8)}
            ),
            part_names=np.frombuffer(json.dumps(list(knowledge.part_names)).encode(), dtype=np.uint8),
            n_points=np.array(knowledge.n_points),
            parts=knowledge.parts,
            scores=knowledge.scores,
            views=knowledge.views,
            offsets=knowledge.offsets,
            indices=knowledge.indices,
            **({} if knowledge.point_scores is None else {"point_scores": knowledge.point_scores}),
        )


def load_knowledge(path: str | Path) -> Knowledge:
    """Read units written by `save_knowledge`, or refuse the file with one PdError naming it.

    A units file may come from anywhere: every array's header is checked (one dimension, whole
    numbers where they index, a bounded size) before it is read, and their sizes and values
    against each other before a `Knowledge` is built.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = _read_units(archive, str(path))
        knowledge = Knowledge(**arrays)
    except (OSError, EOFError, ValueError, MemoryError, zipfile.BadZipFile, zlib.error) as error:
        raise PdError(f"{path} is not a readable knowledge file ({error}).") from error
    return dataclasses.replace(knowledge, indices=knowledge.indices.astype(np.int32))


def _read_units(archive: zipfile.ZipFile, source: str) -> dict[str, Any]:
    """The fields of a `Knowledge` from the arrays of a units file, each checked as it is read."""

    def read(name: str, kinds: str, max_values: int, **options: Any) -> Any:
        return read_npz_array(archive, name, source, kinds=kinds, max_values=max_values, **options)

    n_points = int(read("n_points", "iu", 1, ndim=0))
    if not 1 <= n_points <= MAX_POINTS:
        raise PdError(
            f"{source}: 'n_points' must be a whole number from 1 to {MAX_POINTS:,}, not {n_points}."
        )
    return {
        "n_points": n_points,
        "part_names": _part_names(read("part_names", "u", _MAX_NAMES_BYTES), source),
        "parts": read("parts", "iu", MAX_UNITS),
        "scores": read("scores", "f", MAX_UNITS).astype(np.float32),
        "views": read("views", "iu", MAX_UNITS),
        "offsets": read("offsets", "iu", MAX_UNITS + 1),
        "indices": read("indices", "iu", MAX_ENTRIES),
        "point_scores": _float32(read("point_scores", "f", MAX_ENTRIES, required=False)),
    }


def _part_names(encoded: np.ndarray, source: str) -> tuple[str, ...]:
    """The part names a units file stores as the UTF-8 bytes of a JSON list of distinct texts."""
    try:
        names = parse_json(encoded.tobytes().decode())
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise PdError(f"{source}: 'part_names' is not a JSON list of names ({error}).") from error
    return Fields({"part_names": names}, source).texts("part_names", unique=True)


def _float32(values: np.ndarray | None) -> np.ndarray | None:
    return None if values is None else values.astype(np.float32)
