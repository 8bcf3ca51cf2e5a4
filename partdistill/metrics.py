"""Segmentation metrics, one function per benchmark protocol, each with its source.

ShapeNetPart (PointNet's evaluation, followed by PointCLIP V2 and PartDistill's util.py):
    a shape's IoU is the mean, over its category's parts, of |pred ∩ gt| / |pred ∪ gt|, where a
    part absent from both prediction and ground truth counts as 1; a category's mIoU is the mean
    over its shapes; "class mIoU" (PartDistill's "overall") is the mean over categories and
    "instance mIoU" the mean over all shapes.

PartNetE (PartSLIP's semantic evaluation, as in PartSLIP++'s eval/semantic_eval.py):
    for each part, the IoU is averaged over the test shapes whose ground truth contains that
    part; points labelled -1 (no part) are never a hit, so predicting a part there only enlarges
    the union; a category's mIoU is the mean over its parts, and the overall score the mean over
    categories.

Predictions may hold -1 (no prediction) anywhere; it matches no part.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np


def part_ious(prediction: np.ndarray, truth: np.ndarray, n_parts: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-part (intersection [C], union [C]) counts of one shape's labels [N] over parts 0..C-1."""
    prediction, truth = np.asarray(prediction), np.asarray(truth)
    if prediction.shape != truth.shape:
        raise ValueError(f"{prediction.shape[0]} predictions for {truth.shape[0]} points")
    valid_p, valid_t = (prediction >= 0) & (prediction < n_parts), (truth >= 0) & (truth < n_parts)
    predicted = np.bincount(prediction[valid_p], minlength=n_parts)[:n_parts]
    actual = np.bincount(truth[valid_t], minlength=n_parts)[:n_parts]
    hits = np.bincount(truth[valid_t & (prediction == truth)], minlength=n_parts)[:n_parts]
    return hits, predicted + actual - hits


def shapenetpart_shape_iou(prediction: np.ndarray, truth: np.ndarray, n_parts: int) -> float:
    """One shape's IoU under the ShapeNetPart protocol (absent from both = 1)."""
    intersection, union = part_ious(prediction, truth, n_parts)
    ious = np.where(union == 0, 1.0, intersection / np.maximum(union, 1))
    return float(ious.mean())


def shapenetpart_miou(shape_ious: Mapping[str, Sequence[float]]) -> dict[str, float]:
    """Per-category mIoU from per-shape IoUs, with "class" (mean of categories) and "instance" (of shapes)."""
    result = {category: float(np.mean(ious)) for category, ious in shape_ious.items() if len(ious)}
    everything = [iou for ious in shape_ious.values() for iou in ious]
    result["class"] = (
        float(np.mean([result[c] for c in shape_ious if c in result])) if result else float("nan")
    )
    result["instance"] = float(np.mean(everything)) if everything else float("nan")
    return result


def partnete_category_miou(
    shapes: Iterable[tuple[np.ndarray, np.ndarray]], n_parts: int
) -> tuple[float, np.ndarray]:
    """(category mIoU, per-part IoU [C]) under PartSLIP's protocol for (prediction, truth) pairs.

    A part's IoU is averaged over the shapes whose truth has it; a part no test shape has is left
    out of the category mean (NaN in the per-part array).
    """
    sums, counts = np.zeros(n_parts), np.zeros(n_parts)
    for prediction, truth in shapes:
        intersection, union = part_ious(prediction, truth, n_parts)
        present = np.bincount(truth[(truth >= 0) & (truth < n_parts)], minlength=n_parts)[:n_parts] > 0
        sums[present] += intersection[present] / union[present]
        counts[present] += 1
    per_part = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    scored = per_part[counts > 0]
    return (float(scored.mean()) if len(scored) else float("nan")), per_part
