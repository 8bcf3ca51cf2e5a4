"""Benchmark readers and metrics: the real ShapeNetPart sample, PartNetE and HDF5 fixtures, known answers."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from plyfile import PlyData, PlyElement
from shared_data import shared

from partdistill.datasets.readers import open_dataset
from partdistill.errors import PdError
from partdistill.metrics import (
    part_ious,
    partnete_category_miou,
    shapenetpart_miou,
    shapenetpart_shape_iou,
)
from partdistill.prompts import find_category

# --- readers -------------------------------------------------------------------------------------


def test_real_shapenetpart_sample_loads_with_the_right_categories_parts_and_counts() -> None:
    data = open_dataset("shapenetpart", shared("shapenetpart_sample"))
    shapes = {item.id: item for item in data.shapes()}
    assert len(shapes) == 49 and len(data.categories()) == 16
    table = shapes["04379243/1a00aa6b75362cc5b324368d54a7416f"]  # the one complete file: 2,751 points
    assert table.category.name == "table" and table.shape.n_points == 2751
    assert np.bincount(table.shape.labels).tolist() == [1839, 912]  # global ids 47 and 48 -> local 0 and 1
    airplane = shapes["02691156/8add45a11c9fcb446eb5821e78d8898a"]
    assert airplane.shape.n_points == 241 and np.bincount(airplane.shape.labels, minlength=4).tolist() == [
        225,
        0,
        16,
        0,
    ]
    motorbike = shapes["03790512/365c1f92a54c8cb52a45a87054fa7272"]
    assert np.bincount(motorbike.shape.labels).tolist() == [7, 4, 65, 2, 1, 159]
    assert all(item.shape.normals is not None for item in shapes.values())
    chairs = list(data.shapes([find_category("chair")]))
    assert [c.id.split("/")[0] for c in chairs] == ["03001627"] * 3
    assert data.ids() == list(shapes) and data.ids([find_category("chair")]) == [c.id for c in chairs]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda root: None, "does not exist"),
        (lambda root: root.mkdir(), "synsetoffset2category.txt is missing"),
        (
            lambda root: (root.mkdir(), (root / "synsetoffset2category.txt").write_text("Chair\t03001627\n")),
            "train_test_split/shuffled_test_file_list.json is missing",
        ),
    ],
)
def test_bad_shapenetpart_roots_say_what_was_expected(tmp_path: Path, setup, message: str) -> None:
    setup(tmp_path / "snp")
    with pytest.raises(PdError, match=message):
        open_dataset("shapenetpart", tmp_path / "snp")


def test_shapenetpart_file_problems(tmp_path: Path) -> None:
    root = tmp_path / "snp"
    (root / "train_test_split").mkdir(parents=True)
    (root / "synsetoffset2category.txt").write_text("Knife\t03624134")
    (root / "train_test_split" / "shuffled_test_file_list.json").write_text(
        '["shape_data/03624134/a", "shape_data/03624134/b"]'
    )
    (root / "03624134").mkdir()
    (root / "03624134" / "a.txt").write_text("0 0 0 0 0 1 22.000000\n1 0 0 0 0 1 30.000000\n")
    data = open_dataset("shapenetpart", root)
    with pytest.raises(PdError, match=r"part ids outside Knife's 22\.\.23"):
        list(data.shapes())
    (root / "03624134" / "a.txt").write_text("0 0 0 0 0 1 22.000000\n1 0 0 0 0 1\n")
    with pytest.raises(PdError, match="expected 7 numbers per line"):
        list(data.shapes())
    (root / "03624134" / "a.txt").write_text("0 0 0 0 0 1 22.000000\n")
    with pytest.raises(PdError, match=r"b\.txt is missing"):
        list(data.shapes())


def test_pointnet_hdf5_release(tmp_path: Path) -> None:
    # Two shapes: a mug (category 11, parts 36-37) and an airplane (category 0, parts 0-3), 2,048 points each.
    rng = np.random.default_rng(0)
    with h5py.File(tmp_path / "ply_data_test0.h5", "w") as out:
        out["data"] = rng.normal(size=(2, 2048, 3)).astype(np.float32)
        out["label"] = np.array([[11], [0]], dtype=np.uint8)
        out["pid"] = np.stack([rng.integers(36, 38, 2048), rng.integers(0, 4, 2048)]).astype(np.uint8)
    data = open_dataset("shapenetpart", tmp_path)
    shapes = list(data.shapes())
    assert [s.category.name for s in shapes] == ["mug", "airplane"] and [s.id for s in shapes] == [
        "ply_data_test0/0",
        "ply_data_test0/1",
    ]
    assert set(shapes[0].shape.labels.tolist()) == {0, 1} and shapes[1].shape.labels.max() == 3
    assert [s.id for s in data.shapes([find_category("airplane")])] == ["ply_data_test0/1"]
    assert data.ids() == [s.id for s in shapes] and data.ids([find_category("airplane")]) == [
        "ply_data_test0/1"
    ]


def _partnete_shape(folder: Path, n: int, labels: np.ndarray) -> None:
    folder.mkdir(parents=True)
    vertex = np.empty(
        n, dtype=[("x", "f4"), ("y", "f4"), ("z", "f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")]
    )
    rng = np.random.default_rng(n)
    for axis in "xyz":
        vertex[axis] = rng.normal(size=n)
    for channel in ("red", "green", "blue"):
        vertex[channel] = rng.integers(0, 256, n)
    PlyData([PlyElement.describe(vertex, "vertex")], text=False).write(str(folder / "pc.ply"))
    with (folder / "label.npy").open("wb") as handle:  # as PartSLIP saves it: a pickled dict
        pickle.dump(
            np.array({"semantic_seg": labels, "instance_seg": np.where(labels >= 0, 0, -1)}, dtype=object),
            handle,
        )


@pytest.fixture
def partnete_root(tmp_path: Path) -> Path:
    root = tmp_path / "PartNetE"
    _partnete_shape(root / "data" / "test" / "Kettle" / "101305", 60, np.repeat([-1, 0, 1, 2], 15))
    _partnete_shape(root / "data" / "test" / "Kettle" / "102714", 40, np.repeat([0, 1], 20))
    _partnete_shape(root / "data" / "test" / "Bottle" / "3519", 30, np.repeat([-1, 0], 15))
    return root


def test_partnete_layout_loads_with_unlabelled_points(partnete_root: Path) -> None:
    data = open_dataset("partnete", partnete_root)
    assert [c.title for c in data.categories()] == ["Bottle", "Kettle"]
    shapes = {s.id: s for s in data.shapes()}
    assert sorted(shapes) == ["Bottle/3519", "Kettle/101305", "Kettle/102714"]
    assert data.ids() == list(shapes)
    kettle = shapes["Kettle/101305"].shape
    assert kettle.n_points == 60 and kettle.colors is not None and (kettle.labels == -1).sum() == 15
    assert kettle.part_names == ("lid", "handle", "spout")


def test_partnete_links_inside_the_root_are_followed_and_links_out_refused(
    partnete_root: Path, tmp_path: Path
) -> None:
    test = partnete_root / "data" / "test"
    shutil.move(test / "Kettle", partnete_root / "store")  # a category folder linked to a sibling
    (test / "Kettle").symlink_to(partnete_root / "store", target_is_directory=True)
    shutil.move(test / "Bottle" / "3519" / "pc.ply", partnete_root / "3519.ply")  # a file, too
    (test / "Bottle" / "3519" / "pc.ply").symlink_to(partnete_root / "3519.ply")
    data = open_dataset("partnete", partnete_root)
    assert sorted(s.id for s in data.shapes()) == ["Bottle/3519", "Kettle/101305", "Kettle/102714"]
    shutil.move(partnete_root / "store", tmp_path / "elsewhere")
    (test / "Kettle").unlink()
    (test / "Kettle").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(PdError, match=r"data/test/Kettle leads outside .*PartNetE"):
        list(open_dataset("partnete", partnete_root).shapes())


def test_partnete_problems_are_explained(partnete_root: Path, tmp_path: Path) -> None:
    with pytest.raises(PdError, match=r"data/test/ is missing"):
        open_dataset("partnete", tmp_path)
    label = partnete_root / "data" / "test" / "Bottle" / "3519" / "label.npy"
    with label.open("wb") as handle:
        pickle.dump(np.array({"semantic_seg": np.zeros(7, int)}, dtype=object), handle)
    with pytest.raises(PdError, match="has 7 labels for the 30 points"):
        list(open_dataset("partnete", partnete_root).shapes())


def test_collection_without_labels_is_refused(tmp_path: Path) -> None:
    from partdistill.collection import Collection
    from partdistill.shapes import Shape

    Collection.create(tmp_path).add("x", Shape(points=np.random.default_rng(0).normal(size=(10, 3))))
    with pytest.raises(PdError, match="holds no labelled shapes"):
        open_dataset("collection", tmp_path)


# --- metrics -------------------------------------------------------------------------------------


def test_shapenetpart_shape_iou_by_hand() -> None:
    truth, prediction = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    # Part 0: 1 / 2; part 1: 2 / 3; part 2 is in neither, so it counts 1.
    assert shapenetpart_shape_iou(prediction, truth, 3) == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert shapenetpart_shape_iou(truth, truth, 3) == 1.0
    # No prediction at all: present parts score 0, the absent part still 1.
    assert shapenetpart_shape_iou(np.full(4, -1), truth, 3) == pytest.approx(1 / 3)


def test_class_and_instance_means() -> None:
    result = shapenetpart_miou({"chair": [1.0, 0.5, 0.0], "knife": [1.0]})
    assert result["chair"] == pytest.approx(0.5) and result["knife"] == 1.0
    assert result["class"] == pytest.approx(0.75) and result["instance"] == pytest.approx(2.5 / 4)


def test_partnete_protocol_by_hand() -> None:
    # Shape A has parts 0 and 1 and two unlabelled points (-1); shape B has part 0 only.
    truth_a, pred_a = np.array([0, 0, 1, 1, -1, -1]), np.array([0, 0, 1, 0, 1, -1])
    truth_b, pred_b = np.array([0, 0, 0]), np.array([0, 1, 1])
    mean, per_part = partnete_category_miou([(pred_a, truth_a), (pred_b, truth_b)], 3)
    # Part 0: A 2/3 (the predicted-0 point of part 1 enlarges the union), B 1/3 -> mean 1/2.
    # Part 1: only A has it: 1 / 3 (its unlabelled point predicted 1 counts against). B's false part-1
    # predictions are not scored, as in PartSLIP. Part 2 is in no shape: left out.
    np.testing.assert_allclose(per_part[:2], [0.5, 1 / 3])
    assert np.isnan(per_part[2]) and mean == pytest.approx((0.5 + 1 / 3) / 2)


def _naive_shape_iou(prediction: np.ndarray, truth: np.ndarray, n_parts: int) -> float:
    ious = []
    for part in range(n_parts):
        predicted = {i for i, p in enumerate(prediction) if p == part}
        actual = {i for i, t in enumerate(truth) if t == part}
        union = predicted | actual
        ious.append(1.0 if not union else len(predicted & actual) / len(union))
    return sum(ious) / len(ious)


def _naive_partnete(pairs: list[tuple[np.ndarray, np.ndarray]], n_parts: int) -> float:
    means = []
    for part in range(n_parts):
        values = []
        for prediction, truth in pairs:
            if part not in truth:
                continue
            predicted = {i for i, p in enumerate(prediction) if p == part}
            actual = {i for i, t in enumerate(truth) if t == part}
            values.append(len(predicted & actual) / len(predicted | actual))
        if values:
            means.append(sum(values) / len(values))
    return sum(means) / len(means)


def test_metrics_agree_with_a_straightforward_implementation_on_the_real_sample() -> None:
    rng = np.random.default_rng(7)
    per_category: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for item in open_dataset("shapenetpart", shared("shapenetpart_sample")).shapes():
        truth = item.shape.labels
        noisy = np.where(
            rng.random(len(truth)) < 0.3, rng.integers(-1, len(item.category.parts), len(truth)), truth
        )
        assert shapenetpart_shape_iou(noisy, truth, len(item.category.parts)) == pytest.approx(
            _naive_shape_iou(noisy, truth, len(item.category.parts))
        )
        per_category.setdefault(item.category.name, []).append((noisy, truth))
    for name, pairs in per_category.items():
        parts = len(find_category(name).parts)
        assert partnete_category_miou(pairs, parts)[0] == pytest.approx(_naive_partnete(pairs, parts))


def test_part_ious_reject_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="3 predictions for 4 points"):
        part_ious(np.zeros(3, int), np.zeros(4, int), 2)


def test_the_gallery_keeps_the_worst_shapes_worst_first() -> None:
    from partdistill.eval.evaluate import EvalResult, evaluate

    class FirstPart:
        name = "first part"

        def predict(self, item, index: np.ndarray) -> np.ndarray:
            return np.zeros(len(index), dtype=np.int64)

    data = open_dataset("shapenetpart", shared("shapenetpart_sample"))
    *_, result = evaluate(data, [FirstPart()], examples=4, worst=6)
    assert isinstance(result, EvalResult)
    scores = [row[4] for row in result.worst]
    assert len(scores) == 6 and scores == sorted(scores)
    everything = [s for s in evaluate(data, [FirstPart()], examples=0, worst=49)][-1].worst
    assert scores == [row[4] for row in everything[:6]]  # the six lowest of all 49
    assert [shape_id for shape_id, _, _ in result.examples] == [row[0] for row in result.worst[:4]]


def test_an_evaluation_shows_its_scores_not_its_shapes() -> None:
    from partdistill.eval.evaluate import EvalResult

    # A notebook displays a cell's last value whole: the pictures' shapes ran to 66,000 characters.
    result = EvalResult(
        "shapenetpart", [], {"chair": 1}, {"student": {"chair": 89.2}}, {}, [("a", None, {})], points=2048
    )
    assert repr(result) == (
        "EvalResult(protocol='shapenetpart', counts={'chair': 1}, scores={'student': {'chair': 89.2}}, "
        "part_ious={}, points=2048)"
    )


def test_hidden_files_in_a_predictions_folder_are_not_predictions(tmp_path: Path) -> None:
    from partdistill.eval.evaluate import FilePredictions

    # A killed writer's temporary, the user's hidden files and folders.
    for name in ("chair-00000", ".chair-00001.tmp-k9x", "sub/.mine", ".ipynb_checkpoints/chair-00000"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        np.save(tmp_path / f"{name}.npy", np.zeros(4, dtype=np.int64))
    assert FilePredictions(tmp_path, "collection").unused([]) == ["chair-00000"]


def test_a_shape_id_from_a_name_that_is_not_utf8_gets_its_subset(tmp_path: Path) -> None:
    """A file name of bytes that are not UTF-8 comes to Python with lone surrogates, which a plain
    .encode() refuses; the subset's seed is taken from the name's own bytes."""
    from partdistill.datasets.readers import EvalShape
    from partdistill.eval.evaluate import point_subset
    from partdistill.shapes import Shape

    shape = Shape(points=np.random.default_rng(0).random((100, 3)).astype(np.float32))
    name = b"ply_data_test\xff".decode("utf-8", "surrogateescape")
    item = EvalShape(f"{name}/0", find_category("chair"), shape)
    index = point_subset(item, 50, seed=0)
    assert len(index) == 50 and np.array_equal(index, point_subset(item, 50, seed=0))
