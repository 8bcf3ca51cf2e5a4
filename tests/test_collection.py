"""Shape collections on disk: round trips, failure records, and manifests that are wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from partdistill.collection import LOG, MANIFEST, Collection
from partdistill.errors import PdError
from partdistill.shapes import Provenance, Shape


def test_add_and_reopen(tmp_path: Path, two_part_shape: Shape) -> None:
    collection = Collection.create(tmp_path / "c")
    collection.add("table-00000", two_part_shape)
    collection.add_failure("table-00001", "table", Provenance("shap-e", prompt="a table", seed=5), "boom")
    reopened = Collection.open(tmp_path / "c")
    assert [r.id for r in reopened] == ["table-00000", "table-00001"]
    ok, failed = reopened["table-00000"], reopened["table-00001"]
    assert (
        ok.ok and ok.n_points == 200 and ok.part_names == ("top", "bottom") and ok.part_counts == (100, 100)
    )
    assert (
        not failed.ok
        and failed.error == "boom"
        and failed.file is None
        and failed.provenance.prompt == "a table"
    )
    [(_, shape)] = list(reopened.shapes())
    np.testing.assert_array_equal(shape.points, two_part_shape.points)
    coverage = reopened.part_coverage()
    assert [(c.category, c.name, c.shapes, c.of, c.share) for c in coverage] == [
        ("table", "top", 1, 1, 0.5),
        ("table", "bottom", 1, 1, 0.5),
    ]
    with pytest.raises(PdError, match="generation failed"):
        reopened.load("table-00001")


def test_readding_an_id_replaces_its_record(tmp_path: Path, two_part_shape: Shape) -> None:
    collection = Collection.create(tmp_path)
    collection.add("x", two_part_shape)
    collection.add("x", two_part_shape.select(np.arange(10)))
    assert len(Collection.open(tmp_path)) == 1 and Collection.open(tmp_path)["x"].n_points == 10


def _manifest(tmp_path: Path, shapes: list[dict]) -> None:
    (tmp_path / MANIFEST).write_text(
        json.dumps({"format": "partdistill.collection", "version": 1, "shapes": shapes})
    )


def test_a_file_in_shapes_the_manifest_does_not_list_is_replaced_only_if_pd_left_it(
    tmp_path: Path, two_part_shape: Shape
) -> None:
    collection = Collection.create(tmp_path / "c")
    collection.add("table-00000", two_part_shape)
    mine = tmp_path / "c" / "shapes" / "table-00001.npz"
    mine.write_text("the user's own")
    with pytest.raises(PdError, match=r"table-00001\.npz is not among the shapes .* manifest lists"):
        collection.add("table-00001", two_part_shape)
    assert mine.read_text() == "the user's own"
    left = tmp_path / "c" / "shapes" / "table-00002.npz"  # written, then the run was stopped
    left.write_bytes((tmp_path / "c" / "shapes" / "table-00000.npz").read_bytes())
    collection.add("table-00002", two_part_shape.replace(labels=None, part_names=()))
    assert Collection.open(tmp_path / "c").load("table-00002").labels is None


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "has no manifest.json"),
        (lambda p: (p / MANIFEST).write_text("{not json"), "not readable JSON"),
        (lambda p: (p / MANIFEST).write_text('{"format": "other"}'), "not a partdistill collection manifest"),
        (
            lambda p: (p / MANIFEST).write_text('{"format": "partdistill.collection", "version": 9}'),
            "version 9",
        ),
        (lambda p: _manifest(p, [{"id": "a"}]), "entry 0: shape a has no 'file'"),
        (
            lambda p: _manifest(
                p, [{"id": "a", "file": "shapes/a.npz", "provenance": {"generator": "x"}, "n_points": 3}]
            ),
            "missing: shapes/a.npz",
        ),
    ],
)
def test_bad_collections_are_explained(tmp_path: Path, setup, message: str) -> None:
    setup(tmp_path)
    with pytest.raises(PdError, match=message):
        Collection.open(tmp_path)


def test_duplicate_ids_are_reported(tmp_path: Path) -> None:
    entry = {"id": "a", "file": None, "provenance": {"generator": "x"}, "n_points": 0, "error": "e"}
    _manifest(tmp_path, [entry, entry])
    with pytest.raises(PdError, match="more than once: a"):
        Collection.open(tmp_path)


def test_open_on_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(PdError, match="is not a folder"):
        Collection.open(tmp_path / "nowhere")


def test_adding_appends_to_a_log_that_compaction_folds_in(tmp_path: Path, two_part_shape: Shape) -> None:
    collection = Collection.create(tmp_path)
    for i in range(3):
        collection.add(f"s{i}", two_part_shape)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    assert [r["id"] for r in manifest["shapes"]] == ["s0"]  # the first shape made the manifest
    assert len((tmp_path / LOG).read_text().splitlines()) == 2
    assert [r.id for r in Collection.open(tmp_path)] == ["s0", "s1", "s2"]
    collection.compact()
    assert not (tmp_path / LOG).exists()
    assert [r["id"] for r in json.loads((tmp_path / MANIFEST).read_text())["shapes"]] == ["s0", "s1", "s2"]


def _killed_while_adding_s2(root: Path, shape: Shape) -> None:
    """A collection of s0 and s1 whose writer was killed halfway through the log line of s2."""
    collection = Collection.create(root)
    collection.add("s0", shape)
    collection.add("s1", shape)
    with (root / LOG).open("a") as log:
        log.write('{"id": "s2", "fi')


def test_a_log_line_cut_short_by_a_kill_is_ignored(tmp_path: Path, two_part_shape: Shape) -> None:
    _killed_while_adding_s2(tmp_path, two_part_shape)
    assert [r.id for r in Collection.open(tmp_path)] == ["s0", "s1"]


def test_a_resumed_writer_appends_after_a_line_cut_short(tmp_path: Path, two_part_shape: Shape) -> None:
    _killed_while_adding_s2(tmp_path, two_part_shape)
    resumed = Collection.open(tmp_path)
    resumed.add("s2", two_part_shape)
    resumed.add("s3", two_part_shape)
    assert [r.id for r in Collection.open(tmp_path)] == ["s0", "s1", "s2", "s3"]
    resumed.compact()
    assert [r.id for r in Collection.open(tmp_path)] == ["s0", "s1", "s2", "s3"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("id", "../../x", "not a safe file name"),
        ("id", "/abs/x", "not a safe file name"),
        ("id", ".hidden", "not a safe file name"),
        ("file", "../outside/secret.npz", "points outside"),
        ("file", "/etc/passwd", "points outside"),
    ],
)
def test_a_manifest_cannot_lead_out_of_its_collection(
    tmp_path: Path, two_part_shape: Shape, field: str, value: str, message: str
) -> None:
    root = tmp_path / "collection"
    Collection.create(root).add("s0", two_part_shape)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.npz").write_bytes((root / "shapes" / "s0.npz").read_bytes())
    manifest = json.loads((root / MANIFEST).read_text())
    manifest["shapes"][0][field] = value
    (root / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(PdError, match=message):
        Collection.open(root)


def test_benchmark_ids_with_a_folder_are_safe(tmp_path: Path, two_part_shape: Shape) -> None:
    collection = Collection.create(tmp_path)
    collection.add("02691156/1a04e3eab45ca15dd86060f189eb133", two_part_shape)
    assert (tmp_path / "shapes" / "02691156" / "1a04e3eab45ca15dd86060f189eb133.npz").is_file()
    with pytest.raises(PdError, match="not a safe file name"):
        collection.add("../escape", two_part_shape)


def test_a_category_asked_of_shapes_of_others_is_refused_unless_forced(
    tmp_path: Path, two_part_shape: Shape
) -> None:
    from partdistill.prompts import find_category

    chair, table = find_category("chair"), find_category("table")
    collection = Collection.create(tmp_path / "c")
    collection.add("t", two_part_shape)  # a table
    collection.add("u", two_part_shape.replace(category=None, labels=None, part_names=()))
    assert collection.category_for(table) == table  # a shape of no category is taken as the one asked
    with pytest.raises(
        PdError, match=r"holds table shapes besides any chair, and each shape of a collection"
    ):
        collection.category_for(chair)
    collection.add("c", two_part_shape.replace(category="chair", part_names=("seat", "leg")))
    with pytest.raises(PdError, match=r"holds chair shapes besides any table"):
        collection.category_for(table)  # a chair would be taught as a table
    with pytest.raises(PdError, match=r"holds shapes of 2 categories \(chair, table\), and each shape"):
        collection.category_for()  # asking for one would not do: import each into its own
    assert collection.category_for(table, force=True) == table
