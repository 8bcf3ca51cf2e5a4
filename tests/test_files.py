"""Files the commands write: modes, locks, leftovers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from partdistill.errors import PdError
from partdistill.files import OutputFolder, atomic_path, remove_stale_temporaries, write_json


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
    finally:
        holder.communicate("\n")
    with OutputFolder(tmp_path / "out"):  # free again once the first is done
        pass
    assert not (tmp_path / "out" / ".pd-owner").exists()


def test_a_folder_a_failed_command_created_is_removed_if_empty(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), OutputFolder(tmp_path / "new"):
        raise RuntimeError
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    with pytest.raises(RuntimeError), OutputFolder(tmp_path / "old"):
        raise RuntimeError
    assert (tmp_path / "old").is_dir()  # it was there before: kept


def test_temporaries_a_killed_writer_left_are_removed(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "sheets" / "a.png") as tmp:
        tmp.write_bytes(b"")
        left = tmp.with_name(tmp.name + "-copy")
        left.write_bytes(b"")  # stands for the temporary of a process killed mid-write
    remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in (tmp_path / "sheets").iterdir()) == ["a.png"]
