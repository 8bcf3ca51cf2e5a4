"""The running average of the student's predictions that backward distillation re-scores by."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from partdistill.distill.data import (
    Item,
    load_item_arrays,
    predict_logits,
    predict_logits_many,
    save_item_arrays,
)
from partdistill.distill.snapshot import NEGLIGIBLE, PredictionAverage
from partdistill.distill.students import build_student
from partdistill.knowledge.units import Knowledge
from partdistill.shapes import Shape, normalize_points

PARTS = ["a", "b"]


def _item(name: str, xs: list[float]) -> Item:
    points = np.array([[x, 0.0, 0.0] for x in xs], dtype=np.float32)
    return Item(name, Shape(points=points), Knowledge.from_units(len(xs), PARTS, [], [], []))


class _Leaning(torch.nn.Module):
    """Logits (strength * x, 0): part "a" where the normalised x is positive, more so with strength."""

    def __init__(self, strength: float) -> None:
        super().__init__()
        self.strength = strength

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.strength * points[..., 0], torch.zeros_like(points[..., 0])], dim=-1)


def _observe(average: PredictionAverage, epoch: int, model: torch.nn.Module, items: list[Item]) -> None:
    """What a training step of `model` on every item's own average cloud (not augmented) folds in."""
    members = list(enumerate(items))
    indices = [average.cloud(p, item) for p, item in members]
    clouds = [
        normalize_points(item.shape.points[index], "bbox")
        for index, (_, item) in zip(indices, members, strict=True)
    ]
    average.observe(epoch, members, indices, model(torch.from_numpy(np.stack(clouds))))


def test_the_average_weighs_the_past_by_the_decay_and_keeps_input_order() -> None:
    # Normalised, the points stay at x = -1, 0.5, 1; P(a) = sigmoid(strength * x).
    item = _item("s", [-1.0, 0.5, 1.0])
    average = PredictionAverage(decay=0.75, n_points=4, seed=0)  # every point, and one repeated
    _observe(average, 1, _Leaning(2.0), [item])
    _observe(average, 2, _Leaning(-4.0), [item])
    a = 0.75 * np.array([0.1192, 0.7311, 0.8808]) + 0.25 * np.array([0.9820, 0.1192, 0.0180])
    np.testing.assert_allclose(average.probabilities["s"][:, 0], a, atol=1e-4)
    np.testing.assert_allclose(average.probabilities["s"].sum(-1), 1.0, atol=1e-6)
    # Where the past still outweighs the latest swing, the snapshot keeps the past's part.
    assert average.parts(0, item).tolist() == [1, 0, 0]  # the latest alone would say [0, 1, 1]


def test_no_decay_is_the_latest_student_alone() -> None:
    item = _item("s", [-1.0, 1.0])
    average = PredictionAverage(decay=0.0, n_points=2, seed=0)
    for epoch, strength in enumerate((3.0, -3.0), start=1):
        _observe(average, epoch, _Leaning(strength), [item])
    assert average.parts(0, item).tolist() == [0, 1]


def test_the_average_survives_a_save_and_load(tmp_path: Path) -> None:
    items = [_item("s", [-1.0, 1.0]), _item("t", [-1.0, 0.5, 1.0])]
    average = PredictionAverage(decay=0.5, n_points=2, seed=0)
    _observe(average, 1, _Leaning(1.5), items)
    save_item_arrays(tmp_path / "average.npz", items, average.probabilities)
    loaded = load_item_arrays(tmp_path / "average.npz", items)
    for item in items:
        np.testing.assert_array_equal(loaded[item.id], average.probabilities[item.id])


def test_a_larger_shape_is_averaged_on_a_fixed_sample_and_its_other_points_take_their_nearest() -> None:
    # Ten points on the x axis; the student predicts 4 of them, the same 4 at every update.
    item = _item("s", [-1.0, -0.8, -0.6, -0.4, -0.2, 0.2, 0.4, 0.6, 0.8, 1.0])
    average = PredictionAverage(decay=0.5, n_points=4, seed=3)
    sampled = average.sampled(0, item)
    assert len(sampled) == 4 and np.array_equal(sampled, np.sort(average.cloud(0, item)))
    _observe(average, 1, _Leaning(2.0), [item])
    first = average.probabilities["s"].copy()
    _observe(average, 2, _Leaning(2.0), [item])  # the same student on the same points: the average stays
    np.testing.assert_allclose(average.probabilities["s"], first, rtol=1e-6)
    x = item.shape.points[:, 0]
    nearest = np.argmin(np.abs(x[:, None] - x[sampled][None]), axis=1)
    assert average.parts(0, item).tolist() == first.argmax(-1)[nearest].tolist()


def test_an_item_is_folded_in_once_an_epoch_at_its_first_step() -> None:
    item = _item("s", [-1.0, 1.0])
    average = PredictionAverage(decay=0.5, n_points=2, seed=0)
    _observe(average, 1, _Leaning(3.0), [item])
    _observe(average, 1, _Leaning(-3.0), [item])  # the same epoch again (a source drawn twice)
    assert average.parts(0, item).tolist() == [1, 0]
    _observe(average, 2, _Leaning(-3.0), [item])
    np.testing.assert_allclose(average.probabilities["s"][:, 0], 0.5, atol=1e-6)  # an even mix


def test_a_step_on_other_points_gives_each_averaged_point_its_nearest_points_prediction() -> None:
    item = _item("s", [-1.0, -0.8, -0.6, -0.4, -0.2, 0.2, 0.4, 0.6, 0.8, 1.0])
    average = PredictionAverage(decay=0.5, n_points=4, seed=3)
    step = np.array([0, 3, 6, 9])  # the step's cloud: x = -1, -0.4, 0.4, 1
    logits = torch.arange(8.0).reshape(1, 4, 2)  # its own prediction for each of them
    average.observe(1, [(0, item)], [step], logits)
    x = item.shape.points[:, 0]
    sampled = average.sampled(0, item)
    nearest = np.argmin(np.abs(x[sampled][:, None] - x[step][None]), axis=1)
    expected = torch.softmax(logits[0], dim=-1).numpy()[nearest]
    np.testing.assert_allclose(average.probabilities["s"], expected, atol=1e-6)


def test_complete_predicts_the_items_no_step_folded_in_and_leaves_the_others() -> None:
    seen, unseen = _item("s", [-1.0, 1.0]), _item("t", [-1.0, 0.5, 1.0])
    average = PredictionAverage(decay=0.5, n_points=2, seed=0)
    _observe(average, 1, _Leaning(3.0), [seen])
    before = average.probabilities["s"].copy()
    average.complete(_Leaning(-3.0), [seen, unseen])
    np.testing.assert_array_equal(average.probabilities["s"], before)
    cloud = normalize_points(unseen.shape.points[average.cloud(1, unseen)], "bbox")
    expected = torch.softmax(_Leaning(-3.0)(torch.from_numpy(cloud)), dim=-1).numpy()
    order = np.searchsorted(average.sampled(1, unseen), average.cloud(1, unseen))
    np.testing.assert_allclose(average.probabilities["t"][order], expected, atol=1e-6)


@pytest.mark.parametrize(
    ("decay", "first_switch", "start"), [(0.7, 12, 9), (0.7, 3, 1), (0.0, 12, 12), (1.0, 12, 1)]
)
def test_the_average_starts_where_earlier_epochs_would_weigh_under_a_quarter(
    decay: float, first_switch: int, start: int
) -> None:
    assert PredictionAverage(decay, 256, 0).start_epoch(first_switch) == start
    if 0 < decay < 1 and start > 1:
        assert decay ** (first_switch - start + 1) < NEGLIGIBLE <= decay ** (first_switch - start)


def test_an_average_of_every_point_from_an_earlier_release_is_taken_at_the_sample() -> None:
    item = _item("s", [float(x) for x in range(10)])
    average = PredictionAverage(decay=0.5, n_points=4, seed=0)
    every_point = np.random.default_rng(0).random((10, 2)).astype(np.float32)
    average.probabilities = {"s": every_point}
    average.adopt([item])
    np.testing.assert_array_equal(average.probabilities["s"], every_point[average.sampled(0, item)])


def test_packing_the_shapes_into_batches_predicts_what_one_shape_at_a_time_does() -> None:
    # Shapes smaller than, equal to and larger than a chunk, so that batches mix shapes and chunks;
    # one generator drawn from in turn (the running average), or one per shape (labelling).
    rng = np.random.default_rng(0)
    shapes = [Shape(points=rng.normal(size=(n, 3)).astype(np.float32)) for n in (10, 32, 75, 5, 40)]
    torch.manual_seed(0)
    model = build_student("pointnet", 3).eval()
    shared = np.random.default_rng(1)
    for rngs, ones in (
        ([shared] * len(shapes), [np.random.default_rng(1)] * len(shapes)),
        ([np.random.default_rng(s) for s in range(5)], [np.random.default_rng(s) for s in range(5)]),
    ):
        packed = predict_logits_many(model, shapes, 32, rngs, batch=4)
        for shape, logits, one in zip(shapes, packed, ones, strict=True):
            np.testing.assert_allclose(logits, predict_logits(model, shape, 32, one, batch=4), atol=1e-6)


def test_an_average_of_neither_size_is_refused() -> None:
    item = _item("s", [float(x) for x in range(10)])
    average = PredictionAverage(decay=0.5, n_points=4, seed=0)
    average.probabilities = {"s": np.zeros((7, 2), dtype=np.float32)}
    with pytest.raises(ValueError, match="holds 7 points, not 4"):
        average.adopt([item])
