"""Where distillation data comes from: a collection with its teacher's units, or PartDistill h5 files."""

from __future__ import annotations

from pathlib import Path

from partdistill.collection import Collection
from partdistill.distill.data import Item
from partdistill.distill.partdistill_h5 import (
    category_from_path,
    find_h5_files,
    read_partdistill_h5,
    shape_id_from_path,
)
from partdistill.distill.teach import CONFIG_FILE, KnowledgeStore
from partdistill.errors import PdError
from partdistill.prompts import Category


def is_knowledge_store(path: Path) -> bool:
    """Whether `path` is a knowledge folder written by `pd teach` (rather than a tree of h5 files)."""
    return (path / CONFIG_FILE).is_file()


def items_from_store(collection: Collection, store: KnowledgeStore) -> list[Item]:
    """Every shape of `collection` with its units from `store` (all must be there)."""
    missing = [record.id for record in collection.ok_records if not store.has(record.id)]
    if missing:
        raise PdError(
            f"{store.root} has no units for {len(missing)} shapes (e.g. {missing[0]}); run `pd teach` first."
        )
    return [Item(record.id, shape, store.load(record.id)) for record, shape in collection.shapes()]


def items_from_h5(root: str | Path, category: Category | None = None) -> list[Item]:
    """Every `preprocess.h5` under `root` as an item, id `<synset>/<shape id>`.

    With `category` given, only files of that category are kept (a whole release holds all 16).
    """
    items = []
    for path in find_h5_files(root):
        try:
            found = category_from_path(path)
        except PdError:
            if category is None:
                raise
            found = category  # not under a synset folder: the category the user named
        if category is not None and found != category:
            continue
        shape, knowledge = read_partdistill_h5(path, found)
        items.append(Item(shape_id_from_path(path), shape, knowledge))
    if not items:
        raise PdError(
            f"{root} holds no preprocess.h5 files of {category.name if category else 'any category'}."
        )
    names = sorted({item.shape.category for item in items if item.shape.category})
    if len(names) > 1:
        raise PdError(
            f"{root} holds knowledge of {len(names)} categories ({', '.join(names)}); choose with --category."
        )
    return items
