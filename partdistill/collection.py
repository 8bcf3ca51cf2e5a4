"""A shape collection on disk: a folder of shape files and a manifest with one record per shape.

    <root>/manifest.json        {"format": "partdistill.collection", "version": 1, "shapes": [record, ...],
                                 "categories": {name: definition}}   (the user categories it uses)
    <root>/manifest.log         records added since manifest.json was last written, one JSON per line
    <root>/shapes/<id>.npz      one file per shape, in the project's format

A record is kept for shapes that failed to generate too (with the error and no file), so a failure
is visible and a resumed run does not try them again. Adding a shape writes its file (atomically)
and then appends its record to manifest.log, so adding costs the same however large the
collection; `compact` folds the log into manifest.json (atomically, then drops the log), which
`pd synth` and `pd import` do when they finish. A killed writer leaves the collection as it was
after its last complete shape: a half-written last line of the log is ignored.

Manifests are data a user may be handed: shape ids must be safe file names, and every path read or
written in the collection (its shape files, manifest and log) must stay inside its folder once links
are followed (`partdistill.files.check_id`, `inside`), or the collection is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partdistill.errors import PdError, first_few, option
from partdistill.files import check_id, file_sha256, inside, parse_json, read_json, write_json
from partdistill.formats import READABLE_SUFFIXES, SHAPE_SUFFIX, read_npz, write_npz
from partdistill.prompts import Category, find_category, register_category
from partdistill.records import MAX_TEXT, Fields
from partdistill.shapes import MAX_POINTS, Provenance, Shape

MANIFEST = "manifest.json"
LOG = "manifest.log"
SHAPES_DIR = "shapes"
_FORMAT = "partdistill.collection"
_VERSION = 1


@dataclass(frozen=True)
class ShapeRecord:
    """One manifest entry.

    Attributes:
        id: unique within the collection, usable as a file name ("chair-00042").
        file: the shape file relative to the collection root, or None when generation failed.
        category: catalogue name of the category, or None.
        part_names: names of the labelled parts; empty for unlabelled shapes.
        provenance: where the shape came from.
        n_points: number of points in the file (0 when failed).
        part_counts: points per part, in `part_names` order (empty when unlabelled).
        error: why generation failed, or None.
    """

    id: str
    file: str | None
    category: str | None
    part_names: tuple[str, ...]
    provenance: Provenance
    n_points: int
    part_counts: tuple[int, ...] = ()
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "id": self.id,
            "file": self.file,
            "category": self.category,
            "part_names": list(self.part_names),
            "provenance": self.provenance.to_dict(),
            "n_points": self.n_points,
            "part_counts": list(self.part_counts),
        }
        if self.error is not None:
            data["error"] = self.error
        return data

    @classmethod
    def from_dict(cls, data: object, source: str) -> ShapeRecord:
        """The record a manifest entry or log line holds, every field checked (type, range, size,
        and against the others) before the record is built; else one PdError naming `source`."""
        fields = Fields(data, source, "a shape record")
        shape_id = check_id(fields.text("id"), source)
        error = fields.text("error", None)
        file = fields.text("file", None)
        if file is None and error is None:
            raise PdError(
                f"{source}: shape {shape_id} has no 'file', "
                "which only a failed shape (one with an 'error') may lack."
            )
        n_points = fields.whole("n_points", at_least=0 if error else 1, at_most=MAX_POINTS)
        part_names = fields.texts("part_names", (), unique=True)
        part_counts = fields.wholes("part_counts", (), at_least=0)
        if part_counts and len(part_counts) != len(part_names):
            raise PdError(
                f"{source}: shape {shape_id} has {len(part_counts)} part counts for {len(part_names)} parts."
            )
        if sum(part_counts) > n_points:
            raise PdError(
                f"{source}: the part counts of shape {shape_id} add up to {sum(part_counts):,}, "
                f"more than its {n_points:,} points."
            )
        return cls(
            id=shape_id,
            file=file,
            category=fields.text("category", None),
            part_names=part_names,
            provenance=_provenance(fields, source),
            n_points=n_points,
            part_counts=part_counts,
            error=error,
        )


def _provenance(fields: Fields, source: str) -> Provenance:
    """The record's 'provenance' object as a Provenance, or one PdError naming `source`."""
    record = fields.record("provenance")
    try:
        return Provenance.from_dict(record.data)
    except (PdError, ValueError, TypeError) as error:
        raise PdError(f"{source}: 'provenance' is not a shape's provenance ({error}).") from error


@dataclass(frozen=True)
class PartCoverage:
    """How much of a labelled collection one part covers.

    Attributes:
        category: the category the part belongs to.
        name: the part.
        shapes: number of shapes of the category that have at least one point of it.
        of: number of labelled shapes of the category.
        share: its mean fraction of those shapes' points.
    """

    category: str | None
    name: str
    shapes: int
    of: int
    share: float


class Collection:
    """A shape collection rooted at a folder; see the module docstring for the layout."""

    def __init__(self, root: Path, records: list[ShapeRecord], user_categories: dict | None = None) -> None:
        self.root = root
        self._records = {record.id: record for record in records}
        self._categories: dict[str, dict] = dict(user_categories or {})  # name -> Category.to_record()
        self._digests: dict[str, tuple[tuple[int, int, int], str]] = {}  # id -> (file status, digest)

    @classmethod
    def create(cls, root: str | Path, own: tuple[str, ...] = ()) -> Collection:
        """Open the collection at `root`, or start an empty one there (the folder may not exist yet).

        A folder without a manifest that holds a manifest log or shape files is refused: a
        collection has its manifest from its first shape on, so they are not pd's, and it would
        replace them. (A run killed between writing its very first shape and its manifest leaves
        such a folder too; it is refused as well, and says so.) So is one that holds anything else
        but hidden files and the files `own` names (those the caller writes before the first shape):
        the user's files, among which the collection would grow.
        """
        root = Path(root)
        if (root / MANIFEST).exists():
            return cls.open(root)
        if root.exists() and not root.is_dir():
            raise PdError(f"{root} is a file, not a folder for a shape collection.")
        theirs = sorted(
            path.name
            for path in (root.iterdir() if root.is_dir() else ())
            if not path.name.startswith(".") and path.name not in {SHAPES_DIR, LOG, *own}
        )
        if theirs:
            raise PdError(
                f"{root} holds other files ({first_few(theirs, 3)}) and no collection; give "
                f"{option('out')} a new or empty folder, or a collection."
            )
        shapes, log = inside(root, SHAPES_DIR), inside(root, LOG)
        if log.exists() or (shapes.is_dir() and any(shapes.iterdir())):
            raise PdError(
                f"{root} holds {LOG if log.exists() else f'{SHAPES_DIR}/'} but no {MANIFEST}: it is no "
                "collection pd made (or a first run was stopped before it recorded its first shape), "
                f"and pd would replace those files; give {option('out')} a new folder or a collection."
            )
        return cls(root, [])

    @classmethod
    def open(cls, root: str | Path) -> Collection:
        """Open and validate an existing collection."""
        root = Path(root)
        if not root.is_dir():
            raise PdError(f"{root} is not a folder: expected a shape collection (a folder with {MANIFEST}).")
        manifest = inside(root, MANIFEST)
        if not manifest.is_file():
            files = (path for path in root.iterdir() if path.suffix.lower() in READABLE_SUFFIXES)
            make = (
                f"make one of the shape files in it with `pd import --dataset files --root {root} "
                "--categories <category> --out <collection>`"
                if next(files, None) is not None
                else "make one with `pd synth`, or of your own files with `pd import`"
            )
            raise PdError(f"{root} is not a shape collection: it has no {MANIFEST} ({make}).")
        data = read_json(manifest, "a partdistill collection manifest")
        if data.get("format") != _FORMAT:
            raise PdError(f"{manifest} is not a partdistill collection manifest.")
        if data.get("version") != _VERSION:
            raise PdError(
                f"{manifest} is version {data.get('version')}; this partdistill reads version {_VERSION}."
            )
        entries = data.get("shapes", [])
        if not isinstance(entries, list):
            raise PdError(f"{manifest}: 'shapes' is not a list of shape records.")
        records = [
            ShapeRecord.from_dict(entry, f"{manifest}: shape entry {position}")
            for position, entry in enumerate(entries)
        ]
        counts = Counter(record.id for record in records)
        duplicates = sorted(i for i, n in counts.items() if n > 1)
        if duplicates:
            raise PdError(f"{manifest} lists shape ids more than once: {', '.join(duplicates[:5])}.")
        files = Counter(record.file for record in records if record.file is not None)
        shared = sorted(file for file, n in files.items() if n > 1)
        if shared:  # one shape under two ids: its units and labels would be taken twice
            raise PdError(f"{manifest} gives more than one shape the file {shared[0]}.")
        user = data.get("categories", {})
        if not isinstance(user, dict):
            raise PdError(f"{manifest}: 'categories' is not a table of category definitions.")
        for name, record in user.items():
            try:
                register_category(Category.from_record(record, f"{manifest}: category '{name}'"))
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                raise PdError(
                    f"{manifest}: the definition of category '{name}' is malformed ({error})."
                ) from error
        collection = cls(root, records, user)
        log = inside(root, LOG)
        for position, entry in enumerate(_log_entries(log)):
            record = ShapeRecord.from_dict(entry, f"{log}: line {position + 1}")
            collection._records[record.id] = record
        for record in collection:
            check_id(record.id, str(manifest))
            if record.ok and (record.file is None or not inside(root, record.file, str(manifest)).is_file()):
                missing = [
                    r.file for r in collection.ok_records if r.file is None or not (root / r.file).is_file()
                ]
                more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
                raise PdError(f"{manifest} lists shape files that are missing: {missing[0]}{more}.")
        return collection

    def __len__(self) -> int:
        return len(self._records)

    def __repr__(self) -> str:
        failed = len(self) - len(self.ok_records)
        return f"Collection({str(self.root)!r}, {len(self)} shapes" + (
            f", {failed} failed)" if failed else ")"
        )

    def __iter__(self) -> Iterator[ShapeRecord]:
        return iter(self._records.values())

    def __contains__(self, shape_id: object) -> bool:
        return shape_id in self._records

    def __getitem__(self, shape_id: str) -> ShapeRecord:
        return self._records[shape_id]

    def path(self, relative: str, source: str | None = None) -> Path:
        """`relative` in the collection's folder, refused if a link or '..' leads it out
        (`source`: the record it was read from)."""
        return inside(self.root, relative, source)

    @property
    def ok_records(self) -> list[ShapeRecord]:
        """The records of shapes that exist (failed generations left out)."""
        return [record for record in self if record.ok]

    def require_shapes(self) -> None:
        """Refuse (PdError) a collection with no shape to work on (none made, or all failed)."""
        if not self.ok_records:
            failed = f" (the {len(self)} it lists failed to be made)" if len(self) else ""
            raise PdError(f"{self.root} holds no shapes{failed}: there is nothing to work on.")

    def shared_category(self) -> Category | None:
        """The category every shape names, None where they name several or one names none."""
        names = {record.category for record in self.ok_records}
        return find_category(next(iter(names))) if len(names) == 1 and None not in names else None

    def category_for(self, asked: Category | None = None, force: bool = False) -> Category:
        """The category to treat the shapes as: `asked`, or the one every shape shares. A category
        that contradicts a shape's own is refused unless `force` (`force_category`), a collection
        of several categories too: every shape of it would be taught and distilled as `asked`."""
        self.require_shapes()
        names = {record.category for record in self.ok_records}
        own = self.shared_category()
        if asked is None:
            several = sorted(str(name) for name in names - {None})
            if len(several) > 1:
                raise PdError(
                    f"{self.root} holds shapes of {len(several)} categories ({first_few(several, 3)}), and "
                    "each shape of a collection is taught and distilled as one category: import each "
                    f"category into a collection of its own ({option('categories')} of pd import)."
                )
            if own is None:
                raise PdError(
                    f"{self.root} holds shapes of {len(names)} categories; "
                    f"say which with {option('category')}."
                )
            return own
        others = sorted({category.key for category in map(find_category, names - {None})} - {asked.key})
        if own is not None and others and not force:
            raise PdError(
                f"{self.root} holds {own.key} shapes, not {asked.key}; pass {option('force_category')} to "
                f"treat them as {asked.key} anyway."
            )
        if others and not force:
            raise PdError(
                f"{self.root} holds {', '.join(others)} shapes besides any {asked.key}, and each shape of a "
                f"collection is taught and distilled as one category: import each category into a collection "
                f"of its own, or pass {option('force_category')} to treat them all as {asked.key}."
            )
        return asked

    def part_coverage(self) -> list[PartCoverage]:
        """For each category and part of the labelled shapes: how many shapes have it, its mean share."""
        groups: dict[tuple[str | None, tuple[str, ...]], list[ShapeRecord]] = {}
        for record in self.ok_records:
            if record.part_counts:
                groups.setdefault((record.category, record.part_names), []).append(record)
        return [
            PartCoverage(
                category=category,
                name=name,
                shapes=sum(1 for r in records if r.part_counts[i] > 0),
                of=len(records),
                share=sum(r.part_counts[i] / r.n_points for r in records) / len(records),
            )
            for (category, names), records in groups.items()
            for i, name in enumerate(names)
        ]

    def load(self, record: ShapeRecord | str) -> Shape:
        """Read one shape."""
        return read_npz(self._file(record))

    def read(self, record: ShapeRecord) -> tuple[Shape, str]:
        """One shape and the SHA-256 of the very bytes it was read from: what units taught from it
        record, so that units of a shape replaced since (by `pd import --replace`, or by hand) are
        told from its own, whenever the file changes."""
        file = self._file(record)
        try:
            data = file.read_bytes()
        except FileNotFoundError as error:  # removed since the collection was opened
            raise PdError(f"{file} does not exist.") from error
        return read_npz(file, data), hashlib.sha256(data).hexdigest()

    def digest(self, record: ShapeRecord) -> str:
        """The SHA-256 of a shape's file, as `read` gives it; taken again only when the file's size,
        time or inode changed since this collection last took it (a command asks more than once)."""
        file = self._file(record)
        status = file.stat()
        key = (status.st_size, status.st_mtime_ns, status.st_ino)
        if self._digests.get(record.id, (None, ""))[0] != key:
            self._digests[record.id] = (key, file_sha256(file))
        return self._digests[record.id][1]

    def _file(self, record: ShapeRecord | str) -> Path:
        record = self._records[record] if isinstance(record, str) else record
        if record.file is None:
            raise PdError(f"Shape {record.id} has no file: its generation failed ({record.error}).")
        return self.path(record.file, str(self.root / MANIFEST))

    def shapes(self) -> Iterator[tuple[ShapeRecord, Shape]]:
        """Every shape that exists, with its record."""
        for record in self.ok_records:
            yield record, self.load(record)

    def add(self, shape_id: str, shape: Shape) -> ShapeRecord:
        """Write `shape` under `shape_id` and record it (replacing an earlier record of that id)."""
        file = f"{SHAPES_DIR}/{check_id(shape_id, 'the shape to add')}{SHAPE_SUFFIX}"
        path = self.path(file)
        listed = shape_id in self._records and self._records[shape_id].file == file
        if not listed and (path.exists() or path.is_symlink()) and not _left_by_pd(path):
            raise PdError(
                f"{path} is not among the shapes {self.root}'s manifest lists, nor a shape file pd left "
                f"there (a stopped run's): pd would replace it; move it, or choose another {option('out')}."
            )
        write_npz(shape, path)
        record = ShapeRecord(
            id=shape_id,
            file=file,
            category=shape.category,
            part_names=shape.part_names,
            provenance=shape.provenance,
            n_points=shape.n_points,
            part_counts=()
            if shape.labels is None
            else tuple(
                int(c) for c in np.bincount(shape.labels[shape.labels >= 0], minlength=len(shape.part_names))
            ),
        )
        return self._put(record)

    def add_failure(
        self, shape_id: str, category: str | None, provenance: Provenance, error: str
    ) -> ShapeRecord:
        """Record that `shape_id` could not be made, and why (a reason longer than a record may hold
        is cut short, so the manifest stays one its reader accepts)."""
        reason = error.strip() or "unknown error"
        if len(reason) > MAX_TEXT:
            reason = reason[: MAX_TEXT - 3] + "..."
        record = ShapeRecord(shape_id, None, category, (), provenance, 0, error=reason)
        return self._put(record)

    def _put(self, record: ShapeRecord) -> ShapeRecord:
        self._records[record.id] = record
        new_category = self._record_category(record.category)
        if new_category or not (self.root / MANIFEST).is_file():
            self.compact()  # the manifest exists from the first shape on, and names every user category
            return record
        _append_line(self.path(LOG), json.dumps(record.to_dict()))
        return record

    def _record_category(self, name: str | None) -> bool:
        """Keep the definition of a user category the collection's shapes use; True if it is new."""
        if name is None or name in self._categories:
            return False
        category = find_category(name)
        if category.dataset != "user":
            return False
        self._categories[name] = category.to_record()
        return True

    def compact(self, sort: bool = False) -> None:
        """Fold manifest.log into manifest.json (atomically, then the log goes); with `sort`, the
        records in the order of their ids (shapes made in parallel arrive in any order). A
        collection nothing was ever added to is left without a manifest."""
        if not self._records and not self.path(MANIFEST).exists():
            return
        if sort:
            self._records = dict(sorted(self._records.items()))
        data: dict[str, object] = {
            "format": _FORMAT,
            "version": _VERSION,
            "shapes": [r.to_dict() for r in self._records.values()],
        }
        if self._categories:
            data["categories"] = self._categories
        write_json(self.path(MANIFEST), data)
        self.path(LOG).unlink(missing_ok=True)


def _left_by_pd(path: Path) -> bool:
    """Whether the file at `path`, in a collection's shapes/ folder but not in its manifest, is a
    shape file a stopped pd run wrote before it could record it (which the same run again writes
    over): a readable partdistill shape file, not a link."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        read_npz(path)
    except PdError:
        return False
    return True


def _append_line(path: Path, line: str) -> None:
    """Append `line` to a log, first cutting off a last line a killed writer left unfinished (appended
    to, it would join the new record on one line that no reader could parse)."""
    with path.open("a+b") as log:  # writes go to the end whatever the position; reads from it
        end = log.seek(0, 2)
        if end:
            log.seek(end - 1)
            if log.read(1) != b"\n":
                log.seek(0)
                log.truncate(log.read().rfind(b"\n") + 1)
        log.write(line.encode() + b"\n")


def _log_entries(path: Path) -> list[object]:
    """The records appended to a manifest log; a last line cut short by a kill is dropped."""
    if not path.is_file():
        return []
    lines = path.read_bytes().split(b"\n")
    entries = []
    for number, line in enumerate(lines[:-1], start=1):  # complete lines end with a newline
        try:
            entries.append(parse_json(line.decode()))
        except UnicodeDecodeError as error:
            raise PdError(f"{path}: line {number} is not UTF-8 text ({error.reason}).") from error
        except (ValueError, RecursionError) as error:
            raise PdError(f"{path}: line {number} is not a JSON record ({error}).") from error
    return entries
