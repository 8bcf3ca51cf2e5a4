"""The `pd` command line through Typer's runner: what the library receives, and how errors look."""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import partdistill.api as api
import partdistill.synth
from partdistill.cli import app, main
from partdistill.cli.common import LogProgress, reports_errors
from partdistill.collection import Collection
from partdistill.distill.config import DistillConfig
from partdistill.errors import PdError
from partdistill.formats import read_npz
from partdistill.progress import Quiet
from partdistill.stops import STOP_SIGNALS, STOPPED_BEFORE, Stops, stopped
from partdistill.synth import SynthConfig

runner = CliRunner()


def test_the_program_ends_with_its_objects_left_to_the_exit(
    monkeypatch: pytest.MonkeyPatch, stops: None
) -> None:
    # After its command `pd` freezes what exists, so that the collections at exit skip it; the
    # command's exit code is kept.
    monkeypatch.setattr(sys, "argv", ["pd", "--help"])
    try:
        with pytest.raises(SystemExit) as end:
            main()
        assert end.value.code == 0 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.fixture
def stops() -> Iterator[None]:
    """The process's stop signals and `Stops` as they were, after a test that takes or trips them."""
    handlers = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    unraisable = sys.unraisablehook
    yield
    for number, handler in handlers.items():
        signal.signal(number, handler)
    sys.unraisablehook, Stops._reported = unraisable, staticmethod(sys.__unraisablehook__)
    Stops.received, Stops.began, Stops.said = None, None, False


def _only_shapes_left(out: Path) -> bool:
    """Whether `out` holds a collection's files and nothing else: no temporaries, no lock note."""
    left = {path.name for path in out.rglob("*")} - {"shapes", "manifest.json", "synth_config.json"}
    return all(name.startswith("mug-") and name.endswith(".npz") for name in left)


SYNTH_MUGS = [sys.executable, "-m", "partdistill.cli", "synth", "--category", "mug", "--n", "300"]


def _stops_as_by_default() -> None:
    """For a child the tests stop: the stop signals at their default actions, as a shell gives a
    command it runs. A signal pytest was started ignoring (under `nohup`) would stay ignored in
    the child, and so would pd (`Stops.take`)."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_DFL)


def _making_mugs(out: Path) -> subprocess.Popen:
    """`pd synth` of 300 mugs into `out`, once it has written its third."""
    running = subprocess.Popen(
        [*SYNTH_MUGS, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_stops_as_by_default,
    )
    while running.poll() is None and len(list((out / "shapes").glob("mug-*.npz"))) < 3:
        time.sleep(0.05)
    return running


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_a_command_as_ctrl_c_does(tmp_path: Path, stop: signal.Signals) -> None:
    out = tmp_path / "mugs"
    running = _making_mugs(out)
    running.send_signal(stop)
    output, error = running.communicate(timeout=60)
    assert running.returncode == 128 + stop, error.decode()
    assert error.decode().startswith("Stopped. Run the same command again")
    assert b"stopped in" in output  # the bar's line: the output is not a terminal
    assert _only_shapes_left(out)


def test_closing_the_terminal_stops_a_command_as_ctrl_c_does(tmp_path: Path) -> None:
    # The terminal goes (SIGHUP) and with it pd's output: the bars cannot be drawn nor the
    # sentence printed, and the command still ends as a stop, its clean-up done.
    pty = pytest.importorskip("pty", reason="needs a pseudo-terminal (POSIX)")
    out, log = tmp_path / "mugs", tmp_path / "stderr.txt"
    pid, terminal = pty.fork()
    if pid == 0:  # the child: pd in a terminal of its own, its stderr kept in a file to read
        try:
            os.dup2(os.open(log, os.O_WRONLY | os.O_CREAT), 2)
            _stops_as_by_default()
            os.execv(sys.executable, [*SYNTH_MUGS, "--out", str(out)])
        finally:
            os._exit(127)  # never back into pytest
    os.set_blocking(terminal, False)
    deadline = time.monotonic() + 120
    while len(list((out / "shapes").glob("mug-*.npz"))) < 3 and time.monotonic() < deadline:
        with contextlib.suppress(BlockingIOError):
            os.read(terminal, 1 << 16)  # what pd draws, so that it never waits on a full terminal
        time.sleep(0.05)
    os.close(terminal)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 128 + signal.SIGHUP, log.read_text()
    assert _only_shapes_left(out)


def test_a_stop_while_pd_imports_its_libraries_ends_it_in_one_sentence(tmp_path: Path) -> None:
    # SIGTERM lands as `pd` imports its command line: a sentence and the shell's code, not a traceback.
    program = (
        "import os, signal, sys\n"
        "class Stop:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'typer':\n"
        "            os.kill(os.getpid(), signal.SIGTERM)\n"
        "sys.meta_path.insert(0, Stop())\n"
        "from partdistill.program import main\n"
        "main()\n"
    )
    command = [sys.executable, "-c", program, "synth", "--category", "mug", "--out", str(tmp_path / "mugs")]
    ended = subprocess.run(
        command, capture_output=True, text=True, timeout=120, preexec_fn=_stops_as_by_default
    )
    assert ended.returncode == 128 + signal.SIGTERM
    assert ended.stderr == STOPPED_BEFORE + "\n"
    assert not (tmp_path / "mugs").exists()


def test_pd_leaves_a_stop_signal_it_was_started_ignoring_ignored(stops: None) -> None:
    # A shell starts a script's background jobs ignoring Ctrl-C, and `nohup` ignoring SIGHUP.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    Stops.take()
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGTERM) == Stops._stop


def test_an_interrupt_a_library_swallowed_stops_the_command_at_its_next_step(stops: None) -> None:
    # trimesh imports its optional modules under `except BaseException`: a Ctrl-C there is lost.
    task = LogProgress().task("making", 3)
    Stops.take()
    with contextlib.suppress(BaseException):
        Stops._stop(signal.SIGINT, None)
    with pytest.raises(KeyboardInterrupt):
        task.advance()
    # Later stops are ignored by the system: Python puts the default actions back as it exits.
    assert all(signal.getsignal(number) is signal.SIG_IGN for number in STOP_SIGNALS)
    assert Stops.exit_code() == 130


def test_a_stop_python_could_not_raise_is_not_reported_as_an_error(stops: None) -> None:
    # A stop landing in a finalizer or a weakref's callback (importlib's module locks have one)
    # cannot be raised there; the command ends at its next step, and says so once.
    class Finalized:
        def __init__(self, error: BaseException) -> None:
            self.error = error

        def __del__(self) -> None:
            raise self.error

    reported: list = []
    sys.unraisablehook = reported.append  # who reported them before pd took the signals
    Stops.take()
    Stops.received = signal.SIGINT
    Finalized(KeyboardInterrupt())
    # What CPython reports of a second signal its handler's switch to SIG_IGN overtook.
    Finalized(OSError("Signal 15 ignored due to race condition"))
    assert reported == []
    Finalized(ValueError("a bug"))  # anything else goes where it went before
    assert [str(each.exc_value) for each in reported] == ["a bug"]


def test_an_error_a_stop_caused_ends_the_command_as_the_stop(
    stops: None, capsys: pytest.CaptureFixture
) -> None:
    # An import the interrupt broke off fails on its next use with another exception.
    @reports_errors
    def command() -> None:
        Stops.received = signal.SIGTERM
        raise TypeError("unsupported operand type(s) for |: 'ExceptionWrapper' and 'NoneType'")

    with pytest.raises(SystemExit) as end:
        command()
    said = capsys.readouterr().err
    assert end.value.code == 143 and said == (
        f"{stopped('command')} (On the way it met TypeError: unsupported operand type(s) for |: "
        "'ExceptionWrapper' and 'NoneType'.)\n"
    )


def test_a_stop_with_its_terminal_gone_still_ends_with_the_stops_code() -> None:
    # After SIGHUP nothing can be printed; Python's last flush of its outputs failed too, and made
    # the exit code 120.
    program = (
        "import os; from partdistill.stops import Stops; Stops.received = 1; os.close(2); Stops.end('x')"
    )
    ended = subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=60)
    assert ended.returncode == 129


@pytest.mark.parametrize(
    ("module", "owner", "name"),
    [
        ("typer.main", None, "get_command"),  # typer builds the command from the app
        (
            "typer.core",
            "TyperCommand",
            "parse_args",
        ),  # it parses the options (and takes a Ctrl-C for its own)
    ],
)
def test_a_stop_before_the_command_runs_ends_it_in_one_sentence(
    module: str, owner: str | None, name: str
) -> None:
    program = (
        "import importlib, os, signal\n"
        f"holder = importlib.import_module({module!r})\n"
        f"holder = getattr(holder, {owner!r}) if {owner!r} else holder\n"
        f"original = getattr(holder, {name!r})\n"
        "def stopped(*args, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    return original(*args, **kwargs)\n"
        f"setattr(holder, {name!r}, stopped)\n"
        "from partdistill.program import main\n"
        "main()\n"
    )
    ended = subprocess.run(
        [sys.executable, "-c", program, "synth", "--category", "mug"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_stops_as_by_default,
    )
    assert (ended.returncode, ended.stderr) == (128 + signal.SIGTERM, STOPPED_BEFORE + "\n")


def test_a_second_stop_during_the_clean_up_is_ignored(tmp_path: Path) -> None:
    out = tmp_path / "mugs"
    running = _making_mugs(out)
    running.send_signal(signal.SIGINT)
    time.sleep(0.08)  # as the first stop's clean-up and exit run
    running.send_signal(signal.SIGTERM)
    _, error = running.communicate(timeout=60)
    assert running.returncode == 130 and error.decode() == stopped("synth") + "\n"
    assert _only_shapes_left(out)


def test_synth_procedural_writes_a_labelled_collection(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["synth", "--category", "chair", "--n", "5", "--points", "500", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    collection = Collection.open(tmp_path)
    assert len(collection.ok_records) == 5 and all(r.part_names for r in collection)
    assert "part 'seat'" in result.stdout and "in 5/5 shapes" in result.stdout
    again = runner.invoke(
        app, ["synth", "--category", "chair", "--n", "5", "--points", "500", "--out", str(tmp_path)]
    )
    assert again.exit_code == 0 and "already holds all 5 shapes." in again.stdout
    fewer = runner.invoke(
        app, ["synth", "--category", "chair", "--n", "3", "--points", "500", "--out", str(tmp_path)]
    )
    assert "already holds all 3 shapes (and 2 more: 5 in all)." in " ".join(fewer.stdout.split())


def test_synth_options_reach_the_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[tuple[SynthConfig, str]] = []
    real = partdistill.synth.build_generator

    def spy(config: SynthConfig, device: str = "cpu"):  # Shap-E's settings, procedural shapes
        received.append((config, device))
        return real(SynthConfig(category=config.category, n=config.n, n_points=config.n_points), device)

    monkeypatch.setattr(partdistill.synth, "build_generator", spy)
    args = ["synth", "--category", "Table", "--n", "2", "--seed", "7", "--points", "300", "--device", "cpu"]
    args += [
        "--generator",
        "shap-e",
        "--grid-size",
        "32",
        "--steps",
        "3",
        "--guidance",
        "2.5",
        "--no-quality-filter",
        "--out",
        str(tmp_path),
    ]
    assert runner.invoke(app, args).exit_code == 0
    [(config, device)] = received
    assert device == "cpu"
    assert config == SynthConfig(
        category="table",
        n=2,
        generator="shap-e",
        seed=7,
        n_points=300,
        grid_size=32,
        steps=3,
        guidance=2.5,
        quality_filter=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["synth", "--category", "chiar"], "Unknown category 'chiar'. Did you mean 'chair'?"),
        (["synth", "--category", "kettle"], "not 'partnete/kettle'"),
    ],
)
def test_user_errors_are_one_sentence_and_exit_1(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x").exists()  # nothing written for a command that could not start


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda out: api.synth("chair", n=2.5, out=out), "`n` must be a whole number, not 2.5."),
        (lambda out: api.synth("chair", n="3", out=out), "`n` must be a finite number, not '3'."),
        (
            lambda out: api.synth("chair", n=np.int64(3), out=out),
            "`n` must be a finite number, not np.int64(3).",
        ),
        (
            lambda out: DistillConfig(category="chair", epochs=1.5),
            "`epochs` must be a whole number, not 1.5.",
        ),
        (lambda out: api.distill("x", out=out, device=None), "`device` must be a device name"),
        (lambda out: api.teach(out, sheets="all"), "`sheets` must be a finite number, not 'all'."),
        (lambda out: api.distill(out, knowledge=3, device="cpu"), "3 is not a folder: give a path"),
        (lambda out: api.synth("chair", out=5), "`out` must be a path, not 5."),
        (lambda out: api.synth(None, out=out), "Say which category to make shapes of"),
        (lambda out: api.synth("chair", generator="shapee", out=out), "Unknown `generator` 'shapee'"),
        (lambda out: api.teach(42), "`shapes` must be a path, not 42."),
        (lambda out: api.predict(str(out) + ".ply", run=5, out=out), "`run` must be a path, not 5."),
        (lambda out: api.load_run(5), "`run` must be a path, not 5."),
        (lambda out: api.distill(out=out, device="cpu"), "Say which shapes to distil on"),
        (lambda out: api.evaluate("collection", out, run=out, split="val"), "`split` is for the benchmarks"),
        (
            lambda out: api.synth(["mug"], out=out),
            "`category` takes a category's name or file (or a Category), not ['mug'].",
        ),
        (
            lambda out: api.synth("mug", generator=["procedural"], out=out),
            "Unknown `generator` ['procedural']",
        ),
        (
            lambda out: api.synth("teapot", parts=["lid", 3], out=out),
            "`parts` takes a name, names separated by commas or a list of names, not ['lid', 3].",
        ),
        (
            lambda out: api.evaluate("collection", out, run=out, categories=5),
            "`categories` takes a name, names separated by commas or a list of names, not 5.",
        ),
        (
            lambda out: api.import_shapes("shapenetpart", out.parent, out=out, categories="partnete/chair"),
            "'partnete/chair' is not a shapenetpart category: `categories` names shapenetpart's.",
        ),
        (
            lambda out: api.import_shapes("files", out.parent, out=out, categories=["mug", "lamp"]),
            "Importing files needs the one category they show",
        ),
        (lambda out: api.load_run(torch.nn.Linear(2, 2)), "`run` must be a path, not Linear("),
        (
            lambda out: api.load_run(torch.nn.Sequential(torch.nn.Linear(2, 2))),
            "`run` must be a path, not a Sequential.",
        ),
        *[
            (
                call,
                "`progress` takes a partdistill.progress.Progress (such as Printed(), or QUIET), not True.",
            )
            for call in (
                lambda out: api.synth("chair", n=1, out=out, progress=True),
                lambda out: api.teach(out, progress=True),
                lambda out: api.distill(out, out=out, device="cpu", progress=True),
                lambda out: api.distill_categories("chair", out, out=out, device="cpu", progress=True),
                lambda out: api.predict(str(out) + ".ply", run=out, out=out, progress=True),
                lambda out: api.evaluate("collection", out, run=out, progress=True),
                lambda out: api.import_shapes("files", out, out=out, progress=True),
            )
        ],
        (
            lambda out: api.synth("chair", n=1, out=out, ray=True),
            "`ray` takes a partdistill.scale.RayOptions",
        ),
    ],
)
def test_python_calls_name_the_keyword_of_a_value_of_the_wrong_kind(
    tmp_path: Path, call: Callable[[Path], object], message: str
) -> None:
    with pytest.raises(PdError) as refused:
        call(tmp_path / "x")
    assert message in str(refused.value)  # a count of 1.5 is refused, never truncated
    assert not (tmp_path / "x").exists()


def test_synth_into_a_file_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    result = runner.invoke(app, ["synth", "--category", "chair", "--out", str(tmp_path / "file")])
    assert result.exit_code == 1 and "is a file" in result.stderr


def test_info_lists_versions_devices_backends_and_caches() -> None:
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0
    for expected in ("torch", "diffusers", "cuda", "point_e", "embreex", "hugging face hub"):
        assert expected in result.stdout


def test_error_messages_print_brackets_verbatim(tmp_path: Path) -> None:
    import io

    import numpy as np

    buffer = io.BytesIO()
    meta = np.frombuffer(b'{"format": "partdistill.shape", "version": 1}', dtype=np.uint8)
    np.savez(buffer, meta=meta, points=np.zeros((5, 2), np.float32))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "flat.npz").write_bytes(buffer.getvalue())
    args = ["import", "--dataset", "files", "--root", str(tmp_path / "in"), "--categories", "chair", "--out"]
    result = runner.invoke(app, [*args, str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "points must have shape [N,3], not [5, 2]" in result.stderr


@pytest.mark.parametrize("command", ["synth", "import"])
def test_synth_and_import_leave_files_named_like_temporaries_alone(tmp_path: Path, command: str) -> None:
    """A collection the user keeps notes in: the same command again leaves them as they are."""
    draft = tmp_path / "u" / "docs" / "deep" / ".draft.tmp-2024.txt"
    if command == "synth":
        args = ["synth", "--category", "chair", "--n", "2", "--points", "300"]
    else:
        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "a.ply").write_text(
            "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
            "end_header\n0 0 0\n1 0 0\n0 1 0\n"
        )
        args = ["import", "--dataset", "files", "--root", str(tmp_path / "in"), "--categories", "chair"]
    assert runner.invoke(app, [*args, "--out", str(tmp_path / "u")]).exit_code == 0
    draft.parent.mkdir(parents=True)
    draft.write_text("the user's draft")
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "u")])
    assert result.exit_code == 0, result.output
    assert draft.read_text() == "the user's draft"


@pytest.mark.parametrize("command", ["synth", "import"])
def test_synth_and_import_refuse_a_folder_of_the_users_files(tmp_path: Path, command: str) -> None:
    """They would grow a collection among them (manifest.json, shapes/ beside the user's notes)."""
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "notes.txt").write_text("mine")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.ply").write_text(
        "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
        "end_header\n0 0 0\n1 0 0\n0 1 0\n"
    )
    args = {
        "synth": ["synth", "--category", "chair", "--n", "2", "--points", "300"],
        "import": ["import", "--dataset", "files", "--root", str(tmp_path / "in"), "--categories", "chair"],
    }[command]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "u")])
    said = " ".join(result.stderr.split())
    assert (
        result.exit_code == 1
        and "u holds other files (notes.txt) and no collection; give --out a new or empty" in said
    )
    assert sorted(path.name for path in (tmp_path / "u").iterdir()) == ["notes.txt"]


@pytest.fixture
def taught_chairs(tmp_path: Path) -> Path:
    """Two procedural chairs with simulated knowledge, and in/ a folder of two shape files named
    like them: in/chair-00001.npz is the collection's own chair-00001, in/chair-00000.npz another
    chair."""
    coll = tmp_path / "coll"
    synth = ["synth", "--category", "chair", "--n", "2", "--points", "300"]
    assert runner.invoke(app, [*synth, "--out", str(coll)]).exit_code == 0
    assert runner.invoke(app, [*synth, "--seed", "5", "--out", str(tmp_path / "other")]).exit_code == 0
    teach = ["teach", "--shapes", str(coll), "--image-size", "64", "--sheets", "-1", "--device", "cpu"]
    assert runner.invoke(app, teach).exit_code == 0
    (tmp_path / "in").mkdir()
    shutil.copy(tmp_path / "other" / "shapes" / "chair-s5-00000.npz", tmp_path / "in" / "chair-00000.npz")
    shutil.copy(coll / "shapes" / "chair-00001.npz", tmp_path / "in" / "chair-00001.npz")
    return coll


def test_import_onto_a_collection_gives_a_different_shape_a_new_id(
    taught_chairs: Path, tmp_path: Path
) -> None:
    coll = taught_chairs
    before = {path.name: path.read_bytes() for path in (coll / "shapes").iterdir()}
    units = coll / "knowledge" / "simulated-noisy-box" / "units"
    units_before = {path.name: path.read_bytes() for path in units.iterdir()}
    argv = ["import", "--dataset", "files", "--categories", "chair", "--root", str(tmp_path / "in")]
    result = runner.invoke(app, [*argv, "--out", str(coll)])
    assert result.exit_code == 0, result.output
    assert "chair-00000 as chair-00000-2" in " ".join(result.stdout.split())
    collection = Collection.open(coll)
    assert sorted(r.id for r in collection) == ["chair-00000", "chair-00000-2", "chair-00001"]
    assert {p.name: p.read_bytes() for p in (coll / "shapes").iterdir() if p.name in before} == before
    np.testing.assert_array_equal(
        collection.load("chair-00000-2").points, read_npz(tmp_path / "in" / "chair-00000.npz").points
    )
    assert {path.name: path.read_bytes() for path in units.iterdir()} == units_before
    again = runner.invoke(app, [*argv, "--out", str(coll)])  # the same import again: nothing new
    assert again.exit_code == 0 and "new ids" not in again.stdout and len(Collection.open(coll)) == 3


def test_import_replace_replaces_the_shape_and_deletes_its_units(taught_chairs: Path, tmp_path: Path) -> None:
    coll = taught_chairs
    store = coll / "knowledge" / "simulated-noisy-box"
    argv = ["import", "--dataset", "files", "--categories", "chair", "--root", str(tmp_path / "in")]
    result = runner.invoke(app, [*argv, "--out", str(coll), "--replace"])
    assert result.exit_code == 0, result.output
    assert "Replaced 1 shapes" in result.stdout and "(chair-00000)" in result.stdout
    collection = Collection.open(coll)
    assert sorted(r.id for r in collection) == ["chair-00000", "chair-00001"]
    np.testing.assert_array_equal(
        collection.load("chair-00000").points, read_npz(tmp_path / "in" / "chair-00000.npz").points
    )
    assert sorted(p.name for p in (store / "units").iterdir()) == ["chair-00001.npz"]
    assert sorted(p.name for p in (store / "sheets").iterdir()) == ["chair-00001.png"]


def test_a_notebook_shows_a_pd_error_as_its_sentence_alone() -> None:
    # IPython renders an exception through `_render_traceback_` where it has one.
    refused = PdError("`n` must be a whole number, not 2.5.")
    assert refused._render_traceback_() == ["PdError: `n` must be a whole number, not 2.5."]


class _StoppingTask:
    """A bar that raises KeyboardInterrupt at its third step, as a Ctrl-C landing in a notebook's
    progress widget does."""

    def __init__(self) -> None:
        self.steps = 0

    def advance(self, steps: int = 1, status: str = "") -> None:
        self.steps += steps
        if self.steps == 3:
            raise KeyboardInterrupt

    def close(self, finished: bool = True) -> None:
        pass


class _StopsAtStep(Quiet):
    def task(self, name: str, total: int | None) -> _StoppingTask:
        return _StoppingTask()


@pytest.mark.parametrize("command", ["synth", "import"])
def test_a_call_stopped_in_its_progress_leaves_a_collection_its_resume_keeps(
    tmp_path: Path, command: str
) -> None:
    # A stopped call's generator was closed only when the traceback holding it went (in a notebook,
    # at some later error): its clean-up then wrote its own, older manifest over the resumed one's.
    out = tmp_path / "mugs"
    if command == "synth":
        call = functools.partial(api.synth, "mug", n=6, points=256, out=out)
    else:
        api.synth("mug", n=6, points=256, out=tmp_path / "source")
        call = functools.partial(
            api.import_shapes, "files", tmp_path / "source" / "shapes", out=out, categories="mug"
        )
    try:
        call(progress=_StopsAtStep())
    except KeyboardInterrupt as stopped:
        held = stopped  # kept, as IPython keeps the last exception
    assert len(call()) == 6  # the same call again finishes the collection
    del held
    gc.collect()
    assert len(Collection.open(out)) == 6


@pytest.mark.parametrize(
    ("record", "content", "kind"),
    [
        ("config.json", '{"student": "pointnet", "category": "mug", "data": {}}', "a pd distill run"),
        ("inputs.json", "{}", "a pd predict folder"),
        ("report.json", "{}", "a pd eval report"),
        ("teach_config.json", "{}", "a pd teach folder"),
    ],
)
@pytest.mark.parametrize("command", ["synth", "import"])
def test_synth_and_import_refuse_another_commands_folder(
    tmp_path: Path, record: str, content: str, kind: str, command: str
) -> None:
    out = tmp_path / "theirs"
    out.mkdir()
    (out / record).write_text(content)
    if command == "synth":
        args = ["synth", "--category", "mug", "--n", "1", "--points", "256"]
    else:
        api.synth("mug", n=1, points=256, out=tmp_path / "source")
        args = ["import", "--dataset", "files", "--root", str(tmp_path / "source" / "shapes")]
        args += ["--categories", "mug"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 1 and f"{out} is {kind}; give --out a folder of its own." in result.stderr
    assert sorted(path.name for path in out.iterdir()) == [record]


def test_what_the_calls_return_reads_in_a_line_in_a_notebook(tmp_path: Path) -> None:
    # A notebook shows a cell's last value whole: a student's repr was its network, a teacher
    # run's a number per shape.
    from partdistill.distill.trained import TrainedStudent

    collection = api.synth("mug", n=2, points=256, out=tmp_path / "mugs")
    assert repr(collection) == f"Collection({str(tmp_path / 'mugs')!r}, 2 shapes)"
    summary = api.teach(collection, image_size=64, sheets=0, device="cpu")
    store = tmp_path / "mugs" / "knowledge" / "simulated-noisy-box"
    assert repr(summary.store) == f"KnowledgeStore({str(store)!r})"
    assert repr(summary).startswith(f"TeachSummary({str(store)!r}, taught=2, skipped=0, units_per_shape=")
    assert f"lifting={summary.lifting:.1f})" in repr(summary)
    student = TrainedStudent(torch.nn.Linear(3, 2), "pointnet", "mug", ("handle", "body"), 2048, Path("run"))
    assert repr(student) == (
        "TrainedStudent(student='pointnet', category='mug', part_names=('handle', 'body'), n_points=2048, "
        f"run={Path('run')!r})"
    )


def test_a_sigterm_while_ray_starts_is_a_stop(stops: None) -> None:
    """ray.init puts in its own SIGTERM handler (sys.exit with the signal's number) until it
    returns; a SIGTERM then is taken as the program's own handler takes it (exit 143, a sentence,
    later signals ignored). A stand-in for Ray: the real one is not needed to show it."""
    from types import SimpleNamespace

    from partdistill import scale

    def init(**options: object) -> None:  # as ray.init does, and the signal comes meanwhile
        signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(number))
        os.kill(os.getpid(), signal.SIGTERM)

    Stops.take()
    with pytest.raises(KeyboardInterrupt):
        scale._join(SimpleNamespace(init=init), "local", scale.RayOptions(workers=1))
    assert Stops.received == signal.SIGTERM and signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
