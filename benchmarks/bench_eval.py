"""Time to score ShapeNetPart's test split: 2,874 shapes x 2,048 points, with synthetic labels.

The shapes keep the real per-category counts (Airplane 341 ... Table 848). Scoring uses
`shapenetpart_shape_iou` (bincounts) and `partnete_category_miou`, against a straightforward
implementation with Python sets per part, measured in the same run.

    .venv/bin/python benchmarks/bench_eval.py
"""

from __future__ import annotations

import time

import numpy as np

from partdistill.metrics import partnete_category_miou, shapenetpart_miou, shapenetpart_shape_iou
from partdistill.prompts import shapenetpart_categories

TEST_COUNTS = {
    "airplane": 341, "bag": 14, "cap": 11, "car": 158, "chair": 704, "earphone": 14, "guitar": 159,
    "knife": 80, "lamp": 286, "laptop": 83, "motorbike": 51, "mug": 38, "pistol": 44, "rocket": 12,
    "skateboard": 31, "table": 848,
}  # fmt: skip


def straightforward(prediction: np.ndarray, truth: np.ndarray, n_parts: int) -> float:
    ious = []
    for part in range(n_parts):
        predicted = set(np.flatnonzero(prediction == part).tolist())
        actual = set(np.flatnonzero(truth == part).tolist())
        union = predicted | actual
        ious.append(1.0 if not union else len(predicted & actual) / len(union))
    return sum(ious) / n_parts


def main() -> None:
    rng = np.random.default_rng(0)
    data = []
    for category in shapenetpart_categories():
        parts = len(category.parts)
        for _ in range(TEST_COUNTS[category.name]):
            truth = rng.integers(0, parts, 2048)
            prediction = np.where(rng.random(2048) < 0.3, rng.integers(0, parts, 2048), truth)
            data.append((category.name, parts, prediction, truth))
    print(f"{len(data):,} shapes x 2,048 points\n")

    start = time.perf_counter()
    ious: dict[str, list[float]] = {}
    for name, parts, prediction, truth in data:
        ious.setdefault(name, []).append(shapenetpart_shape_iou(prediction, truth, parts))
    ours = shapenetpart_miou(ious)
    fast = time.perf_counter() - start

    start = time.perf_counter()
    slow_ious: dict[str, list[float]] = {}
    for name, parts, prediction, truth in data:
        slow_ious.setdefault(name, []).append(straightforward(prediction, truth, parts))
    slow = time.perf_counter() - start
    assert abs(shapenetpart_miou(slow_ious)["class"] - ours["class"]) < 1e-9, "both must give the same number"

    start = time.perf_counter()
    by_category: dict[str, tuple[int, list]] = {}
    for name, parts, prediction, truth in data:
        by_category.setdefault(name, (parts, []))[1].append((prediction, truth))
    for parts, pairs in by_category.values():
        partnete_category_miou(pairs, parts)
    partnete = time.perf_counter() - start

    print(f"{'':<46}{'seconds':>9}{'vs baseline':>13}")
    print(f"{'baseline: Python sets per part':<46}{slow:>9.3f}{1.0:>12.2f}x")
    print(f"{'pd: ShapeNetPart protocol (bincount)':<46}{fast:>9.3f}{slow / fast:>12.1f}x")
    print(f"{'pd: PartNetE protocol on the same labels':<46}{partnete:>9.3f}{slow / partnete:>12.1f}x")
    summary = f"class mIoU {100 * ours['class']:.2f}, instance mIoU {100 * ours['instance']:.2f}"
    print(f"\n{summary} (synthetic labels)")


if __name__ == "__main__":
    main()
