"""Files the commands write: modes, locks, leftovers, links out of a folder, files of the user's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from partdistill import files
from partdistill.errors import PdError
from partdistill.files import (
    CommandFiles,
    OutputFolder,
    atomic_path,
    inside,
    open_h5,
    read_h5_numbers,
    write_json,
)


def test_written_files_get_the_mode_the_umask_gives(tmp_path: Path) -> None:
    before = os.umask(0o002)
    try:
        write_json(tmp_path / "shared.json", {"a": 1})
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
        assert (tmp_path / "shared.json").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 == 0o664
    finally:
        os.umask(before)


def test_a_second_writer_of_the_same_folder_is_refused_naming_the_first(tmp_path: Path) -> None:
    # Another process holds the folder (as a running `pd synth` would) until told to stop.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from partdistill.files import OutputFolder\n"
            f"with OutputFolder({str(tmp_path / 'out')!r}):\n"
            "    print('holding', flush=True); sys.stdin.readline()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        refused = pytest.raises(PdError, match=rf"being written by another pd process \(pid {holder.pid}\)")
        with refused, OutputFolder(tmp_path / "out"):
            pass
        with refused:  # asked before long work, as pd distill does before it judges the folder
            OutputFolder(tmp_path / "out").refuse_held()
    finally:
        holder.communicate("\n")
    with OutputFolder(tmp_path / "out"):  # free again once the first is done
        pass
    OutputFolder(tmp_path / "out").refuse_held()
    OutputFolder(tmp_path / "missing").refuse_held()  # nothing there holds anything
    assert not (tmp_path / "out" / ".pd-owner").exists()


def test_a_folder_a_failed_command_created_is_removed_if_empty(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), OutputFolder(tmp_path / "new"):
        raise RuntimeError
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    with pytest.raises(RuntimeError), OutputFolder(tmp_path / "old"):
        raise RuntimeError
    assert (tmp_path / "old").is_dir()  # it was there before: kept


def test_a_failed_write_removes_its_own_temporary_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / ".draft.tmp-2024.txt").write_text("the user's")  # named like a temporary, but not ours
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "a.png") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == [".draft.tmp-2024.txt"]


def test_a_stop_as_the_temporary_is_made_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C sent to the process the moment the temporary file exists.
    real = files._create

    def interrupted(path: Path) -> None:
        real(path)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)  # the interrupt comes here, from whichever thread the system gave it to

    monkeypatch.setattr(files, "_create", interrupted)
    with pytest.raises(KeyboardInterrupt), atomic_path(tmp_path / "a.png") as tmp:
        tmp.write_bytes(b"never reached")
    assert list(tmp_path.iterdir()) == []


def test_a_stop_just_after_the_owner_note_leaves_neither_it_nor_the_new_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = files.write_bytes

    def interrupted(path: Path, data: bytes) -> None:
        real(path, data)
        if path.name == ".pd-owner":
            raise KeyboardInterrupt  # as Ctrl-C would, the instant the note is in place

    monkeypatch.setattr(files, "write_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt), OutputFolder(tmp_path / "new" / "out"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_inside_follows_links_and_refuses_those_that_lead_out(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "out").symlink_to(outside)
    (root / "in").symlink_to(root / "sub")
    assert inside(root, "sub/a.npz") == root / "sub" / "a.npz"
    assert inside(root, "in/a.npz") == root / "in" / "a.npz"  # a link that stays inside is fine
    for relative in ("out", "out/a.npz", "out/new/a.npz", "../outside/a.npz", str(outside / "a.npz")):
        with pytest.raises(PdError, match="leads outside"):
            inside(root, relative)
    linked_root = tmp_path / "named"
    linked_root.symlink_to(root)  # the folder the user names may itself be a link
    assert inside(linked_root, "sub/a.npz") == linked_root / "sub" / "a.npz"
    (root / "loop").symlink_to(root / "loop")
    with pytest.raises(PdError, match="cannot be resolved"):
        inside(root, "loop/a.npz")


def test_an_output_folder_within_a_handed_one_may_not_be_a_link_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "coll" / "knowledge").mkdir(parents=True)
    (tmp_path / "coll" / "knowledge" / "k").symlink_to(outside)
    with (
        pytest.raises(PdError, match="leads outside"),
        OutputFolder(tmp_path / "coll" / "knowledge" / "k", tmp_path / "coll"),
    ):
        pass
    assert list(outside.iterdir()) == []


def test_an_owner_file_pd_did_not_write_is_refused_and_kept(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("keep me")
    planted = {
        "link": lambda path: path.symlink_to(secret),
        "note": lambda path: path.write_text("my notes"),
        "long": lambda path: path.write_text("1" * 40 + " and my notes"),
        "not a pid": lambda path: path.write_text("0"),
        "other digits": lambda path: path.write_text("٣٤٥"),
        "fifo": os.mkfifo,
        "folder": os.mkdir,
    }
    for name, plant in planted.items():
        (tmp_path / name).mkdir()
        plant(tmp_path / name / ".pd-owner")
        before = sorted(os.lstat(p).st_mtime_ns for p in (tmp_path / name).iterdir())
        for asked in (OutputFolder(tmp_path / name).check, OutputFolder(tmp_path / name).refuse_held):
            with pytest.raises(PdError, match=r"\.pd-owner is not pd's"):
                asked()  # as commands ask before their long work
        with pytest.raises(PdError, match=r"\.pd-owner is not pd's"), OutputFolder(tmp_path / name):
            pass
        assert sorted(os.lstat(p).st_mtime_ns for p in (tmp_path / name).iterdir()) == before, name
    assert secret.read_text() == "keep me"
    for left in ("4242", ""):  # what a killed pd run leaves, or a power cut
        (tmp_path / "killed").mkdir()
        (tmp_path / "killed" / ".pd-owner").write_text(left)
        with OutputFolder(tmp_path / "killed"):
            assert (tmp_path / "killed" / ".pd-owner").read_text() == str(os.getpid())
        assert list((tmp_path / "killed").iterdir()) == []
        (tmp_path / "killed").rmdir()


def test_a_command_replaces_only_the_files_it_wrote(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "view.html").write_text("the user's page")
    files = CommandFiles(tmp_path / "d", "pd eval")
    with pytest.raises(PdError, match=r"view\.html exists and pd eval did not write it"):
        files.claim(["report.json", "view.html"])
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["view.html"]  # nothing recorded
    report = files.claim(["report.json"])[0]
    report.write_text("{}")
    assert CommandFiles(tmp_path / "d", "pd eval").claim(["report.json"]) == [report]  # its own again
    with pytest.raises(PdError, match=r"report\.json exists and pd predict did not write it"):
        CommandFiles(tmp_path / "d", "pd predict").claim(["report.json"])


def test_a_file_the_user_put_in_place_of_a_commands_is_theirs(tmp_path: Path) -> None:
    files = CommandFiles(tmp_path, "pd view")
    [page] = files.claim(["scan.html"])
    page.write_text("pd's page")
    files.seal(["scan.html"])
    assert files.claim(["scan.html"]) == [page]  # unchanged: the command's to replace
    page.write_text("pd's page, again")
    files.seal(["scan.html"])
    page.unlink()
    page.write_text("the user's page")  # in its place, by the user
    with pytest.raises(PdError, match=r"scan\.html has changed since pd wrote it, so it is left as it is"):
        files.claim(["scan.html"])
    files.retire(["scan.html"])  # nor is it deleted as an earlier run's
    assert page.read_text() == "the user's page"
    with pytest.raises(PdError, match=r"scan\.html exists and pd view did not write it"):
        files.claim(["scan.html"])  # dropped from the record: the user's from now on
    [other] = files.claim(["other.html"])
    other.write_text("pd's page")
    files.seal(["other.html"])
    other.unlink()
    other.mkdir()  # a folder of the user's at the name of a file pd wrote: not "changed"
    with pytest.raises(PdError, match=r"other\.html is a folder, where pd view writes a file; move it"):
        files.claim(["other.html"])


def test_a_claimed_file_a_killed_run_left_unsealed_is_still_the_commands(tmp_path: Path) -> None:
    files = CommandFiles(tmp_path, "pd eval")
    [report] = files.claim(["report.json"])
    report.write_text("half")  # killed before `seal`
    assert CommandFiles(tmp_path, "pd eval").claim(["report.json"]) == [report]
    # To replace, not to delete: a run that no longer writes it leaves it (it may be anyone's now).
    CommandFiles(tmp_path, "pd eval").retire(["report.json"])
    assert report.read_text() == "half"
    assert CommandFiles(tmp_path, "pd eval").claim(["report.json"]) == [report]  # still its to replace


def test_commands_that_share_a_page_vouch_only_for_its_latest_bytes(tmp_path: Path) -> None:
    evaluation = CommandFiles(tmp_path, "pd eval", shares=("pd view",))
    view = CommandFiles(tmp_path, "pd view", shares=("pd predict", "pd eval"))
    predict = CommandFiles(tmp_path, "pd predict", shares=("pd view",))
    [page] = evaluation.claim(["view.html"])
    page.write_text("pd eval's page")
    evaluation.seal(["view.html"])
    view.claim(["view.html"])
    page.write_text("pd view's page")
    view.seal(["view.html"])
    evaluation.retire(["view.html"])  # a later pd eval without a page: the page pd view rewrote goes
    assert not page.exists()
    view.claim(["view.html"])  # and is killed before it writes
    predict.claim(["view.html"])
    page.write_text("pd predict's page")
    predict.seal(["view.html"])
    page.write_text("the user's page")
    with pytest.raises(PdError, match=r"view\.html has changed since pd wrote it"):
        predict.claim(["view.html"])  # pd view's unfinished claim vouches for nothing now


def test_a_record_of_names_alone_from_before_seals_is_read(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text("{}")
    (tmp_path / ".pd-written.json").write_text(json.dumps({"pd eval": ["report.json"]}))
    assert CommandFiles(tmp_path, "pd eval").claim(["report.json"]) == [tmp_path / "report.json"]
    (tmp_path / ".pd-written.json").write_text(json.dumps({"pd eval": {"report.json": 5}}))
    with pytest.raises(PdError, match=r"is not a record of the files pd commands wrote"):
        CommandFiles(tmp_path, "pd eval").claim(["report.json"])


def test_hdf5_arrays_are_read_only_from_the_file_itself(tmp_path: Path) -> None:
    import h5py

    secret = tmp_path / "secret.bin"
    np.arange(6, dtype="<f4").tofile(secret)
    with h5py.File(tmp_path / "other.h5", "w") as other:
        other["x"] = np.arange(6.0)
    with h5py.File(tmp_path / "f.h5", "w") as data:
        data["plain"] = np.array([1.0, 2.0, 3.0])
        data["soft"] = h5py.SoftLink("/plain")
        data["external_link"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/x")
        data.create_dataset("stored_outside", shape=(6,), dtype="<f4", external=[(str(secret), 0, 24)])
        layout = h5py.VirtualLayout(shape=(6,), dtype="f8")
        layout[...] = h5py.VirtualSource(str(tmp_path / "other.h5"), "x", shape=(6,))
        data.create_virtual_dataset("virtual", layout)
        data["half"] = np.array([1.0, 2.5])
        data["huge"] = np.array([2**64 - 1], dtype=np.uint64)
    with open_h5(tmp_path / "f.h5", "an HDF5 file") as data:
        whole = read_h5_numbers(data, "plain", "f.h5", 10, whole=True)
        assert whole.dtype == np.int64 and whole.tolist() == [1, 2, 3]
        assert read_h5_numbers(data, "absent", "f.h5", 10, required=False) is None
        for key, message in [
            ("soft", r"'soft' is a link to '/plain'"),
            ("external_link", r"'external_link' is a link to '/x' in '.*other\.h5'"),
            ("stored_outside", r"'stored_outside' keeps its values in another file \('.*secret\.bin'\)"),
            ("virtual", r"'virtual' is a virtual dataset"),
            ("absent", r"f\.h5 has no 'absent'"),
        ]:
            with pytest.raises(PdError, match=message):
                read_h5_numbers(data, key, "f.h5", 10)
        with pytest.raises(PdError, match=r"'half' must hold whole numbers.*, not 2\.5"):
            read_h5_numbers(data, "half", "f.h5", 10, whole=True)
        with pytest.raises(
            PdError,
            match=r"'huge' must hold whole numbers of at most 2\*\*53 in size, not 18446744073709551615",
        ):
            read_h5_numbers(data, "huge", "f.h5", 10, whole=True)
    (tmp_path / "not.h5").write_text("not hdf5")
    with (
        pytest.raises(PdError, match=r"not\.h5 is not an HDF5 file"),
        open_h5(tmp_path / "not.h5", "an HDF5 file"),
    ):
        pass
