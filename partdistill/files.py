"""Files the commands write and read: atomic writes, JSON read with one clear sentence, paths kept
inside their folder, and one writer per output folder.

- `atomic_path` / `write_json` / `write_bytes`: a reader never sees a half-written file and a
  killed run loses nothing; written files get the mode the user's umask gives a new file.
- `read_json`: a missing, unreadable or malformed JSON file becomes one `PdError` naming it.
- `open_h5` / `read_h5_numbers`: the one way HDF5 files are read. A file that is not HDF5, a
  dataset that is not a modest array of numbers, and anything stored outside the file (external
  storage, external or soft links, virtual datasets) become one `PdError`, before any value is read.
- `read_npz_array`: one array of an `.npz` a user handed over, its declared shape, kind and size
  checked from its header before it is loaded.
- `inside`: every path read or written inside a folder a command is handed (a collection, a
  knowledge folder, a run, a prediction or report folder, a dataset), refused if it leads out of
  it; `files_under` finds files at any depth under such a folder, refusing a link that leads out.
- `OutputFolder`: an exclusive lock on a command's output folder, so two `pd synth` on the same
  `--out` cannot both write; a folder the command created and left empty is removed on failure.
- `CommandFiles`: the files a command writes into a folder it shares with the user; it replaces
  only files an earlier run of the same command wrote there.

Nothing here deletes a file it did not make: `atomic_path` removes its own temporary file on any
failure, and a temporary left by a killed process (a hidden `.<name>.tmp-*` file) is never read
as data.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import math
import os
import re
import secrets
import stat
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from partdistill.errors import PdError, option

TEMPORARY = ".tmp-"  # marks the temporary files of `atomic_path`
OWNER = ".pd-owner"  # the pid of the process holding an output folder
_MAX_WHOLE = 2**53
MAX_H5_VALUES = 2**28  # values one HDF5 array may hold: 1 GiB of float32, 20x ShapeNetPart's largest file


def _creation_mode() -> int:
    """The mode a plain `open` gives a new file: 0o666 without the process's umask bits."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path`, on failure delete it.

    The temporary file keeps the target's suffix, so writers that dispatch on it still work; the
    renamed file has the mode a plain `open` would give it. Its name is taken before the file is
    made, so that a stop (Ctrl-C, SIGTERM, SIGHUP) at any point after it exists finds it to delete.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        while tmp is None:
            tmp = target.parent / f".{target.stem}{TEMPORARY}{secrets.token_hex(6)}{target.suffix}"
            try:
                _create(tmp)
            except FileExistsError:  # the user's, or another writer's: never ours to touch
                tmp = None
        yield tmp
        os.chmod(tmp, _creation_mode())
        os.replace(tmp, target)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def _create(path: Path) -> None:
    """Make `path` an empty file, only if nothing (not even a link) is there."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write `data` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data`, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def read_text(path: str | os.PathLike[str], what: str, errors: str = "strict") -> str:
    """The text of the file at `path`; a pipe, a device or a folder there is one PdError saying
    it is not `what` (reading a pipe would wait for a writer for ever). OSError as `open` raises it."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # opening a pipe waits, too, without it
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise PdError(f"{path} is not {what}: it is not a regular file.")
    with open(descriptor, encoding="utf-8", errors=errors) as handle:
        return handle.read()


def read_json(path: str | os.PathLike[str], what: str, kind: type = dict) -> Any:
    """The JSON value in `path`, which must be a `kind` (a dict by default); else one PdError about
    `what` the file should have been."""
    path = Path(path)
    try:
        data = parse_json(read_text(path, what))
    except FileNotFoundError as error:
        raise PdError(f"{path} is missing: expected {what}.") from error
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        raise PdError(f"{path} is not readable JSON ({error}): expected {what}.") from error
    if not isinstance(data, kind):
        raise PdError(f"{path} holds a JSON {type(data).__name__}, not {what}.")
    return data


def parse_json(text: str | bytes) -> Any:
    """The JSON value of `text`, as json.loads reads it but for an object that gives a key twice:
    a ValueError (json.loads keeps the last of them in silence)."""
    return json.loads(text, object_pairs_hook=_once_each)


def _once_each(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys come once each: json keeps the last of a repeated key in silence,
    and which of two entries for one shape or setting was meant cannot be told."""
    record = dict(pairs)
    if len(record) < len(pairs):
        twice = next(key for key, n in Counter(key for key, _ in pairs).items() if n > 1)
        raise ValueError(f"the key {twice!r} comes twice")
    return record


@contextmanager
def open_h5(path: str | os.PathLike[str], what: str) -> Iterator[Any]:
    """`path` opened read-only as an h5py file; a file that cannot be opened or read (not HDF5,
    truncated, a damaged chunk) is one PdError saying it is not `what`.

    Read its arrays with `read_h5_numbers`, which reads nothing stored outside the file.
    """
    import h5py

    if not os.path.isfile(path):  # a folder, or a pipe, which h5py would wait on for ever
        raise PdError(f"{path} is not {what}: it is not a file.")
    try:
        with h5py.File(path, "r") as handle:
            yield handle
    except OSError as error:
        raise PdError(f"{path} is not {what} ({error}).") from error


def read_h5_numbers(
    group: Any, key: str, source: str, max_values: int, *, whole: bool = False, required: bool = True
) -> np.ndarray | None:
    """Dataset `key` of an open h5py file or group, read only once it is known to be an array of
    at most `max_values` numbers stored in the file itself; else one PdError naming `source`.

    A hostile file can declare terabytes in a few kilobytes, hold strings, or point at any file on
    the machine (external storage, an external link, a virtual dataset): all are refused before a
    value is read. With `whole`, the values must be whole numbers and come back as int64 (12.5 is
    refused, never truncated). A missing key is a PdError, or None where not `required`.
    """
    dataset = _h5_dataset(group, key, source, required)
    if dataset is None:
        return None
    if dataset.ndim == 0 or dataset.dtype.kind not in "biuf":
        raise PdError(f"{source}: '{key}' is not an array of numbers.")
    if dataset.size > max_values:
        raise PdError(
            f"{source}: '{key}' declares {dataset.size:,} values, more than the {max_values:,} it may hold."
        )
    values = dataset[()]
    return _whole_numbers(values, key, source) if whole else values


def _h5_dataset(group: Any, key: str, source: str, required: bool) -> Any:
    """The dataset `key` of `group` if its link and its data both lie inside the file (checked
    before anything is dereferenced); None where it is missing and not `required`."""
    import h5py

    link = group.get(key, getlink=True)
    if link is None:
        if required:
            raise PdError(f"{source} has no '{key}'.")
        return None
    if not isinstance(link, h5py.HardLink):
        raise PdError(
            f"{source}: '{key}' is a link to {_link_target(link)}; only arrays stored in the file are read."
        )
    dataset = group[key]
    if not isinstance(dataset, h5py.Dataset):
        raise PdError(f"{source}: '{key}' is not an array of numbers.")
    if dataset.is_virtual:
        raise PdError(
            f"{source}: '{key}' is a virtual dataset (its values live in other files); "
            "only arrays stored in the file are read."
        )
    if dataset.external:
        raise PdError(
            f"{source}: '{key}' keeps its values in another file ({dataset.external[0][0]!r}); "
            "only arrays stored in the file are read."
        )
    return dataset


def _link_target(link: Any) -> str:
    """Where an HDF5 soft or external link points, for messages."""
    filename = getattr(link, "filename", None)
    return f"{link.path!r} in {filename!r}" if filename else repr(getattr(link, "path", link))


def _whole_numbers(values: np.ndarray, key: str, source: str) -> np.ndarray:
    """`values` as int64 if every one is a whole number of at most 2**53 in size (beyond that no
    count, id or index makes sense, and a float no longer holds every whole number), else one PdError."""
    if values.dtype.kind == "f":
        bad = ~np.isfinite(values) | (values != np.round(values)) | (np.abs(values) > _MAX_WHOLE)
    elif values.dtype.kind in "iu":
        bad = (values > _MAX_WHOLE) | (values < -_MAX_WHOLE)
    else:
        bad = np.zeros(values.shape, dtype=bool)
    if bad.any():
        raise PdError(
            f"{source}: '{key}' must hold whole numbers of at most 2**53 in size, "
            f"not {values[bad].flat[0].item()!r}."
        )
    return values.astype(np.int64)


_KINDS = {"iu": "whole numbers", "f": "floating-point numbers", "u": "bytes"}


def read_npz_array(
    archive: zipfile.ZipFile,
    name: str,
    source: str,
    *,
    kinds: str,
    max_values: int,
    ndim: int = 1,
    required: bool = True,
) -> np.ndarray | None:
    """Member `name` (`name.npy`) of an open `.npz` archive, read only once its header shows an
    array of `ndim` dimensions, of a dtype kind in `kinds` ("iu": whole numbers, "f": floats, "u":
    bytes) and of at most `max_values` values; else one PdError naming `source`.

    The header is read first because a hostile file can declare terabytes in a few bytes; whole
    numbers come back as int64. A missing member is a PdError, or None where not `required`.
    """
    member = f"{name}.npy"
    if member not in archive.NameToInfo:
        if required:
            raise PdError(f"{source} has no '{name}'.")
        return None
    with archive.open(member) as handle:
        shape, dtype = _npy_header(handle, name, source)
    size = math.prod(shape)
    if len(shape) != ndim or dtype.kind not in kinds or dtype.hasobject:
        raise PdError(
            f"{source}: '{name}' must be a {ndim}-D array of {_KINDS.get(kinds, kinds)}, "
            f"not a {len(shape)}-D array of {dtype}."
        )
    if size > max_values:
        raise PdError(
            f"{source}: '{name}' declares {size:,} values, more than the {max_values:,} it may hold."
        )
    with archive.open(member) as handle:
        values = np.lib.format.read_array(handle, allow_pickle=False)
    return _whole_numbers(values, name, source) if kinds == "iu" else values


def _npy_header(handle: Any, name: str, source: str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype an `.npy` stream declares (format 1.0 or 2.0), or one PdError."""
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    try:
        version = np.lib.format.read_magic(handle)
        if version not in readers:
            raise ValueError(f"npy format version {version}")
        shape, _, dtype = readers[version](handle)
    except (ValueError, SyntaxError) as error:
        raise PdError(f"{source}: '{name}' is not a readable array ({error}).") from error
    return shape, dtype


SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # one safe file name


def check_id(shape_id: object, source: str) -> str:
    """`shape_id` if it is safe to build file names from, else a PdError naming `source`.

    A safe id is one or more "/"-separated components (benchmark ids keep their folder,
    "02691156/1a04e3ea"), each of letters, digits, ".", "_" and "-", not starting with a dot: no
    absolute paths, no "..", nothing hidden.
    """
    if not isinstance(shape_id, str) or not all(SAFE_NAME.fullmatch(part) for part in shape_id.split("/")):
        raise PdError(
            f"{source} holds the shape id {shape_id!r}, which is not a safe file name (ASCII "
            "letters, digits, '.', '_' and '-', each part starting with a letter or digit, '/' "
            "between parts)."
        )
    return shape_id


def inside(root: str | os.PathLike[str], relative: str | os.PathLike[str], source: str | None = None) -> Path:
    """`root / relative`, refused with one PdError if, resolved with every link in it followed, it
    leads out of `root`.

    Every path a command reads or writes inside a folder it is handed (a collection, a knowledge
    folder, a run, a prediction or report folder) is built here, the folder's fixed file names as
    much as names taken from its records: any file or sub-folder of a handed folder may be a link
    planted to send reads, writes or deletions elsewhere. `root` itself may be a link (the user
    named it). `source`, the record `relative` was read from, is named in the message if given.
    """
    root = Path(root)
    path = root / relative
    try:
        leaves = Path(relative).is_absolute() or not path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError) as error:  # a loop of links
        raise PdError(f"{path} cannot be resolved ({error}).") from error
    if leaves and source is not None:
        raise PdError(f"{source} points outside {root}: {str(relative)!r}.")
    if leaves:
        raise PdError(
            f"{path} leads outside {root} (a link or '..' in it points elsewhere); "
            "pd reads and writes only inside the folders it is given."
        )
    return path


def files_under(root: str | os.PathLike[str], name: str) -> list[Path]:
    """Every entry called `name` at any depth under the folder `root`, sorted: files, pipes and
    folders alike, for the reader to refuse what is not a file rather than pass it over; one
    PdError (`inside`) if a link anywhere under it, to a file or a folder, leads out of it.
    Links to folders inside it are not walked into: what they hold is found where it is."""
    root = Path(root)
    found = []
    for folder, folders, files in os.walk(root):  # links to folders are listed, not followed
        for entry in [*folders, *files]:
            path = Path(folder, entry)
            if path.is_symlink():
                inside(root, path.relative_to(root))
        found += [Path(folder, name)] if name in files or name in folders else []
    return sorted(found)


class OutputFolder:
    """Holds an exclusive lock on a command's output folder while the command writes into it.

    A second `pd` process on the same folder is refused with one sentence naming the first. The
    lock is the operating system's, taken on the folder itself (flock), so a killed process never
    leaves it held and no lock file is left behind; the holder's pid sits in `.pd-owner` while it
    runs, for that sentence. If the command fails and the folder did not exist before, the folder
    is removed again when nothing else was written into it, and so is each folder above it that
    the command created for it (a collection's `knowledge/`), when that is left empty too.

    `within`: the handed folder the output folder lies in (a collection, for its knowledge
    folder), which it must not leave through a link; None for a folder the user named.
    """

    def __init__(self, path: str | os.PathLike[str], within: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path)
        self.within = None if within is None else Path(within)
        self._created: list[Path] = []  # the folders it created, the output folder first
        self._fd: int | None = None

    @property
    def _owner(self) -> Path:
        return self.path / OWNER

    def check(self) -> None:
        """Refuse (PdError) a path that cannot become the output folder (a file): what entering
        would refuse first, for a command to ask before long work."""
        if self.within is not None:
            inside(self.within, self.path.relative_to(self.within))
        if self.path.exists() and not self.path.is_dir():
            raise PdError(f"{self.path} is a file; the output needs a folder there.")
        self._refuse_others_owner_file()

    def __enter__(self) -> OutputFolder:
        self.check()
        missing = self.path
        while not missing.exists() and missing != missing.parent:
            self._created.append(missing)
            missing = missing.parent
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        except BaseException as error:  # a stop (KeyboardInterrupt) too: the folders made go
            self._remove_if_empty()
            if isinstance(error, OSError) and self.path.is_symlink() and not self.path.exists():
                raise PdError(f"Cannot write into {self.path}: it is a link to nothing.") from error
            if isinstance(error, OSError):
                raise PdError(f"Cannot write into {self.path}: {error.strerror or error}.") from error
            raise
        try:
            self._lock(self._fd)
        except BaseException:
            os.close(self._fd)
            self._fd = None
            raise
        try:
            self._refuse_others_owner_file()  # again, under the lock
            # Replaced, not opened: nothing is ever written through a link.
            write_bytes(self._owner, str(os.getpid()).encode())
        except OSError as error:
            self.__exit__(type(error), error, None)
            raise PdError(f"Cannot write into {self.path}: {error.strerror or error}.") from error
        except BaseException as error:  # a PdError, or a stop just after the note was written
            self.__exit__(type(error), error, None)
            raise
        return self

    def _refuse_others_owner_file(self) -> None:
        """Refuse a `.pd-owner` that pd did not write: pd's note is a plain file of a process id (or
        empty, as a power cut can leave it), and one a killed run left is replaced; a file of the
        user's by that name is neither replaced nor deleted."""
        if self._note() is None and (self._owner.exists() or self._owner.is_symlink()):
            raise PdError(
                f"{self._owner} is not pd's (pd keeps the id of the process writing the folder under "
                "that name); move it away to write there."
            )

    def _note(self) -> str | None:
        """What `.pd-owner` holds where it is pd's note (a plain file of at most 32 bytes: a
        process id, ASCII digits with no leading zero, or nothing); None for anything else or
        nothing there. Opened without following a link or waiting on a pipe, and judged by what
        was opened."""
        try:
            descriptor = os.open(self._owner, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode) or status.st_size > 32:
                return None
            text = os.read(descriptor, 32).decode(errors="replace").strip()
        finally:
            os.close(descriptor)
        return text if not text or re.fullmatch("[1-9][0-9]{0,9}", text) else None

    def refuse_held(self, reading: bool = False) -> None:
        """Refuse (PdError) a folder another pd process holds now, as entering would: for a
        command to ask before long work, and before what the folder holds is judged (`reading`:
        for one that would read what the folder holds). Not to be asked while this process holds
        it."""
        try:
            descriptor = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:  # no folder yet, or none to open: entering says what is wrong
            return
        try:
            self._lock(descriptor, "wait for it to finish" if reading else None)
        finally:
            os.close(descriptor)  # releases the lock, where it was taken
        self._refuse_others_owner_file()

    def _lock(self, descriptor: int, advice: str | None = None) -> None:
        """Take the folder's lock on `descriptor`, or one PdError naming the process that holds it
        (and what to do: `advice`, by default to wait or choose another folder)."""
        import fcntl

        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise PdError(
                f"{self.path} is being written by another pd process (pid {self._holder()}); "
                f"{advice or 'wait for it to finish or choose another folder'}."
            ) from error

    def _holder(self) -> str:
        """The pid in `.pd-owner`, or "unknown"."""
        return self._note() or "unknown"

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        with contextlib.suppress(OSError):  # a read-only folder refuses even this; its error is said
            if self._fd is not None and self._note() == str(os.getpid()):
                self._owner.unlink()
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None
        if kind is not None:
            self._remove_if_empty()

    def _remove_if_empty(self) -> None:
        for folder in self._created:  # the output folder, then the parents made for it, while empty
            try:
                folder.rmdir()  # only ever an empty folder; a link or a file is not removed
            except OSError:
                return


WRITTEN = ".pd-written.json"  # in an output folder: the files each command wrote there
PAGE = "view.html"  # the interactive 3D page, in every output folder that has one (pd view)


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file at `path`'s bytes, in hex."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _fingerprint(path: Path) -> str | None:
    """The SHA-256 of the file at `path` (None: no file there): what tells a file a command wrote
    from one put in its place since. Its bytes, not its time: a copied folder stays pd's."""
    if not path.is_file() or path.is_symlink():
        return None
    return file_sha256(path)


class CommandFiles:
    """The files one command writes into an output folder it may share with the user's own files.

    A command writes a file there only if the file is new or is, unchanged, one an earlier run of
    the same command wrote: `check` refuses a name that exists and is not the command's, and
    `claim` also records the names it grants in `.pd-written.json`, before the files are written,
    so that a run killed in between can still replace them when run again. `seal` then records
    each written file's digest: a file the user puts in its place afterwards is theirs, and is
    neither replaced nor deleted. Claim and seal while holding the folder's `OutputFolder` lock.
    `shares`: the commands whose files this one may replace too (pd view rewrites the page pd
    predict or pd eval wrote, and they the page pd view wrote).
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        command: str,
        shares: tuple[str, ...] = (),
    ) -> None:
        self.folder = Path(folder)
        self.command = command
        self.shares = shares

    def _record(self) -> dict[str, dict[str, str | None]]:
        """Each command's files here: name -> fingerprint (None: claimed, not sealed; a record
        written before seals lists the names alone)."""
        path = inside(self.folder, WRITTEN)
        if not path.exists():
            return {}
        record = read_json(path, "the files pd commands wrote into this folder")
        files: dict[str, dict[str, str | None]] = {}
        for command, names in record.items():
            if isinstance(names, list) and all(isinstance(name, str) for name in names):
                names = dict.fromkeys(names)
            if not (isinstance(names, dict) and all(map(_is_fingerprint, names.values()))):
                raise PdError(f"{path} is not a record of the files pd commands wrote into this folder.")
            files[command] = names
        return files

    def _mine(self, path: Path, record: dict[str, dict[str, str | None]]) -> bool:
        """Whether the file at `path` is one this command (or one it shares with) wrote, unchanged."""
        if path.is_symlink():
            return False
        recorded = [
            record[c][path.name] for c in (self.command, *self.shares) if path.name in record.get(c, {})
        ]
        return any(seal is None or seal == _fingerprint(path) for seal in recorded)

    def check(self, names: list[str]) -> list[Path]:
        """The paths of `names` (file names) in the folder; one PdError naming the first that
        exists and is not this command's. Writes nothing: a command checks before its long work,
        and claims when it writes."""
        record = self._record()
        ours = set().union(*(record.get(c, {}) for c in (self.command, *self.shares)))
        paths = []
        for name in names:
            path = inside(self.folder, name)
            if path.is_dir() and not path.is_symlink():
                raise PdError(
                    f"{path} is a folder, where {self.command} writes a file; move it, or choose another "
                    f"{option('out')}."
                )
            if (path.exists() or path.is_symlink()) and not self._mine(path, record):
                if name in ours and not path.is_symlink():
                    raise PdError(
                        f"{path} has changed since pd wrote it, so it is left as it is; move it, or "
                        f"choose another {option('out')}."
                    )
                raise PdError(
                    f"{path} exists and {self.command} did not write it; choose another {option('out')}."
                )
            paths.append(path)
        return paths

    def retire(self, names: list[str]) -> None:
        """Delete those of `names` that this command wrote here before (by its record, sealed) and
        that are unchanged, and drop them from its record: what an earlier run wrote and this one
        did not write again, which would show that run's results beside this one's. Other files are
        left as they are, a claimed one a killed run did not seal too: what is there now may be
        anyone's."""
        record = self._record()
        own = record.get(self.command, {})
        # A claim a killed run left stays claimed: the file there is the command's to replace.
        gone = [name for name in names if own.get(name) is not None]
        for name in gone:
            path = inside(self.folder, name)
            if path.is_file() and not path.is_symlink() and own[name] == _fingerprint(path):
                path.unlink()
        if gone:
            record[self.command] = {name: seal for name, seal in own.items() if name not in gone}
            write_json(inside(self.folder, WRITTEN), record)

    def claim(self, names: list[str]) -> list[Path]:
        """`check(names)`, then record them as this command's, before any is written."""
        paths = self.check(names)
        record = self._record()
        own = record.setdefault(self.command, {})
        if any(name not in own or own[name] is not None for name in names):
            own.update(dict.fromkeys(names))  # unsealed until written
            write_json(inside(self.folder, WRITTEN), record)
        return paths

    def seal(self, names: list[str]) -> None:
        """Record the digest of those of `names` this command has claimed, as they are now that it
        has written them, for it and for the commands it shares them with (whose earlier digest,
        or claim a killed run left, no longer stands for the file)."""
        record = self._record()
        sealed = {
            name: _fingerprint(inside(self.folder, name))
            for name in names
            if name in record.get(self.command, {})
        }
        for command in (self.command, *self.shares):
            files = record.get(command, {})
            files.update({name: seal for name, seal in sealed.items() if name in files})
        if sealed:
            write_json(inside(self.folder, WRITTEN), record)


def _is_fingerprint(value: object) -> bool:
    return value is None or (isinstance(value, str) and re.fullmatch("[0-9a-f]{64}", value) is not None)
