"""What backward distillation re-scores the units by: the student's predictions, averaged over epochs.

The reference freezes the predictions of the checkpoint that scored best on the test set. Without
labels to pick a checkpoint, this keeps an exponential moving average of the student's per-point
part probabilities on every training shape, updated after each forward epoch, and backward
distillation freezes its argmax once. A student still learning swings from epoch to epoch; the
average is steadier, and the re-scores inherit fewer of one epoch's mistakes, which backward
distillation would otherwise lock in (docs/backward-distillation.md measures both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from partdistill.distill.data import Item, predict_logits_many


@dataclass
class PredictionAverage:
    """Running average of the student's part probabilities on each training shape.

    Attributes:
        decay: weight of the past at each update (0: the latest predictions alone).
        probabilities: item id -> [n_points, C] float32 averaged probabilities (empty before the
            first update).
    """

    decay: float
    probabilities: dict[str, np.ndarray] = field(default_factory=dict)

    def update(
        self,
        model: torch.nn.Module,
        items: Sequence[Item],
        n_points: int,
        rng: np.random.Generator,
    ) -> None:
        """Fold the predictions of `model` (in eval mode) on every item into the average."""
        shapes = [item.shape for item in items]
        predicted = predict_logits_many(model, shapes, n_points, [rng] * len(items))
        for item, logits in zip(items, predicted, strict=True):
            latest = torch.softmax(torch.from_numpy(logits), dim=-1).numpy()
            earlier = self.probabilities.get(item.id)
            self.probabilities[item.id] = (
                latest if earlier is None else self.decay * earlier + (1 - self.decay) * latest
            )

    def parts(self, item_id: str) -> np.ndarray:
        """[n_points] the most probable part of each point of item `item_id` under the average."""
        return self.probabilities[item_id].argmax(-1)
