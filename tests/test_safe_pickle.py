"""PartNetE's pickled label files are read without running code from them."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from partdistill.datasets.safe_pickle import load_npy
from partdistill.errors import PdError

LABELS = {"semantic_seg": np.array([0, 2, -1, 1]), "instance_seg": np.array([0, 1, -1, 0])}


class _Marker:
    """Unpickling it runs a shell command that creates a file: what a crafted label.npy would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _write(path: Path, value: object, how: str) -> None:
    if how == "np.save":
        np.save(path, np.array(value, dtype=object), allow_pickle=True)
    else:  # a bare pickle, which np.load(allow_pickle=True) reads too
        with path.open("wb") as handle:
            pickle.dump(np.array(value, dtype=object), handle)


@pytest.mark.parametrize("how", ["np.save", "pickle"])
def test_partnete_label_dicts_are_read(tmp_path: Path, how: str) -> None:
    _write(tmp_path / "label.npy", LABELS, how)
    value = load_npy(tmp_path / "label.npy")
    assert set(value) == {"semantic_seg", "instance_seg"}
    np.testing.assert_array_equal(value["semantic_seg"], LABELS["semantic_seg"])


@pytest.mark.parametrize("how", ["np.save", "pickle"])
@pytest.mark.parametrize("where", ["top", "inside the dict"])
def test_a_file_that_would_run_code_is_refused_and_runs_nothing(tmp_path: Path, how: str, where: str) -> None:
    marker = tmp_path / "marker"
    payload = _Marker(marker) if where == "top" else {"semantic_seg": _Marker(marker)}
    _write(tmp_path / "label.npy", payload, how)
    with pytest.raises(PdError, match=r"asks to run posix\.system while being read"):
        load_npy(tmp_path / "label.npy")
    assert not marker.exists()
    # np.load with pickles allowed would have run it: the fixture is a real attack.
    np.load(tmp_path / "label.npy", allow_pickle=True)
    assert marker.exists()


def test_plain_arrays_and_garbage(tmp_path: Path) -> None:
    np.save(tmp_path / "plain.npy", np.arange(5))
    np.testing.assert_array_equal(load_npy(tmp_path / "plain.npy"), np.arange(5))
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(PdError, match="not a readable numpy file"):
        load_npy(tmp_path / "junk.npy")
