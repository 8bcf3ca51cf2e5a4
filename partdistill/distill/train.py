"""`pd distill` as a library: train a student on knowledge units, forward then backward distillation.

Schedule (reference train.py): Adam (lr 3e-3, betas 0.9/0.999, no weight decay), cosine decay
per epoch to lr/100, batches of 16 clouds of 2,048 points. After each epoch the trigger
(`losses.Trigger`) watches the moving average of epoch losses; when it flattens, the student's
predictions on every training shape are frozen once, every unit is re-scored by them
(`losses.rescore`), and the remaining epochs train with the re-scores instead of the teacher's
scores. The snapshot runs on the same normalised clouds as training (the reference used
un-normalised coordinates there).

The reference takes that snapshot from the checkpoint that scored best on the test set. Here no
labels choose anything, and three label-free choices stand in for that one (each measured in the
README; `REFERENCE_SWITCH` turns them off: the reference's trigger and the student at the trigger):
- `snapshot_decay`: the snapshot is a running average of the student's predictions over the
  forward epochs (`snapshot.PredictionAverage`), not one epoch's.
- `switch_not_before`, `switch_min_steps`: the switch comes no earlier than this fraction of the
  epochs, and not before the student has taken this many optimisation steps. With small
  collections the trigger fires after a few dozen steps, long before the student is as good as
  it gets, and backward distillation freezes what it gets wrong; a collection too small to reach
  the steps in the given epochs distils forward only.
- `silent`: if the snapshot would re-score some part's units to almost nothing (the student does
  not predict that part yet), the switch waits and the trigger is checked again after the next
  epoch; otherwise such a snapshot deletes the part for good (on 48 procedural airplanes the
  student collapsed to a single part, 13 mIoU against 52 forward-only).
The final student is the last epoch's.

Every epoch's randomness comes from (seed, epoch), and a checkpoint is written after each epoch,
so a run killed at any point and resumed ends with the same weights as an uninterrupted one.

Run folder:
    config.json                      the DistillConfig and the data it saw
    log.txt                          one line per epoch
    curve.png                        training loss (and fit to labels, where shapes carry them)
    checkpoint/                      the last completed epoch: model, optimizer, state, the
                                     averaged predictions or (after the switch) the re-scores
    student.safetensors + student.json   the final student and how to rebuild it
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from partdistill.distill.data import (
    Item,
    batches,
    load_item_arrays,
    make_sample,
    save_item_arrays,
    shared_batches,
)
from partdistill.distill.losses import Trigger, UnitPairs, distillation_loss, rescore
from partdistill.distill.optim import Adam
from partdistill.distill.snapshot import PredictionAverage
from partdistill.distill.students import build_student, trainable_parameters
from partdistill.errors import MAX_SEED, PdError, check_number
from partdistill.files import atomic_path, read_json, write_json
from partdistill.metrics import shapenetpart_shape_iou
from partdistill.prompts import find_category
from partdistill.shapes import MAX_POINTS

# The optimisation steps a run takes at least (DistillConfig.min_steps). With 25 epochs, a few
# shapes made 25 steps, far too few to fit them: on the real ShapeNetPart sample (TTA, 3 shapes a
# category) the student reached 41.7 class mIoU at 25 steps, 66.5 at 200 and 72.0 at 600 (direct
# lifting: 72.4); README. 300 steps leave collections of 192 shapes and more at 25 epochs, as
# the backward-distillation study measured them.
MIN_STEPS = 300
# The most optimisation steps or epochs a run may be asked for: the reference's 25 epochs of
# ShapeNetPart's largest category take about 6,000 steps.
MAX_STEPS = 10_000_000
STUDENT_WEIGHTS = "student.safetensors"
# The display-only fit to the training shapes' labels is measured on a fixed random subset of this
# many labelled shapes (the same every epoch): on all of them it took a fifth of each epoch.
FIT_SHAPES = 16
STUDENT_CONFIG = "student.json"
CURRENT = "current.json"  # in checkpoint/: names the folder of the last complete epoch


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
        seed: seed of initialisation, sampling and augmentation.
        checkpoint: pre-training weights for the student's encoder (point-m2ae), if any.
        sources: where the shapes and their knowledge came from, one entry per source (recorded).
        weights: each source's share of the training batches, one per source; None: their sizes
            (every shape equally often).
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
    seed: int = 0
    checkpoint: str | None = None
    sources: tuple[str, ...] = ()
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        check_number(self.epochs, "--epochs", at_least=1, at_most=MAX_STEPS)
        check_number(self.min_steps, "--min-steps", at_least=0, at_most=MAX_STEPS)
        check_number(self.switch_min_steps, "switch_min_steps", at_least=0, at_most=MAX_STEPS)
        check_number(self.batch_size, "--batch-size", at_least=1)
        check_number(self.n_points, "--points", at_least=16, at_most=MAX_POINTS)
        check_number(self.seed, "--seed", at_least=0, at_most=MAX_SEED)
        check_number(self.lr, "--lr", above=0, at_most=10)
        check_number(self.lr_floor, "lr_floor", above=0, at_most=1)
        check_number(self.switch_not_before, "switch_not_before", at_least=0, at_most=1)
        check_number(self.snapshot_decay, "snapshot_decay", at_least=0, at_most=1)
        if self.mode not in ("pre", "tta"):
            raise PdError(f"Unknown mode '{self.mode}': use pre or tta.")
        if self.weights is not None:
            for weight in self.weights:
                check_number(weight, "--weights", above=0)
            if self.sources and len(self.weights) != len(self.sources):
                raise PdError(
                    f"--weights gives {len(self.weights)} shares for {len(self.sources)} sources; "
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
student of that epoch (measured in the README to lose 8-13 points on 192 procedural chairs)."""


@dataclass(frozen=True)
class BatchReport:
    """One optimisation step done."""

    epoch: int
    batch: int
    n_batches: int
    loss: float


@dataclass(frozen=True)
class EpochReport:
    """One epoch done.

    Attributes:
        epoch: 1-based epoch.
        loss: mean training loss of the epoch.
        lr: its learning rate.
        phase: "forward" or "backward" distillation.
        switched: backward distillation was triggered at the end of this epoch.
        fit: mean shape IoU on up to `FIT_SHAPES` training shapes' own labels, when they have labels
            (display only).
        seconds: wall time of the epoch.
        waiting_for: parts the trigger fired without: the student does not predict them yet, so the
            switch waits (empty when it did not fire or switched).
    """

    epoch: int
    loss: float
    lr: float
    phase: str
    switched: bool
    fit: float | None
    seconds: float
    waiting_for: tuple[str, ...] = ()

    @property
    def backward_note(self) -> str:
        """What happened to backward distillation at the end of this epoch, for logs ("" if nothing)."""
        if self.switched:
            return "backward distillation from the next epoch"
        if self.waiting_for:
            return f"backward distillation waits: no {', '.join(self.waiting_for)} predicted yet"
        return ""


def _log_line(report: EpochReport) -> str:
    fit = "" if report.fit is None else f"  fit {100 * report.fit:.1f} (labels, display only)"
    switch = f"  -> {report.backward_note}" if report.backward_note else ""
    return (
        f"epoch {report.epoch:3d}  {report.phase:8s}  loss {report.loss:.4f}  lr {report.lr:.2e}"
        f"  {report.seconds:.1f}s{fit}{switch}\n"
    )


@dataclass
class TrainState:
    """What a checkpoint holds besides tensors."""

    epoch: int = 0
    losses: list[float] = field(default_factory=list)
    fits: list[float | None] = field(default_factory=list)
    switch_epoch: int | None = None
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Refuse a state no run wrote (a damaged or edited state.json) with a ValueError: every
        epoch run appends one loss, one fit and one log line."""

        def number(value: object) -> bool:
            return isinstance(value, int | float) and not isinstance(value, bool)

        def whole(value: object) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        if not (
            whole(self.epoch)
            and (self.switch_epoch is None or whole(self.switch_epoch))
            and all(isinstance(values, list) for values in (self.losses, self.fits, self.log))
            and len(self.losses) == len(self.fits) == len(self.log) == self.epoch
            and all(number(v) for v in self.losses)
            and all(v is None or number(v) for v in self.fits)
            and all(isinstance(line, str) for line in self.log)
        ):
            raise ValueError("the training state is not one a run wrote")


class Distillation:
    """A resumable distillation run over `items` in `run_dir`."""

    def __init__(
        self, config: DistillConfig, items: list[Item], run_dir: str | Path, device: str = "cpu"
    ) -> None:
        category = find_category(config.category)
        self.config = config
        self.part_names = category.part_names
        for item in items:  # before anything is written: units of other parts would index past the student's
            where = config.sources[item.source] if item.source < len(config.sources) else f"shape {item.id}"
            item.knowledge.require_parts(self.part_names, category.key, where)
        self.items = [item for item in items if item.knowledge.n_units > 0]
        if not self.items:
            raise PdError(
                "None of the shapes has a knowledge unit to learn from; check the teacher's output."
            )
        if config.weights is not None:
            names = config.sources or tuple(f"source {k + 1}" for k in range(len(config.weights)))
            kept = {item.source for item in self.items}
            empty = [name for k, name in enumerate(names) if k not in kept]
            if empty:
                raise PdError(
                    f"None of the shapes of {empty[0]} has a knowledge unit to learn from, so it cannot "
                    "take its share of --weights; check its teacher's output or leave it out."
                )
        self.run_dir = Path(run_dir)
        with torch.random.fork_rng():
            torch.manual_seed(config.seed)
            self.model = build_student(config.student, len(self.part_names), config.checkpoint).to(device)
        self.device = device
        self.optimizer = Adam(trainable_parameters(self.model), lr=config.lr, betas=(0.9, 0.999), eps=1e-8)
        self.state = TrainState()
        self.rescored: dict[str, np.ndarray] | None = None
        self.average = PredictionAverage(config.snapshot_decay)
        self.trigger = Trigger(config.trigger_window, config.trigger_delta)
        fit_rng = np.random.default_rng([config.seed, 1])
        labelled = [item for item in self.items if item.shape.labels is not None]
        chosen = sorted(fit_rng.permutation(len(labelled))[:FIT_SHAPES])
        self._fit_samples = [
            (make_sample(labelled[i], config.n_points, fit_rng, augmented=False), labelled[i].shape.labels)
            for i in chosen
        ]

    @property
    def steps_per_epoch(self) -> int:
        """Optimisation steps in one epoch (full batches only, as `data.batches`)."""
        return len(self.items) // min(self.config.batch_size, len(self.items))

    @property
    def epochs(self) -> int:
        """Epochs this run trains: the configured ones, or as many as `min_steps` needs."""
        return max(self.config.epochs, math.ceil(self.config.min_steps / self.steps_per_epoch))

    @property
    def budget_reason(self) -> str:
        """Why the run trains more epochs than configured ("" when it does not)."""
        if self.epochs == self.config.epochs:
            return ""
        size = min(self.config.batch_size, len(self.items))
        return (
            f"{len(self.items)} shapes in batches of {size} make {self.steps_per_epoch} optimisation"
            f" step(s) an epoch: training {self.epochs} epochs rather than {self.config.epochs}, to take"
            f" at least {self.config.min_steps} steps (--min-steps)"
        )

    @property
    def first_switch_epoch(self) -> int:
        """The earliest epoch at whose end backward distillation may start (past the last: never)."""
        config = self.config
        by_share = int(self.epochs * config.switch_not_before)
        by_steps = math.ceil(config.switch_min_steps / self.steps_per_epoch)
        return max(1, by_share, by_steps)

    @property
    def forward_only(self) -> bool:
        """Whether this run distils forward only: told to (--no-backward), or unable to start
        backward distillation in its epochs (`forward_only_reason`)."""
        return not self.config.backward or bool(self.forward_only_reason)

    @property
    def forward_only_reason(self) -> str:
        """Why backward distillation cannot start in this run although it is on ("" if it can)."""
        config = self.config
        if not config.backward:
            return ""
        if self.steps_per_epoch * config.epochs < config.switch_min_steps:
            return (
                f"backward distillation needs {config.switch_min_steps} optimisation steps within the"
                f" {config.epochs} epochs asked for, and {len(self.items)} shapes in batches of"
                f" {config.batch_size} make {self.steps_per_epoch * config.epochs}: this run distils"
                " forward only (on collections this small it was measured to cost points)"
            )
        if self.first_switch_epoch < self.epochs:
            return ""
        return (
            f"backward distillation waits for {config.switch_not_before:.0%} of the epochs and"
            f" {config.switch_min_steps} optimisation steps, and {len(self.items)} shapes in batches"
            f" of {config.batch_size} make {self.steps_per_epoch * self.epochs} steps in"
            f" {self.epochs} epochs: this run distils forward only"
        )

    # --- checkpoints ----------------------------------------------------------------------------
    #
    # checkpoint/epoch-<e>/ holds everything of epoch e (model, optimizer, state with the log,
    # averaged predictions or re-scores); checkpoint/current.json names the complete one. A new
    # epoch's folder is written in full before current.json is replaced (atomically) and the older
    # folder removed, so a run killed between any two writes resumes from one whole epoch.

    @property
    def _checkpoint(self) -> Path:
        return self.run_dir / "checkpoint"

    def _data_record(self) -> dict:
        return {
            "shapes": [item.id for item in self.items],
            "part_names": list(self.part_names),
            "catalogue": find_category(self.config.category).to_record(),
        }

    def start(self, resume: bool) -> None:
        """Write config.json, or with `resume` check it and load the last checkpoint."""
        # Through JSON and back, as the file will be read: tuples become lists.
        record = json.loads(json.dumps(dataclasses.asdict(self.config) | {"data": self._data_record()}))
        config_path = self.run_dir / "config.json"
        if config_path.exists():
            if not resume:
                raise PdError(
                    f"{self.run_dir} already holds a run; pass --resume to continue it, or use another --out."
                )
            earlier = read_json(config_path, "the settings of a pd distill run")
            if earlier != record:
                changed = sorted(k for k in record if earlier.get(k) != record[k])
                raise PdError(
                    f"{self.run_dir} was started with other settings ({', '.join(changed)});"
                    " cannot resume it; start again with another --out."
                )
            self._load_checkpoint()
        else:
            write_json(config_path, record)

    def _save_checkpoint(self) -> None:
        from safetensors.torch import save_file

        folder = self._checkpoint / f"epoch-{self.state.epoch:04d}"
        if folder.exists():
            shutil.rmtree(folder)  # what a killed run began for this epoch; never the current one
        folder.mkdir(parents=True)
        save_file(
            {k: v.contiguous().cpu() for k, v in self.model.state_dict().items()},
            folder / "model.safetensors",
        )
        tensors = self.optimizer.state_tensors()
        save_file({k: v.contiguous().cpu() for k, v in tensors.items()}, folder / "optimizer.safetensors")
        if self.rescored is not None:
            save_item_arrays(folder / "rescore.npz", self.items, self.rescored)
        elif self.average.probabilities:
            save_item_arrays(folder / "average.npz", self.items, self.average.probabilities)
        write_json(folder / "state.json", dataclasses.asdict(self.state))
        write_json(self._checkpoint / CURRENT, {"epoch": self.state.epoch, "folder": folder.name})
        self._remove_other_checkpoints(keep=folder.name)

    def _remove_other_checkpoints(self, keep: str | None) -> None:
        for stale in self._checkpoint.glob("epoch-*"):
            if stale.name != keep:
                shutil.rmtree(stale, ignore_errors=True)

    def _load_checkpoint(self) -> None:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        pointer = self._checkpoint / CURRENT
        if not pointer.exists():
            self._remove_other_checkpoints(keep=None)
            return  # killed before the first epoch ended: start from the beginning
        current = read_json(pointer, "the name of the run's last complete checkpoint")
        folder = self._checkpoint / str(current.get("folder"))
        if not re.fullmatch(r"epoch-\d+", folder.name) or not folder.is_dir():
            raise PdError(
                f"{pointer} names no checkpoint folder of this run; start again with another --out."
            )
        self._remove_other_checkpoints(keep=folder.name)
        state = read_json(folder / "state.json", "the state of a pd distill checkpoint")
        try:
            self.state = TrainState(**state)
            # Read on the host: load_state_dict copies into the parameters on their device, and the
            # optimizer moves its moments to its parameters' device.
            self.model.load_state_dict(load_file(folder / "model.safetensors"))
            self.optimizer.load_state_tensors(load_file(folder / "optimizer.safetensors"))
            if self.state.switch_epoch is not None:
                self.rescored = load_item_arrays(folder / "rescore.npz", self.items)
            elif (folder / "average.npz").exists():
                self.average.probabilities = load_item_arrays(folder / "average.npz", self.items)
        except (TypeError, KeyError, ValueError, RuntimeError, OSError, SafetensorError) as error:
            raise PdError(
                f"The checkpoint in {folder} is damaged ({type(error).__name__}); "
                "start again with another --out."
            ) from error

    # --- training ---------------------------------------------------------------------------------

    def run(self) -> Iterator[BatchReport | EpochReport]:
        """Train from the current state to the last epoch, reporting every step and epoch."""
        config = self.config
        for epoch in range(self.state.epoch + 1, self.epochs + 1):
            start = time.perf_counter()
            rng = np.random.default_rng([config.seed, 2, epoch])
            lr = config.lr_at(epoch, self.epochs)
            self.optimizer.lr = lr
            self.model.train()
            if config.weights is None:  # shares by size: every shape equally often
                plan = batches(len(self.items), config.batch_size, rng)
            else:
                sources = np.array([item.source for item in self.items])
                plan = shared_batches(sources, config.weights, config.batch_size, rng)
            losses = []
            for number, chosen in enumerate(plan, start=1):
                samples = [make_sample(self.items[i], config.n_points, rng, config.augment) for i in chosen]
                weights = None
                if self.rescored is not None:
                    weights = [self.rescored[self.items[i].id] for i in chosen]
                pairs = UnitPairs.from_knowledge([s.knowledge for s in samples], weights).to(self.device)
                logits = self.model(torch.from_numpy(np.stack([s.points for s in samples])).to(self.device))
                loss = distillation_loss(logits, pairs)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                losses.append(loss.item())
                yield BatchReport(epoch, number, len(plan), losses[-1])
            phase = "backward" if self.rescored is not None else "forward"
            self.state.epoch = epoch
            self.state.losses.append(float(np.mean(losses)))
            self.state.fits.append(self._fit())
            switched, waiting_for = False, ()
            switch_ahead = not self.forward_only_reason and epoch < self.epochs
            if config.backward and self.rescored is None and switch_ahead:
                self.model.eval()
                self.average.update(
                    self.model, self.items, config.n_points, np.random.default_rng([config.seed, 3, epoch])
                )
                if epoch >= self.first_switch_epoch and self.trigger.fires(self.state.losses):
                    rescored = self._rescore()
                    waiting_for = self._silent_parts(rescored)
                    if not waiting_for:
                        switched, self.state.switch_epoch, self.rescored = True, epoch, rescored
                        self.average.probabilities.clear()  # no longer needed; frees its memory
            report = EpochReport(
                epoch,
                self.state.losses[-1],
                lr,
                phase,
                switched,
                self.state.fits[-1],
                time.perf_counter() - start,
                waiting_for,
            )
            self.state.log.append(_log_line(report))
            self._save_checkpoint()
            self._write_log()
            yield report

    def _fit(self) -> float | None:
        """Mean shape IoU of the student on fixed samples of `FIT_SHAPES` training shapes' own labels."""
        if not self._fit_samples:
            return None
        self.model.eval()
        ious = []
        with torch.no_grad():
            for start in range(0, len(self._fit_samples), self.config.batch_size):
                group = self._fit_samples[start : start + self.config.batch_size]
                logits = self.model(torch.from_numpy(np.stack([s.points for s, _ in group])).to(self.device))
                for (sample, labels), values in zip(group, logits.cpu().numpy(), strict=True):
                    ious.append(
                        shapenetpart_shape_iou(values.argmax(-1), labels[sample.index], len(self.part_names))
                    )
        return float(np.mean(ious))

    def _rescore(self) -> dict[str, np.ndarray]:
        """Every unit re-scored by the averaged predictions of the student, frozen as they are now."""
        return {item.id: rescore(item.knowledge, self.average.parts(item.id)) for item in self.items}

    def _silent_parts(self, rescored: dict[str, np.ndarray]) -> tuple[str, ...]:
        """Parts whose units `rescored` would all but delete (mean re-score below `config.silent`)."""
        parts = np.concatenate([item.knowledge.parts for item in self.items])
        scores = np.concatenate([rescored[item.id] for item in self.items])
        n_parts = len(self.part_names)
        totals = np.bincount(parts, weights=scores, minlength=n_parts)
        counts = np.bincount(parts, minlength=n_parts)
        silent = (counts > 0) & (totals < self.config.silent * counts)
        return tuple(self.part_names[c] for c in np.nonzero(silent)[0])

    def _write_log(self) -> None:
        """log.txt: one line per epoch done, rewritten from the state (so it matches the checkpoint)."""
        with atomic_path(self.run_dir / "log.txt") as tmp:
            tmp.write_text("".join(self.state.log))

    # --- the result -------------------------------------------------------------------------------

    def finish(self) -> Path:
        """Write the final student, its rebuild record and the training curve; returns the weights' path."""
        from safetensors.torch import save_file

        self._write_log()
        weights = self.run_dir / STUDENT_WEIGHTS
        with atomic_path(weights) as tmp:
            save_file({k: v.contiguous().cpu() for k, v in self.model.state_dict().items()}, tmp)
        write_json(
            self.run_dir / STUDENT_CONFIG,
            {
                "student": self.config.student,
                "category": self.config.category,
                "part_names": list(self.part_names),
                "catalogue": find_category(self.config.category).to_record(),
                "n_points": self.config.n_points,
                "epochs": self.state.epoch,
                "selection": "last epoch (no labels choose a checkpoint or the backward snapshot)",
                "backward_from_epoch": self.state.switch_epoch,
                "backward_snapshot": (
                    None
                    if self.state.switch_epoch is None
                    else f"average of the student's predictions over epochs 1-{self.state.switch_epoch}"
                    f" (decay {self.config.snapshot_decay})"
                ),
            },
        )
        self._plot()
        return weights

    def _plot(self) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        epochs = np.arange(1, len(self.state.losses) + 1)
        figure, axis = plt.subplots(figsize=(6, 3.5))
        axis.plot(epochs, self.state.losses, color="tab:blue", label="training loss")
        axis.set_xlabel("epoch")
        axis.set_ylabel("distillation loss")
        if self.state.switch_epoch is not None:
            axis.axvline(
                self.state.switch_epoch + 0.5, color="grey", linestyle="--", label="backward distillation"
            )
        if any(f is not None for f in self.state.fits):
            twin = axis.twinx()
            twin.plot(
                epochs,
                [100 * (f or 0) for f in self.state.fits],
                color="tab:orange",
                label="fit to the shapes' labels (display only)",
            )
            twin.set_ylabel("mIoU on training shapes")
            twin.legend(loc="upper right", fontsize=7)
        axis.legend(loc="upper left", fontsize=7)
        figure.tight_layout()
        with atomic_path(self.run_dir / "curve.png") as tmp:
            figure.savefig(tmp, dpi=100)
        plt.close(figure)
