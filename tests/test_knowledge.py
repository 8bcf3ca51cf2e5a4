"""Knowledge units: lifting rules, the vote baseline, storage, and PartDistill's h5 format."""

from __future__ import annotations

import io
from pathlib import Path

import h5py
import numpy as np
import pytest

from partdistill.errors import PdError
from partdistill.knowledge.h5 import find_h5_files, read_partdistill_h5, write_partdistill_h5
from partdistill.knowledge.store import load_knowledge, save_knowledge
from partdistill.knowledge.units import Knowledge, vote
from partdistill.prompts import find_category
from partdistill.render.cameras import Cameras
from partdistill.render.renderers import PointRenderer
from partdistill.render.views import Views
from partdistill.shapes import Shape
from partdistill.teach.lift import lift
from partdistill.teach.teachers import Prediction

PARTS = ("a", "b", "c")


def _grid_views():
    """A 5x5 grid of points facing a camera: point i's screen position is known from the render."""
    xs = np.linspace(-0.5, 0.5, 5)
    shape = Shape(points=np.array([[x, y, 0.0] for y in xs for x in xs]))
    return shape, PointRenderer(radius=0.02).render(
        shape, Cameras(np.array([0.0]), np.array([0.0]), image_size=200)
    )


def test_box_lifts_the_visible_points_strictly_inside() -> None:
    _, views = _grid_views()
    x, y = views.screen[0, :, 0], views.screen[0, :, 1]
    # A box whose left edge passes exactly through point 12's column: strictly inside excludes it.
    box = np.array([x[12], y.min() - 1, x.max() + 1, y.max() + 1], dtype=np.float32)
    knowledge = lift(views, [Prediction(view=0, part=1, score=0.7, box=box)], PARTS)
    expected = np.flatnonzero(x > x[12])
    assert knowledge.n_units == 1 and knowledge.parts.tolist() == [1]
    np.testing.assert_array_equal(knowledge.members(0), expected)
    assert knowledge.scores[0] == pytest.approx(0.7) and knowledge.views.tolist() == [0]


def test_whole_object_boxes_are_dropped() -> None:
    _, views = _grid_views()
    everything = np.array([0, 0, 200, 200], dtype=np.float32)
    most = np.array(
        [0, 0, 200, float(views.screen[0, :, 1].max()) - 1], dtype=np.float32
    )  # misses the last row
    knowledge = lift(views, [Prediction(0, 0, 0.9, box=everything), Prediction(0, 2, 0.9, box=most)], PARTS)
    assert knowledge.n_units == 1 and knowledge.parts.tolist() == [2] and len(knowledge.members(0)) == 20


def _hand_made_views(screen: np.ndarray, visible: np.ndarray) -> Views:
    """One 100x100 view whose point positions and visibility are given (the pixels play no part in boxes)."""
    n = len(screen)
    return Views(
        images=np.zeros((1, 100, 100, 3), dtype=np.uint8),
        pixel_index=np.full((1, 100, 100), -1, dtype=np.int32),
        pixel_kind="point",
        screen=screen[None].astype(np.float32),
        depth=np.ones((1, n), dtype=np.float32),
        visible=visible[None],
        cameras=Cameras(np.array([0.0]), np.array([0.0]), image_size=100),
    )


def test_whole_object_share_counts_hidden_points_too() -> None:
    # 60 visible points on the left, 1 visible and 39 hidden points on the right. A box around the
    # left holds 60 of the 61 visible points (98.4%) but only 60 of the 100 points: PartSLIP keeps it.
    # A box holding 99 of the 100 points is a whole-object box, whichever of them are visible.
    rng = np.random.default_rng(0)
    left = np.column_stack([rng.uniform(10, 40, 60), rng.uniform(10, 90, 60)])
    right = np.column_stack([rng.uniform(60, 90, 40), rng.uniform(10, 90, 40)])
    views = _hand_made_views(np.vstack([left, right]), np.arange(100) <= 60)
    around_left = np.array([5, 5, 45, 95], dtype=np.float32)
    everything_but_one = np.array([5, 5, 95, 95], dtype=np.float32)
    views.screen[0, 99] = (97.0, 50.0)
    knowledge = lift(
        views,
        [Prediction(0, 0, 0.9, box=around_left), Prediction(0, 1, 0.9, box=everything_but_one)],
        PARTS,
    )
    assert knowledge.parts.tolist() == [0]
    np.testing.assert_array_equal(knowledge.members(0), np.arange(60))


def test_mask_lifts_the_points_owning_its_pixels() -> None:
    _, views = _grid_views()
    mask = np.zeros((200, 200), dtype=bool)
    mask[:, 110:] = True  # right of the middle column's splats: the grid's two right columns
    knowledge = lift(views, [Prediction(view=0, part=0, score=0.5, mask=mask)], PARTS)
    expected = np.flatnonzero(views.screen[0, :, 0] > 110)
    assert len(expected) == 10
    np.testing.assert_array_equal(knowledge.members(0), expected)


def _units() -> Knowledge:
    # 6 points; unit 0 = {0,1,2} part a (0.9), unit 1 = {2,3} part b (0.4), unit 2 = {2} part b (0.6).
    return Knowledge.from_units(
        6,
        PARTS,
        [np.array([2, 0, 1]), np.array([3, 2]), np.array([2])],
        [0, 1, 1],
        [0.9, 0.4, 0.6],
        [0, 1, 1],
    )


def test_vote_sums_scores_per_part() -> None:
    # Point 2: a gets 0.9, b gets 0.4 + 0.6 = 1.0 -> b. Points 4 and 5 are covered by nothing.
    assert vote(_units()).tolist() == [0, 0, 1, 1, -1, -1]


@pytest.mark.parametrize("seed", range(10))
def test_vote_matches_a_point_by_point_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, n_units = int(rng.integers(1, 30)), int(rng.integers(0, 8))
    members = [rng.choice(n, int(rng.integers(0, n + 1)), replace=False) for _ in range(n_units)]
    parts = rng.integers(0, 3, n_units).tolist()
    scores = [rng.uniform(0, 1, len(m)) for m in members]
    units = Knowledge.from_units(n, PARTS, members, parts, [0.5] * n_units, point_scores=scores)
    totals = np.zeros((n, 3))
    for unit, (points, own) in enumerate(zip(members, scores, strict=True)):
        for point, score in zip(points, own.astype(np.float32), strict=True):
            totals[point, parts[unit]] += score
    expected = np.where(totals.max(axis=1) > 0, totals.argmax(axis=1), -1)
    np.testing.assert_array_equal(vote(units), expected)


def test_restricting_to_a_subsample_keeps_membership() -> None:
    units = _units()
    index = np.array([2, 2, 5, 0])  # point 2 drawn twice
    small = units.restricted(index)
    assert small.n_points == 4 and small.n_units == 3
    assert [small.members(u).tolist() for u in range(3)] == [[0, 1, 3], [0, 1], [0, 1]]
    np.testing.assert_array_equal(small.scores, units.scores)


@pytest.mark.parametrize("seed", range(20))
def test_restricting_matches_a_unit_by_unit_reference(seed: int) -> None:
    # Each unit's new points are the sample positions whose original point is a member, ascending;
    # a member listed twice gives each of its positions twice; per-point scores follow their entries.
    rng = np.random.default_rng(seed)
    n, n_units = int(rng.integers(1, 40)), int(rng.integers(0, 8))
    members = [rng.integers(0, n, int(rng.integers(0, 12))) for _ in range(n_units)]
    scores = [rng.uniform(0, 1, len(m)) for m in members]
    units = Knowledge.from_units(
        n, PARTS, members, rng.integers(0, 3, n_units).tolist(), [0.5] * n_units, point_scores=scores
    )
    index = rng.integers(0, n, int(rng.integers(1, 3 * n)))
    small = units.restricted(index)
    for u in range(n_units):
        old = units.members(u)
        pairs = sorted((j, e) for j, point in enumerate(index) for e in np.flatnonzero(old == point))
        assert small.members(u).tolist() == [j for j, _ in pairs]
        own = units.point_scores[units.offsets[u] : units.offsets[u + 1]]
        np.testing.assert_array_equal(
            small.point_scores[small.offsets[u] : small.offsets[u + 1]], [own[e] for _, e in pairs]
        )


def test_dense_layout_matches_partdistill() -> None:
    dense = _units().dense()
    assert dense.shape == (6, 3, 3)
    assert dense[2, 1, 1] == pytest.approx(0.4) and dense[2, 1, 0] == 0 and dense[4].sum() == 0
    assert (dense.max(axis=2) > 0).sum(axis=0).tolist() == [3, 2, 1]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    units = _units()
    save_knowledge(units, tmp_path / "k.npz")
    back = load_knowledge(tmp_path / "k.npz")
    for field in ("parts", "scores", "views", "offsets", "indices"):
        np.testing.assert_array_equal(getattr(back, field), getattr(units, field))
    assert back.part_names == PARTS and back.n_points == 6
    assert units.nbytes < units.dense().nbytes


@pytest.mark.parametrize("score", [float("nan"), float("inf"), -0.5, 1e30])
def test_scores_that_are_not_confidences_are_refused(tmp_path: Path, score: float) -> None:
    with pytest.raises(ValueError, match="confidences from 0 to 1"):
        Knowledge.from_units(3, PARTS, [np.array([0, 1])], [0], [score])
    units = _units()
    np.savez(
        tmp_path / "k.npz",
        **{**dict(np.load(_saved(units, tmp_path))), "scores": np.array([score, 0.4, 0.6])},
    )
    with pytest.raises(PdError, match=r"not a readable knowledge file.*confidences"):
        load_knowledge(tmp_path / "k.npz")


def _saved(units: Knowledge, folder: Path) -> Path:
    save_knowledge(units, folder / "good.npz")
    return folder / "good.npz"


def _write_reference_h5(path: Path, gt_offset: int) -> None:
    """A file in the exact layout of PartDistill's preprocess.h5 (4 points, 3 boxes of 4 parts, 2 views)."""
    conf = np.zeros((4, 3, 4), dtype=np.float32)
    conf[[0, 1], 0, 2] = 0.8  # box 0: points 0, 1 -> part 2
    conf[[1, 2, 3], 1, 0] = 0.55  # box 1: points 1..3 -> part 0
    # box 2 is zero padding
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as out:
        out["xyz"] = np.arange(12, dtype=np.float32).reshape(4, 3) / 12
        out["cls_bbox"] = np.array([[2, 0, 0]])
        out["conf_bbox"] = conf
        out["gt_semantic_seg"] = np.array([2, 2, 0, 1]) + gt_offset
        out["cls_view"] = np.zeros((2, 4, 1))
        out["conf_view"] = np.zeros((2, 4, 1, 4))


def test_partdistill_h5_import_and_reexport(tmp_path: Path) -> None:
    source = tmp_path / "03001627" / "abc" / "extracted" / "preprocess.h5"
    _write_reference_h5(source, gt_offset=12)  # chair parts are 12-15
    shape, knowledge = read_partdistill_h5(source)
    assert shape.category == "chair" and shape.labels.tolist() == [2, 2, 0, 1]
    assert knowledge.n_units == 2 and knowledge.parts.tolist() == [2, 0]
    assert [knowledge.members(u).tolist() for u in range(2)] == [[0, 1], [1, 2, 3]]
    np.testing.assert_allclose(knowledge.scores, [0.8, 0.55])

    copy = tmp_path / "out" / "03001627" / "abc" / "extracted" / "preprocess.h5"
    write_partdistill_h5(copy, shape, knowledge, find_category("chair"))
    with h5py.File(source) as a, h5py.File(copy) as b:
        np.testing.assert_array_equal(b["xyz"][:], a["xyz"][:])
        np.testing.assert_array_equal(b["gt_semantic_seg"][:], a["gt_semantic_seg"][:])
        np.testing.assert_array_equal(
            b["conf_bbox"][:], a["conf_bbox"][:, :2]
        )  # the padding unit is not kept
        np.testing.assert_array_equal(b["cls_bbox"][:], a["cls_bbox"][:, :2])
    _, again = read_partdistill_h5(copy)
    for field in ("parts", "scores", "offsets", "indices"):
        np.testing.assert_array_equal(getattr(again, field), getattr(knowledge, field))
    assert find_h5_files(tmp_path / "out") == [copy]


def test_h5_confidences_that_vary_inside_a_unit_are_kept_per_point(tmp_path: Path) -> None:
    source = tmp_path / "03001627" / "abc" / "extracted" / "preprocess.h5"
    _write_reference_h5(source, gt_offset=12)
    with h5py.File(source, "r+") as data:
        conf = data["conf_bbox"][:]
        conf[[1, 2, 3], 1, 0] = [0.2, 0.5, 0.8]  # box 1's confidence now differs from point to point
        data["conf_bbox"][...] = conf
    shape, knowledge = read_partdistill_h5(source)
    np.testing.assert_allclose(knowledge.entry_scores(), [0.8, 0.8, 0.2, 0.5, 0.8])
    np.testing.assert_allclose(knowledge.scores, [0.8, 0.5])  # each unit's mean, for summaries
    # They reach the loss's weights, the vote and a re-export unchanged.
    from partdistill.distill.losses import UnitPairs

    np.testing.assert_allclose(
        UnitPairs.from_knowledge([knowledge]).weight.numpy(), [0.8, 0.8, 0.2, 0.5, 0.8]
    )
    np.testing.assert_allclose(knowledge.dense()[:, 1, 0], [0.0, 0.2, 0.5, 0.8])
    copy = tmp_path / "copy.h5"
    write_partdistill_h5(copy, shape, knowledge, find_category("chair"))
    with h5py.File(copy) as data:
        np.testing.assert_allclose(data["conf_bbox"][:, 1, 0], [0.0, 0.2, 0.5, 0.8])
    # A subsample keeps each drawn point's own confidence; storage keeps them all.
    small = knowledge.restricted(np.array([3, 1, 3]))
    assert small.members(1).tolist() == [0, 1, 2]
    np.testing.assert_allclose(small.entry_scores()[small.offsets[1] :], [0.8, 0.2, 0.8])
    save_knowledge(knowledge, tmp_path / "k.npz")
    np.testing.assert_allclose(load_knowledge(tmp_path / "k.npz").point_scores, knowledge.point_scores)


def test_h5_export_keeps_views(tmp_path: Path) -> None:
    units = _units()
    shape = Shape(points=np.zeros((6, 3)))
    path = tmp_path / "p.h5"
    write_partdistill_h5(path, shape, units, find_category("table"))  # three parts, like PARTS
    with h5py.File(path) as data:
        assert data["cls_view"].shape == (2, 6, 2) and data["conf_view"].shape == (2, 6, 2, 3)
        assert data["conf_view"][1, 3, 0, 1] == pytest.approx(
            0.4
        )  # view 1's first unit (unit 1) covers point 3
        assert "gt_semantic_seg" not in data


def test_h5_view_wise_predictions_give_imported_units_their_views(tmp_path: Path) -> None:
    # Units of views 0-3, two of them identical (points 0-1, part a) in views 0 and 2, and one
    # of unknown view, which the writer puts under view 0.
    members = [[0, 1], [1, 2, 3], [4, 5], [0, 1], [2], [3, 4]]
    units = Knowledge.from_units(
        6, PARTS, [np.array(m) for m in members], [0, 1, 2, 0, 1, 2], [0.9, 0.4, 0.6, 0.7, 0.5, 0.8],
        [0, 1, 3, 2, -1, 1],
    )  # fmt: skip
    shape = Shape(points=np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32))
    path = tmp_path / "04379243" / "t" / "extracted" / "preprocess.h5"
    write_partdistill_h5(path, shape, units, find_category("table"))  # three parts, like PARTS
    _, again = read_partdistill_h5(path)
    assert again.views.tolist() == [0, 1, 3, 2, 0, 1]
    for field in ("parts", "scores", "offsets", "indices"):
        np.testing.assert_array_equal(getattr(again, field), getattr(units, field))
    # A unit that no view-wise prediction covers alike keeps no view; nor do the units of a
    # file whose view-wise predictions are empty (the reference layout of _write_reference_h5).
    with h5py.File(path, "r+") as data:
        conf = data["conf_view"][:]
        conf[3, :, 0] = 0  # view 3's only prediction (unit 2) is gone
        data["conf_view"][...] = conf
    assert read_partdistill_h5(path)[1].views.tolist() == [0, 1, -1, 2, 0, 1]
    source = tmp_path / "03001627" / "abc" / "extracted" / "preprocess.h5"
    _write_reference_h5(source, gt_offset=12)
    assert read_partdistill_h5(source)[1].views.tolist() == [-1, -1]
    with h5py.File(source, "r+") as data:
        del data["conf_view"]
        data["conf_view"] = np.zeros((2, 5, 1, 4))
    with pytest.raises(PdError, match=r"conf_view has shape \[2, 5, 1, 4\], expected \[views, 4, "):
        read_partdistill_h5(source)


def test_bad_h5_files_are_explained(tmp_path: Path) -> None:
    (tmp_path / "03001627" / "x").mkdir(parents=True)
    bad = tmp_path / "03001627" / "x" / "preprocess.h5"
    bad.write_text("not hdf5")
    with pytest.raises(PdError, match=r"not a readable PartDistill preprocess\.h5"):
        read_partdistill_h5(bad)
    (tmp_path / "empty").mkdir()
    with pytest.raises(PdError, match=r"holds no preprocess\.h5"):
        find_h5_files(tmp_path / "empty")
    nowhere = tmp_path / "elsewhere.h5"
    _write_reference_h5(nowhere, gt_offset=0)
    with pytest.raises(PdError, match="not under a ShapeNet synset folder"):
        read_partdistill_h5(nowhere)


def test_a_contact_sheet_draws_a_views_empty_mask_as_nothing() -> None:
    # The noisy simulated teacher can give a mask no pixel: pd teach --kind mask failed drawing it.
    from PIL import Image

    from partdistill.teach.sheets import contact_sheet

    views = _hand_made_views(np.zeros((3, 2), dtype=np.float32), np.ones(3, dtype=bool))
    empty = np.zeros((100, 100), dtype=bool)
    sheet = contact_sheet(views, [Prediction(0, 1, 0.5, mask=empty)], PARTS, "chair-00000")
    assert Image.open(io.BytesIO(sheet)).size[0] > 0
