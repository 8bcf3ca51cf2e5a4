"""Benchmark readers: shapes with ground-truth part labels, in the datasets' own layouts.

- ShapeNetPart, text release (`shapenetcore_partanno_segmentation_benchmark_v0_normal`):
  synsetoffset2category.txt, train_test_split/shuffled_<split>_file_list.json and
  <synset>/<id>.txt with "x y z nx ny nz label" lines, labels global part ids 0-49.
- ShapeNetPart, PointNet's HDF5 release (hdf5_data/ply_data_<split>*.h5: data [S,2048,3],
  label [S,1] category index 0-15 in alphabetical order, pid [S,2048] global part ids). It stores
  no shape ids; a shape's id is "<file stem>/<row>".
- PartNetE (PartSLIP): data/<split>/<Category>/<id>/pc.ply (coloured points) and label.npy, a
  pickled dict whose 'semantic_seg' holds per-point part indices into PartNetE_meta.json's list for
  the category, -1 for points of no part.
- A partdistill collection whose shapes carry labels (procedural shapes).

Every reader yields `EvalShape`s; labels are turned into the category's own indices (0..C-1, -1 =
no part), and `truth` keeps the dataset's own ids for reports.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from partdistill.collection import Collection, ShapeRecord
from partdistill.datasets.safe_pickle import load_npy
from partdistill.errors import PdError, option
from partdistill.files import (
    MAX_H5_VALUES,
    check_id,
    inside,
    open_h5,
    read_h5_numbers,
    read_json,
    read_text,
)
from partdistill.formats import read_ply
from partdistill.prompts import Category, find_category, partnete_categories, shapenetpart_categories
from partdistill.shapes import Provenance, Shape


@dataclass(frozen=True)
class EvalShape:
    """One labelled test shape.

    Attributes:
        id: the dataset's id ("02691156/1a04e3eab45ca15dd86060f189eb133", "Chair/179", ...).
        category: its category.
        shape: points (and normals/colours where the dataset has them) with labels in the
            category's part indices, -1 for no part.
    """

    id: str
    category: Category
    shape: Shape


class Dataset(Protocol):
    """A benchmark split that yields labelled shapes."""

    name: str

    def categories(self) -> list[Category]: ...

    def ids(self, categories: list[Category] | None = None) -> list[str]:
        """The ids `shapes` would yield, in the same order, without reading the shapes."""
        ...

    def shapes(self, categories: list[Category] | None = None) -> Iterator[EvalShape]: ...


def _need(path: Path, root: Path, expected: str) -> Path:
    """`path`, or a `PdError` saying that `root` is not `expected` because `path` is missing."""
    if not path.exists():
        raise PdError(f"{root} is not {expected}: {path.relative_to(root)} is missing.")
    return path


# --- ShapeNetPart, text release -----------------------------------------------------------------


class ShapeNetPartText:
    """ShapeNetPart's normal-version text release (see the module docstring)."""

    name = "shapenetpart"
    _EXPECTED = (
        "a ShapeNetPart release folder (synsetoffset2category.txt, train_test_split/, <synset>/<id>.txt)"
    )

    def __init__(self, root: str | Path, split: str = "test") -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise PdError(f"{self.root} does not exist: expected {self._EXPECTED}.")
        mapping = _need(inside(self.root, "synsetoffset2category.txt"), self.root, self._EXPECTED)
        self.synsets = {}
        text = read_text(mapping, "ShapeNetPart's category list", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2:
                raise PdError(
                    f"{mapping}, line {number}: expected '<Category> <synset>', found {line.strip()!r}."
                )
            try:
                self.synsets[fields[1]] = find_category(fields[1])
            except PdError as error:
                raise PdError(
                    f"{mapping}, line {number}: {fields[1]!r} is no ShapeNetPart synset."
                ) from error
        split_path = inside(self.root, f"train_test_split/shuffled_{split}_file_list.json")
        splits = sorted(
            p.name.removeprefix("shuffled_").removesuffix("_file_list.json")
            for p in split_path.parent.glob("shuffled_*_file_list.json")
        )
        if not split_path.exists() and splits:
            raise PdError(
                f"{self.root} has no '{split}' split ({option('split')}): it has {', '.join(splits)}."
            )
        split_file = _need(split_path, self.root, self._EXPECTED)
        entries = read_json(split_file, "a ShapeNetPart split: a list of shape_data/<synset>/<id>", kind=list)
        self.entries = []
        seen = set()
        for entry in entries:
            if not isinstance(entry, str) or entry.count("/") < 1:
                raise PdError(f"{split_file} holds {entry!r}, not a 'shape_data/<synset>/<id>' string.")
            synset, name = entry.split("/")[-2:]
            check_id(f"{synset}/{name}", str(split_file))
            if (synset, name) in seen:
                raise PdError(f"{split_file} lists {synset}/{name} twice; a shape is scored once.")
            seen.add((synset, name))
            self.entries.append((synset, name))

    def categories(self) -> list[Category]:
        present = {synset for synset, _ in self.entries}
        return [c for c in shapenetpart_categories() if c.synset in present]

    def _entries(self, categories: list[Category] | None) -> list[tuple[str, str]]:
        wanted = None if categories is None else {c.synset for c in categories}
        return [(synset, name) for synset, name in self.entries if wanted is None or synset in wanted]

    def ids(self, categories: list[Category] | None = None) -> list[str]:
        return [f"{synset}/{name}" for synset, name in self._entries(categories)]

    def shapes(self, categories: list[Category] | None = None) -> Iterator[EvalShape]:
        for synset, shape_id in self._entries(categories):
            category = self.synsets.get(synset) or find_category(synset)
            path = inside(self.root, f"{synset}/{shape_id}.txt")
            yield EvalShape(f"{synset}/{shape_id}", category, read_shapenetpart_txt(path, category))


def read_shapenetpart_txt(path: Path, category: Category) -> Shape:
    """One shape of the text release, labels turned into the category's part indices."""
    if not path.exists():
        raise PdError(f"{path} is missing: the split file lists it but the release folder does not hold it.")
    try:
        values = np.array(
            read_text(path, "a ShapeNetPart shape file", errors="replace").split(), dtype=np.float32
        )
        rows = values.reshape(-1, 7)
    except ValueError as error:
        raise PdError(f"{path} is not a ShapeNetPart shape file (expected 7 numbers per line).") from error
    if not len(rows):
        raise PdError(f"{path} holds no points.")
    if not np.isfinite(rows).all() or (rows[:, 6] != np.round(rows[:, 6])).any():
        raise PdError(f"{path} holds values that are not numbers, or labels that are not whole numbers.")
    first = category.parts[0].global_id or 0
    labels = rows[:, 6].astype(np.int64) - first
    if labels.min() < 0 or labels.max() >= len(category.parts):
        raise PdError(
            f"{path} holds part ids outside {category.title}'s {first}..{first + len(category.parts) - 1}."
        )
    return Shape(
        points=rows[:, :3],
        normals=rows[:, 3:6],
        labels=labels,
        part_names=category.part_names,
        category=category.name,
        provenance=Provenance("shapenetpart", source=str(path)),
    )


# --- ShapeNetPart, HDF5 release -----------------------------------------------------------------


class ShapeNetPartHDF5:
    """PointNet's HDF5 release of ShapeNetPart (2,048 points per shape)."""

    name = "shapenetpart"

    def __init__(self, root: str | Path, split: str = "test") -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise PdError(
                f"{self.root} does not exist: expected PointNet's hdf5_data folder (ply_data_{split}*.h5)."
            )
        self.files = [inside(self.root, p.name) for p in sorted(self.root.glob(f"ply_data_{split}*.h5"))]
        if not self.files:
            raise PdError(
                f"{self.root} holds no ply_data_{split}*.h5 files: expected PointNet's hdf5_data folder."
            )

    def categories(self) -> list[Category]:
        return list(shapenetpart_categories())

    def _read(self, path: Path, keys: tuple[str, ...]) -> list[np.ndarray]:
        """The arrays `keys` of one file (label and pid as whole numbers), as many rows each."""
        with open_h5(path, "a ShapeNetPart HDF5 file with data, label and pid") as data:
            arrays = [
                read_h5_numbers(data, key, str(path), MAX_H5_VALUES, whole=key != "data") for key in keys
            ]
        if len({len(array) for array in arrays}) > 1:
            rows = ", ".join(f"{key} {len(array)}" for key, array in zip(keys, arrays, strict=True))
            raise PdError(f"{path}: its arrays hold different numbers of shapes ({rows}).")
        return arrays

    def _categories(self, path: Path, kinds: np.ndarray) -> list[Category]:
        """The category of each row of `path` from its `label` column (0-15, alphabetical order)."""
        order = shapenetpart_categories()
        kinds = kinds.reshape(-1)
        bad = (kinds < 0) | (kinds >= len(order))
        if bad.any():
            raise PdError(
                f"{path}: 'label' holds the category number {kinds[bad][0]}, outside 0..{len(order) - 1}."
            )
        return [order[int(kind)] for kind in kinds]

    def ids(self, categories: list[Category] | None = None) -> list[str]:
        wanted = None if categories is None else {c.name for c in categories}
        return [
            f"{path.stem}/{row}"
            for path in self.files
            for row, category in enumerate(self._categories(path, self._read(path, ("label",))[0]))
            if wanted is None or category.name in wanted
        ]

    def shapes(self, categories: list[Category] | None = None) -> Iterator[EvalShape]:
        wanted = None if categories is None else {c.name for c in categories}
        for path in self.files:
            points, kinds, parts = self._read(path, ("data", "label", "pid"))
            for row, (xyz, category, pid) in enumerate(
                zip(points, self._categories(path, kinds), parts, strict=True)
            ):
                if wanted is not None and category.name not in wanted:
                    continue
                first = category.parts[0].global_id or 0
                try:
                    shape = Shape(
                        points=xyz,
                        labels=pid - first,
                        part_names=category.part_names,
                        category=category.name,
                        provenance=Provenance("shapenetpart-hdf5", source=f"{path}:{row}"),
                    )
                except PdError as error:
                    raise PdError(f"{path}, shape {row}: {error}.") from error
                yield EvalShape(f"{path.stem}/{row}", category, shape)


# --- PartNetE -------------------------------------------------------------------------------------


class PartNetE:
    """PartSLIP's PartNet-Ensembled test (or few-shot) split."""

    name = "partnete"
    _EXPECTED = "a PartNetE folder with data/<split>/<Category>/<id>/pc.ply and label.npy"

    def __init__(self, root: str | Path, split: str = "test") -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise PdError(f"{self.root} does not exist: expected {self._EXPECTED}.")
        self.split = split
        self.folder = inside(self.root, f"data/{split}")
        if not self.folder.is_dir():
            raise PdError(f"{self.root} is not {self._EXPECTED}: data/{split}/ is missing.")
        known = {c.title: c for c in partnete_categories()}
        meta_path = inside(self.root, "PartNetE_meta.json")
        if meta_path.is_file():  # the release's own table must agree with the catalogue
            meta = read_json(meta_path, "PartNetE's table of categories and their parts")
            for title, parts in meta.items():
                if title in known and list(known[title].part_names) != parts:
                    raise PdError(
                        f"{meta_path} lists other parts for {title} than PartNetE's published table."
                    )

    def _path(self, *parts: str) -> Path:
        """data/<split>/<parts...> of the release, refused if a link leads it out of the root (a
        link that stays inside it is followed)."""
        return inside(self.root, Path("data", self.split, *parts))

    def categories(self) -> list[Category]:
        present = {p.name for p in self.folder.iterdir() if self._path(p.name).is_dir()}
        return [c for c in partnete_categories() if c.title in present]

    def _shape_dirs(self, categories: list[Category] | None) -> Iterator[tuple[Category, Path]]:
        for category in categories or self.categories():
            folder = self._path(category.title)
            if folder.is_dir():
                shape_dirs = (self._path(category.title, p.name) for p in sorted(folder.iterdir()))
                yield from ((category, p) for p in shape_dirs if p.is_dir())

    def ids(self, categories: list[Category] | None = None) -> list[str]:
        return [f"{category.title}/{shape_dir.name}" for category, shape_dir in self._shape_dirs(categories)]

    def shapes(self, categories: list[Category] | None = None) -> Iterator[EvalShape]:
        for category, shape_dir in self._shape_dirs(categories):
            files = (self._path(category.title, shape_dir.name, name) for name in ("pc.ply", "label.npy"))
            shape = read_partnete_shape(*files, category)
            yield EvalShape(f"{category.title}/{shape_dir.name}", category, shape)


def read_partnete_shape(cloud_path: Path, label_path: Path, category: Category) -> Shape:
    """pc.ply and label.npy of one PartNetE shape (label.npy is a pickled dict, as PartSLIP ships it;
    it is read with `safe_pickle.load_npy`, which runs no code from it)."""
    cloud = read_ply(cloud_path, category=category.key)
    if not label_path.is_file():
        raise PdError(f"{label_path} is missing.")
    value = load_npy(label_path)  # a pickled dict, read without running code from the file
    try:
        given = value["semantic_seg"]  # type: ignore[index]
        # A list must be flat before numpy reads it: nested lists, each the same one many times
        # over, make a pickle of a few KB that numpy would expand to billions of labels.
        if isinstance(given, list | tuple) and not all(isinstance(x, int | np.integer) for x in given):
            raise TypeError("its 'semantic_seg' is not a list of whole numbers")
        labels = np.asarray(given).reshape(-1)
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"its labels are {labels.dtype}, not integers")
        labels = labels.astype(np.int64)
    except (KeyError, TypeError, IndexError, ValueError) as error:
        raise PdError(f"{label_path} is not PartNetE's label dict with 'semantic_seg' ({error}).") from error
    if len(labels) != cloud.n_points:
        raise PdError(f"{label_path} has {len(labels)} labels for the {cloud.n_points} points of its pc.ply.")
    if labels.min(initial=0) < -1 or labels.max(initial=-1) >= len(category.parts):
        raise PdError(
            f"{label_path} holds part indices outside -1..{len(category.parts) - 1} for {category.title}."
        )
    return cloud.replace(
        labels=labels,
        part_names=category.part_names,
        provenance=Provenance("partnete", source=str(cloud_path.parent)),
    )


# --- partdistill collections ---------------------------------------------------------------------


class LabelledCollection:
    """A partdistill collection used as a benchmark (its shapes must carry labels)."""

    name = "collection"

    def __init__(self, root: str | Path) -> None:
        self.collection = Collection.open(root)
        if not any(record.part_counts for record in self.collection.ok_records):
            raise PdError(f"{root} holds no labelled shapes to evaluate against (procedural collections do).")

    def categories(self) -> list[Category]:
        return [
            find_category(name)
            for name in sorted({r.category for r in self.collection.ok_records if r.category})
        ]

    def _records(self, categories: list[Category] | None) -> list[ShapeRecord]:
        wanted = None if categories is None else {c.key for c in categories}
        return [
            record
            for record in self.collection.ok_records
            if record.part_counts and (wanted is None or record.category in wanted)
        ]

    def ids(self, categories: list[Category] | None = None) -> list[str]:
        return [record.id for record in self._records(categories)]

    def shapes(self, categories: list[Category] | None = None) -> Iterator[EvalShape]:
        for record in self._records(categories):
            yield EvalShape(record.id, find_category(record.category), self.collection.load(record))


DATASETS = ("shapenetpart", "partnete", "collection")  # what open_dataset reads


def open_dataset(kind: str, root: str | Path, split: str = "test") -> Dataset:
    """The reader for `kind` ("shapenetpart", "partnete" or "collection") at `root`.

    For ShapeNetPart, a folder of ply_data_*.h5 files is read as the HDF5 release, anything else
    as the text release.
    """
    root = Path(root)
    if kind == "shapenetpart":
        if root.is_dir() and any(root.glob("ply_data_*.h5")):
            return ShapeNetPartHDF5(root, split)
        return ShapeNetPartText(root, split)
    if kind == "partnete":
        return PartNetE(root, split)
    if kind == "collection":
        return LabelledCollection(root)
    raise PdError(f"Unknown dataset '{kind}': use shapenetpart, partnete or collection.")
