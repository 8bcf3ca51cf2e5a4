"""What backward distillation re-scores the units by: the student's predictions, averaged over epochs.

The reference freezes the predictions of the checkpoint that scored best on the test set. Without
labels to pick a checkpoint, this keeps an exponential moving average of the student's per-point
part probabilities on every training shape, taken from the training steps of the last forward
epochs before a switch may come (`start_epoch`), and backward distillation freezes its argmax once.
A student still learning swings from epoch to epoch; the average is steadier, and the re-scores
inherit fewer of one epoch's mistakes, which backward distillation would otherwise lock in
(docs/backward-distillation.md measures both).

What it costs is kept to what the snapshot needs (docs/benchmarks.md, "Distill speed", measures it):
- The student predicts one cloud of the training size per shape, as it trains: every point of a
  shape that has no more, a fixed random sample of a larger one. The other points of a larger
  shape take the part of their nearest sampled point when the average is read (`parts`). Predicting
  every point of 10,000-point shapes took five clouds each, as long as the training steps.
- The epochs whose predictions go into the average give it the logits their training steps
  compute anyway (`observe`): a separate prediction pass after each such epoch took 7 s of a
  105 s run on 192 shapes. A step's cloud is a fresh random sample, augmented; each point of the
  fixed cloud takes the prediction of its nearest point in it (every point of a shape no larger
  than a cloud is in every cloud, so there it is its own). The students have no dropout and no
  batch statistics in training, so a step's logits are the student's prediction of its cloud as
  it stands before the step. Training on the fixed clouds instead would need no nearest points,
  but a run whose switch waits trains on them for the rest of its epochs: on 192 tables (seed 1)
  that cost 6.6 points. A shape that sat out of every averaged epoch (the last partial batch is
  dropped) is predicted on its own when the average is needed (`complete`).
- The average starts a few epochs before the first epoch that may switch (`start_epoch`), as
  many as leave the epochs before them less than `NEGLIGIBLE` of its weight there (three at the
  default decay: 0.7 ** 4 = 0.24); those are the student's worst epochs. On 192 procedural chairs
  the first two choices together distilled no worse than the average of every point from epoch 1
  (seeds 0-2: 90.0, 86.2, 77.9 against 85.8, 85.4, 76.9), and better than a start six epochs
  before (83.7, 84.7, 75.8; docs/backward-distillation.md, which measures the third too).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from partdistill.distill.data import Item, predict_clouds
from partdistill.shapes import normalize_points, sample_indices

# The weight, at the first possible switch, that the epochs before the average's start would have had.
NEGLIGIBLE = 0.25


@dataclass
class PredictionAverage:
    """Running average of the student's part probabilities on a fixed sample of each training shape.

    Attributes:
        decay: weight of the past at each update (0: the latest predictions alone).
        n_points: points the student predicts per shape (the training size).
        seed: seed of each shape's fixed sample.
        probabilities: item id -> [k, C] float32 averaged probabilities of the item's sampled points
            (`sampled`: all k = n points of a shape of at most `n_points`), empty before the first fold.
    """

    decay: float
    n_points: int
    seed: int
    probabilities: dict[str, np.ndarray] = field(default_factory=dict)
    _clouds: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _folded: dict[str, int] = field(default_factory=dict, repr=False)  # item id -> last epoch folded in

    def start_epoch(self, first_switch_epoch: int) -> int:
        """The first epoch whose predictions go into the average, for a run that may switch at the
        end of `first_switch_epoch` at the earliest: the earliest epoch such that all the epochs
        before it would weigh less than `NEGLIGIBLE` together in the average there."""
        if self.decay >= 1:  # the first prediction is the average for good
            return 1
        # The epochs before the start weigh decay ** (lead + 1) together at the first switch.
        lead = 0 if self.decay == 0 else math.ceil(math.log(NEGLIGIBLE) / math.log(self.decay)) - 1
        return max(1, first_switch_epoch - lead)

    def cloud(self, position: int, item: Item) -> np.ndarray:
        """[n_points] the point indices of `item` (at `position` among the run's items) that the
        student predicts for the average, the same at every update: every point of a shape that
        has no more (with random repeats up to n_points), else a fixed random sample."""
        if item.id not in self._clouds:
            rng = np.random.default_rng([self.seed, 3, position])
            self._clouds[item.id] = sample_indices(item.shape.points, self.n_points, rng)
        return self._clouds[item.id]

    def sampled(self, position: int, item: Item) -> np.ndarray:
        """[k] ascending point indices of `item` whose probabilities the average holds."""
        return np.unique(self.cloud(position, item))

    def observe(
        self,
        epoch: int,
        members: Sequence[tuple[int, Item]],
        indices: Sequence[np.ndarray],
        logits: torch.Tensor,
    ) -> None:
        """Fold into the average a training step's `logits` [B, n, C] of epoch `epoch`: row b the
        student's prediction of the points `indices[b]` [n] of the b-th of `members` ((position,
        item) pairs). Each point of the item's `cloud` takes its nearest point's. An item is folded
        once an epoch, at its first step in it (a source with a larger share of the batches than
        its size gives some items several steps an epoch)."""
        from scipy.spatial import cKDTree  # 0.3 s to import, which runs that never average skip

        probabilities = torch.softmax(logits.detach().float(), dim=-1).cpu().numpy()
        for (position, item), index, predicted in zip(members, indices, probabilities, strict=True):
            if self._folded.get(item.id) == epoch:
                continue
            self._folded[item.id] = epoch
            points = item.shape.points
            _, nearest = cKDTree(points[index]).query(points[self.cloud(position, item)])
            self._fold(position, item, predicted[nearest])

    def complete(self, model: torch.nn.Module, items: Sequence[Item]) -> None:
        """Give every item of `items` an average: those no step has folded in yet are predicted
        by `model` (in eval mode) on their clouds, as they are now."""
        missing = [
            (position, item) for position, item in enumerate(items) if item.id not in self.probabilities
        ]
        clouds = (
            normalize_points(item.shape.points[self.cloud(position, item)], "bbox")
            for position, item in missing
        )
        for (position, item), logits in zip(missing, predict_clouds(model, clouds), strict=True):
            self._fold(position, item, torch.softmax(torch.from_numpy(logits), dim=-1).numpy())

    def _fold(self, position: int, item: Item, latest: np.ndarray) -> None:
        """Fold `latest` [n_points, C], the probabilities of `item`'s cloud, into its average."""
        sampled, cloud = self.sampled(position, item), self.cloud(position, item)
        at_sampled = np.empty((len(sampled), latest.shape[-1]), dtype=np.float32)
        # A point repeated in the cloud (a shape smaller than it) is written twice, either copy kept.
        at_sampled[np.searchsorted(sampled, cloud)] = latest
        earlier = self.probabilities.get(item.id)
        self.probabilities[item.id] = (
            at_sampled if earlier is None else self.decay * earlier + (1 - self.decay) * at_sampled
        )

    def parts(self, position: int, item: Item) -> np.ndarray:
        """[n] the most probable part of each point of `item` under the average: a sampled point's
        own, any other point's that of its nearest sampled point."""
        sampled, best = self.sampled(position, item), self.probabilities[item.id].argmax(-1)
        if len(sampled) == item.shape.n_points:
            return best
        from scipy.spatial import cKDTree  # 0.3 s to import, which every distill run would pay

        # On torch's threads (`threads.cpu_threads` limits both): each point is answered on its own,
        # so the answers do not depend on their count. `observe`'s queries, 2,048 points a step, stay
        # on one: threads started for each would cost a machine of many cores more than they save.
        _, nearest = cKDTree(item.shape.points[sampled]).query(
            item.shape.points, workers=torch.get_num_threads()
        )
        return best[nearest]

    def adopt(self, items: Sequence[Item]) -> None:
        """Bring averages read from a checkpoint of an earlier release, which held every point of
        a shape, to the sampled points this one holds (their values unchanged); ValueError where
        an average holds neither."""
        for position, item in enumerate(items):
            if item.id not in self.probabilities:
                continue
            held, sampled = self.probabilities[item.id], self.sampled(position, item)
            if len(held) == item.shape.n_points and len(held) != len(sampled):
                held = self.probabilities[item.id] = held[sampled]
            if len(held) != len(sampled):
                raise ValueError(f"the average of {item.id} holds {len(held)} points, not {len(sampled)}")
