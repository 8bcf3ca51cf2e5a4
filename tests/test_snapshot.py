"""The running average of the student's predictions that backward distillation re-scores by."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from partdistill.distill.data import (
    Item,
    load_item_arrays,
    predict_logits,
    predict_logits_many,
    save_item_arrays,
)
from partdistill.distill.snapshot import PredictionAverage
from partdistill.distill.students import build_student
from partdistill.knowledge.units import Knowledge
from partdistill.shapes import Shape

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


def test_the_average_weighs_the_past_by_the_decay_and_keeps_input_order() -> None:
    # Normalised, the points stay at x = -1, 0.5, 1; P(a) = sigmoid(strength * x).
    item = _item("s", [-1.0, 0.5, 1.0])
    average = PredictionAverage(decay=0.75)
    average.update(_Leaning(2.0), [item], n_points=2, rng=np.random.default_rng(0))
    average.update(_Leaning(-4.0), [item], n_points=2, rng=np.random.default_rng(1))
    a = 0.75 * np.array([0.1192, 0.7311, 0.8808]) + 0.25 * np.array([0.9820, 0.1192, 0.0180])
    np.testing.assert_allclose(average.probabilities["s"][:, 0], a, atol=1e-4)
    np.testing.assert_allclose(average.probabilities["s"].sum(-1), 1.0, atol=1e-6)
    # Where the past still outweighs the latest swing, the snapshot keeps the past's part.
    assert average.parts("s").tolist() == [1, 0, 0]  # the latest alone would say [0, 1, 1]


def test_no_decay_is_the_latest_student_alone() -> None:
    item = _item("s", [-1.0, 1.0])
    average = PredictionAverage(decay=0.0)
    for strength in (3.0, -3.0):
        average.update(_Leaning(strength), [item], n_points=2, rng=np.random.default_rng(0))
    assert average.parts("s").tolist() == [0, 1]


def test_the_average_survives_a_save_and_load(tmp_path: Path) -> None:
    items = [_item("s", [-1.0, 1.0]), _item("t", [-1.0, 0.5, 1.0])]
    average = PredictionAverage(decay=0.5)
    average.update(_Leaning(1.5), items, n_points=2, rng=np.random.default_rng(0))
    save_item_arrays(tmp_path / "average.npz", items, average.probabilities)
    loaded = load_item_arrays(tmp_path / "average.npz", items)
    for item in items:
        np.testing.assert_array_equal(loaded[item.id], average.probabilities[item.id])


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
