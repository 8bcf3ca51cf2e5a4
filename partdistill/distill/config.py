"""The settings of a `pd distill` run: what decides how a student trains, with each one's bounds."""

from __future__ import annotations

import math
from dataclasses import dataclass

from partdistill.errors import MAX_SEED, PdError, check_number, option
from partdistill.shapes import MAX_POINTS

# The optimisation steps a run takes at least (DistillConfig.min_steps): with 25 epochs, a few
# shapes made 25 steps, far too few to fit them (docs/quality.md measures it); 300 steps leave
# collections of 192 shapes and more at 25 epochs, as the backward-distillation study ran them.
MIN_STEPS = 300
# The most optimisation steps or epochs a run may be asked for: the reference's 25 epochs of
# ShapeNetPart's largest category take about 6,000 steps.
MAX_STEPS = 10_000_000
MAX_BATCH = 65_536  # clouds a step; far beyond any memory a step of them would need
MAX_SHARE = 1_000_000_000  # a source's share of the batches, relative to the others
MODES = ("pre", "tta")  # distil on a collection and apply elsewhere; distil on the shapes to label


@dataclass(frozen=True)
class DistillConfig:
    """Everything that decides a distillation run (written to config.json and checked on --resume).

    Attributes:
        category: catalogue name of the category.
        student: a name in `partdistill.distill.students.STUDENTS`.
        mode: "pre" (distil on a collection, apply to others) or "tta" (distil on the shapes to label).
        epochs: epochs in all (the reference README uses 25), or more where `min_steps` asks.
        min_steps: optimisation steps a run takes at least: a collection too small for that many in
            `epochs` epochs trains for more epochs (0: exactly `epochs`).
        batch_size: clouds per batch.
        n_points: points per cloud.
        lr: initial learning rate; it decays by a cosine to lr * lr_floor.
        lr_floor: the final learning rate as a fraction of lr.
        backward: whether backward distillation may start (off = forward only).
        trigger_window, trigger_delta: the moving-average trigger (reference: 5, 0.01).
        switch_not_before: backward distillation starts no earlier than the end of epoch
            int(epochs * switch_not_before); 0 leaves it to the trigger, as the reference.
        switch_min_steps: nor before the student has taken this many optimisation steps; 0 leaves
            it to the trigger, as the reference.
        snapshot_decay: weight of the past in the running average of the student's predictions
            that the units are re-scored by; 0 uses the student at the switch alone.
        silent: the switch waits while some part's units would re-score below this on average
            (the student does not predict that part yet); 0 switches at the trigger, as the reference.
        augment: the reference augmentation on training clouds.
        rotate: also rotate each training cloud by a random angle about the up axis (+y), for a
            student of shapes whose front is not known (off: the reference, and the same weights).
        seed: seed of initialisation, sampling and augmentation.
        checkpoint: pre-training weights for the student's encoder (point-m2ae), if any.
        sources: where the shapes and their knowledge came from, one entry per source (recorded).
        weights: each source's share of the training batches, one per source; None: their sizes
            (every shape equally often).
        start_from: the run folder of a trained student of the same category and student whose
            weights this run starts from (TTA with generated shapes fine-tunes the student distilled
            on them); None: the student's own initialisation.
        generated: with `start_from`, where the shapes that student was distilled on came from (the
            --with sources of TTA with generated shapes), recorded so that a resume with others is
            refused; None otherwise (as in runs made before it was recorded).
    """

    category: str
    student: str = "pointnet"
    mode: str = "pre"
    epochs: int = 25
    min_steps: int = MIN_STEPS
    batch_size: int = 16
    n_points: int = 2048
    lr: float = 3e-3
    lr_floor: float = 0.01
    backward: bool = True
    trigger_window: int = 5
    trigger_delta: float = 0.01
    switch_not_before: float = 0.5
    switch_min_steps: int = 144
    snapshot_decay: float = 0.7
    silent: float = 0.05
    augment: bool = True
    rotate: bool = False
    seed: int = 0
    checkpoint: str | None = None
    sources: tuple[str, ...] = ()
    weights: tuple[float, ...] | None = None
    start_from: str | None = None
    generated: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        check_number(self.epochs, "epochs", at_least=1, at_most=MAX_STEPS, whole=True)
        check_number(self.min_steps, "min_steps", at_least=0, at_most=MAX_STEPS, whole=True)
        check_number(self.switch_min_steps, "switch_min_steps", at_least=0, at_most=MAX_STEPS, whole=True)
        check_number(self.batch_size, "batch_size", at_least=1, at_most=MAX_BATCH, whole=True)
        check_number(self.n_points, "points", at_least=16, at_most=MAX_POINTS, whole=True)
        check_number(self.seed, "seed", at_least=0, at_most=MAX_SEED, whole=True)
        check_number(self.lr, "lr", above=0, at_most=10)
        check_number(self.lr_floor, "lr_floor", above=0, at_most=1)
        check_number(self.switch_not_before, "switch_not_before", at_least=0, at_most=1)
        check_number(self.snapshot_decay, "snapshot_decay", at_least=0, at_most=1)
        if self.mode not in MODES:
            raise PdError(f"Unknown {option('mode')} '{self.mode}': use {' or '.join(MODES)}.")
        if self.weights is not None:
            for weight in self.weights:  # shares: bounded, so that their sum is a number too
                check_number(weight, "weights", above=0, at_most=MAX_SHARE)
            if self.sources and len(self.weights) != len(self.sources):
                raise PdError(
                    f"{option('weights')} gives {len(self.weights)} shares for {len(self.sources)} sources; "
                    "give one per source."
                )

    def lr_at(self, epoch: int, epochs: int | None = None) -> float:
        """Learning rate of 1-based `epoch` of `epochs` (default: `self.epochs`): CosineAnnealingLR
        with T_max = epochs, stepped per epoch."""
        floor = self.lr * self.lr_floor
        return floor + (self.lr - floor) * (1 + math.cos(math.pi * (epoch - 1) / (epochs or self.epochs))) / 2


REFERENCE_SWITCH: dict[str, float] = {
    "switch_not_before": 0.0,
    "switch_min_steps": 0,
    "snapshot_decay": 0.0,
    "silent": 0.0,
}
"""DistillConfig settings that switch as the reference code does: at the trigger, re-scoring by the
student of that epoch (measured in docs/backward-distillation.md)."""
SWITCHES: dict[str, dict[str, float]] = {"guarded": {}, "reference": REFERENCE_SWITCH}
"""When backward distillation starts, by name: the label-free guards (the default), or the reference's."""
