"""`pd import`: a benchmark split or a folder of the user's shape files, as a collection.

Importing into an existing collection never changes a shape it holds behind the user's back: a
shape already there under its id (the same points, labels, parts and mesh) is skipped, so an
interrupted import resumes; a different shape whose id the collection already uses is imported
under a new id (`<id>-2`, `<id>-3`, ...), or, where the caller asks, replaces that shape once
`forget` has dropped what was made from the old one (its knowledge units).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from partdistill.collection import Collection
from partdistill.datasets.readers import Dataset
from partdistill.errors import PdError, first_few, option
from partdistill.files import check_id, inside
from partdistill.progress import QUIET, Progress, tracked
from partdistill.prompts import Category
from partdistill.shapes import CATALOGUE_FRAME, Frame, Shape

if TYPE_CHECKING:
    from partdistill.formats import FileLabels

SOURCES = ("shapenetpart", "partnete", "files")  # what pd import makes collections from
Forget = Callable[[str], None]  # drops what was made from the shape of an id that is replaced


@dataclass(frozen=True)
class Imported:
    """What importing one shape did.

    Attributes:
        source_id: its id in the dataset, or its file name.
        id: its id in the collection: `source_id`, or a new one where the collection used that id
            for a different shape.
        added: False where the collection already held it (a resumed import).
        replaced: whether it replaced a different shape of the same id.
        labels: for a file, what became of the labels it carries (`labelled_as`); "" otherwise.
        file: for a file, its name.
    """

    source_id: str
    id: str
    added: bool = True
    replaced: bool = False
    labels: str = ""
    file: str = ""

    @property
    def renamed(self) -> bool:
        return self.id != self.source_id


def import_shapes(
    dataset: Dataset, categories: list[Category] | None, out: str | Path, forget: Forget | None = None
) -> Iterator[Imported]:
    """Copy a benchmark's shapes into a collection at `out` under their dataset ids; yields what
    became of each (see the module docstring; `forget`: replace rather than rename).

    The labels come along for evaluation and display; no stage of partdistill trains on them.
    """
    collection = Collection.create(out)
    incoming = set(dataset.ids(categories))
    try:
        for item in dataset.shapes(categories):
            yield place(collection, item.id, item.shape.replace(category=item.category.key), incoming, forget)
    finally:
        collection.compact()


def import_files(
    folder: str | Path,
    category: Category,
    out: str | Path,
    n_points: int,
    seed: int,
    forget: Forget | None = None,
    frame: Frame = CATALOGUE_FRAME,
    progress: Progress = QUIET,
) -> Iterator[Imported]:
    """Read every shape file in `folder` (PLY, meshes, .npz) into a collection at `out`, its labels
    matched to `category`'s parts (`labelled_as`) and turned from the files' `frame` into the
    catalogue's, with a bar on `progress` as they are read; yields what became of each (see the
    module docstring; `forget`: replace rather than rename).

    All files are read, here, before anything is written, so an unreadable file changes nothing;
    the shapes are placed into the collection as the iterator is advanced.
    """
    from partdistill.formats import READABLE_SUFFIXES, read_labelled

    folder = Path(folder)
    if not folder.is_dir():
        raise PdError(f"{folder} is not a folder of shape files.")
    paths = sorted(
        inside(folder, p.name)  # a link leading out of the folder is refused
        for p in folder.iterdir()
        if p.suffix.lower() in READABLE_SUFFIXES and not p.name.startswith(".")
    )
    if not paths:
        raise PdError(f"{folder} holds no shape files ({', '.join(READABLE_SUFFIXES)}).")
    ids = [check_id(file_id(path.stem), str(path)) for path in paths]
    twice = sorted(shape_id for shape_id, count in Counter(ids).items() if count > 1)
    if twice:
        files = [path.name for path, shape_id in zip(paths, ids, strict=True) if shape_id == twice[0]]
        raise PdError(
            f"{folder} holds {len(files)} files that would be shape {twice[0]} ({', '.join(files)}): "
            "ids come from file names without their suffix; rename all but one."
        )
    collection = Collection.create(out)  # writes nothing: a folder it refuses is refused before the reading
    labelled, unreadable = [], {}
    with tracked(progress, f"reading {folder}", len(paths)) as bar:
        for path in paths:  # every file, so that all that cannot be read are said at once
            try:
                labelled.append(labelled_as(*read_labelled(path, n_points=n_points, seed=seed), category))
            except PdError as error:
                unreadable[path.name] = error.args[0]
            bar.advance()
    if unreadable:
        said = " ".join(list(unreadable.values())[:3])
        raise PdError(
            f"{len(unreadable)} of the {len(paths)} shape files in {folder} cannot be read "
            f"({first_few(list(unreadable), 5)}), so nothing was imported: fix them or move them out of "
            f"the folder. {said}" + (" ..." if len(unreadable) > 3 else "")
        )
    return _placed(collection, paths, ids, labelled, frame, forget)


def _placed(
    collection: Collection,
    paths: list[Path],
    ids: list[str],
    labelled: list[tuple[Shape, str]],
    frame: Frame,
    forget: Forget | None,
) -> Iterator[Imported]:
    """The files read by `import_files` placed into `collection`, one as each is asked for."""
    try:
        for path, shape_id, (shape, note) in zip(paths, ids, labelled, strict=True):
            done = place(collection, shape_id, shape.rotated(frame), set(ids), forget)
            yield dataclasses.replace(done, labels=note, file=path.name)
    finally:
        collection.compact()


def file_id(stem: str) -> str:
    """The shape id of a file called `stem` (without suffix): the stem itself where it is a safe
    id, else with accents dropped ("stühl" -> "stuhl"), every other character outside letters,
    digits, ".", "_" and "-" as "_", and what leads up to its first letter or digit left out
    ("-scan 2" -> "scan_2"). Where letters of another script were replaced ("стул", "椅子"),
    a short hash of the stem follows ("shape-1b4f0e"), so that two such names stay two ids."""
    spelt = unicodedata.normalize("NFKD", stem)  # "ü" as "u" and a combining diaeresis
    plain = "".join(c for c in spelt if not unicodedata.combining(c))
    safe = re.sub(r"^[^A-Za-z0-9]+", "", re.sub(r"[^A-Za-z0-9._-]", "_", plain)) or "shape"
    if plain.isascii():
        return safe
    return f"{safe.rstrip('_')}-{hashlib.sha1(stem.encode('utf-8', 'surrogatepass')).hexdigest()[:6]}"


def place(
    collection: Collection, shape_id: str, shape: Shape, incoming: set[str], forget: Forget | None
) -> Imported:
    """Put `shape` into `collection` under `shape_id`, unless it is already there. A different shape
    of that id is replaced (after `forget(shape_id)`) where `forget` is given; else `shape` takes
    the first of `<id>-2`, `<id>-3`, ... that is free or already holds it, passing over the ids
    this import brings itself (`incoming`)."""
    if shape_id not in collection:
        collection.add(shape_id, shape)
        return Imported(shape_id, shape_id)
    if _holds(collection, shape_id, shape):
        return Imported(shape_id, shape_id, added=False)
    if forget is not None:
        forget(shape_id)
        collection.add(shape_id, shape)
        return Imported(shape_id, shape_id, replaced=True)
    candidates = (f"{shape_id}-{number}" for number in count(2))
    new_id = next(
        i for i in candidates if i not in incoming and (i not in collection or _holds(collection, i, shape))
    )
    if new_id in collection:
        return Imported(shape_id, new_id, added=False)
    collection.add(new_id, shape)
    return Imported(shape_id, new_id)


def _holds(collection: Collection, shape_id: str, shape: Shape) -> bool:
    """Whether the collection's shape `shape_id` is `shape`: the same points, labels, parts,
    category and mesh, wherever each was read from."""
    record = collection[shape_id]
    return record.ok and _same(collection.load(record).replace(provenance=shape.provenance), shape)


def _same(a: object, b: object) -> bool:
    """Whether two values of a shape's fields are equal: arrays by shape and values, records
    (a mesh) field by field."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    return a == b


def labelled_as(shape: Shape, found: FileLabels | None, category: Category) -> tuple[Shape, str]:
    """`shape`, read from a file that labels its parts as `found` says, as one of `category`'s;
    and what became of the file's labels, in a phrase.

    Labels the file numbers without names are taken in the order of the category's parts (label
    0 is its first part), where the category has as many parts; labels the file names (a PLY's
    partdistill comment, a shape file, GLB/GLTF node and mesh names) are matched to the parts by
    their names or teacher words (`Category.part_named`), and points of a name that matches no
    part get none (-1). A file none of whose labels could be taken keeps no labels.
    """
    plain = shape.replace(labels=None, part_names=(), category=category.key)
    if plain.mesh is not None and plain.mesh.face_labels is not None:
        plain = plain.replace(mesh=dataclasses.replace(plain.mesh, face_labels=None))
    if found is None:
        return plain, "no labels"
    parts = category.part_names
    if found.numbered:
        count = len(found.names)
        if count > len(parts):
            fix = "name them, or give the parts in label order"
            if count == len(parts) + 1 and not (found.groups == 0).any():
                fix = "no point has label 0: if the file counts from 1, renumber it from 0"
            return plain, (
                f"{found.where} numbers {count} parts and {category.name} has {len(parts)} "
                f"({', '.join(parts)}): no labels taken ({fix})"
            )
        table = list(range(count))
        numbers = "label 0" if count == 1 else f"labels 0-{count - 1}"
        note = f"{numbers} of {found.where} taken as {', '.join(parts[:count])} (the parts in order)"
        if count > 1 and not (found.groups == 0).any():
            note += (
                f"; no point has label 0, so {parts[0]} is missing: if the file counts from 1, renumber it"
            )
    else:
        matches = [_match(category, names) for names in found.names]  # (part, the name that matched)
        table = [None if match is None else match[0] for match in matches]
        taken = []
        for part in sorted({p for p in table if p is not None}):  # in the category's order
            given = sorted({match[1] for match in matches if match is not None and match[0] == part})
            taken.append(parts[part] if given == [parts[part]] else f"{first_few(given, 3)} as {parts[part]}")
        sizes = np.bincount(found.groups[found.groups >= 0], minlength=len(found.names))
        left = [
            f"{names[0] if names else f'label {i}'} ({sizes[i]} points)"
            for i, (names, part) in enumerate(zip(found.names, table, strict=True))
            if part is None and sizes[i]
        ]
        if not taken:
            shown = ", ".join(names[0] for names in found.names[:5] if names)
            return plain, (
                f"{found.where} ({shown}{', ...' if len(found.names) > 5 else ''}) name none of "
                f"{category.name}'s parts ({', '.join(parts)}): no labels taken"
            )
        note = f"{', '.join(taken)} from {found.where}"
        if left:
            note += f"; not taken, as no part of {category.name} is named so: {first_few(left, 5)}"
    lookup = np.array([-1 if part is None else part for part in table] + [-1], dtype=np.int64)
    labels = lookup[found.groups]  # -1 indexes the last entry: no part stays no part
    mesh = plain.mesh
    if mesh is not None and found.face_groups is not None:
        mesh = dataclasses.replace(mesh, face_labels=lookup[found.face_groups])
    return plain.replace(labels=labels, part_names=parts, mesh=mesh), note


def _match(category: Category, names: tuple[str, ...]) -> tuple[int, str] | None:
    """The part the first of `names` that names one names, and that name; None where none does."""
    for name in names:
        part = category.part_named([name])
        if part is not None:
            return part, name
    return None


def label_lines(done: list[Imported]) -> list[str]:
    """What became of the imported files' labels: a line per outcome, naming its files (up to 3)."""
    by_note: dict[str, list[str]] = {}
    for imported in done:
        if imported.labels:
            by_note.setdefault(imported.labels, []).append(imported.source_id)
    lines = []
    for note, names in by_note.items():
        lines.append(f"Labels of {first_few(names, 3)}: {note}.")
    return lines


def what_changed(done: list[Imported], out: Path) -> list[str]:
    """Sentences naming the shapes an import gave new ids, or replaced, in the collection at `out`
    (none where it only added shapes under their own ids, or resumed)."""
    lines = []
    made = [i for i in done if i.file and Path(i.file).stem != i.source_id]
    if made:
        shown = first_few([f"{i.file} as {i.source_id}" for i in made], 5)
        lines.append(f"Ids made from file names that are not safe ids: {shown}.")
    renamed = [i for i in done if i.added and i.renamed]
    replaced = [i.id for i in done if i.replaced]
    if renamed:
        shown = first_few([f"{i.source_id} as {i.id}" for i in renamed], 5)
        lines.append(
            f"{len(renamed)} imported shapes are not the shapes {out} holds under their ids, and "
            f"were added under new ids: {shown}; pass {option('replace')} to replace those shapes "
            "instead."
        )
    if replaced:
        lines.append(
            f"Replaced {len(replaced)} shapes of {out} by imported shapes of the same ids "
            f"({first_few(replaced, 5)}) and deleted their knowledge units; pd teach makes them again."
        )
    return lines
