"""PartDistill's forward and backward distillation losses, computed sparsely over knowledge units.

Notation (method notes, sections 6-7; reference model/loss.py and util.py): a batch has B shapes
of N points; unit u covers points M_u, has part c_u and weight s_u (the teacher's score in forward
distillation, the re-score q_u in backward distillation). With p = softmax(student logits):

    n_c   = number of (point, unit) pairs whose unit has part c          (pairs, not points)
    w_c   = clip(1 + log_4(T / (C n_c)), 1, 4),   T = sum_c n_c          (n_c = 0 gives 4)
    L     = 1/(B N) sum_i [ sum_{u covering i} s_ui w_{c_u} (-log p_{i,c_u}) ] / max(1, #units covering i)

s_ui is unit u's score at point i: the teacher's score of the unit (or the file's per-point
confidence where imported knowledge has one), or in backward distillation the unit's re-score.

Points that no unit covers add nothing but still count in the B N average, as in the reference.
Instead of the reference's dense [B, N, U, C] tensors, a batch carries its (point, unit) pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from partdistill.knowledge.units import Knowledge


@dataclass(frozen=True)
class UnitPairs:
    """The knowledge of a batch as (point, unit) pairs.

    Attributes:
        point: [P] int64 flat point index b * N + i of each pair.
        part: [P] int64 part of the pair's unit.
        weight: [P] float32 weight of the pair: the teacher's confidence at that point (forward
            distillation), or its unit's re-score (backward distillation).
    """

    point: torch.Tensor
    part: torch.Tensor
    weight: torch.Tensor

    def to(self, device: str | torch.device) -> UnitPairs:
        return UnitPairs(self.point.to(device), self.part.to(device), self.weight.to(device))

    @classmethod
    def from_knowledge(
        cls, batch: Sequence[Knowledge], weights: Sequence[np.ndarray] | None = None
    ) -> UnitPairs:
        """Pack per-shape units (all over the same N points) into batch-wide pairs.

        `weights` replaces each shape's unit scores by one weight per unit (backward
        distillation's re-scores).
        """
        points, parts, scores = [], [], []
        for b, knowledge in enumerate(batch):
            units = knowledge.unit_of_entry()
            points.append(b * knowledge.n_points + knowledge.indices.astype(np.int64))
            parts.append(knowledge.parts[units])
            if weights is None:
                scores.append(knowledge.entry_scores())
            else:
                scores.append(np.asarray(weights[b], np.float32)[units])
        return cls(
            point=torch.from_numpy(np.concatenate(points)),
            part=torch.from_numpy(np.concatenate(parts)),
            weight=torch.from_numpy(np.concatenate(scores).astype(np.float32)),
        )


def _counts(index: torch.Tensor, size: int) -> torch.Tensor:
    """[size] float64 occurrences of each value of `index` (torch.bincount, but with a fixed output
    size, which runs on every device, PyTorch's `meta` device included)."""
    ones = torch.ones_like(index, dtype=torch.float64)
    return torch.zeros(size, dtype=torch.float64, device=index.device).index_add_(0, index, ones)


def class_weights(pairs: UnitPairs, n_parts: int) -> torch.Tensor:
    """[C] per-batch class weights: clip(1 + log_4(T / (C n_c)), 1, 4) over (point, unit) pair counts."""
    counts = _counts(pairs.part, n_parts)
    weights = 1.0 + torch.log(counts.sum() / (n_parts * counts)) / np.log(4.0)  # n_c = 0 -> inf -> 4
    return torch.nan_to_num(weights, nan=4.0, posinf=4.0).clamp(1.0, 4.0).to(torch.float32)


def distillation_loss(logits: torch.Tensor, pairs: UnitPairs) -> torch.Tensor:
    """The forward (or, with re-scored weights, backward) distillation loss for logits [B, N, C]."""
    batch, n, n_parts = logits.shape
    log_p = torch.log_softmax(logits.reshape(batch * n, n_parts), dim=-1)
    # index_select + gather, not log_p[point, part]: on a CPU the backward of tensor indexing adds
    # up gradients in thread order, so the same seed gave weights that differed with the CPU load.
    picked = log_p.index_select(0, pairs.point).gather(1, pairs.part.unsqueeze(1)).squeeze(1)
    per_pair = -picked * pairs.weight * class_weights(pairs, n_parts)[pairs.part]
    total = torch.zeros(batch * n, dtype=logits.dtype, device=logits.device).index_add_(
        0, pairs.point, per_pair
    )
    covering = _counts(pairs.point, batch * n).clamp(min=1).to(logits.dtype)
    return (total / covering).sum() / (batch * n)


def rescore(knowledge: Knowledge, predicted: np.ndarray) -> np.ndarray:
    """Backward distillation's re-score of every unit: |M_u ∩ P_{c_u}| / |M_u| (0 for an empty unit).

    `predicted` [n_points] holds the frozen student snapshot's part for each point. This is the
    reference code's ratio (it calls it an IoU, but divides by |M_u| only).
    """
    agrees = predicted[knowledge.indices] == knowledge.parts[knowledge.unit_of_entry()]
    hits = np.bincount(knowledge.unit_of_entry(), weights=agrees, minlength=knowledge.n_units)
    sizes = np.diff(knowledge.offsets)
    return (hits / np.maximum(sizes, 1)).astype(np.float32)


@dataclass(frozen=True)
class Trigger:
    """When backward distillation starts: the moving average of epoch losses has flattened.

    After epoch e (1-based), A_e is the mean of the last min(e, window) epoch losses (A_0 = 0); the
    trigger fires when |A_e - A_{e-1}| < delta and e >= window. Reference: n_mov_avg = 5, 0.01.
    """

    window: int = 5
    delta: float = 0.01

    def fires(self, losses: Sequence[float]) -> bool:
        """Whether it fires at the end of the epoch whose loss is `losses[-1]`."""
        epoch = len(losses)
        if epoch < self.window:
            return False
        average = float(np.mean(losses[-self.window :]))
        before = float(np.mean(losses[max(0, epoch - 1 - self.window) : epoch - 1])) if epoch > 1 else 0.0
        return abs(average - before) < self.delta
