"""`pd import`: a benchmark split or a folder of the user's shape files, as a collection."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from partdistill.collection import Collection
from partdistill.datasets.readers import Dataset
from partdistill.errors import PdError
from partdistill.files import check_id
from partdistill.prompts import Category
from partdistill.shapes import Shape

SOURCES = ("shapenetpart", "partnete", "files")  # what pd import makes collections from


def import_shapes(dataset: Dataset, categories: list[Category] | None, out: str | Path) -> Iterator[str]:
    """Copy a benchmark's shapes into a collection at `out` under their dataset ids; yields each id.

    The labels come along for evaluation and display; no stage of partdistill trains on them.
    Shapes already in the collection are skipped, so an interrupted import resumes.
    """
    collection = Collection.create(out)
    try:
        for item in dataset.shapes(categories):
            if item.id not in collection:
                collection.add(item.id, item.shape.replace(category=item.category.key))
            yield item.id
    finally:
        collection.compact()


def import_files(
    folder: str | Path, category: Category, out: str | Path, n_points: int, seed: int
) -> Iterator[str]:
    """Read every shape file in `folder` (PLY, meshes, .npz) into a collection at `out`; yields each id.

    All files are read before anything is written, so one unreadable file changes nothing.
    """
    from partdistill.formats import READABLE_SUFFIXES, read_shape

    folder = Path(folder)
    if not folder.is_dir():
        raise PdError(f"{folder} is not a folder of shape files.")
    paths = sorted(
        p for p in folder.iterdir() if p.suffix.lower() in READABLE_SUFFIXES and not p.name.startswith(".")
    )
    if not paths:
        raise PdError(f"{folder} holds no shape files ({', '.join(READABLE_SUFFIXES)}).")
    ids = [check_id(path.stem, str(path)) for path in paths]
    twice = sorted(shape_id for shape_id, count in Counter(ids).items() if count > 1)
    if twice:
        raise PdError(f"{folder} holds more than one file named {twice[0]} (ids come from file names).")
    shapes = [as_category(read_shape(path, n_points=n_points, seed=seed), category) for path in paths]
    collection = Collection.create(out)
    try:
        for shape_id, shape in zip(ids, shapes, strict=True):
            collection.add(shape_id, shape)
            yield shape_id
    finally:
        collection.compact()


def as_category(shape: Shape, category: Category) -> Shape:
    """`shape` as one of `category`'s: labels a file brings are matched to the category's parts by
    name (parts the category lacks become -1, no part); a file whose labelled parts the category
    does not name at all keeps no labels."""
    if shape.labels is None:
        return shape.replace(category=category.key)
    order = {name: i for i, name in enumerate(category.part_names)}
    table = np.array([order.get(name, -1) for name in shape.part_names] + [-1], dtype=np.int64)
    labels = table[shape.labels]  # -1 indexes the last entry: no part stays no part
    if (labels < 0).all():
        return shape.replace(labels=None, part_names=(), category=category.key)
    return shape.replace(labels=labels, part_names=category.part_names, category=category.key)
