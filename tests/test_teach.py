"""`pd teach`: the teacher stage over a collection, through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from partdistill.cli import app
from partdistill.collection import Collection
from partdistill.errors import PdError
from partdistill.knowledge.store import KnowledgeStore
from partdistill.shapes import Provenance, Shape

runner = CliRunner()


@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tables")
    result = runner.invoke(
        app, ["synth", "--category", "table", "--n", "4", "--points", "3000", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out


def _untaught_copy(tables: Path, tmp_path: Path) -> Path:
    """The tables collection copied into tmp_path/tables without its knowledge."""
    shutil.copytree(tables, tmp_path / "tables", ignore=shutil.ignore_patterns("knowledge"))
    return tmp_path / "tables"


def _teach(collection: Path, *extra: str):
    return runner.invoke(app, ["teach", "--shapes", str(collection), "--image-size", "128", *extra])


def test_teach_writes_units_sheets_and_config(tables: Path) -> None:
    result = _teach(tables, "--sheets", "2")
    assert result.exit_code == 0, result.output
    store = KnowledgeStore(tables / "knowledge" / "simulated-noisy-box")
    assert all(store.has(f"table-{i:05d}") for i in range(4))
    assert sorted(p.name for p in (store.root / "sheets").iterdir()) == ["table-00000.png", "table-00001.png"]
    config = json.loads((store.root / "teach_config.json").read_text())
    assert config["teacher"] == "simulated" and config["category"] == "table" and config["image_size"] == 128
    units = store.load("table-00000")
    assert units.n_units > 0 and units.n_points == 3000 and units.part_names == ("desktop", "leg", "drawer")
    assert "direct lifting mIoU" in result.stdout


def test_teach_resumes_and_refuses_changed_settings(tables: Path) -> None:
    _teach(tables, "--sheets", "0", "--name", "again")
    store = KnowledgeStore(tables / "knowledge" / "again")
    before = store.units_path("table-00002").read_bytes()
    store.units_path("table-00002").unlink()  # as if the run had been killed before this shape
    result = _teach(tables, "--sheets", "0", "--name", "again")
    assert result.exit_code == 0 and "already there" in result.stdout
    assert "Contact sheets" not in result.stdout  # none drawn, none named
    assert store.units_path("table-00002").read_bytes() == before  # same seed, same units
    changed = _teach(tables, "--sheets", "0", "--name", "again", "--noise", "clean")
    assert changed.exit_code == 1 and "noise was 'noisy', now 'clean'" in changed.stderr
    assert changed.stdout == ""  # refused before a bar of shapes to teach was drawn


def test_units_of_a_shape_replaced_since_are_taught_again(tables: Path, tmp_path: Path) -> None:
    # As when `pd import --replace`, or the user, puts another shape in a file after (or while) it
    # was taught: units record the digest of the file they were made from.
    from partdistill.distill.sources import items_from_store
    from partdistill.knowledge.store import load_knowledge, save_knowledge

    collection_root = _untaught_copy(tables, tmp_path)
    assert _teach(collection_root, "--sheets", "4").exit_code == 0
    collection = Collection.open(collection_root)
    store = KnowledgeStore(collection_root / "knowledge" / "simulated-noisy-box")
    assert store.untaught(collection) == []
    assert store.made_from("table-00001") == collection.read(collection["table-00001"])[1]
    assert store.sheet_path("table-00001").exists()
    before = store.units_path("table-00001").read_bytes()
    shapes = collection_root / "shapes"
    (shapes / "table-00001.npz").write_bytes((shapes / "table-00002.npz").read_bytes())  # 3,000 points too
    assert [record.id for record in store.untaught(collection)] == ["table-00001"]
    with pytest.raises(PdError, match="units of 1 shapes made from other files than theirs now"):
        items_from_store(collection, store)
    result = _teach(collection_root, "--sheets", "0")
    assert result.exit_code == 0 and "on the 1 labelled shapes taught" in result.stdout
    assert store.untaught(collection) == [] and store.units_path("table-00001").read_bytes() != before
    assert not store.sheet_path("table-00001").exists()  # the old shape's sheet went with its units
    # Units written before units recorded their shape's digest count as the shape's.
    path = store.units_path("table-00003")
    save_knowledge(load_knowledge(path), path)
    assert store.made_from("table-00003") is None and store.untaught(collection) == []


def test_a_folder_where_units_go_is_named_in_the_error_not_the_temporary(
    tables: Path, tmp_path: Path
) -> None:
    collection_root = _untaught_copy(tables, tmp_path)
    assert _teach(collection_root, "--sheets", "0").exit_code == 0
    units = collection_root / "knowledge" / "simulated-noisy-box" / "units" / "table-00001.npz"
    units.unlink()
    units.mkdir()
    result = _teach(collection_root, "--sheets", "0")
    assert result.exit_code == 1
    assert "units/table-00001.npz: Is a directory" in result.stderr and ".tmp-" not in result.stderr


def test_a_knowledge_folder_of_the_users_own_is_refused_and_left_as_it_was(
    tables: Path, tmp_path: Path
) -> None:
    """pd teach --name mine wrote its sheets over the user's, and with --sheets 0 deleted them."""
    collection_root = _untaught_copy(tables, tmp_path)
    mine = collection_root / "knowledge" / "mine"
    (mine / "sheets").mkdir(parents=True)
    (mine / "sheets" / "table-00000.png").write_text("my annotated sheet")
    (mine / "notes.txt").write_text("notes")
    for sheets in ("-1", "0"):
        result = _teach(collection_root, "--sheets", sheets, "--name", "mine")
        assert result.exit_code == 1
        assert "mine holds other files (notes.txt, sheets) and no teach_config.json" in " ".join(
            result.stderr.split()
        )
    assert (mine / "sheets" / "table-00000.png").read_text() == "my annotated sheet"
    assert sorted(path.name for path in mine.iterdir()) == ["notes.txt", "sheets"]
    (collection_root / "knowledge" / "empty" / "units").mkdir(parents=True)  # nothing in it: taken
    assert _teach(collection_root, "--sheets", "0", "--name", "empty").exit_code == 0


def test_temporaries_a_killed_run_left_are_not_taken_for_units_and_not_deleted(tables: Path) -> None:
    root = tables / "knowledge" / "killed"
    (root / "units").mkdir(parents=True)
    (root / "sheets").mkdir()
    (root / "teach_config.json").write_text(json.dumps({"teacher": "simulated", "image_size": 100000}))
    left = [root / "units" / ".table-00000.tmp-k9x.npz", root / "sheets" / ".table-00000.tmp-k9x.png"]
    for path in left:
        path.write_bytes(b"half a file")  # what `kill -9` in the middle of a write leaves
    store = KnowledgeStore(root)
    assert not store.holds_units() and store.sheet_count() == 0 and not store.has("table-00000")
    result = _teach(tables, "--sheets", "1", "--name", "killed", "--noise", "clean")
    assert result.exit_code == 0, result.output
    assert store.has("table-00000") and store.sheet_count() == 1
    assert all(path.read_bytes() == b"half a file" for path in left)  # not this run's to delete


def test_a_run_that_wrote_no_units_takes_new_settings(tables: Path) -> None:
    root = tables / "knowledge" / "failed"
    root.mkdir(parents=True)
    (root / "teach_config.json").write_text(json.dumps({"teacher": "simulated", "image_size": 100000}))
    result = _teach(tables, "--sheets", "0", "--name", "failed", "--noise", "clean")
    assert result.exit_code == 0, result.output
    assert json.loads((root / "teach_config.json").read_text())["noise"] == "clean"


def test_mask_kind_and_mesh_renderer(tables: Path) -> None:
    result = _teach(tables, "--kind", "mask", "--noise", "clean", "--renderer", "mesh", "--sheets", "0")
    assert result.exit_code == 0, result.output
    store = KnowledgeStore(tables / "knowledge" / "simulated-clean-mask")
    assert store.load("table-00001").n_units > 0


def test_simulated_teacher_on_unlabelled_shapes_is_one_sentence(tmp_path: Path) -> None:
    collection = Collection.create(tmp_path)
    points = np.random.default_rng(0).normal(size=(500, 3))
    collection.add("x-00000", Shape(points=points, category="chair", provenance=Provenance("file")))
    result = _teach(tmp_path)
    assert result.exit_code == 1 and "reads ground-truth part labels" in result.stderr
    assert "Traceback" not in result.stderr


def test_teach_needs_a_collection(tmp_path: Path) -> None:
    result = _teach(tmp_path / "nothing")
    assert result.exit_code == 1 and "is not a folder" in result.stderr


def test_real_teacher_without_weights_ends_with_one_sentence(tables: Path, tmp_path: Path) -> None:
    env = os.environ | {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "partdistill.cli",
            "teach",
            "--shapes",
            str(tables),
            "--teacher",
            "grounding-dino",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "Error: Could not load the Grounding DINO model 'IDEA-Research/grounding-dino-base'"
    )
    assert "Traceback" not in result.stderr


def test_running_out_of_memory_while_teaching_is_one_sentence(
    tables: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import partdistill.teach.run as run

    def out_of_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 128. MiB for an array")

    monkeypatch.setattr(run, "teach_shape", out_of_memory)
    result = _teach(tables, "--sheets", "0", "--name", "oom")
    assert result.exit_code == 1
    assert (
        "Out of memory; free memory and run the same command again to go on from there, or teach under "
        "another --name with a lower --image-size (now 128)." in " ".join(result.stderr.split())
    )


def test_knowledge_recording_a_setting_its_teacher_ignores_still_resumes(
    tables: Path, tmp_path: Path
) -> None:
    collection_root = _untaught_copy(tables, tmp_path)
    assert _teach(collection_root, "--sheets", "0").exit_code == 0
    store = KnowledgeStore(collection_root / "knowledge" / "simulated-noisy-box")
    record = json.loads((store.root / "teach_config.json").read_text())
    (store.root / "teach_config.json").write_text(
        json.dumps(record | {"model_id": "foo", "query": "part-of-category"})
    )
    store.units_path("table-00001").unlink()
    result = _teach(collection_root, "--sheets", "0")
    assert result.exit_code == 0, result.output
    assert store.has("table-00001")
