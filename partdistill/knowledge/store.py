"""A knowledge folder: the units one teacher run made for a collection, and how they are stored.

    <collection>/knowledge/<name>/teach_config.json   the settings the units were made with
    <collection>/knowledge/<name>/units/<id>.npz      one shape's knowledge units
    <collection>/knowledge/<name>/sheets/<id>.png     its views with the teacher's predictions drawn

This module owns that layout; every other module asks a `KnowledgeStore` for its paths. Each one
stays inside its folder once links are followed (`partdistill.files.inside`): a knowledge folder,
or the `knowledge/` folder of a collection, that is a link to elsewhere is refused, so nothing is
read, written or deleted outside the collection.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from partdistill.errors import PdError
from partdistill.files import TEMPORARY, atomic_path, check_id, inside, read_json, write_bytes, write_json
from partdistill.knowledge.units import Knowledge

KNOWLEDGE_DIR = "knowledge"  # inside a collection
CONFIG_FILE = "teach_config.json"
UNITS_DIR = "units"
SHEETS_DIR = "sheets"


class KnowledgeStore:
    """The units of one teacher run over a collection (see the module docstring for the layout)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def named(cls, collection_root: Path, name: str) -> KnowledgeStore:
        """The knowledge called `name` of the collection at `collection_root` (`name`: one safe
        file name)."""
        if not name or "/" in name:
            raise PdError(f"The knowledge name {name!r} must be one folder name, without '/'.")
        return cls(inside(collection_root, f"{KNOWLEDGE_DIR}/{check_id(name, '--name')}"))

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

    def holds_units(self) -> bool:
        """Whether any shape's units were written (a run that failed before its first has none)."""
        return any(TEMPORARY not in path.name for path in inside(self.root, UNITS_DIR).rglob("*.npz"))

    def sheet_count(self) -> int:
        """How many contact sheets are drawn."""
        return sum(1 for path in inside(self.root, SHEETS_DIR).rglob("*.png") if TEMPORARY not in path.name)

    def load(self, shape_id: str) -> Knowledge:
        if not self.has(shape_id):
            raise PdError(
                f"{self.root} has no knowledge for shape {shape_id}; run `pd teach` on its collection."
            )
        return load_knowledge(self.units_path(shape_id))

    def save(self, shape_id: str, knowledge: Knowledge, sheet: bytes | None = None) -> None:
        """Write one shape's contact sheet (PNG bytes, if any) first and its units last: the units
        mark the shape done."""
        if sheet is not None:
            write_bytes(self.sheet_path(shape_id), sheet)
        save_knowledge(knowledge, self.units_path(shape_id))

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


def save_knowledge(knowledge: Knowledge, path: str | Path) -> None:
    """Write one shape's units as an .npz, atomically."""
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.savez(
            handle,
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
    """Read units written by `save_knowledge`."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return Knowledge(
                n_points=int(data["n_points"]),
                part_names=tuple(json.loads(data["part_names"].tobytes().decode())),
                parts=data["parts"],
                scores=data["scores"],
                views=data["views"],
                offsets=data["offsets"],
                indices=data["indices"],
                point_scores=data.get("point_scores"),
            )
    except (
        OSError,
        KeyError,
        ValueError,
        TypeError,
        EOFError,
        MemoryError,
        zipfile.BadZipFile,
        zlib.error,
    ) as error:
        raise PdError(f"{path} is not a readable knowledge file ({error}).") from error
