"""What distillation achieves on procedural chairs taught by the noisy simulated teacher.

Setting (fixed seed 0), the one `benchmarks/bench_backward.py --categories chair --shapes 192
--boxes part` measures: 192 training and 16 held-out procedural chairs, 1,024 points, knowledge
from noisy simulated boxes (one per part and view) rendered at 160 px, the pointnet student, 25
epochs, batch 16, backward distillation with the defaults (not before epoch 12, re-scoring by the
student's predictions averaged over the epochs).

Thresholds come from that benchmark over seeds 0-4 (held-out mIoU, measured 2026-12-06 with the
running average of one cloud per shape from three epochs before the first switch): direct lifting
45.4 / 48.4 / 47.2 / 46.9 / 51.6; forward-only 83.5 / 84.9 / 77.6 / 84.0 / 82.3; with backward
distillation 90.0 / 86.2 / 77.9 / 87.6 / 80.3, switching at epoch 12 every time; re-scores of
right units 0.67 to 0.72 on average, of wrong ones 0.20 to 0.25.

Backward distillation beat forward-only on four seeds of five (+6.5, +1.3, +0.3, +3.6, and -2.0
on seed 4), so its test is a check at this fixed seed (measured +6.5), not a guarantee for any seed.
"""

from __future__ import annotations

import tempfile

import numpy as np
import pytest

from partdistill.distill.config import DistillConfig
from partdistill.distill.data import Item, predict_logits
from partdistill.distill.train import Distillation, EpochReport
from partdistill.knowledge.units import vote
from partdistill.metrics import shapenetpart_shape_iou
from partdistill.prompts import find_category
from partdistill.render.cameras import partslip_cameras
from partdistill.render.renderers import MeshRenderer
from partdistill.synth.base import Request
from partdistill.synth.procedural import ProceduralGenerator
from partdistill.synth.run import item_seed
from partdistill.teach.lift import lift
from partdistill.teach.teachers import NOISE_PRESETS, SimulatedTeacher

CHAIR = find_category("chair")
SEED = 0
POINTS = 1024


def _items(seeds: list[int]) -> list[Item]:
    generator, cameras = ProceduralGenerator(n_points=2 * POINTS), partslip_cameras(160)
    # One box around all of a part's pixels in a view: the teacher's box model when this study was
    # measured (the default now boxes each instance, as a detector does).
    teacher = SimulatedTeacher("box", NOISE_PRESETS["noisy"], seed=SEED, per_instance=False)
    items = []
    for seed in seeds:
        shape = generator.generate(Request(CHAIR, None, seed))
        views = MeshRenderer().render(shape, cameras)
        items.append(
            Item(str(seed), shape, lift(views, teacher.predict(views, CHAIR, shape), CHAIR.part_names))
        )
    return items


def _held_out_miou(run: Distillation, test: list[Item]) -> float:
    run.model.eval()
    rng = np.random.default_rng(0)
    return float(
        np.mean(
            [
                shapenetpart_shape_iou(
                    predict_logits(run.model, t.shape, POINTS, rng).argmax(-1), t.shape.labels, 4
                )
                for t in test
            ]
        )
    )


@pytest.fixture(scope="module")
def study() -> dict[str, object]:
    train = _items([item_seed(SEED, i) for i in range(192)])
    test = _items([item_seed(1000 + SEED, i) for i in range(16)])
    result: dict[str, object] = {
        "lifting": float(
            np.mean([shapenetpart_shape_iou(vote(t.knowledge), t.shape.labels, 4) for t in test])
        )
    }
    for backward in (False, True):
        config = DistillConfig(category="chair", n_points=POINTS, backward=backward, seed=SEED)
        run = Distillation(config, train, tempfile.mkdtemp())
        run.start(resume=False)
        reports = [r for r in run.run() if isinstance(r, EpochReport)]
        result["backward" if backward else "forward"] = _held_out_miou(run, test)
        if backward:
            result["switch"] = [r.epoch for r in reports if r.switched]
            result["backward run"] = run
    return result


def test_the_student_beats_direct_lifting(study: dict) -> None:
    # Measured margins: +30.4 to +38.1 points.
    assert study["forward"] >= study["lifting"] + 0.25


def test_backward_distillation_beats_forward_only(study: dict) -> None:
    # Measured at this seed: +6.5 points (mean over seeds 0-4: +1.9).
    assert study["backward"] >= study["forward"] + 0.01


def test_backward_distillation_switches_once_and_not_before_half_the_epochs(study: dict) -> None:
    assert len(study["switch"]) == 1 and 12 <= study["switch"][0] < 25


def test_the_rescores_separate_right_units_from_wrong_ones(study: dict) -> None:
    run = study["backward run"]
    right, wrong = [], []
    for item in run.items:
        for unit in range(item.knowledge.n_units):
            truth = np.bincount(item.shape.labels[item.knowledge.members(unit)]).argmax()
            (right if truth == item.knowledge.parts[unit] else wrong).append(run.rescored[item.id][unit])
    # Measured margins: 0.42 to 0.52.
    assert np.mean(right) - np.mean(wrong) >= 0.3
