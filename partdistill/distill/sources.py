"""Where distillation data comes from: collections with their teacher's units, PartDistill h5
files, or several of these at once (all of one category).

`plan_sources` turns `pd distill`'s repeated --shapes and --knowledge into sources:
- a `pd teach` folder (`<collection>/knowledge/<name>`) is that collection's knowledge;
- a folder of PartDistill h5 files is a source of its own, except that a --shapes collection
  whose shape ids it holds (a benchmark split made with `pd import`) picks out those files;
- every other --shapes collection brings its own knowledge, made first by the teacher if there is
  none yet.
Sources come in the order of --shapes (each with its --knowledge folders, in their order), then
the --knowledge folders not tied to one of them, in their order. Several --knowledge folders of
one collection are one source each; a folder named twice is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from partdistill.collection import MANIFEST, Collection
from partdistill.distill.data import Item
from partdistill.errors import PdError, option
from partdistill.knowledge.h5 import (
    category_from_path,
    find_h5_files,
    read_partdistill_h5,
    shape_id_from_path,
)
from partdistill.knowledge.store import KnowledgeStore
from partdistill.prompts import Category, find_category
from partdistill.teach.config import TeachConfig, teach_config_from


@dataclass
class Source:
    """One source of shapes and their knowledge.

    Attributes:
        label: what the run records and prints: the collection's knowledge folder or the h5
            folder, as an absolute path (`_where`).
        collection: the shapes, for collection sources.
        store: their knowledge, for collection sources.
        h5_items: the shapes with their units, for h5 sources.
        teach: the teacher settings to make the missing knowledge with first, or None.
    """

    label: str
    collection: Collection | None = None
    store: KnowledgeStore | None = None
    h5_items: list[Item] = field(default_factory=list)
    teach: TeachConfig | None = None

    def items(self) -> list[Item]:
        """Its shapes with their units (a collection's knowledge must be complete by now)."""
        if self.collection is None:
            return self.h5_items
        assert self.store is not None
        return items_from_store(self.collection, self.store)


def plan_sources(
    shapes: list[Path],
    knowledge: list[Path],
    category: Category | None,
    default_teach: TeachConfig,
    pinned: tuple[str, ...] = (),
) -> tuple[Category, list[Source]]:
    """The category and the sources of `pd distill --shapes ... --knowledge ...` (see the module
    docstring); `category` is the one the user named, if any (checked against the collections by
    the caller). `default_teach` is how knowledge is made for a collection that has none; a
    collection's knowledge made with other values of its `pinned` settings is refused."""
    if not shapes and not knowledge:
        raise PdError(
            f"Say which shapes to distil on with {option('shapes')} (or give {option('knowledge')} a folder "
            "of h5 files)."
        )
    for path in shapes:
        if KnowledgeStore.is_store(path):
            raise PdError(
                f"{path} is a pd teach folder, not a shape collection: give it as {option('knowledge')}, "
                f"and its collection ({path.parent.parent}) as {option('shapes')}."
            )
    _refuse_twice(shapes, "shapes", "collection")
    collections = {path: Collection.open(path) for path in shapes}
    for collection in collections.values():
        collection.require_shapes()
    stores: dict[Path, list[KnowledgeStore]] = {}  # a --shapes collection -> its --knowledge folders
    rest: list[Path | Source] = []  # the other --knowledge folders, in order: h5, or a teach folder
    _refuse_twice(knowledge, "knowledge", "knowledge folder")
    for path in knowledge:
        if not path.is_dir() and not path.is_file():
            raise PdError(f"{path} does not exist: expected a pd teach folder or PartDistill h5 files.")
        if (path / MANIFEST).is_file():
            raise PdError(
                f"{path} is a shape collection: give it as {option('shapes')} (its pd teach folders are "
                f"found in it); {option('knowledge')} takes a pd teach folder or PartDistill h5 files."
            )
        if KnowledgeStore.is_store(path):
            store, owner = KnowledgeStore(path), path.parent.parent
            _check_pinned(store, _made_with(store), default_teach, pinned)
            match = next((s for s in collections if s.resolve() == owner.resolve()), None)
            if match is None:
                rest.append(Source(_where(store.root), _collection_of_store(owner, path), store))
            else:
                stores.setdefault(match, []).append(store)
        else:
            rest.append(path)
    h5_sources = [(folder, items_from_h5(folder, category)) for folder in rest if isinstance(folder, Path)]
    loose = [source.collection for source in rest if isinstance(source, Source) and source.collection]
    named = category or _one_category([*collections.values(), *loose], h5_sources)
    sources: list[Source] = []
    consumed: set[Path] = set()
    for path, collection in collections.items():
        if path in stores:
            sources += [Source(_where(store.root), collection, store) for store in stores[path]]
            continue
        for folder, items in h5_sources:
            wanted = {record.id for record in collection.ok_records}
            picked = [item for item in items if item.id in wanted]
            if picked and folder not in consumed:  # a split's ids pick out the h5 files of its shapes
                sources.append(Source(f"{_where(folder)} (the shapes of {_where(path)})", h5_items=picked))
                consumed.add(folder)
                break
        else:
            sources.append(_default_source(collection, default_teach, pinned))
    h5_items = dict(h5_sources)
    for entry in rest:  # in the order given
        if isinstance(entry, Source):
            sources.append(entry)
        elif entry not in consumed:
            sources.append(Source(_where(entry), h5_items=h5_items[entry]))
    return named, sources


def refuse_idle_teach_settings(sources: list[Source], pinned: tuple[str, ...]) -> None:
    """Refuse teacher settings the user gave (`pinned`) where no source is a collection's
    knowledge, made or checked by them: all h5 files, made elsewhere, they would be ignored."""
    if pinned and all(source.store is None for source in sources):
        named = option(pinned[0])
        raise PdError(
            f"{named} says how pd teach makes knowledge, but the knowledge given ({sources[0].label}) is "
            f"PartDistill h5 files, made elsewhere; leave {named} out."
        )


def _collection_of_store(owner: Path, store: Path) -> Collection:
    if not (owner / "manifest.json").is_file():
        raise PdError(f"{store} is a pd teach folder, but {owner} (two folders up) is not its collection.")
    return Collection.open(owner)


def _one_category(collections: list[Collection], h5_sources: list[tuple[Path, list[Item]]]) -> Category:
    """The one category all the sources' shapes share."""
    names = {record.category for c in collections for record in c.ok_records}
    names |= {item.shape.category for _, items in h5_sources for item in items}
    if len(names) != 1 or None in names:
        shown = ", ".join(sorted(str(n) for n in names))
        raise PdError(
            f"The shapes to distil on are of {len(names)} categories ({shown}); "
            f"say which with {option('category')}."
        )
    return find_category(names.pop())


def _default_source(collection: Collection, teach: TeachConfig, pinned: tuple[str, ...]) -> Source:
    """A collection with the knowledge `teach` names (made first when it is missing or partial),
    refused where that knowledge was made with other values of the `pinned` settings."""
    store = KnowledgeStore.named(collection.root, teach.default_name())
    made = _made_with(store)
    if made is not None:  # continue it with the settings it was made with
        _check_pinned(store, made, teach, pinned)
        teach = made
    missing = bool(store.untaught(collection))
    return Source(_where(store.root), collection, store, teach=teach if missing else None)


def _where(path: Path) -> str:
    """A source's path as a run records it: absolute, its links resolved, so that `pd view` of the
    run finds its collections from any folder (a resume compares what they hold, not this)."""
    return str(path.resolve())


def _made_with(store: KnowledgeStore) -> TeachConfig | None:
    """The settings `store`'s units were made with; None before its first unit (a folder whose
    run failed before any takes new settings)."""
    earlier = store.settings()
    if earlier is None or not store.holds_units():
        return None
    return teach_config_from(earlier, store.root)


def _check_pinned(
    store: KnowledgeStore, made: TeachConfig | None, asked: TeachConfig, pinned: tuple[str, ...]
) -> None:
    """Refuse `store` if its knowledge was `made` with other values of the `pinned` settings."""
    if made is None:
        return
    for setting in pinned:
        if getattr(made, setting) != getattr(asked, setting):
            named = option(setting)
            raise PdError(
                f"{store.root} holds knowledge made with {named} {getattr(made, setting)}, not "
                f"{getattr(asked, setting)}; leave {named} out to use it, or teach again with "
                f"`pd teach --name <another>` and distil with {option('knowledge')}."
            )


def _refuse_twice(paths: list[Path], setting: str, what: str) -> None:
    """Refuse (PdError) a folder `paths` name twice, however spelt (a link, a relative path): its
    shapes would be distilled on twice as often."""
    given = [path.resolve() for path in paths]
    twice = next(
        (path for path, resolved in zip(paths, given, strict=True) if given.count(resolved) > 1), None
    )
    if twice is not None:
        raise PdError(f"{option(setting)} names {twice} twice; give each {what} once.")


def items_from_store(collection: Collection, store: KnowledgeStore) -> list[Item]:
    """Every shape of `collection` with its units from `store` (all must be there, made from the
    shape's file as it is read now)."""
    missing = [record.id for record in collection.ok_records if not store.has(record.id)]
    if missing:
        raise PdError(
            f"{store.root} has no units for {len(missing)} shapes (e.g. {missing[0]}); run `pd teach` first."
        )
    items, stale = [], []
    for record in collection.ok_records:
        shape, digest = collection.read(record)
        if store.made_from(record.id) not in (None, digest):
            stale.append(record.id)
        items.append(Item(record.id, shape, store.load(record.id)))
    if stale:
        raise PdError(
            f"{store.root} holds units of {len(stale)} shapes made from other files than theirs now "
            f"(e.g. {stale[0]}: it was replaced since); run `pd teach` again to remake them."
        )
    return items


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
            f"{root} holds knowledge of {len(names)} categories ({', '.join(names)}); "
            f"choose with {option('category')}."
        )
    return items
