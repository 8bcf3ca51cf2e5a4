"""Bad inputs to every `pd` command: each is refused in a few words, without a traceback or leftovers.

Every row of `CASES` builds its inputs in a fresh case folder (copies of one small chair collection,
its knowledge and a one-epoch student, shared by the session; tiny benchmark folders written by
hand), runs `pd` through Typer's runner and checks that:

1. the exit code is not 0;
2. the command ended with `SystemExit`, not another exception, and printed no traceback;
3. stderr holds a message of 1 to 3 non-empty lines (matching the row's pattern, if it has one);
4. nothing was left behind: an output folder that did not exist does not exist afterwards (or is
   empty), and no file in the case folder or the working directory was added, removed or changed.

`test_base_commands_work` runs the same commands without the bad input, so a row fails only for
the input it is about.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import Result
from typer.testing import CliRunner

from partdistill.cli import app
from partdistill.collection import Collection
from partdistill.prompts import find_category

runner = CliRunner()
# No model downloads: a command that gets past its checks must not wait on the network.
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
KNOWLEDGE = "shapes/knowledge/simulated-noisy-box"
PARTNETE_CHAIR = find_category("partnete/Chair")


@dataclass(frozen=True)
class Assets:
    """Inputs made once per session and copied into each case folder.

    Attributes:
        shapes: 3 procedural chairs of 300 points (a `pd synth` collection, no knowledge).
        taught: the same collection with `pd teach`'s simulated knowledge in `knowledge/`.
        run: a one-epoch `pd distill` run on `taught`.
        unlabelled: a collection of the same chairs without labels.
    """

    shapes: Path
    taught: Path
    run: Path
    unlabelled: Path


Setup = Callable[[Path, Assets], None]


@dataclass(frozen=True)
class Case:
    """One bad input.

    Attributes:
        id: the test id.
        setup: writes the case's inputs into the case folder (may call `pytest.skip`).
        argv: the command line; "{d}" stands for the case folder.
        message: a pattern the error message on stderr must match (re.search), or None.
        out: the command's output folder relative to the case folder (default: the --out value).
        check: more assertions, given the case folder, after the command ran.
    """

    id: str
    setup: Setup
    argv: tuple[str, ...]
    message: str | None = None
    out: str | None = None
    check: Callable[[Path], None] | None = None


def run_pd(argv: list[str] | tuple[str, ...]) -> Result:
    return runner.invoke(app, list(argv), env=OFFLINE)


def with_options(base: tuple[str, ...], *extra: str) -> tuple[str, ...]:
    """`base` with the options in `extra` set: an option already in `base` takes the new value."""
    argv = list(base)
    i = 0
    while i < len(extra):
        option = extra[i]
        has_value = i + 1 < len(extra) and not extra[i + 1].startswith("--")
        if has_value and option in argv:
            argv[argv.index(option) + 1] = extra[i + 1]
        else:
            argv += extra[i : i + 1 + has_value]
        i += 1 + has_value
    return tuple(argv)


def without(base: tuple[str, ...], option: str) -> tuple[str, ...]:
    """`base` without `option` and its value."""
    at = base.index(option)
    return base[:at] + base[at + 2 :]


# --- the session's shared inputs ----------------------------------------------------------------

SYNTH = ("synth", "--category", "chair", "--n", "3", "--points", "300", "--out", "{d}/out")
TEACH = ("teach", "--shapes", "{d}/shapes", "--image-size", "64", "--sheets", "0", "--device", "cpu")
DISTILL = tuple(
    f"distill --shapes {{d}}/shapes --knowledge {{d}}/{KNOWLEDGE} --epochs 1 --min-steps 0 --points 64"
    " --batch-size 2 --device cpu --out {d}/run".split()
)
PREDICT = ("--run", "{d}/run", "--out", "{d}/preds", "--device", "cpu")
DISTILL_H5 = with_options(without(DISTILL, "--shapes"), "--knowledge", "{d}/h5")  # h5 files at H5
IMPORT_FILES = (
    "import",
    "--dataset",
    "files",
    "--categories",
    "chair",
    "--root",
    "{d}/files",
    "--out",
    "{d}/coll",
)
EVAL = ("eval", "--dataset", "shapenetpart", "--root", "{d}/snp", "--out", "{d}/report", "--device", "cpu")
EVAL_FILES = (*EVAL, "--predictions", "{d}/predictions.json")


def expand(argv: tuple[str, ...], folder: Path) -> list[str]:
    return [arg.replace("{d}", str(folder)) for arg in argv]


def invoke_ok(argv: tuple[str, ...], folder: Path) -> None:
    result = run_pd(expand(argv, folder))
    assert result.exit_code == 0, f"{shlex.join(expand(argv, folder))}: {result.output}{result.exception!r}"


@pytest.fixture(scope="session")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Assets:
    root = tmp_path_factory.mktemp("bad-inputs-assets")
    invoke_ok(with_options(SYNTH, "--out", "{d}/shapes"), root)
    shutil.copytree(root / "shapes", root / "taught" / "shapes")
    invoke_ok(TEACH, root / "taught")
    shutil.copytree(root / "taught", root / "trained")
    invoke_ok(DISTILL, root / "trained")
    unlabelled = Collection.create(root / "unlabelled")
    for record, shape in Collection.open(root / "shapes").shapes():
        unlabelled.add(record.id, shape.replace(labels=None, part_names=()))
    return Assets(root / "shapes", root / "taught" / "shapes", root / "trained" / "run", unlabelled.root)


# --- case setups ----------------------------------------------------------------------------------


def nothing(d: Path, assets: Assets) -> None:
    """No inputs."""


def shapes(d: Path, assets: Assets) -> None:
    """The untaught chair collection at shapes/."""
    shutil.copytree(assets.shapes, d / "shapes")


def taught(d: Path, assets: Assets) -> None:
    """The chair collection with its simulated knowledge at shapes/."""
    shutil.copytree(assets.taught, d / "shapes")


def trained(d: Path, assets: Assets) -> None:
    """The taught collection at shapes/ and its one-epoch student at run/."""
    taught(d, assets)
    shutil.copytree(assets.run, d / "run")


def generated_chairs(d: Path, assets: Assets) -> None:
    """Three other procedural chairs (another seed) at gen/, standing for generated chairs."""
    invoke_ok(with_options(SYNTH, "--seed", "7", "--out", "{d}/gen"), d)


def copied_chairs(d: Path, assets: Assets) -> None:
    """The untaught chair collection again at gen/: the shapes to label, under another folder."""
    shutil.copytree(assets.shapes, d / "gen")


def tables(d: Path, assets: Assets) -> None:
    """A collection of one procedural table at tables/ (a category other than the chairs')."""
    invoke_ok(("synth", "--category", "table", "--n", "1", "--points", "300", "--out", "{d}/tables"), d)


def no_gpu(setup: Setup) -> Setup:
    """`setup`, for a case that needs a machine without CUDA."""

    def wrapped(d: Path, assets: Assets) -> None:
        if torch.cuda.is_available():
            pytest.skip("this machine has a GPU: --device cuda is not a bad input here")
        setup(d, assets)

    return wrapped


def then(*steps: Setup) -> Setup:
    """The setups in order."""

    def wrapped(d: Path, assets: Assets) -> None:
        for step in steps:
            step(d, assets)

    return wrapped


def fifo(relative: str) -> Setup:
    """A named pipe at `relative` (in place of a file there), which nothing writes to: a reader of it
    would wait for ever."""

    def make(d: Path, assets: Assets) -> None:
        path = d / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        os.mkfifo(path)

    return make


def garbage(relative: str, data: bytes | None = None) -> Setup:
    """Write `data` (default: 4 KiB of random bytes) to `relative`, creating folders."""

    def write(d: Path, assets: Assets) -> None:
        path = d / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(np.random.default_rng(0).bytes(4096) if data is None else data)

    return write


def edit_manifest(change: Callable[[Path, dict], None]) -> Setup:
    """Copy the collection to shapes/ and let `change` edit its first manifest record in place."""

    def setup(d: Path, assets: Assets) -> None:
        shapes(d, assets)
        path = d / "shapes" / "manifest.json"
        manifest = json.loads(path.read_text())
        change(d, manifest["shapes"][0])
        path.write_text(json.dumps(manifest, indent=2))

    return setup


def no_records(d: Path, assets: Assets) -> None:
    """The collection at shapes/ with a manifest that lists no shape (as one whose every shape failed)."""
    shapes(d, assets)
    path = d / "shapes" / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "shapes": []}))


def set_field(key: str, value: object) -> Setup:
    """The collection at shapes/ with its first record's `key` set to `value`."""

    def change(d: Path, record: dict) -> None:
        record[key] = value

    return edit_manifest(change)


def last_shape_unmade(change: Callable[[Path, dict], None]) -> Setup:
    """The collection at shapes/ as a killed `pd synth` left it before its last shape, with
    `change` made to its first record: a resumed run has a shape to make."""

    def setup(d: Path, assets: Assets) -> None:
        edit_manifest(change)(d, assets)
        path = d / "shapes" / "manifest.json"
        manifest = json.loads(path.read_text())
        last = manifest["shapes"].pop()
        path.write_text(json.dumps(manifest, indent=2))
        (d / "shapes" / last["file"]).unlink()

    return setup


def shorten_part_counts(d: Path, record: dict) -> None:
    record["part_counts"] = record["part_counts"][:-1]


def logged(line: bytes) -> Setup:
    """The collection at shapes/ with `line` appended to its manifest.log."""

    def setup(d: Path, assets: Assets) -> None:
        shapes(d, assets)
        with (d / "shapes" / "manifest.log").open("ab") as log:
            log.write(line + b"\n")

    return setup


def set_id(shape_id: Callable[[Path], str]) -> Setup:
    def change(d: Path, record: dict) -> None:
        record["id"] = shape_id(d)

    return edit_manifest(change)


def file_outside(d: Path, assets: Assets) -> None:
    """The first record's file is ../outside/secret.npz, a real shape outside the collection."""

    def change(d: Path, record: dict) -> None:
        record["file"] = "../outside/secret.npz"

    edit_manifest(change)(d, assets)
    (d / "outside").mkdir()
    shutil.copy(d / "shapes" / "shapes" / "chair-00000.npz", d / "outside" / "secret.npz")


def unlabelled(d: Path, assets: Assets) -> None:
    shutil.copytree(assets.unlabelled, d / "shapes")


def no_manifest(d: Path, assets: Assets) -> None:
    """A folder of shape files without manifest.json."""
    shapes(d, assets)
    (d / "shapes" / "manifest.json").unlink()


def half_taught(d: Path, assets: Assets) -> None:
    """The taught collection at shapes/ with the units of its last shape missing (a killed `pd teach`)."""
    taught(d, assets)
    (d / KNOWLEDGE / "units" / "chair-00002.npz").unlink()


def units_of_another_size(d: Path, assets: Assets) -> None:
    """The taught collection at shapes/ with its first shape's units made for 10 more points."""
    from partdistill.knowledge.store import load_knowledge, save_knowledge

    taught(d, assets)
    path = d / KNOWLEDGE / "units" / "chair-00000.npz"
    knowledge = load_knowledge(path)
    save_knowledge(dataclasses.replace(knowledge, n_points=knowledge.n_points + 10), path)


def resumable_run(d: Path, assets: Assets) -> None:
    """The run at run/, its config.json pointing at this case's knowledge, so --resume accepts it."""
    trained(d, assets)
    path = d / "run" / "config.json"
    config = json.loads(path.read_text())
    config["sources"] = [str(d / KNOWLEDGE)]
    path.write_text(json.dumps(config, indent=2))


def corrupt_states(text: str) -> Setup:
    """Every state.json of the resumable run's checkpoint (checkpoint/state.json if none) set to `text`."""

    def setup(d: Path, assets: Assets) -> None:
        resumable_run(d, assets)
        states = sorted((d / "run" / "checkpoint").rglob("state.json")) or [
            d / "run" / "checkpoint" / "state.json"
        ]
        for path in states:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    return setup


def a_file(relative: str) -> Setup:
    """An ordinary file where a folder is expected."""
    return garbage(relative, b"this is a file, not a folder\n")


def a_dangling_link(d: Path, assets: Assets) -> None:
    """out: a link to a folder that is not there."""
    (d / "out").symlink_to(d / "gone")


def read_only_parent(d: Path, assets: Assets) -> None:
    """A folder ro/ that cannot be written to (skipped where permissions do not bind, e.g. as root)."""
    folder = d / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    if os.access(folder, os.W_OK):
        folder.chmod(0o700)
        pytest.skip("chmod 0o500 does not stop this user from writing (running as root?)")


def no_point_e(d: Path, assets: Assets) -> None:
    try:
        import point_e  # noqa: F401
    except ImportError:
        return
    pytest.skip("point_e is installed here")


XYZ = ("float x", "float y", "float z")


def ply(
    relative: str,
    rows: list[str],
    properties: tuple[str, ...] = XYZ,
    declared: int | None = None,
    comments: tuple[str, ...] = (),
) -> Setup:
    """An ASCII PLY point cloud with `rows` as its vertex lines, whose header declares `declared`
    vertices (default: as many as there are rows) and holds `comments`."""
    header = ["ply", "format ascii 1.0", *(f"comment {c}" for c in comments)]
    header.append(f"element vertex {len(rows) if declared is None else declared}")
    header += [f"property {p}" for p in properties]
    return garbage(relative, ("\n".join([*header, "end_header", *rows]) + "\n").encode())


def truncated(relative: str) -> Setup:
    def cut(d: Path, assets: Assets) -> None:
        path = d / relative
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    return cut


# ShapeNetPart text release, one chair of 8 points with labels 12..15 (the chair's parts).
SNP_POINTS = 8
SNP_LABELS = [12 + i % 4 for i in range(SNP_POINTS)]


def snp_root(
    mapping: str = "Chair\t03001627\n",
    entries: list[object] | None = None,
    shape_text: str | None = None,
) -> Setup:
    """A tiny ShapeNetPart text release at snp/ (each part replaceable by a bad one), and
    predictions.json holding its true labels."""

    def write(d: Path, assets: Assets) -> None:
        root = d / "snp"
        (root / "train_test_split").mkdir(parents=True)
        (root / "03001627").mkdir()
        (root / "synsetoffset2category.txt").write_text(mapping)
        listed = ["shape_data/03001627/abc"] if entries is None else entries
        (root / "train_test_split" / "shuffled_test_file_list.json").write_text(json.dumps(listed))
        rng = np.random.default_rng(1)
        lines = [
            " ".join(f"{v:.6f}" for v in (*rng.uniform(-0.5, 0.5, 3), 0.0, 1.0, 0.0, float(label)))
            for label in SNP_LABELS
        ]
        text = "\n".join(lines) + "\n" if shape_text is None else shape_text
        (root / "03001627" / "abc.txt").write_text(text)
        predictions(d, {"03001627/abc": SNP_LABELS})

    return write


def predictions(d: Path, table: dict[str, object]) -> None:
    (d / "predictions.json").write_text(json.dumps(table))


def predicted(labels: object, **fields: object) -> Setup:
    """A pd predict output folder at preds/ for one chair, its labels in chair-00000.json replaced
    (and any other `fields` given)."""

    def write(d: Path, assets: Assets) -> None:
        trained(d, assets)
        invoke_ok(("predict", "{d}/shapes/shapes/chair-00000.npz", *PREDICT), d)
        record = json.loads((d / "preds" / "chair-00000.json").read_text())
        if labels is not None:
            record["labels"] = labels
        (d / "preds" / "chair-00000.json").write_text(json.dumps({**record, **fields}))

    return write


def predicting(table: dict[str, object]) -> Setup:
    """The tiny ShapeNetPart release with predictions.json replaced by `table`."""

    def write(d: Path, assets: Assets) -> None:
        snp_root()(d, assets)
        predictions(d, table)

    return write


def snp_hdf5(category: int = 99, part: int = 0, **replace: object) -> Setup:
    """PointNet's HDF5 release at hdf5_data/ with one shape of category label `category` (0..15; 4 is
    the chair) whose points all have global part id `part`, and predictions.json with that part;
    the datasets named in `replace` (data, label, pid) are given those values instead (a callable
    value makes its dataset itself)."""

    def write(d: Path, assets: Assets) -> None:
        import h5py

        root = d / "hdf5_data"
        root.mkdir()
        arrays = {
            "data": np.random.default_rng(2).uniform(-0.5, 0.5, (1, 2048, 3)).astype(np.float32),
            "label": np.array([[category]], dtype=np.uint8),
            "pid": np.full((1, 2048), part, dtype=np.uint8),
        }
        with h5py.File(root / "ply_data_test0.h5", "w") as data:
            for key, value in {**arrays, **replace}.items():
                if callable(value):
                    value(data, key)
                else:
                    data[key] = value
        predictions(d, {"ply_data_test0/0": [part] * 2048})

    return write


H5 = "h5/03001627/abc/extracted/preprocess.h5"


def knowledge_h5(**replace: object) -> Setup:
    """A PartDistill preprocess.h5 at H5 (8 points of a chair, two units), with the datasets named
    in `replace` given those values instead; a callable value makes its dataset itself."""

    def write(d: Path, assets: Assets) -> None:
        import h5py

        conf = np.zeros((8, 2, 4), dtype=np.float32)
        conf[:4, 0, 0] = conf[4:, 1, 1] = 0.8
        arrays = {
            "xyz": np.random.default_rng(3).uniform(-0.5, 0.5, (8, 3)).astype(np.float32),
            "cls_bbox": np.array([[0, 1]]),
            "conf_bbox": conf,
            "gt_semantic_seg": np.array([12] * 4 + [13] * 4),
        }
        path = d / H5
        path.parent.mkdir(parents=True)
        with h5py.File(path, "w") as data:
            for key, value in {**arrays, **replace}.items():
                if callable(value):
                    value(data, key)
                else:
                    data[key] = value

    return write


def h5_replaced_by(kind: str) -> Setup:
    """`knowledge_h5`'s file replaced by a named pipe (which h5py would wait on) or a folder."""

    def write(d: Path, assets: Assets) -> None:
        knowledge_h5()(d, assets)
        (d / H5).unlink()
        if kind == "pipe":
            os.mkfifo(d / H5)
        else:
            (d / H5).mkdir()

    return write


def declared_huge(data: Any, key: str) -> None:
    """A dataset of 10^11 rows that takes a few kilobytes on disk."""
    data.create_dataset(key, shape=(10**11, 3), dtype="f4", chunks=(1024, 3), compression="gzip")


SECRET = "secret"  # beside an HDF5 file: secret.bin (raw float32) and secret.h5 (dataset "x")


def _secret(data: Any, values: np.ndarray) -> Path:
    """Write `values` as secret.bin and as secret.h5's "x" beside the open HDF5 file `data`; the
    secret.bin path."""
    import h5py

    folder = Path(data.filename).parent
    values.astype("<f4").tofile(folder / f"{SECRET}.bin")
    with h5py.File(folder / f"{SECRET}.h5", "w") as other:
        other["x"] = values.astype(np.float32)
    return folder / f"{SECRET}.bin"


def stored_outside(shape: tuple[int, ...]) -> Callable[[Any, str], None]:
    """A float32 dataset of `shape` whose values are the bytes of another file (external storage)."""

    def make(data: Any, key: str) -> None:
        values = np.random.default_rng(7).uniform(-0.5, 0.5, shape)
        secret = _secret(data, values)
        data.create_dataset(key, shape=shape, dtype="<f4", external=[(str(secret), 0, values.size * 4)])

    return make


def linked_outside(shape: tuple[int, ...]) -> Callable[[Any, str], None]:
    """An external link to another HDF5 file's dataset of `shape`."""

    def make(data: Any, key: str) -> None:
        import h5py

        _secret(data, np.random.default_rng(7).uniform(-0.5, 0.5, shape))
        data[key] = h5py.ExternalLink(str(Path(data.filename).parent / f"{SECRET}.h5"), "/x")

    return make


def virtual_outside(shape: tuple[int, ...]) -> Callable[[Any, str], None]:
    """A virtual dataset of `shape` mapping another HDF5 file's dataset."""

    def make(data: Any, key: str) -> None:
        import h5py

        _secret(data, np.random.default_rng(7).uniform(-0.5, 0.5, shape))
        layout = h5py.VirtualLayout(shape=shape, dtype="f4")
        layout[...] = h5py.VirtualSource(str(Path(data.filename).parent / f"{SECRET}.h5"), "x", shape=shape)
        data.create_virtual_dataset(key, layout)

    return make


def student_record(**change: object) -> Setup:
    """The trained run's student.json with the fields in `change` replaced."""

    def write(d: Path, assets: Assets) -> None:
        path = d / "run" / "student.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **change}))

    return write


def npy_declaring(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    """An .npy member whose header declares `shape` and that holds 120 bytes of data."""
    import io

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    return header.getvalue() + bytes(120)


def npz_declaring(relative: str, rows: int) -> Setup:
    """A partdistill shape file whose points array's header declares `rows` x 3 floats (and holds 10)."""

    def write(d: Path, assets: Assets) -> None:
        import zipfile

        with zipfile.ZipFile(d / relative, "w") as out:
            out.writestr("points.npy", npy_declaring((rows, 3)))

    return write


def units_with(**replace: Callable[[np.ndarray], object]) -> Setup:
    """The taught collection at shapes/ with the arrays named in `replace` of its first shape's
    units file replaced by what each function makes of the original (bytes: the member's raw .npy
    bytes)."""

    def write(d: Path, assets: Assets) -> None:
        import io
        import zipfile

        taught(d, assets)
        path = d / KNOWLEDGE / "units" / "chair-00000.npz"
        with np.load(path) as data:
            arrays = {name: data[name] for name in data.files}
        with zipfile.ZipFile(path, "w") as out:
            for name, array in arrays.items():
                value = replace[name](array) if name in replace else array
                if not isinstance(value, bytes):
                    buffer = io.BytesIO()
                    np.save(buffer, value)
                    value = buffer.getvalue()
                out.writestr(f"{name}.npy", value)

    return write


def shape_npz(relative: str, fields: dict[str, object] | None = None, **arrays: np.ndarray) -> Setup:
    """A partdistill shape file of three points with the metadata fields in `fields` and the arrays in
    `arrays` replaced or added ("meta" replaces the metadata's bytes; np.savez checks nothing)."""

    def write(d: Path, assets: Assets) -> None:
        import io

        meta = json.dumps({"format": "partdistill.shape", "version": 1, **(fields or {})}).encode()
        contents = {"meta": np.frombuffer(meta, np.uint8), "points": np.eye(3, dtype=np.float32), **arrays}
        buffer = io.BytesIO()
        np.savez(buffer, **contents)
        garbage(relative, buffer.getvalue())(d, assets)

    return write


def labelled_ply(relative: str, meta: dict[str, object]) -> Setup:
    """A PLY of three points labelled 0, 1, 1 whose partdistill comment holds `meta`."""
    rows = ["0 0 0 0", "1 0 0 1", "0 1 0 1"]
    return ply(relative, rows, (*XYZ, "int label"), comments=(f"partdistill {json.dumps(meta)}",))


def category_file(relative: str, definition: object) -> Setup:
    """A JSON category file holding `definition`."""
    return garbage(relative, json.dumps(definition).encode())


def view(name: str) -> tuple[str, ...]:
    """`pd view` of the case folder's file `name`, writing page.html."""
    return ("view", f"{{d}}/{name}", "--out", "{d}/page.html")


def names_npy(names: object) -> Callable[[np.ndarray], np.ndarray]:
    """A `units_with` replacement: part_names stored as the JSON of `names`."""
    return lambda stored: np.frombuffer(json.dumps(names).encode(), dtype=np.uint8)


def taught_as(category: str) -> Setup:
    """The chair collection at shapes/, taught with `pd teach --category <category> --force-category`
    (into the same knowledge folder name), and predictions.json with its true labels."""

    def setup(d: Path, assets: Assets) -> None:
        shapes(d, assets)
        invoke_ok(with_options(TEACH, "--category", category, "--force-category"), d)
        collection = Collection.open(d / "shapes")
        predictions(d, {record.id: shape.labels.tolist() for record, shape in collection.shapes()})

    return setup


def distils_as_partnete_chair(d: Path) -> None:
    """The refused run left nothing that blocks a rerun with the knowledge's own category."""
    invoke_ok(with_options(DISTILL, "--category", "partnete/Chair", "--force-category"), d)


class Touch:
    """A pickle payload: loading it runs `touch marker`, as a malicious label.npy would."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[[str], int], tuple[str]]:
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


def marker(d: Path) -> Path:
    return d.parent / "pwned"


def partnete_root(meta: str | None = None, evil: bool = False, nested: bool = False) -> Setup:
    """A tiny PartNetE release at pne/ (one chair of 8 points), and predictions.json with its labels.

    `meta` replaces PartNetE_meta.json's text; `evil` makes label.npy a pickle that touches `marker`;
    `nested` makes its labels a list of 8 references to one list of a million labels (a few KB
    pickled; a crafted one nests deeper, to billions).
    """

    def write(d: Path, assets: Assets) -> None:
        root = d / "pne"
        shape_dir = root / "data" / "test" / "Chair" / "1"
        shape_dir.mkdir(parents=True)
        rows = [f"{x:.4f} {y:.4f} {z:.4f} 128 128 128" for x, y, z in np.random.default_rng(3).random((8, 3))]
        colours = ("uchar red", "uchar green", "uchar blue")
        ply("pne/data/test/Chair/1/pc.ply", rows, ("float x", "float y", "float z", *colours))(d, assets)
        labels = np.arange(8) % len(PARTNETE_CHAIR.parts)
        seg = Touch(marker(d)) if evil else [[[0] * 1000] * 1000] * 8 if nested else labels
        np.save(shape_dir / "label.npy", {"semantic_seg": seg, "instance_seg": labels}, allow_pickle=True)
        default = json.dumps({"Chair": list(PARTNETE_CHAIR.part_names)})
        (root / "PartNetE_meta.json").write_text(default if meta is None else meta)
        predictions(d, {"Chair/1": labels.tolist()})

    return write


def marker_untouched(d: Path) -> None:
    assert not marker(d).exists(), "loading label.npy ran the pickle's code (the marker file exists)"


def absolute_id(d: Path) -> str:
    # An absolute id inside the test's folder: "/abs/x" itself would write to / on a vulnerable build.
    return str(d.parent / "escape" / "x")


def nothing_escaped(d: Path) -> None:
    escaped = d.parent / "escape"
    assert not escaped.exists(), f"files written outside the collection: {sorted(escaped.rglob('*'))}"


def linked_out(relative: str, setup: Setup = shapes, *, move: bool = False) -> Setup:
    """`setup`, then `relative` made a link to outside/, a folder beside the handed one that holds a
    file named like a temporary; with `move`, what was at `relative` is moved to outside/ first
    (the handed folder looks whole, but part of it lies elsewhere)."""

    def write(d: Path, assets: Assets) -> None:
        setup(d, assets)
        link, outside = d / relative, d / "outside"
        if move:
            shutil.move(link, outside)
        else:
            outside.mkdir()
        (outside / ".x.tmp-y").write_text("not pd's\n")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(outside, target_is_directory=True)

    return write


def file_linked_out(relative: str, setup: Setup) -> Setup:
    """`setup`, then the file at `relative` moved to outside/, a folder beside the handed one, and
    a link to it left in its place (the handed folder looks whole, but one file lies elsewhere)."""

    def write(d: Path, assets: Assets) -> None:
        setup(d, assets)
        link, outside = d / relative, d / "outside" / Path(relative).name
        outside.parent.mkdir(exist_ok=True)
        shutil.move(link, outside)
        link.symlink_to(outside)

    return write


def log_linked_out(d: Path, assets: Assets) -> None:
    """The chair collection at shapes/ whose manifest.log is a link to outside/notes.txt."""
    shapes(d, assets)
    (d / "outside").mkdir()
    (d / "outside" / "notes.txt").write_text("")
    (d / "shapes" / "manifest.log").symlink_to(d / "outside" / "notes.txt")


def checkpoint_named_outside(d: Path, assets: Assets) -> None:
    """The resumable run, its checkpoint/current.json naming ../../outside/epoch-0007, a copy of its
    own checkpoint outside the run."""
    resumable_run(d, assets)
    [own] = (d / "run" / "checkpoint").glob("epoch-*")
    shutil.copytree(own, d / "outside" / "epoch-0007")
    current = {"epoch": 1, "folder": "../../outside/epoch-0007"}
    (d / "run" / "checkpoint" / "current.json").write_text(json.dumps(current))


def student_linked_out(d: Path, assets: Assets) -> None:
    """The trained run whose student.safetensors is a link to a copy outside the run."""
    trained(d, assets)
    (d / "outside").mkdir()
    shutil.move(d / "run" / "student.safetensors", d / "outside" / "weights.safetensors")
    (d / "run" / "student.safetensors").symlink_to(d / "outside" / "weights.safetensors")


def predictions_named_outside(d: Path, assets: Assets) -> None:
    """A pd predict folder at preds/ whose inputs.json names ../private/pred/chair-1, a copy of its
    own result in a folder beside it."""
    trained(d, assets)
    invoke_ok(("predict", "{d}/shapes/shapes/chair-00000.npz", *PREDICT), d)
    (d / "private" / "pred").mkdir(parents=True)
    for suffix in (".json", ".ply"):
        shutil.copy(d / "preds" / f"chair-00000{suffix}", d / "private" / "pred" / f"chair-1{suffix}")
    (d / "preds" / "inputs.json").write_text(json.dumps({"../private/pred/chair-1": "x.ply"}))


def prediction_file_linked_out(d: Path, assets: Assets) -> None:
    """The tiny ShapeNetPart release, and a folder pred/ of .npy predictions whose one file is a
    link to a file outside it."""
    snp_root()(d, assets)
    (d / "outside").mkdir()
    np.save(d / "outside" / "labels.npy", np.array(SNP_LABELS))
    (d / "pred" / "03001627").mkdir(parents=True)
    (d / "pred" / "03001627" / "abc.npy").symlink_to(d / "outside" / "labels.npy")


# --- the cases --------------------------------------------------------------------------------------

TEACH_OUT = "shapes/knowledge"

CASES = [
    # pd synth
    Case("synth-unknown-category", nothing, with_options(SYNTH, "--category", "spaceship"), r"spaceship"),
    Case("synth-n-0", nothing, with_options(SYNTH, "--n", "0"), r"--n\b"),
    Case("synth-points-0", nothing, with_options(SYNTH, "--points", "0"), r"--points"),
    Case("synth-seed-negative", nothing, with_options(SYNTH, "--seed", "-1"), r"--seed"),
    Case("synth-n-huge", nothing, with_options(SYNTH, "--n", "99999999999999999999"), r"--n must be at most"),
    Case("synth-n-beyond-floats", nothing, with_options(SYNTH, "--n", "9" * 401), r"--n must be at most"),
    Case(
        "synth-points-huge",
        nothing,
        with_options(SYNTH, "--points", "2000000000"),
        r"--points must be at most",
    ),
    Case("synth-out-is-file", a_file("out"), SYNTH, r"/out\b"),
    Case(
        "synth-out-dangling-link",
        a_dangling_link,
        SYNTH,
        r"Cannot write into \S*/out: it is a link to nothing\.",
    ),
    Case("synth-out-read-only", read_only_parent, with_options(SYNTH, "--out", "{d}/ro/out"), r"/ro\b"),
    Case(
        "synth-point-e-missing",
        no_point_e,
        with_options(SYNTH, "--generator", "point-e", "--n", "1", "--device", "cpu"),
        r"(?i)point.e",
    ),
    Case("synth-cuda-no-gpu", no_gpu(nothing), with_options(SYNTH, "--device", "cuda"), r"(?i)cuda|gpu"),
    Case(
        "synth-grid-size-4",
        nothing,
        with_options(SYNTH, "--generator", "shap-e", "--n", "1", "--device", "cpu", "--grid-size", "4"),
        r"--grid-size",
    ),
    Case(
        "synth-model-id-ignored",
        nothing,
        with_options(SYNTH, "--model-id", "foo"),
        r"The procedural generator takes no --model-id: it is for shap-e, point-e\.",
    ),
    Case(
        "synth-steps-ignored",
        nothing,
        with_options(SYNTH, "--generator", "point-e", "--steps", "3"),
        r"The point-e generator takes no --steps: it is for shap-e\.",
    ),
    Case(
        "synth-guidance-nan",
        nothing,
        with_options(SYNTH, "--generator", "shap-e", "--n", "1", "--device", "cpu", "--guidance", "nan"),
        r"(?i)guidance",
    ),
    # pd teach
    Case("teach-shapes-missing", nothing, TEACH, r"shapes", out="shapes"),
    Case("teach-no-manifest", no_manifest, TEACH, r"manifest\.json", out=TEACH_OUT),
    Case(
        "teach-a-folder-of-files",
        ply("files/a.ply", ["0 0 0", "1 0 0", "0 1 0"]),
        with_options(TEACH, "--shapes", "{d}/files"),
        r"\(make one of the shape files in it with `pd import --dataset files --root \S*/files --categories",
    ),
    Case(  # it said to name a category, then taught nothing and exited 0
        "teach-no-shapes",
        no_records,
        with_options(TEACH, "--category", "chair"),
        r"holds no shapes",
        out=TEACH_OUT,
    ),
    Case("distill-no-shapes", no_records, without(DISTILL, "--knowledge"), r"shapes holds no shapes"),
    Case(
        "teach-manifest-not-json",
        then(shapes, garbage("shapes/manifest.json", b"{shapes: [")),
        TEACH,
        r"manifest\.json",
        out=TEACH_OUT,
    ),
    Case("teach-id-dotdot", set_id(lambda d: "../../x"), TEACH, r"\.\./\.\./x", out=TEACH_OUT),
    Case(
        "teach-id-absolute",
        set_id(absolute_id),
        TEACH,
        r"escape/x",
        out=TEACH_OUT,
        check=nothing_escaped,
    ),
    Case("teach-file-outside", file_outside, TEACH, r"secret\.npz", out=TEACH_OUT),
    Case(
        "teach-corrupt-npz",
        then(shapes, garbage("shapes/shapes/chair-00002.npz")),
        TEACH,
        r"chair-00002",
        out=TEACH_OUT,
    ),
    Case(
        "teach-simulated-unlabelled",
        unlabelled,
        TEACH,
        r"holds 3 unlabelled shapes \(chair-00000, chair-00001, chair-00002\)",
        out=TEACH_OUT,
    ),
    Case("teach-kind-foo", shapes, with_options(TEACH, "--kind", "foo"), r"foo", out=TEACH_OUT),
    Case("teach-noise-loud", shapes, with_options(TEACH, "--noise", "loud"), r"loud", out=TEACH_OUT),
    Case(
        "teach-point-radius-negative",
        shapes,
        with_options(TEACH, "--point-radius", "-1"),
        r"--point-radius",
        out=TEACH_OUT,
    ),
    Case(
        "teach-point-radius-0",
        shapes,
        with_options(TEACH, "--point-radius", "0"),
        r"--point-radius",
        out=TEACH_OUT,
    ),
    Case(
        "teach-threshold-2",
        shapes,
        with_options(TEACH, "--teacher", "owlv2", "--threshold", "2"),
        r"--threshold must be",
        out=TEACH_OUT,
    ),
    Case(
        "teach-threshold-nan",
        shapes,
        with_options(TEACH, "--teacher", "owlv2", "--threshold", "nan"),
        r"--threshold must be",
        out=TEACH_OUT,
    ),
    Case(
        "teach-model-id-ignored",
        shapes,
        with_options(TEACH, "--model-id", "foo"),
        r"The simulated teacher loads no model: --model-id is for grounding-dino, owlv2, clipseg, clip\.",
        out=TEACH_OUT,
    ),
    Case(
        "teach-query-ignored",
        shapes,
        with_options(TEACH, "--query", "part-of-category"),
        r"The simulated teacher is asked no text: --query is for grounding-dino",
        out=TEACH_OUT,
    ),
    Case(
        "teach-threshold-ignored",
        shapes,
        with_options(TEACH, "--threshold", "0.3"),
        r"simulated teacher has no score threshold",
        out=TEACH_OUT,
    ),
    Case(
        "teach-nms-0",
        shapes,
        with_options(TEACH, "--teacher", "owlv2", "--nms", "0"),
        r"--nms must be",
        out=TEACH_OUT,
    ),
    Case(
        "teach-nms-ignored",
        shapes,
        with_options(TEACH, "--teacher", "clip", "--nms", "0.5"),
        r"clip teacher draws no boxes",
        out=TEACH_OUT,
    ),
    Case("teach-name-empty", shapes, with_options(TEACH, "--name", ""), r"knowledge name ''", out=TEACH_OUT),
    Case(
        "teach-name-dotdot",  # it was called a shape id
        shapes,
        with_options(TEACH, "--name", ".."),
        r"The knowledge name '\.\.' \(--name\) must be one folder name",
        out=TEACH_OUT,
    ),
    Case(
        "teach-image-size-8", shapes, with_options(TEACH, "--image-size", "8"), r"--image-size", out=TEACH_OUT
    ),
    Case(
        "teach-category-contradicts",
        shapes,
        with_options(TEACH, "--category", "airplane"),
        r"(?i)airplane",
        out=TEACH_OUT,
    ),
    Case(
        "teach-cuda-no-gpu",
        no_gpu(shapes),
        with_options(TEACH, "--device", "cuda"),
        r"(?i)cuda|gpu",
        out=TEACH_OUT,
    ),
    Case(
        "teach-corrupt-config",
        then(half_taught, garbage(f"{KNOWLEDGE}/teach_config.json", b"{teacher: simulated")),
        TEACH,
        r"teach_config\.json",
        out=TEACH_OUT,
    ),
    # pd distill
    Case("distill-lr-negative", taught, with_options(DISTILL, "--lr", "-1"), r"--lr"),
    Case("distill-lr-nan", taught, with_options(DISTILL, "--lr", "nan"), r"--lr"),
    Case("distill-epochs-0", taught, with_options(DISTILL, "--epochs", "0"), r"--epochs"),
    Case("distill-batch-size-0", taught, with_options(DISTILL, "--batch-size", "0"), r"--batch-size"),
    Case("distill-points-0", taught, with_options(DISTILL, "--points", "0"), r"--points"),
    Case("distill-seed-negative", taught, with_options(DISTILL, "--seed", "-1"), r"--seed"),
    Case("distill-seed-over-64-bits", taught, with_options(DISTILL, "--seed", "9" * 20), r"--seed"),
    Case(
        "distill-h5-no-points",
        knowledge_h5(
            xyz=np.zeros((0, 3), np.float32),
            conf_bbox=np.zeros((0, 2, 4), np.float32),
            gt_semantic_seg=np.zeros(0, int),
        ),
        DISTILL_H5,
        r"xyz holds no points",
    ),
    Case(
        "distill-h5-text-labels",
        knowledge_h5(gt_semantic_seg=np.array([b"12"] * 8)),
        DISTILL_H5,
        r"gt_semantic_seg' is not an array of numbers",
    ),
    Case(
        "distill-h5-declares-terabytes",
        knowledge_h5(xyz=declared_huge),
        DISTILL_H5,
        r"'xyz' declares 300,000,000,000 values",
    ),
    Case(
        "distill-h5-with-teacher-settings",
        knowledge_h5(),
        with_options(DISTILL_H5, "--noise", "clean"),
        r"--noise says how pd teach makes knowledge, .* is PartDistill h5 files, made elsewhere",
    ),
    Case(
        "distill-h5-is-a-pipe",
        h5_replaced_by("pipe"),
        DISTILL_H5,
        r"preprocess\.h5 is not a readable PartDistill preprocess\.h5: it is not a file",
    ),
    Case(
        "distill-h5-is-a-folder",
        h5_replaced_by("folder"),
        DISTILL_H5,
        r"preprocess\.h5 is not a readable PartDistill preprocess\.h5: it is not a file",
    ),
    Case(
        "distill-batch-size-huge",
        taught,
        with_options(DISTILL, "--batch-size", "9" * 20),
        r"--batch-size must be at most 65536",
    ),
    Case(
        "distill-weights-huge",
        taught,
        with_options(DISTILL, "--weights", "1e308"),
        r"--weights must be at most",
    ),
    Case(
        "distill-out-with-a-category-placeholder",
        taught,
        with_options(DISTILL, "--out", "{d}/runs/{category}"),
        r"'\{category\}' in --out stands for each category's name with --categories",
    ),
    Case(
        "distill-resume-curve-is-a-link-out",
        file_linked_out("run/curve.png", resumable_run),
        with_options(DISTILL, "--resume"),
        r"run/curve\.png leads outside .*/run",
    ),
    Case(
        "distill-h5-infinite-confidence",
        knowledge_h5(conf_bbox=np.full((8, 2, 4), np.inf, np.float32)),
        DISTILL_H5,
        r"confidences from 0 to 1",
    ),
    Case(
        "distill-with-outside-tta",
        taught,
        with_options(DISTILL, "--with", "{d}/shapes"),
        r"--with is for --mode tta",
    ),
    Case(
        "distill-with-another-category",
        then(taught, tables),
        with_options(DISTILL, "--mode", "tta", "--with", "{d}/tables"),
        r"tables holds table shapes, but the shapes to label are chair: --with takes generated shapes",
    ),
    Case(
        "distill-with-missing",
        taught,
        with_options(DISTILL, "--mode", "tta", "--with", "{d}/nope"),
        r"nope does not exist: --with takes a collection",
    ),
    Case(
        "distill-with-the-shapes-to-label",
        taught,
        with_options(DISTILL, "--mode", "tta", "--with", "{d}/shapes"),
        r"holds the shapes to label \(or their knowledge\); --with takes other shapes",
    ),
    Case(
        "distill-with-a-copy-of-the-shapes-to-label",
        then(taught, copied_chairs),
        with_options(DISTILL, "--mode", "tta", "--with", "{d}/gen"),
        r"gen holds chair-00000, the same shape file as chair-00000 of the shapes to label; --with takes",
    ),
    Case(
        "distill-with-a-folder-of-shape-files",
        then(taught, ply("files/a.ply", ["0 0 0", "1 0 0", "0 1 0"])),
        with_options(DISTILL, "--mode", "tta", "--with", "{d}/files"),
        r"files is none of what --with takes: a collection of generated shapes \(pd synth, or pd import",
    ),
    Case(
        "distill-with-the-knowledge-of-the-shapes-to-label",
        taught,
        with_options(DISTILL, "--mode", "tta", "--with", "{d}/shapes/knowledge/simulated-noisy-box"),
        r"simulated-noisy-box holds the shapes to label \(or their knowledge\); --with takes other",
    ),
    Case(
        "distill-h5-views-of-another-shape",
        knowledge_h5(conf_view=np.zeros((2, 7, 1, 4), np.float32)),
        DISTILL_H5,
        r"conf_view has shape \[2, 7, 1, 4\], expected \[views, 8, predictions, 1 to 4\]",
    ),
    Case(
        "distill-h5-negative-view-confidence",
        knowledge_h5(conf_view=np.full((2, 8, 1, 4), -0.5, np.float32)),
        DISTILL_H5,
        r"conf_view must hold confidences from 0 to 1",
    ),
    Case(
        "distill-corrupt-h5",
        garbage("h5/03001627/abc/extracted/preprocess.h5"),
        DISTILL_H5,
        r"preprocess\.h5",
    ),
    Case("distill-units-of-another-size", units_of_another_size, DISTILL, r"chair-00000.*310 points.*300"),
    Case("distill-knowledge-missing", taught, with_options(DISTILL, "--knowledge", "{d}/nope"), r"nope"),
    Case(
        "distill-resume-corrupt-config",
        then(resumable_run, garbage("run/config.json", b'{"category": "chair", ')),
        with_options(DISTILL, "--resume"),
        r"config\.json",
    ),
    Case(
        "distill-resume-corrupt-state",
        corrupt_states("{epoch: 1"),
        with_options(DISTILL, "--resume"),
        r"state\.json",
    ),
    Case(
        "distill-resume-state-of-wrong-types",
        corrupt_states('{"epoch": 1, "losses": "abc", "fits": [null], "switch_epoch": null, "log": ["x"]}'),
        with_options(DISTILL, "--resume"),
        r"checkpoint in .* is damaged",
    ),
    Case(
        "distill-image-size-not-the-knowledge's",
        taught,
        with_options(without(DISTILL, "--knowledge"), "--image-size", "128"),
        r"made with --image-size 64, not 128",
    ),
    Case(
        "distill-image-size-not-the-given-knowledge's",
        taught,
        with_options(DISTILL, "--image-size", "128"),
        r"made with --image-size 64, not 128",
    ),
    Case(
        "distill-noise-not-the-given-knowledge's",
        taught,
        with_options(DISTILL, "--noise", "clean"),
        r"made with --noise noisy, not clean",
    ),
    Case(
        "distill-kind-not-the-given-knowledge's",
        taught,
        with_options(DISTILL, "--kind", "mask"),
        r"made with --kind box, not mask",
    ),
    Case(
        "distill-teacher-not-the-given-knowledge's",
        taught,
        with_options(DISTILL, "--teacher", "owlv2"),
        r"made with --teacher simulated, not owlv2",
    ),
    Case(
        "distill-ray-address-empty",
        taught,
        with_options(DISTILL, "--ray-address", ""),
        r"--ray-address is empty",
    ),
    Case(
        "distill-category-contradicts",
        taught,
        with_options(DISTILL, "--category", "airplane"),
        r"(?i)airplane",
    ),
    Case("distill-out-is-file", then(taught, a_file("run")), DISTILL, r"/run\b"),
    Case(
        "distill-categories-of-other-shapes",
        taught,
        with_options(DISTILL, "--categories", "table"),
        r"holds chair shapes, not table",
    ),
    Case(
        "distill-categories-one-out",
        taught,
        with_options(DISTILL, "--categories", "chair,table"),
        r"--out needs '\{category\}'",
    ),
    Case(
        "distill-knowledge-is-a-collection",
        taught,
        with_options(without(DISTILL, "--shapes"), "--knowledge", "{d}/shapes"),
        r"shapes is a shape collection: give it as --shapes",
    ),
    Case(
        "distill-shapes-is-a-teach-folder",
        taught,
        with_options(without(DISTILL, "--knowledge"), "--shapes", f"{{d}}/{KNOWLEDGE}"),
        r"pd teach folder, not a shape collection: give it as --knowledge, and its collection \(\S*/shapes\)",
    ),
    Case("distill-categories-twice", taught, with_options(DISTILL, "--categories", "chair,chair"), r"chair"),
    Case("distill-categories-none", taught, with_options(DISTILL, "--categories", " , "), r"--categories"),
    Case(
        "distill-categories-and-category",
        taught,
        with_options(DISTILL, "--categories", "chair", "--category", "chair"),
        r"--categories",
    ),
    Case(
        "distill-categories-unknown",
        taught,
        with_options(DISTILL, "--categories", "chair,teapott"),
        r"teapott",
    ),
    Case(
        "distill-m2ae-no-checkpoint",
        taught,
        with_options(DISTILL, "--student", "point-m2ae"),
        r"--checkpoint",
    ),
    Case(
        "distill-m2ae-corrupt-checkpoint",
        then(taught, garbage("pre-train.pth")),
        with_options(DISTILL, "--student", "point-m2ae", "--checkpoint", "{d}/pre-train.pth"),
        r"pre-train\.pth",
    ),
    Case(
        "distill-m2ae-checkpoint-is-a-folder",
        taught,
        with_options(DISTILL, "--student", "point-m2ae", "--checkpoint", "{d}/shapes"),
        r"checkpoint .*/shapes is a folder, not a file",
    ),
    Case("distill-cuda-no-gpu", no_gpu(taught), with_options(DISTILL, "--device", "cuda"), r"(?i)cuda|gpu"),
    # pd predict
    Case("predict-input-missing", trained, ("predict", "{d}/nope.ply", *PREDICT), r"nope\.ply"),
    Case(
        "predict-front-along-up",
        trained,
        ("predict", "{d}/shapes/shapes/chair-00000.npz", *PREDICT, "--up", "x", "--front", "-x"),
        r"--front -x lies along --up x",
    ),
    Case(
        "predict-ply-declares-a-trillion-points",
        then(trained, ply("big.ply", ["0 0 0", "1 1 1"], declared=10**12)),
        ("predict", "{d}/big.ply", *PREDICT),
        r"declares 1,000,000,000,000 vertex elements",
    ),
    Case(  # 10M points of 2,003 properties: 149.1 GiB, which plyfile would allocate
        "predict-ply-declares-rows-too-wide",
        then(
            trained,
            ply("wide.ply", ["0 " * 2003], XYZ + tuple(f"double p{i}" for i in range(2000)), declared=10**7),
        ),
        ("predict", "{d}/wide.ply", *PREDICT),
        r"wide\.ply declares 149\.1 GiB of rows, more than the 4 GiB pd reads from a PLY: save it without",
    ),
    Case(  # the same with a list property, whose rows plyfile makes room for all the same
        "predict-ply-declares-rows-too-wide-beside-a-list",
        then(
            trained,
            ply(
                "wide.ply",
                ["1 0 " + "0 " * 2003],
                ("list uchar int indices", *XYZ, *(f"double p{i}" for i in range(2000))),
                declared=10**7,
            ),
        ),
        ("predict", "{d}/wide.ply", *PREDICT),
        r"wide\.ply declares 149\.2 GiB of rows, more than the 4 GiB",
    ),
    Case(
        "predict-run-record-asks-for-a-trillion-points",
        then(trained, student_record(n_points=10**12)),
        ("predict", "{d}/shapes/shapes/chair-00000.npz", *PREDICT),
        r"student\.json is not a complete student record",
    ),
    Case(
        "predict-run-record-catalogue-not-a-table",
        then(trained, student_record(catalogue=5)),
        ("predict", "{d}/shapes/shapes/chair-00000.npz", *PREDICT),
        r"student\.json: 'catalogue' is not a category record",
    ),
    Case(
        "predict-over-its-own-input",
        then(trained, ply("scans/foo.ply", ["0 0 0", "1 0 0", "0 1 0"])),
        ("predict", "{d}/scans/foo.ply", *with_options(PREDICT, "--out", "{d}/scans")),
        r"scans is a folder this command reads; give --out a folder of its own",
    ),
    Case(
        "predict-into-its-run",
        then(trained, ply("student.ply", ["0 0 0", "1 0 0", "0 1 0"])),
        ("predict", "{d}/student.ply", *with_options(PREDICT, "--out", "{d}/run")),
        r"run is a pd distill run; give --out",
    ),
    Case(
        "predict-into-its-run-under-new-names",  # nothing overwritten, yet pd view showed them as the run
        then(trained, ply("scan.ply", ["0 0 0", "1 0 0", "0 1 0"])),
        ("predict", "{d}/scan.ply", *with_options(PREDICT, "--out", "{d}/run")),
        r"run is a pd distill run; give --out",
    ),
    Case(
        "predict-into-an-eval-report",
        then(trained, ply("scan.ply", ["0 0 0", "1 0 0", "0 1 0"]), garbage("ev/report.json", b"{}")),
        ("predict", "{d}/scan.ply", *with_options(PREDICT, "--out", "{d}/ev", "--no-view")),
        r"ev is a pd eval report; give --out a folder of its own",
    ),
    Case(
        "predict-into-a-collection",
        then(trained, ply("scan.ply", ["0 0 0", "1 0 0", "0 1 0"])),
        ("predict", "{d}/scan.ply", *with_options(PREDICT, "--out", "{d}/shapes")),
        r"shapes is a shape collection; give --out",
    ),
    Case(
        "predict-into-a-teach-folder",
        then(trained, ply("scan.ply", ["0 0 0", "1 0 0", "0 1 0"])),
        ("predict", "{d}/scan.ply", *with_options(PREDICT, "--out", f"{{d}}/{KNOWLEDGE}")),
        r"is a pd teach folder; give --out",
    ),
    Case(
        "predict-input-named-inputs",
        then(trained, ply("inputs.ply", ["0 0 0", "1 0 0", "0 1 0"])),
        ("predict", "{d}/inputs.ply", *PREDICT),
        r"would collide with inputs\.json",
    ),
    Case(
        "predict-input-named-like-pds-record",
        then(trained, ply(".pd-written.ply", ["0 0 0", "1 0 0", "0 1 0"])),
        ("predict", "{d}/.pd-written.ply", *PREDICT),
        r"An input named \.pd-written\.\* would give hidden outputs, where pd keeps its records",
    ),
    Case(
        "predict-corrupt-ply",
        then(trained, garbage("bad.ply")),
        ("predict", "{d}/bad.ply", *PREDICT),
        r"bad\.ply",
    ),
    Case(
        "predict-nan-ply",
        then(trained, ply("nan.ply", ["0 0 0", "nan 0 0", "1 1 1", "0 1 0"])),
        ("predict", "{d}/nan.ply", *PREDICT),
        r"nan\.ply",
    ),
    Case(
        "predict-empty-ply",
        then(trained, ply("empty.ply", [])),
        ("predict", "{d}/empty.ply", *PREDICT),
        r"empty\.ply",
    ),
    Case(
        "predict-run-missing",
        shapes,
        ("predict", "{d}/shapes/shapes/chair-00000.npz", *with_options(PREDICT, "--run", "{d}/nope")),
        r"nope",
    ),
    Case(
        "predict-corrupt-student-json",
        then(trained, garbage("run/student.json", b'{"student": "pointnet", ')),
        ("predict", "{d}/shapes/shapes/chair-00000.npz", *PREDICT),
        r"student\.json",
    ),
    Case(
        "predict-truncated-weights",
        then(trained, truncated("run/student.safetensors")),
        ("predict", "{d}/shapes/shapes/chair-00000.npz", *PREDICT),
        r"student\.safetensors",
    ),
    Case(
        "predict-out-is-file",
        then(trained, a_file("preds")),
        ("predict", "{d}/shapes/shapes/chair-00000.npz", *PREDICT),
        r"/preds\b",
    ),
    Case(
        "predict-unsupported-suffix",
        then(trained, garbage("shape.txt", b"0 0 0\n")),
        ("predict", "{d}/shape.txt", *PREDICT),
        r"shape\.txt",
    ),
    # pd eval
    Case("eval-snp-root-missing", predicting({}), with_options(EVAL_FILES, "--root", "{d}/nope"), r"nope"),
    Case(
        "eval-snp-malformed-category-line",
        snp_root(mapping="Airplane\n"),
        EVAL_FILES,
        r"synsetoffset2category\.txt",
    ),
    Case(
        "eval-snp-split-not-strings",
        snp_root(entries=[1, 2]),
        EVAL_FILES,
        r"shuffled_test_file_list\.json",
    ),
    Case("eval-snp-empty-shape-file", snp_root(shape_text=""), EVAL_FILES, r"abc\.txt"),
    Case(
        "eval-snp-category-list-a-pipe",
        then(snp_root(), fifo("snp/synsetoffset2category.txt")),
        EVAL_FILES,
        r"synsetoffset2category\.txt is not ShapeNetPart's category list: it is not a regular file",
    ),
    Case(
        "predict-record-a-folder",
        then(trained, lambda d, assets: (d / "preds" / ".pd-written.json").mkdir(parents=True)),
        ("predict", "{d}/shapes/shapes/chair-00000.npz", *PREDICT),
        r"\.pd-written\.json is not the files pd commands wrote into this folder: it is not a regular file",
    ),
    Case(
        "predict-record-a-pipe",
        then(trained, fifo("preds/.pd-written.json")),
        ("predict", "{d}/shapes/shapes/chair-00000.npz", *PREDICT),
        r"\.pd-written\.json is not the files pd commands wrote into this folder: it is not a regular file",
    ),
    Case(
        "eval-predictions-of-pd-predict",
        then(snp_root(), garbage("preds/inputs.json", b'{"a": "a.ply"}'), garbage("preds/a.json", b"{}")),
        with_options(EVAL, "--predictions", "{d}/preds"),
        r"preds is a pd predict folder: .* score the run with --run instead",
    ),
    Case(
        "eval-snp-split-lists-a-shape-twice",  # it was scored twice
        snp_root(entries=["shape_data/03001627/abc", "shape_data/03001627/abc"]),
        EVAL_FILES,
        r"lists 03001627/abc twice",
    ),
    Case(
        "eval-snp-split-unknown",
        snp_root(),
        with_options(EVAL_FILES, "--split", "trainval"),
        r"has no 'trainval' split \(--split\): it has test",
    ),
    Case(
        "eval-predictions-one-shape-twice",  # json keeps the last entry in silence
        then(snp_root(), garbage("predictions.json", b'{"03001627/abc": [12], "03001627/abc": [13]}')),
        EVAL_FILES,
        r"the key '03001627/abc' comes twice",
    ),
    Case(
        "eval-snp-hdf5-category-99",
        snp_hdf5(category=99, part=0),
        with_options(EVAL_FILES, "--root", "{d}/hdf5_data"),
        r"99",
    ),
    Case(
        "eval-partnete-garbage-meta",
        partnete_root(meta="{Chair: [arm"),
        with_options(EVAL_FILES, "--dataset", "partnete", "--root", "{d}/pne"),
        r"PartNetE_meta\.json",
    ),
    Case(
        "eval-partnete-malicious-pickle",
        partnete_root(evil=True),
        with_options(EVAL_FILES, "--dataset", "partnete", "--root", "{d}/pne"),
        r"label\.npy",
        check=marker_untouched,
    ),
    Case(
        "eval-out-inside-the-benchmark",
        partnete_root(),
        with_options(
            EVAL_FILES, "--dataset", "partnete", "--root", "{d}/pne", "--out", "{d}/pne/data/test/reports"
        ),
        r"reports lies inside \S*pne, which this command reads at every depth: give --out a folder outside",
    ),
    Case(
        "eval-partnete-labels-nested-to-expand",
        partnete_root(nested=True),
        with_options(EVAL_FILES, "--dataset", "partnete", "--root", "{d}/pne"),
        r"label\.npy is not PartNetE's label dict .* \(its 'semantic_seg' is not a list of whole numbers",
    ),
    Case(
        "eval-predictions-not-integers",
        predicting({"03001627/abc": [label + 0.5 for label in SNP_LABELS]}),
        EVAL_FILES,
        r"predictions\.json",
    ),
    Case(
        "eval-predictions-nested",
        predicting({"03001627/abc": [[label] for label in SNP_LABELS]}),
        EVAL_FILES,
        r"predictions\.json",
    ),
    Case(
        "eval-predictions-huge",
        predicting({"03001627/abc": [1e30] * SNP_POINTS}),
        EVAL_FILES,
        r"predictions\.json",
    ),
    Case(
        "eval-predictions-missing",
        snp_root(),
        with_options(EVAL_FILES, "--predictions", "{d}/nope.json"),
        r"nope\.json",
    ),
    Case("eval-points-0", snp_root(), with_options(EVAL_FILES, "--points", "0"), r"--points"),
    Case(
        "eval-predictions-npy-of-text",  # it was called pickled data
        then(snp_root(), garbage("preds/03001627/abc.npy", b"1 2 3")),
        with_options(EVAL, "--predictions", "{d}/preds"),
        r"abc\.npy is not a \.npy file \(it has no numpy header\)",
    ),
    Case(
        "eval-categories-empty",
        snp_root(),
        with_options(EVAL_FILES, "--categories", ","),
        r"names no category",
    ),
    Case(
        "eval-run-of-another-category",
        then(trained, snp_root()),
        (*EVAL, "--run", "{d}/run", "--categories", "airplane"),
        r"The run segments .*chair.*, not airplane",
    ),
    Case("eval-points-foo", snp_root(), with_options(EVAL_FILES, "--points", "foo"), r"--points"),
    Case("eval-points-huge", snp_root(), with_options(EVAL_FILES, "--points", "99999999999"), r"--points"),
    Case(
        "eval-hdf5-rows-disagree",
        snp_hdf5(category=4, part=12, label=np.array([[4], [4]], dtype=np.uint8)),
        with_options(EVAL_FILES, "--root", "{d}/hdf5_data"),
        r"different numbers of shapes \(data 1, label 2, pid 1\)",
    ),
    Case(
        "eval-hdf5-scalar-data",
        snp_hdf5(category=4, part=12, data=np.float32(1.0)),
        with_options(EVAL_FILES, "--root", "{d}/hdf5_data"),
        r"'data' is not an array of numbers",
    ),
    Case("eval-neither-run-nor-predictions", snp_root(), EVAL, r"--run.*--predictions"),
    Case(
        "eval-unknown-category",
        snp_root(),
        with_options(EVAL_FILES, "--categories", "spaceship"),
        r"spaceship",
    ),
    # pd import
    Case(
        "import-unknown-dataset",
        snp_root(),
        ("import", "--dataset", "foo", "--root", "{d}/snp", "--out", "{d}/coll"),
        r"foo",
    ),
    Case(
        "import-files-none",
        garbage("files/readme.txt", b"no shapes here\n"),
        ("import", "--dataset", "files", "--categories", "chair", "--root", "{d}/files", "--out", "{d}/coll"),
        r"files",
    ),
    Case(
        "import-out-is-file",
        then(snp_root(), a_file("coll")),
        ("import", "--dataset", "shapenetpart", "--root", "{d}/snp", "--out", "{d}/coll"),
        r"/coll\b",
    ),
    Case(
        "import-partnete-malicious-pickle",
        partnete_root(evil=True),
        ("import", "--dataset", "partnete", "--root", "{d}/pne", "--out", "{d}/coll"),
        r"label\.npy",
        check=marker_untouched,
    ),
    Case(
        "import-files-every-unreadable-one-said",
        then(
            ply("files/a.ply", ["0 0 0", "1 0 0", "0 1 0"]),
            garbage("files/b.obj", b"no faces\n"),
            garbage("files/c.glb"),
        ),
        IMPORT_FILES,
        r"(?s)2 of the 3 shape files in \S*files cannot be read \(b\.obj, c\.glb\), so nothing was imported",
    ),
    Case(
        "import-files-into-their-own-folder",
        ply("files/a.ply", ["0 0 0", "1 0 0", "0 1 0"]),
        with_options(IMPORT_FILES, "--out", "{d}/files"),
        r"files is a folder this command reads; give --out a folder of its own",
    ),
    Case(
        "import-files-one-id-twice-writes-nothing",
        then(
            ply("files/z_z.ply", ["0 0 0", "1 0 0", "0 1 0"]),
            ply("files/z z.ply", ["0 0 0", "1 0 0", "0 1 0"]),
        ),
        ("import", "--dataset", "files", "--categories", "chair", "--root", "{d}/files", "--out", "{d}/coll"),
        r"2 files that would be shape z_z \(z z\.ply, z_z\.ply\)",
    ),
    Case(
        "import-parts-for-a-benchmark",
        snp_root(),
        ("import", "--dataset", "shapenetpart", "--root", "{d}/snp", "--parts", "a,b", "--out", "{d}/coll"),
        r"--parts .* --dataset files",
    ),
    Case(
        "import-up-not-an-axis",
        ply("files/a.ply", ["0 0 0", "1 0 0", "0 1 0"]),
        (*IMPORT_FILES, "--up", "w"),
        r"--up",
    ),
    Case(
        "import-front-along-up",
        ply("files/a.ply", ["0 0 0", "1 0 0", "0 1 0"]),
        (*IMPORT_FILES, "--up", "z", "--front", "-z"),
        r"--front -z lies along --up z",
    ),
    Case(
        "import-frame-for-a-benchmark",
        snp_root(),
        ("import", "--dataset", "shapenetpart", "--root", "{d}/snp", "--up", "z", "--out", "{d}/coll"),
        r"--up and --front are for your own files",
    ),
    Case(
        "import-empty-split",
        then(snp_root(), garbage("snp/train_test_split/shuffled_val_file_list.json", b"[]")),
        ("import", "--dataset", "shapenetpart", "--root", "{d}/snp", "--split", "val", "--out", "{d}/coll"),
        r"val split .* holds no shapes",
    ),
    Case(
        "teach-manifest-nested-too-deep",
        then(shapes, garbage("shapes/manifest.json", b"[" * 100_000 + b"]" * 100_000)),
        TEACH,
        r"manifest\.json",
        out=TEACH_OUT,
    ),
    Case(
        "import-snp-empty-shape-file",
        snp_root(shape_text=""),
        ("import", "--dataset", "shapenetpart", "--root", "{d}/snp", "--out", "{d}/coll"),
        r"abc\.txt",
    ),
    Case("view-missing", nothing, ("view", "{d}/nope"), r"nope.*does not exist"),
    Case(
        "view-npz-declares-terabytes",
        npz_declaring("huge.npz", 10**12),
        ("view", "{d}/huge.npz", "--out", "{d}/page.html"),
        r"huge\.npz: its points array declares 1,000,000,000,000 rows, more than the 10,000,000",
    ),
    Case(
        "view-ply-edges-declared-by-the-trillion",
        garbage(
            "edges.ply",
            b"ply\nformat ascii 1.0\ncomment pushed down\nelement vertex 1\nproperty float x\n"
            b"property float y\nproperty float z\nelement edge +1000000000000\nproperty int vertex1\n"
            b"end_header\n0 0 0\n",
        ),
        ("view", "{d}/edges.ply", "--out", "{d}/page.html"),
        r"declares 1,000,000,000,000 edge elements",
    ),
    Case(
        "view-out-is-a-shape",
        ply("scan.ply", ["0 0 0", "1 0 0", "0 1 0"]),
        ("view", "{d}/scan.ply", "--out", "{d}/scan.ply"),
        r"scan\.ply exists and is not a web page",
    ),
    Case(
        "view-out-is-a-folder",
        then(ply("scan.ply", ["0 0 0", "1 0 0", "0 1 0"]), garbage("pages/keep.txt", b"mine\n")),
        ("view", "{d}/scan.ply", "--out", "{d}/pages"),
        r"pages is a folder: give --out the page's file name",
    ),
    Case("view-not-a-shape-file", garbage("notes.txt", b"hello\n"), ("view", "{d}/notes.txt"), r"notes\.txt"),
    Case("view-corrupt-ply", garbage("scan.ply"), ("view", "{d}/scan.ply"), r"scan\.ply"),
    Case(
        "view-ply-comment-gives-a-key-twice",
        ply(
            "scan.ply",
            ["0 0 0", "1 0 0", "0 1 0"],
            comments=('partdistill {"category": "chair", "category": "lamp"}',),
        ),
        ("view", "{d}/scan.ply"),
        r"scan\.ply: its partdistill comment is not JSON \(the key 'category' comes twice\)",
    ),
    Case(
        "view-obj-face-names-a-missing-vertex",
        garbage("bad.obj", b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 99\n"),
        view("bad.obj"),
        r"bad\.obj is not a readable mesh \(a face names a vertex it does not hold\)",
    ),
    Case(
        "view-empty-collection",
        garbage("empty/manifest.json", b'{"format": "partdistill.collection", "version": 1, "shapes": []}'),
        ("view", "{d}/empty"),
        r"empty has no shapes to show",
    ),
    Case("view-corrupt-eval-page", garbage("report/view-shapes.npz"), ("view", "{d}/report"), r"view-shapes"),
    Case(
        "view-corrupt-units",
        then(taught, garbage(f"{KNOWLEDGE}/units/chair-00000.npz", b"PK\x03\x04garbage")),
        ("view", f"{{d}}/{KNOWLEDGE}"),
        r"chair-00000\.npz",
    ),
    Case(
        "distill-corrupt-units",
        then(taught, garbage(f"{KNOWLEDGE}/units/chair-00000.npz", b"PK\x03\x04garbage")),
        DISTILL,
        r"chair-00000\.npz is not a readable knowledge file .* Delete it and run `pd teach` again",
    ),
    Case(
        "view-units-of-another-size",
        units_of_another_size,
        ("view", f"{{d}}/{KNOWLEDGE}"),
        r"chair-00000.*310 points.*300",
    ),
    Case("view-predictions-too-few-labels", predicted([0, 1]), ("view", "{d}/preds"), r"chair-00000"),
    Case("view-predictions-unknown-part", predicted([9] * 300), ("view", "{d}/preds"), r"chair-00000"),
    Case("view-predictions-scalar-labels", predicted(3), ("view", "{d}/preds"), r"chair-00000"),
    Case(
        "view-predictions-labels-not-whole",
        predicted([0.5] * 300),
        ("view", "{d}/preds"),
        r"chair-00000\.json is not a pd predict result \(its labels must be whole numbers\)",
    ),
    Case(
        "view-predictions-part-names-not-texts",
        predicted(None, part_names=[1, 2, 3, 4]),
        ("view", "{d}/preds"),
        r"chair-00000\.json: 'part_names' must be a list of at most 10,000 non-empty texts",
    ),
    # --- issue 24: paths and outputs ---
    Case(
        "teach-knowledge-folder-is-a-link-out",
        linked_out(KNOWLEDGE),
        TEACH,
        r"simulated-noisy-box leads outside .*/shapes",
        out=TEACH_OUT,
    ),
    Case(
        "teach-knowledge-of-the-collection-is-a-link-out",
        linked_out("shapes/knowledge"),
        TEACH,
        r"shapes/knowledge/simulated-noisy-box leads outside .*/shapes",
        out=TEACH_OUT,
    ),
    Case(
        "distill-teaching-into-a-knowledge-link-out",
        linked_out("shapes/knowledge"),
        without(DISTILL, "--knowledge"),
        r"shapes/knowledge/simulated-noisy-box leads outside .*/shapes",
    ),
    Case(
        "import-shapes-folder-is-a-link-out",
        linked_out("coll/shapes", snp_root()),
        ("import", "--dataset", "shapenetpart", "--root", "{d}/snp", "--out", "{d}/coll"),
        r"coll/shapes leads outside",
    ),
    Case(
        "synth-manifest-log-is-a-link-out",
        log_linked_out,
        with_options(SYNTH, "--n", "4", "--out", "{d}/shapes"),
        r"manifest\.log leads outside",
    ),
    Case(
        "view-units-folder-is-a-link-out",
        linked_out(f"{KNOWLEDGE}/units", taught, move=True),
        ("view", f"{{d}}/{KNOWLEDGE}", "--out", "{d}/page.html"),
        r"units/chair-00000\.npz leads outside",
    ),
    Case(
        "distill-resume-checkpoint-named-outside",
        checkpoint_named_outside,
        with_options(DISTILL, "--resume"),
        r"current\.json names '\.\./\.\./outside/epoch-0007', not a checkpoint folder of this run",
    ),
    Case(
        "distill-resume-checkpoint-folder-is-a-link-out",
        linked_out("run/checkpoint", resumable_run, move=True),
        with_options(DISTILL, "--resume"),
        r"run/checkpoint(/current\.json)? leads outside .*/run",
    ),
    Case(
        "predict-run-weights-are-a-link-out",
        student_linked_out,
        ("predict", "{d}/shapes/shapes/chair-00000.npz", *PREDICT),
        r"student\.safetensors leads outside .*/run",
    ),
    Case(
        "view-predictions-named-outside",
        predictions_named_outside,
        ("view", "{d}/preds", "--out", "{d}/page.html"),
        r"inputs\.json points outside .*/preds: '\.\./private/pred/chair-1\.json'",
    ),
    Case(
        "predict-over-the-users-page",
        then(trained, garbage("preds/view.html", b"<p>my own page</p>\n")),
        ("predict", "{d}/shapes/shapes/chair-00000.npz", *PREDICT),
        r"view\.html exists and pd predict did not write it",
    ),
    Case(
        "predict-over-the-users-inputs-json",
        then(trained, garbage("preds/inputs.json", b'{"chair-00000": "my notes"}\n')),
        ("predict", "{d}/shapes/shapes/chair-00000.npz", *PREDICT),
        r"inputs\.json exists and pd predict did not write it",
    ),
    Case(
        "eval-over-the-users-report-csv",
        then(snp_root(), garbage("report/report.csv", b"my own,numbers\n")),
        EVAL_FILES,
        r"report\.csv exists and pd eval did not write it",
    ),
    Case(
        "eval-over-the-users-report-json",
        then(snp_root(), garbage("report/report.json", b'{"mine": true}\n')),
        EVAL_FILES,
        r"report\.json exists and pd eval did not write it",
    ),
    Case(
        "eval-prediction-file-is-a-link-out",
        prediction_file_linked_out,
        with_options(EVAL_FILES, "--predictions", "{d}/pred"),
        r"pred/03001627/abc\.npy leads outside .*/pred",
    ),
    # --- what a user's folders hold: links out of a handed folder, files pd did not write ---
    Case(
        "import-files-one-is-a-link-out",
        file_linked_out("files/a.ply", ply("files/a.ply", ["0 0 0", "1 0 0", "0 1 0"])),
        IMPORT_FILES,
        r"files/a\.ply leads outside .*/files",
    ),
    Case(
        "eval-shapenetpart-shape-file-is-a-link-out",
        file_linked_out("snp/03001627/abc.txt", snp_root()),
        EVAL_FILES,
        r"snp/03001627/abc\.txt leads outside .*/snp",
    ),
    Case(
        "distill-h5-file-is-a-link-out",
        file_linked_out(H5, knowledge_h5()),
        DISTILL_H5,
        r"extracted/preprocess\.h5 leads outside .*/h5",
    ),
    Case(
        "distill-into-a-folder-of-the-users",
        then(taught, garbage("run/log.txt", b"my notes\n"), garbage("run/checkpoint/epoch-0005/a.txt", b"")),
        DISTILL,
        r"run holds files pd distill did not write \(checkpoint and 1 more\); .* give --out one",
    ),
    Case(
        "distill-into-the-collection",
        taught,
        with_options(DISTILL, "--out", "{d}/shapes"),
        r"shapes holds files pd distill did not write",
    ),
    Case(
        "distill-over-the-users-config-json",
        then(taught, garbage("run/config.json", b'{"mine": true}\n')),
        with_options(DISTILL, "--resume"),
        r"run/config\.json holds no settings of a pd distill run",
    ),
    Case(
        "categories-show-a-folder",
        nothing,
        ("categories", "show", "/etc"),
        r"Unknown category '/etc': a category is a name \(chair, partnete/Kettle\) or a category file",
    ),
    Case(
        "view-over-the-users-page",
        then(shapes, garbage("shapes/view.html", b"<p>my own page</p>\n")),
        ("view", "{d}/shapes"),
        r"shapes/view\.html exists and pd view did not write it",
    ),
    Case(
        "view-over-the-users-page-beside-a-file",
        then(ply("scans/a.ply", ["0 0 0", "1 0 0", "0 1 0"]), garbage("scans/a.html", b"<p>mine</p>\n")),
        ("view", "{d}/scans/a.ply"),
        r"scans/a\.html exists and pd view did not write it",
    ),
    Case(
        "synth-into-shapes-without-a-manifest",
        garbage("out/shapes/chair-00000.npz", b"my own file\n"),
        SYNTH,
        r"out holds shapes/ but no manifest\.json: it is no collection pd made",
    ),
    Case(
        "import-into-a-log-without-a-manifest",
        then(ply("files/a.ply", ["0 0 0", "1 0 0", "0 1 0"]), garbage("coll/manifest.log", b"mine\n")),
        IMPORT_FILES,
        r"coll holds manifest\.log but no manifest\.json",
    ),
    # --- issue 24: shape files and category files ---
    Case(
        "view-ply-label-ten-million",
        ply("labels.ply", ["0 0 0 0", "1 0 0 10000000", "0 1 0 1"], (*XYZ, "int label")),
        view("labels.ply"),
        r"labels\.ply: its 'label' property holds labels from 0 to 10,000,000; a label is a part from 0",
    ),
    Case(
        "view-ply-label-uint-four-billion",
        ply("labels.ply", ["0 0 0 0", "1 0 0 4000000000", "0 1 0 1"], (*XYZ, "uint label")),
        view("labels.ply"),
        r"holds labels from 0 to 4,000,000,000",
    ),
    Case(
        "view-ply-label-past-its-type",
        ply("labels.ply", ["0 0 0 0", "1 0 0 1000000000000", "0 1 0 1"], (*XYZ, "int label")),
        view("labels.ply"),
        r"labels\.ply is not a readable PLY file \(Python integer 1000000000000 out of bounds for int32\)",
    ),
    Case(
        "view-ply-colour-past-its-type",
        ply(
            "rgb.ply",
            ["0 0 0 300 0 0", "1 0 0 0 0 0", "0 1 0 0 0 0"],
            (*XYZ, "uchar red", "uchar green", "uchar blue"),
        ),
        view("rgb.ply"),
        r"rgb\.ply is not a readable PLY file \(Python integer 300 out of bounds for uint8\)",
    ),
    Case(
        "view-ply-label-nan",
        ply("labels.ply", ["0 0 0 0", "1 0 0 nan", "0 1 0 1"], (*XYZ, "float label")),
        view("labels.ply"),
        r"labels\.ply: its 'label' property must be whole numbers",
    ),
    Case(
        "view-ply-label-list",
        ply("labels.ply", ["0 0 0 1 0", "1 0 0 1 1", "0 1 0 2 1 1"], (*XYZ, "list uchar int label")),
        view("labels.ply"),
        r"labels\.ply: its vertex property 'label' is a list",
    ),
    Case(
        "view-ply-z-list",
        ply("z.ply", ["0 0 1 0", "1 0 1 0", "0 1 1 0"], ("float x", "float y", "list uchar float z")),
        view("z.ply"),
        r"z\.ply: its vertex property 'z' is a list",
    ),
    Case(
        "view-ply-meta-part-names-numbers",
        labelled_ply("meta.ply", {"part_names": [1, 2]}),
        view("meta.ply"),
        r"meta\.ply: its partdistill comment: 'part_names' must be a list of at most 256 non-empty texts",
    ),
    Case(
        "view-ply-meta-part-names-repeat",
        labelled_ply("meta.ply", {"part_names": ["leg", "leg"]}),
        view("meta.ply"),
        r"'part_names' must be a list of distinct texts",
    ),
    Case(
        "view-ply-meta-category-number",
        labelled_ply("meta.ply", {"category": 123}),
        view("meta.ply"),
        r"meta\.ply: its partdistill comment: 'category' must be a non-empty text",
    ),
    Case(
        "view-ply-meta-provenance-text",
        labelled_ply("meta.ply", {"provenance": "x"}),
        view("meta.ply"),
        r"'provenance' is not a provenance record \(a JSON object\): it holds a text",
    ),
    Case(
        "view-npz-fifty-million-points",
        npz_declaring("big.npz", 50_000_000),
        view("big.npz"),
        r"big\.npz: its points array declares 50,000,000 rows, more than the 10,000,000",
    ),
    Case(
        "view-npz-meta-part-names-text",
        shape_npz("s.npz", {"part_names": "ab"}, labels=np.array([0, 1, 1])),
        view("s.npz"),
        r"s\.npz: its metadata: 'part_names' must be a list",
    ),
    Case(
        "view-npz-meta-provenance-list",
        shape_npz("s.npz", {"provenance": [1]}),
        view("s.npz"),
        r"'provenance' is not a provenance record",
    ),
    Case(
        "view-npz-meta-category-number",
        shape_npz("s.npz", {"category": 5}),
        view("s.npz"),
        r"s\.npz: its metadata: 'category' must be a non-empty text",
    ),
    Case(
        "view-npz-fractional-mesh-faces",
        shape_npz("s.npz", mesh_vertices=np.eye(3), mesh_faces=np.array([[0, 1, 1.5]])),
        view("s.npz"),
        r"s\.npz: mesh faces must be whole numbers",
    ),
    Case(
        "view-npz-complex-points",
        shape_npz("s.npz", points=np.eye(3) + 1j),
        view("s.npz"),
        r"s\.npz: its points array holds complex numbers, not real numbers",
    ),
    Case(
        "view-npz-text-points",
        shape_npz("s.npz", points=np.array([["1", "2", "3"]] * 3)),
        view("s.npz"),
        r"s\.npz: its points array holds text, not real numbers",
    ),
    Case(
        "view-npz-meta-nested-too-deep",
        shape_npz("s.npz", meta=np.frombuffer(b"[" * 50_000 + b"]" * 50_000, np.uint8)),
        view("s.npz"),
        r"s\.npz is not a readable partdistill shape file \(its metadata is not JSON\)",
    ),
    Case(
        "view-ply-comment-nested-too-deep",
        ply(
            "deep.ply",
            ["0 0 0", "1 0 0", "0 1 0"],
            comments=("partdistill " + '{"a": ' * 50_000 + "1" + "}" * 50_000,),
        ),
        view("deep.ply"),
        r"deep\.ply: its partdistill comment is not JSON",
    ),
    Case(
        "view-off-declares-two-faces-holds-one",
        garbage("two.off", b"OFF\n3 2 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"),
        view("two.off"),
        r"two\.off declares 3 vertices and 2 faces but holds 3 and 1: it is cut short",
    ),
    Case(
        "import-off-face-shorter-than-its-count",
        garbage("files/quad.off", b"OFF\n4 1 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2\n"),
        ("import", "--dataset", "files", "--categories", "chair", "--root", "{d}/files", "--out", "{d}/coll"),
        r"quad\.off: face 1 lists fewer than the 4 vertices it declares",
    ),
    Case(
        "categories-show-100k-parts",
        category_file("many.json", {"name": "many", "parts": [f"p{i}" for i in range(100_000)]}),
        ("categories", "show", "{d}/many.json"),
        r"many\.json: 'parts' must be a list of 1 to 256 entries",
    ),
    Case(
        "synth-parts-300",
        nothing,
        with_options(SYNTH, "--category", "vase", "--parts", ",".join(f"p{i}" for i in range(300))),
        r"--parts: 'parts' must be a list of 1 to 256 entries",
    ),
    Case(
        "categories-show-template-asks-for-100-MB",
        garbage(
            "vase.toml", b'name = "vase"\nparts = ["a"]\n[prompts]\ntemplates = ["a {noun:>100000000}"]\n'
        ),
        ("categories", "show", "{d}/vase.toml"),
        r"vase\.toml: 'prompts': the template 'a \{noun:>100000000\}' may use only .* each bare",
    ),
    Case(
        "categories-show-template-attribute",
        category_file(
            "vase.json",
            {"name": "vase", "parts": ["a"], "prompts": {"templates": ["{noun.__class__.__mro__}"]}},
        ),
        ("categories", "show", "{d}/vase.json"),
        r"vase\.json: 'prompts': the template '\{noun\.__class__\.__mro__\}' may use only",
    ),
    Case(
        "categories-show-too-many-prompts",
        category_file(
            "vase.json",
            {
                "name": "vase",
                "parts": ["a"],
                "prompts": {f: [f"{f}{i}" for i in range(100)] for f in ("styles", "materials", "features")},
            },
        ),
        ("categories", "show", "{d}/vase.json"),
        r"vase\.json: its prompt words make 1,030,000 text-to-3D prompts, more than the 25,000",
    ),
    Case(
        "categories-show-nested-50k-deep",
        garbage("deep.json", b'{"name": "vase", "parts": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"),
        ("categories", "show", "{d}/deep.json"),
        r"deep\.json is not a readable category file",
    ),
    Case(
        "categories-show-file-of-two-megabytes",
        garbage("vase.toml", b'name = "vase"\nparts = ["a"]\n' + b"# padding\n" * 200_000),
        ("categories", "show", "{d}/vase.toml"),
        r"vase\.toml holds 2,000,028 bytes; a category file holds at most 1,048,576",
    ),
    Case(
        "categories-show-name-a-number",
        category_file("vase.json", {"name": 123, "parts": ["a"]}),
        ("categories", "show", "{d}/vase.json"),
        r"vase\.json: 'name' must be a non-empty text of at most 100 characters, not 123",
    ),
    Case(
        "categories-show-noun-a-list",
        category_file("vase.json", {"name": "vase", "noun": ["a"], "parts": ["a"]}),
        ("categories", "show", "{d}/vase.json"),
        r"vase\.json: 'noun' must be a non-empty text",
    ),
    Case(
        "categories-show-teacher-a-number",
        category_file("vase.json", {"name": "vase", "parts": [{"name": "neck", "teacher": 5}]}),
        ("categories", "show", "{d}/vase.json"),
        r"vase\.json: part 1: 'teacher' must be a non-empty text",
    ),
    # --- issue 24: HDF5, manifests and units ---
    Case(
        "import-hdf5-external-storage",
        snp_hdf5(category=4, part=12, data=stored_outside((1, 2048, 3))),
        ("import", "--dataset", "shapenetpart", "--root", "{d}/hdf5_data", "--out", "{d}/coll"),
        r"'data' keeps its values in another file \('.*secret\.bin'\)",
    ),
    Case(
        "import-hdf5-external-link",
        snp_hdf5(category=4, part=12, data=linked_outside((1, 2048, 3))),
        ("import", "--dataset", "shapenetpart", "--root", "{d}/hdf5_data", "--out", "{d}/coll"),
        r"'data' is a link to '/x' in '.*secret\.h5'",
    ),
    Case(
        "eval-hdf5-virtual-dataset",
        snp_hdf5(category=4, part=12, data=virtual_outside((1, 2048, 3))),
        with_options(EVAL_FILES, "--root", "{d}/hdf5_data"),
        r"'data' is a virtual dataset",
    ),
    Case(
        "eval-hdf5-fractional-part-ids",
        snp_hdf5(category=4, part=12, pid=np.full((1, 2048), 12.5)),
        with_options(EVAL_FILES, "--root", "{d}/hdf5_data"),
        r"'pid' must hold whole numbers.*, not 12\.5",
    ),
    Case(
        "distill-h5-external-storage",
        knowledge_h5(xyz=stored_outside((8, 3))),
        DISTILL_H5,
        r"'xyz' keeps its values in another file",
    ),
    Case(
        "distill-h5-external-link",
        knowledge_h5(xyz=linked_outside((8, 3))),
        DISTILL_H5,
        r"'xyz' is a link to '/x' in '.*secret\.h5'",
    ),
    Case(
        "distill-h5-fractional-unit-part",
        knowledge_h5(cls_bbox=np.array([[0, 1.5]])),
        DISTILL_H5,
        r"'cls_bbox' must hold whole numbers.*, not 1\.5",
    ),
    Case(
        "distill-h5-fractional-labels",
        knowledge_h5(gt_semantic_seg=np.array([12.5] * 8)),
        DISTILL_H5,
        r"'gt_semantic_seg' must hold whole numbers.*, not 12\.5",
    ),
    Case(
        "distill-h5-no-part-slots",
        knowledge_h5(conf_bbox=np.zeros((8, 2, 0), np.float32)),
        DISTILL_H5,
        r"conf_bbox has shape \[8, 2, 0\], expected \[8, 2, 1 to 4\]",
    ),
    Case(
        "distill-units-float-parts",
        units_with(parts=lambda parts: parts + 0.5),
        DISTILL,
        r"chair-00000\.npz: 'parts' must be a 1-D array of whole numbers, not a 1-D array of float64",
    ),
    Case(
        "distill-units-2d-offsets",
        units_with(offsets=lambda offsets: offsets[:, None]),
        DISTILL,
        r"chair-00000\.npz: 'offsets' must be a 1-D array of whole numbers, not a 2-D array of int64",
    ),
    Case(
        "distill-units-float-indices",
        units_with(indices=lambda indices: indices.astype(np.float32)),
        DISTILL,
        r"'indices' must be a 1-D array of whole numbers, not a 1-D array of float32",
    ),
    Case(
        "view-units-2d-parts",
        units_with(parts=lambda parts: np.stack([parts, parts])),
        ("view", f"{{d}}/{KNOWLEDGE}"),
        r"'parts' must be a 1-D array of whole numbers, not a 2-D array",
    ),
    Case(
        "distill-units-declare-terabytes",
        units_with(indices=lambda indices: npy_declaring((10**12,), "<i4")),
        DISTILL,
        r"'indices' declares 1,000,000,000,000 values, more than the 268,435,456",
    ),
    Case(
        "distill-units-fractional-point-count",
        units_with(n_points=lambda n: np.array(float(n))),
        DISTILL,
        r"'n_points' must be a 0-D array of whole numbers",
    ),
    Case(
        "teach-manifest-file-a-number",
        set_field("file", 5),
        TEACH,
        r"manifest\.json: shape entry 0: 'file' must be a non-empty text",
        out=TEACH_OUT,
    ),
    Case(
        "teach-manifest-two-ids-one-file",  # one shape taught, viewed and scored as two
        set_field("file", "shapes/chair-00001.npz"),
        TEACH,
        r"manifest\.json gives more than one shape the file shapes/chair-00001\.npz",
        out=TEACH_OUT,
    ),
    Case(
        "teach-manifest-points-infinite",
        set_field("n_points", float("inf")),
        TEACH,
        r"shape entry 0: 'n_points' must be a whole number from 1 to 10,000,000, not inf",
        out=TEACH_OUT,
    ),
    Case(
        "teach-manifest-category-a-number",
        set_field("category", 5),
        TEACH,
        r"shape entry 0: 'category' must be a non-empty text",
        out=TEACH_OUT,
    ),
    Case(
        "teach-manifest-error-false",
        set_field("error", False),
        TEACH,
        r"shape entry 0: 'error' must be a non-empty text .*, not False",
        out=TEACH_OUT,
    ),
    Case(
        "teach-manifest-log-not-utf8",
        logged(b'{"id": "chair-00009", "file": "shapes/\xff.npz"}'),
        TEACH,
        r"manifest\.log: line 1 is not UTF-8 text",
        out=TEACH_OUT,
    ),
    Case(
        "teach-manifest-log-provenance-a-list",
        logged(b'{"id": "chair-00009", "file": null, "error": "x", "n_points": 0, "provenance": []}'),
        TEACH,
        r"manifest\.log: line 1: 'provenance' is not an object",
        out=TEACH_OUT,
    ),
    Case(
        "synth-resumed-points-negative",
        set_field("n_points", -5),
        with_options(SYNTH, "--out", "{d}/shapes"),
        r"shape entry 0: 'n_points' must be a whole number from 1",
    ),
    Case(
        "synth-resumed-part-counts-short",
        last_shape_unmade(shorten_part_counts),
        with_options(SYNTH, "--out", "{d}/shapes"),
        r"shape entry 0: shape chair-00000 has 3 part counts for 4 parts",
    ),
    Case(
        "synth-resumed-part-counts-beyond-points",
        set_field("part_counts", [300, 300, 0, 0]),
        with_options(SYNTH, "--out", "{d}/shapes"),
        r"part counts of shape chair-00000 add up to 600, more than its 300 points",
    ),
    Case(
        "distill-min-steps-huge",
        taught,
        with_options(DISTILL, "--min-steps", "100000000000"),
        r"--min-steps must be at most 10000000",
    ),
    Case(
        "distill-epochs-huge",
        taught,
        with_options(DISTILL, "--epochs", "100000000000"),
        r"--epochs must be at most 10000000",
    ),
    Case(
        "teach-simulated-no-part-of-the-category",
        shapes,
        with_options(TEACH, "--category", "airplane", "--force-category"),
        r"shape chair-00000 has none of airplane's parts \(body, wing, tail, engine\), only back, seat",
        out=TEACH_OUT,
    ),
    Case(
        "distill-units-taught-for-another-category",
        taught_as("partnete/Chair"),
        DISTILL,
        r"simulated-noisy-box holds units of the parts arm, back, leg, seat, wheel, "
        r"but chair has back, seat, leg, arm",
        check=distils_as_partnete_chair,
    ),
    Case(
        "eval-lifting-units-of-another-category",
        taught_as("partnete/Chair"),
        ("eval", "--dataset", "collection", "--root", "{d}/shapes", "--predictions", "{d}/predictions.json")
        + ("--out", "{d}/report", "--device", "cpu"),
        r"simulated-noisy-box \(shape chair-00000\) holds units of the parts arm, back, leg, seat, wheel, "
        r"but chair has",
    ),
    Case(
        "distill-units-part-names-swapped",
        units_with(part_names=names_npy(["seat", "back", "leg", "arm"])),
        DISTILL,
        r"chair-00000\.npz holds units of the parts seat, back, leg, arm, but chair has back, seat, leg, arm",
    ),
    Case(
        "distill-units-part-names-a-word",
        units_with(part_names=names_npy("back")),
        DISTILL,
        r"chair-00000\.npz: 'part_names' must be a list of at most 10,000 non-empty texts, not 'back'",
    ),
    Case(
        "view-units-part-names-numbers",
        units_with(part_names=names_npy([1, 2, 3, 4])),
        ("view", f"{{d}}/{KNOWLEDGE}", "--out", "{d}/page.html"),
        r"'part_names' must be a list of at most 10,000 non-empty texts, not \[1, 2, 3, 4\]",
    ),
    Case(
        "view-units-part-names-swapped",
        units_with(part_names=names_npy(["seat", "back", "leg", "arm"])),
        ("view", f"{{d}}/{KNOWLEDGE}", "--out", "{d}/page.html"),
        r"chair-00000\.npz holds units of the parts seat, back, leg, arm, but chair has back, seat, leg, arm",
    ),
]


# --- the checks ----------------------------------------------------------------------------------------


def files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (or `folder` itself, if a file) by relative path, with its bytes."""
    if folder.is_file():
        return {".": folder.read_bytes()}
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def changes(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    """What happened to the files between two snapshots, for messages."""
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(name for name in set(before) & set(after) if before[name] != after[name])
    return [
        f"{kind} {names[:5]}"
        for kind, names in (("added", added), ("removed", removed), ("changed", changed))
        if names
    ]


def out_folder(case: Case, d: Path) -> Path | None:
    if case.out is not None:
        return d / case.out
    if "--out" not in case.argv:
        return None
    return Path(expand(case.argv, d)[case.argv.index("--out") + 1])


def restore_permissions(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o700)


def refusal_problems(case: Case, result: Result) -> list[str]:
    """How `result` falls short of a clean refusal: exit code, exception, traceback, message."""
    problems = []
    if result.exit_code == 0:
        problems.append("exit code 0")
    error = result.exception
    if error is not None and not isinstance(error, SystemExit):
        problems.append(f"raised {type(error).__name__}: {(str(error).splitlines() or [''])[0]}")
    if "Traceback" in result.output:
        problems.append("a traceback was printed")
    message = [line for line in result.stderr.splitlines() if line.strip()]
    if not 1 <= len(message) <= 3:
        problems.append(f"stderr has {len(message)} non-empty lines: {message[:2]}")
    if case.message and not re.search(case.message, result.stderr):
        problems.append(f"stderr does not match {case.message!r}: {result.stderr.strip()[:200]!r}")
    return problems


def leftovers(out: Path, before: dict[str, bytes] | None, d: Path) -> list[str]:
    """What a failed command left in its output folder, given the folder's files before (None: absent)."""
    name = out.relative_to(d)
    if before is None:
        if out.is_file() or (out.is_dir() and any(out.iterdir())):
            left = sorted(p.name for p in out.iterdir()) if out.is_dir() else ["."]
            return [f"left {name} behind, holding {left[:5]}"]
        return []
    after = files(out)
    return [f"changed {name}: {'; '.join(changes(before, after))}"] if after != before else []


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_cleanly(
    case: Case, assets: Assets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command exits non-zero with a short message, no traceback, and nothing written."""
    d, cwd = tmp_path / "case", tmp_path / "cwd"
    d.mkdir()
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # whatever a command writes by default lands here, where it is seen
    try:
        case.setup(d, assets)
        out = out_folder(case, d)
        out_existed = out is not None and out.exists()
        out_before = files(out) if out is not None else {}
        everything_before = files(d)

        result = run_pd(expand(case.argv, d))

        problems = refusal_problems(case, result)
        if out is not None:
            problems += leftovers(out, out_before if out_existed else None, d)
        elsewhere = changes(everything_before, files(d))
        if elsewhere:
            problems.append(f"case folder: {'; '.join(elsewhere)}")
        stray = sorted(p.name for p in cwd.iterdir())
        if stray:
            problems.append(f"left {stray} in the working directory")
        if case.check is not None:
            try:
                case.check(d)
            except AssertionError as error:
                problems.append(str(error))
        assert not problems, " | ".join(problems)
    finally:
        restore_permissions(tmp_path)


# --- the same commands without the bad input -----------------------------------------------------------


BASES = {
    "synth": (nothing, SYNTH),
    "teach": (shapes, TEACH),
    "teach-resume": (half_taught, TEACH),
    "distill": (taught, DISTILL),
    "distill-resume": (resumable_run, with_options(DISTILL, "--resume")),
    "distill-with": (
        then(taught, generated_chairs),
        with_options(DISTILL, "--mode", "tta", "--with", "{d}/gen", "--image-size", "64"),
    ),
    "predict": (trained, ("predict", "{d}/shapes/shapes/chair-00000.npz", *PREDICT)),
    "eval-shapenetpart": (snp_root(), EVAL_FILES),
    "eval-shapenetpart-hdf5": (
        snp_hdf5(category=4, part=12),
        with_options(EVAL_FILES, "--root", "{d}/hdf5_data"),
    ),
    "eval-partnete": (
        partnete_root(),
        with_options(EVAL_FILES, "--dataset", "partnete", "--root", "{d}/pne"),
    ),
    "import-shapenetpart": (
        snp_root(),
        ("import", "--dataset", "shapenetpart", "--root", "{d}/snp", "--out", "{d}/coll"),
    ),
    "import-partnete": (
        partnete_root(),
        ("import", "--dataset", "partnete", "--root", "{d}/pne", "--out", "{d}/coll"),
    ),
}


@pytest.mark.parametrize("name", list(BASES))
def test_base_commands_work(
    name: str, assets: Assets, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows' commands succeed without their bad input, so each row tests what it says."""
    setup, argv = BASES[name]
    monkeypatch.chdir(tmp_path)
    setup(tmp_path, assets)
    invoke_ok(argv, tmp_path)
