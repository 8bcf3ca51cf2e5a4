"""`pd distill` as a library: train a student on knowledge units, forward then backward distillation.

Schedule (reference train.py): Adam (lr 3e-3, betas 0.9/0.999, no weight decay), cosine decay
per epoch to lr/100, batches of 16 clouds of 2,048 points. After each epoch the trigger
(`losses.Trigger`) watches the moving average of epoch losses; when it flattens, the student's
predictions on every training shape are frozen once, every unit is re-scored by them
(`losses.rescore`), and the remaining epochs train with the re-scores instead of the teacher's
scores. The snapshot runs on the same normalised clouds as training (the reference used
un-normalised coordinates there).

The reference takes that snapshot from the checkpoint that scored best on the test set. Here no
labels choose anything, and three label-free choices stand in for that one (each measured in
docs/backward-distillation.md; `REFERENCE_SWITCH` turns them off: the reference's trigger and the
student at the trigger):
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

Every epoch's randomness comes from (seed, epoch), and a checkpoint is written after the last
epoch and after every k-th one (`Distillation.checkpoint_every`: at most `CHECKPOINTS` of them)
that ends `CHECKPOINT_SECONDS` or more after the run's previous checkpoint (or its start), so a
run killed at any point and resumed from its last checkpoint runs the epochs after it again and
ends with the same weights as an uninterrupted one. The log is written with the checkpoints, and
the display-only fit every few epochs (`FITS` in a run, and the last): with a few shapes an epoch
is a single short step, and per-epoch files and fit passes would cost as much as the training. A
checkpoint that cannot be written in full (a full disk) is removed and the run stops with one
sentence; every path in the run folder stays inside it once links are followed (`files.inside`).

Run folder:
    config.json                      the DistillConfig and the data it saw
    log.txt                          one line per epoch, up to the last checkpoint
    curve.png                        training loss (and fit to labels, where shapes carry them)
    checkpoint/                      the last checkpointed epoch: model, optimizer, state, the
                                     averaged predictions or (after the switch) the re-scores
    student.safetensors + student.json   the final student and how to rebuild it
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
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

from partdistill.distill.config import DistillConfig
from partdistill.distill.data import (
    Item,
    batches,
    load_item_arrays,
    make_sample,
    save_item_arrays,
    shared_batches,
    source_slots,
)
from partdistill.distill.losses import Trigger, UnitPairs, distillation_loss, rescore
from partdistill.distill.optim import Adam
from partdistill.distill.snapshot import PredictionAverage
from partdistill.distill.students import build_student, trainable_parameters
from partdistill.errors import PdError, option
from partdistill.files import atomic_path, inside, read_json, write_json
from partdistill.metrics import shapenetpart_shape_iou
from partdistill.prompts import find_category
from partdistill.records import refuse_other_settings

STUDENT_WEIGHTS = "student.safetensors"
# The display-only fit to the training shapes' labels is measured on a fixed random subset of this
# many labelled shapes (the same every epoch): on all of them it took a fifth of each epoch.
FIT_SHAPES = 16
# Epochs on which a run measures that fit at most (and the last): a display, not worth a pass every epoch.
FITS = 10
STUDENT_CONFIG = "student.json"
CHECKPOINTS = 25  # checkpoints a run writes at most (the reference's 25 epochs each had one)
CHECKPOINT_SECONDS = 30.0  # the least time between two checkpoints (a kill loses up to this plus k epochs)
CHECKPOINT_DIR = "checkpoint"
CURRENT = "current.json"  # in checkpoint/: names the folder of the last complete epoch
# What `_write_checkpoint` writes into a checkpoint folder.
CHECKPOINT_FILES = frozenset(
    {"model.safetensors", "optimizer.safetensors", "rescore.npz", "average.npz", "state.json"}
)
EPOCH_DIR = re.compile(r"epoch-\d{4,}")  # checkpoint/epoch-0007: everything of epoch 7


def save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Write `tensors` as a safetensors file, atomically; a write that fails (a full disk) raises
    an OSError naming `path`, as any other file write does."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    try:
        with atomic_path(path) as tmp:
            save_file({k: v.contiguous().cpu() for k, v in tensors.items()}, tmp)
    except SafetensorError as error:  # how safetensors reports a failed write
        raise OSError(None, str(error).removeprefix("Error while serializing: "), str(path)) from error


@dataclass(frozen=True)
class BatchReport:
    """One optimisation step done."""

    epoch: int
    batch: int
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
        fit: mean shape IoU on up to `FIT_SHAPES` training shapes' own labels (display only), on
            every ceil(epochs / `FITS`)-th epoch and the last; None on the others or without labels.
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
        epoch run appends one loss, one fit (or None) and one log line."""

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


def _start_from(model: torch.nn.Module, run: Path) -> None:
    """Load into `model` the weights of the trained student in run folder `run`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        model.load_state_dict(load_file(inside(run, STUDENT_WEIGHTS)))
    except (SafetensorError, OSError, RuntimeError) as error:
        raise PdError(
            f"{run} holds no trained student of this kind to start from ({STUDENT_WEIGHTS}: "
            f"{type(error).__name__})."
        ) from error


def stopped_before_checkpoint(run_dir: Path) -> bool:
    """Whether `run_dir` holds a run stopped before its first checkpoint (a kill, no memory for its
    steps) and nothing more: its config.json, and epoch folders it began but never named in
    checkpoint/current.json. Such a run learnt nothing to keep, and its folder takes a new run with
    any settings. Anything more (a named checkpoint, a student, labels, the generated shapes'
    student, a checkpoint of the layout before current.json) is a run's to keep."""
    if not inside(run_dir, "config.json").is_file():
        return False
    if {p.name for p in run_dir.iterdir() if not p.name.startswith(".")} - {"config.json", CHECKPOINT_DIR}:
        return False
    checkpoint = inside(run_dir, CHECKPOINT_DIR)
    return not checkpoint.exists() or all(
        EPOCH_DIR.fullmatch(p.name) and p.is_dir() and not p.is_symlink() for p in checkpoint.iterdir()
    )


def _checkpoint_only(folder: Path) -> bool:
    """Whether `folder` is a folder (not a link) holding nothing but what a checkpoint writes, a
    killed write's hidden temporaries included."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    return all(path.name in CHECKPOINT_FILES or path.name.startswith(".") for path in folder.iterdir())


def holds_kept_run(run_dir: Path) -> bool:
    """Whether `run_dir` holds a run to keep: its config.json, and more than a run
    `stopped_before_checkpoint` leaves."""
    return inside(run_dir, "config.json").exists() and not stopped_before_checkpoint(run_dir)


def refuse_taken(run_dir: Path, resume: bool) -> None:
    """Refuse a run folder that `holds_kept_run`, unless it is to be resumed."""
    if not resume and holds_kept_run(run_dir):
        raise PdError(
            f"{run_dir} already holds a run; pass {option('resume')} to continue it, "
            f"or use another {option('out')}."
        )


RUN_KEYS = ("student", "category", "data")  # in every run's config.json
FINAL_FILES = ("log.txt", STUDENT_WEIGHTS, STUDENT_CONFIG, "curve.png")  # what a run writes at its end


def inputs_digest(items: list[Item]) -> str:
    """A digest of the items' points and units, recorded in config.json: a resume on shapes or
    units made again in place since (another `pd synth` or `pd teach` into the same folder) is
    refused by it, where their paths and ids alone would let it through."""
    digest = hashlib.sha256()
    for item in items:
        units = item.knowledge
        arrays = [item.shape.points, units.parts, units.scores, units.views, units.offsets, units.indices]
        for array in [*arrays, *([] if units.point_scores is None else [units.point_scores])]:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


INPUT_PATHS = ("sources", "generated", "start_from")  # where a run's inputs were: paths, as given


def _without_inputs(record: dict) -> dict:
    """`record` without the digest of its inputs (compared on its own)."""
    data = record.get("data")
    if not isinstance(data, dict):
        return record
    return record | {"data": {key: value for key, value in data.items() if key != "inputs"}}


def _without_paths(record: dict) -> dict:
    """`record` with its inputs told by how many there are, not where (their digest says what
    they hold): a run started without generated shapes still does not resume with them."""

    def count(value: object) -> object:
        return len(value) if isinstance(value, list) else value if value is None else 1

    return record | {key: count(record[key]) for key in INPUT_PATHS if key in record}


def _resolved_paths(record: dict) -> dict:
    """`record` with its inputs' paths made absolute, as seen from here."""

    def resolved(value: object) -> object:
        if isinstance(value, str):
            return str(Path(value).resolve())
        return [resolved(v) for v in value] if isinstance(value, list) else value

    return record | {key: resolved(record[key]) for key in INPUT_PATHS if key in record}


def _run_settings(record: Path) -> bool:
    """Whether the config.json at `record` holds a run's settings (PdError where it is no JSON)."""
    return all(key in read_json(record, "the settings of a pd distill run") for key in RUN_KEYS)


def holds_run(folder: Path) -> bool:
    """Whether `folder` holds a pd distill run: a config.json with a run's settings."""
    try:
        record = inside(folder, "config.json")
        return record.is_file() and _run_settings(record)
    except PdError:  # a link out, or not JSON: no run of pd's
        return False


def refuse_foreign(run_dir: Path, *begun: str) -> None:
    """Refuse a folder for a run that holds files pd distill did not write. A run writes only into
    a new or empty folder (hidden files aside: it never writes a hidden name of the user's), or
    one where a run began: its config.json, or that of one of `begun`, the sub-folders a run
    writes before its own config.json (the generated shapes' student)."""
    if not run_dir.is_dir():
        return
    for folder in ("", *begun):
        record = inside(run_dir, f"{folder}/config.json" if folder else "config.json")
        if record.exists():
            if not _run_settings(record):
                raise PdError(
                    f"{record} holds no settings of a pd distill run; give {option('out')} a new or "
                    "empty folder."
                )
            return
    names = sorted(path.name for path in run_dir.iterdir() if not path.name.startswith("."))
    if names:
        more = f" and {len(names) - 1} more" if len(names) > 1 else ""
        raise PdError(
            f"{run_dir} holds files pd distill did not write ({names[0]}{more}); it writes a run only "
            f"into a new or empty folder: give {option('out')} one."
        )


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
        self.unitless = [item.id for item in items if item.knowledge.n_units == 0]  # they sit the run out
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
                    f"take its share of {option('weights')}; check its teacher's output or leave it out."
                )
            slots = source_slots(len(self.items), config.weights, config.batch_size)
            if not slots.all():
                raise PdError(
                    f"{option('weights')} gives {names[int(np.argmin(slots))]} too small a share for one "
                    f"of the {int(slots.sum())} places an epoch's batches have; raise its share."
                )
        self.run_dir = Path(run_dir)
        with torch.random.fork_rng():
            torch.manual_seed(config.seed)
            self.model = build_student(config.student, len(self.part_names), config.checkpoint)
        if config.start_from is not None:
            _start_from(self.model, Path(config.start_from))
        self.model.to(device)
        self.device = device
        self.optimizer = Adam(trainable_parameters(self.model), lr=config.lr, betas=(0.9, 0.999), eps=1e-8)
        self.state = TrainState()
        self.rescored: dict[str, np.ndarray] | None = None
        self.average = PredictionAverage(config.snapshot_decay, config.n_points, config.seed)
        self.trigger = Trigger(config.trigger_window, config.trigger_delta)
        self._checkpointed_at = time.monotonic()  # the last checkpoint, or when `run` began
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
    def checkpoint_every(self) -> int:
        """Epochs from one checkpoint to the next: 1 up to `CHECKPOINTS` epochs, then as many as
        keep the run to `CHECKPOINTS` of them (the last epoch always writes one)."""
        return math.ceil(self.epochs / CHECKPOINTS)

    def _checkpoints_after(self, epoch: int) -> bool:
        due = time.monotonic() - self._checkpointed_at >= CHECKPOINT_SECONDS
        return (epoch % self.checkpoint_every == 0 and due) or epoch == self.epochs

    def _fits_after(self, epoch: int) -> bool:
        """Whether the display-only fit is measured after `epoch`: every k-th epoch, as many as
        keep the run to `FITS` of them, and the last."""
        return epoch % math.ceil(self.epochs / FITS) == 0 or epoch == self.epochs

    @property
    def plan_note(self) -> str:
        """How the run trains, in two or three sentences: the shapes left out for want of units, its
        optimisation steps (per epoch, in all, and why there are more epochs than configured), and
        whether it distils backward and why not."""
        n, size, per_epoch, config = (
            len(self.items),
            min(self.config.batch_size, len(self.items)),
            self.steps_per_epoch,
            self.config,
        )
        left_out = n - per_epoch * size
        sitting = (
            f" (each epoch the last {left_out} of the shuffled shapes sit out: the last partial batch is"
            " dropped, as the reference does)"
            if left_out
            else ""
        )
        epochs = f"{self.epochs} epochs"
        if config.start_from is not None:  # a fine-tune: its settings are not the user's
            epochs += f", to take the fine-tune's {config.min_steps}"
        elif self.epochs != config.epochs:
            epochs += (
                f" rather than the {config.epochs} asked for, to take at least {config.min_steps}"
                f" ({option('min_steps')})"
            )
        unitless = (
            f"{len(self.unitless)} of the {n + len(self.unitless)} shapes have no knowledge unit to learn "
            f"from and sit the run out (e.g. {self.unitless[0]}). "
            if self.unitless
            else ""
        )
        steps = unitless + (
            f"{n} shapes in batches of {size} make {per_epoch} optimisation step(s) per epoch{sitting};"
            f" training {epochs}: {per_epoch * self.epochs} steps."
        )
        if config.start_from is not None:
            return f"{steps} A fine-tune distils forward only."
        if not config.backward:
            return f"{steps} Forward distillation only ({option('no_backward')})."
        if self.forward_only_reason:
            reason = self.forward_only_reason
            return f"{steps} {reason[0].upper()}{reason[1:]}."
        return (
            f"{steps} Backward distillation may start after epoch {self.first_switch_epoch}, once the loss"
            " flattens and the student predicts every part the units name."
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
        shapes = f"{len(self.items)} shapes in batches of {min(config.batch_size, len(self.items))}"
        if self.steps_per_epoch * config.epochs < config.switch_min_steps:
            extra = (
                f" (the epochs {option('min_steps')} adds do not count: it is the collection that is too"
                " small)"
                if self.epochs > config.epochs
                else ""
            )
            return (
                f"backward distillation needs {config.switch_min_steps} optimisation steps within the"
                f" {config.epochs} epochs asked for, and {shapes} make"
                f" {self.steps_per_epoch * config.epochs}{extra}: this run distils forward only (on"
                " collections this small it was measured to cost points)"
            )
        if self.first_switch_epoch < self.epochs:
            return ""
        return (
            f"backward distillation waits for {config.switch_not_before:.0%} of the epochs and"
            f" {config.switch_min_steps} optimisation steps, and {shapes} make"
            f" {self.steps_per_epoch * self.epochs} steps in {self.epochs} epochs: this run distils"
            " forward only"
        )

    # --- checkpoints ----------------------------------------------------------------------------
    #
    # checkpoint/epoch-<e>/ holds everything of epoch e (model, optimizer, state with the log,
    # averaged predictions or re-scores); checkpoint/current.json names the complete one. A new
    # epoch's folder is written in full before current.json is replaced (atomically) and the older
    # folder removed, so a run killed between any two writes resumes from one whole epoch.

    def _path(self, relative: str) -> Path:
        """`relative` in the run folder; refused if a link or '..' leads it out."""
        return inside(self.run_dir, relative)

    @property
    def _checkpoint(self) -> Path:
        return self._path(CHECKPOINT_DIR)

    def _data_record(self) -> dict:
        return {
            "shapes": [item.id for item in self.items],
            "part_names": list(self.part_names),
            "catalogue": find_category(self.config.category).to_record(),
            "inputs": inputs_digest(self.items),
        }

    def start(self, resume: bool) -> None:
        """Write config.json, or with `resume` check it and load the last checkpoint (a run
        `stopped_before_checkpoint` starts afresh, with the settings given now)."""
        # Through JSON and back, as the file will be read: tuples become lists.
        record = json.loads(json.dumps(dataclasses.asdict(self.config) | {"data": self._data_record()}))
        config_path = self._path("config.json")
        refuse_taken(self.run_dir, resume)
        for name in FINAL_FILES:  # a link planted there is refused now, not after the training
            self._path(name)
        if holds_kept_run(self.run_dir):
            self._refuse_other_start(read_json(config_path, "the settings of a pd distill run"), record)
            self._load_checkpoint()
        else:
            self._remove_other_checkpoints(keep=None)  # what a run killed in its first epochs began
            write_json(config_path, record)

    def _refuse_other_start(self, earlier: dict, ours: dict) -> None:
        """Refuse to resume a run started otherwise (its config.json `earlier`): with other
        settings, or on other inputs. Where it recorded their digest (since 2026-12-07), what the
        inputs hold is compared and not where they are (a resume from another folder, a project
        moved with its runs); runs before then are judged by their inputs' paths, as typed then,
        relative to the folder pd ran in."""
        made, advice = (
            f"{self.run_dir} was started",
            f"cannot resume it; start again with another {option('out')}.",
        )
        data, inputs = earlier.get("data"), ours["data"]["inputs"]
        digested = isinstance(data, dict) and "inputs" in data
        earlier, ours = _without_inputs(earlier), _without_inputs(ours)
        if digested:
            refuse_other_settings(_without_paths(earlier), _without_paths(ours), made, advice)
            if data["inputs"] != inputs:
                raise PdError(
                    f"{made} on shapes or units other than those given now (or they were made or taught "
                    f"again since); {advice}"
                )
        else:
            refuse_other_settings(_resolved_paths(earlier), _resolved_paths(ours), made, advice)

    def _save_checkpoint(self) -> None:
        """Write this epoch's checkpoint folder, then name it in current.json and drop the older
        one; a checkpoint that cannot be written in full is removed, with one PdError."""
        folder = self._path(f"{CHECKPOINT_DIR}/epoch-{self.state.epoch:04d}")
        if folder.exists():  # what a killed run began for this epoch (never the current one), or not pd's
            if not _checkpoint_only(folder):
                raise PdError(f"{folder} holds files pd did not write there; move them and resume.")
            shutil.rmtree(folder)
        try:
            folder.mkdir(parents=True)
            self._write_checkpoint(folder)
            write_json(self._checkpoint / CURRENT, {"epoch": self.state.epoch, "folder": folder.name})
        except OSError as error:
            shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(OSError):
                self._checkpoint.rmdir()  # only if no earlier checkpoint is in it
            where = f"{Path(error.filename).name}: " if error.filename else ""
            raise PdError(
                f"Cannot write the checkpoint of epoch {self.state.epoch} into {folder} "
                f"({where}{error.strerror or error}); free some space and continue with {option('resume')}."
            ) from error
        self._remove_other_checkpoints(keep=folder.name)

    def _write_checkpoint(self, folder: Path) -> None:
        """Everything of this epoch into the new, empty `folder`."""
        save_tensors(self.model.state_dict(), folder / "model.safetensors")
        save_tensors(self.optimizer.state_tensors(), folder / "optimizer.safetensors")
        if self.rescored is not None:
            save_item_arrays(folder / "rescore.npz", self.items, self.rescored)
        elif self.average.probabilities:
            save_item_arrays(folder / "average.npz", self.items, self.average.probabilities)
        write_json(folder / "state.json", dataclasses.asdict(self.state))

    def _remove_other_checkpoints(self, keep: str | None) -> None:
        """Delete the checkpoint folders other than `keep` that hold nothing but what a checkpoint
        writes (a killed write's hidden temporaries included); any other is not pd's to delete."""
        for stale in self._checkpoint.glob("epoch-*"):
            if stale.name != keep and EPOCH_DIR.fullmatch(stale.name) and _checkpoint_only(stale):
                shutil.rmtree(stale, ignore_errors=True)

    def _load_checkpoint(self) -> None:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        pointer = self._checkpoint / CURRENT
        if not pointer.exists():
            self._remove_other_checkpoints(keep=None)
            return  # killed before the first epoch ended: start from the beginning
        folder = self._current_folder(pointer)
        self._remove_other_checkpoints(keep=folder.name)
        state = read_json(inside(folder, "state.json"), "the state of a pd distill checkpoint")
        try:
            self.state = TrainState(**state)
            # Read on the host: load_state_dict copies into the parameters on their device, and the
            # optimizer moves its moments to its parameters' device.
            self.model.load_state_dict(load_file(inside(folder, "model.safetensors")))
            self.optimizer.load_state_tensors(load_file(inside(folder, "optimizer.safetensors")))
            if self.state.switch_epoch is not None:
                # Every shape's units are re-scored at the switch.
                self.rescored = load_item_arrays(inside(folder, "rescore.npz"), self.items, every=True)
            elif inside(folder, "average.npz").exists():
                self.average.probabilities = load_item_arrays(inside(folder, "average.npz"), self.items)
                self.average.adopt(self.items)
        except (TypeError, KeyError, ValueError, RuntimeError, OSError, SafetensorError) as error:
            raise PdError(
                f"The checkpoint in {folder} is damaged ({type(error).__name__}); "
                f"start again with another {option('out')}."
            ) from error

    def _current_folder(self, pointer: Path) -> Path:
        """The checkpoint folder `pointer` (checkpoint/current.json) names: a folder epoch-NNNN
        directly in checkpoint/, nowhere else; else one PdError."""
        name = read_json(pointer, "the name of the run's last complete checkpoint").get("folder")
        if isinstance(name, str) and EPOCH_DIR.fullmatch(name):
            folder = self._path(f"{CHECKPOINT_DIR}/{name}")
            if folder.is_dir():
                return folder
        raise PdError(
            f"{pointer} names {name!r}, not a checkpoint folder of this run; start again with another "
            f"{option('out')}."
        )

    # --- training ---------------------------------------------------------------------------------

    def run(self) -> Iterator[BatchReport | EpochReport]:
        """Train from the current state to the last epoch, reporting every step and epoch."""
        config = self.config
        self._checkpointed_at = time.monotonic()
        for epoch in range(self.state.epoch + 1, self.epochs + 1):
            start = time.perf_counter()
            rng = np.random.default_rng([config.seed, 2, epoch])
            lr = config.lr_at(epoch, self.epochs)
            self.optimizer.lr = lr
            self.model.train()
            plan = self._plan(rng)
            averaging = self._averages_after(epoch)
            losses = []
            # On an accelerator the host queues a step and goes on until something waits for it:
            # the next batch's copy to the device, the average's copy of the logits, the loss read.
            # The next batch is drawn on the CPU before those, so that drawing it overlaps the step.
            # The draws keep their order (`observe` reads only the logits and the items), and what
            # `_batch` reads (`self.rescored`) changes only between epochs: the same weights.
            made = (self._batch(chosen, rng) for chosen in plan)
            batch = next(made, None)
            for number, chosen in enumerate(plan, start=1):
                points, pairs, indices = batch
                logits = self.model(points)
                loss = distillation_loss(logits, pairs)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                batch = next(made, None)
                if averaging:
                    self.average.observe(epoch, [(i, self.items[i]) for i in chosen], indices, logits)
                losses.append(loss.item())
                yield BatchReport(epoch, number, losses[-1])
            phase = "backward" if self.rescored is not None else "forward"
            checkpoint = self._checkpoints_after(epoch)
            self.state.epoch = epoch
            self.state.losses.append(float(np.mean(losses)))
            self.state.fits.append(self._fit() if self._fits_after(epoch) else None)
            switched, waiting_for = False, ()
            if averaging and epoch >= self.first_switch_epoch and self.trigger.fires(self.state.losses):
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
            if checkpoint:
                self._save_checkpoint()
                self._write_log()
                self._checkpointed_at = time.monotonic()
            yield report

    def _averages_after(self, epoch: int) -> bool:
        """Whether the student's predictions in `epoch` go into the average: a forward epoch with a
        switch to backward distillation still possible after it, late enough to count
        (`PredictionAverage.start_epoch`)."""
        return (
            self.config.backward
            and self.rescored is None
            and not self.forward_only_reason
            and self.average.start_epoch(self.first_switch_epoch) <= epoch < self.epochs
        )

    def _plan(self, rng: np.random.Generator) -> list[np.ndarray]:
        """An epoch's batches of item indices."""
        config = self.config
        if config.weights is None:  # shares by size: every shape equally often
            return batches(len(self.items), config.batch_size, rng)
        sources = np.array([item.source for item in self.items])
        return shared_batches(sources, config.weights, config.batch_size, rng)

    def _batch(
        self, chosen: np.ndarray, rng: np.random.Generator
    ) -> tuple[torch.Tensor, UnitPairs, list[np.ndarray]]:
        """The items `chosen` sampled and augmented, as points [B, n_points, 3] and their units
        (re-scored in backward distillation) as pairs, on the run's device, and each sample's
        point indices [n_points] in its item."""
        config = self.config
        samples = [
            make_sample(self.items[i], config.n_points, rng, config.augment, config.rotate) for i in chosen
        ]
        weights = None
        if self.rescored is not None:
            weights = [self.rescored[self.items[i].id] for i in chosen]
        pairs = UnitPairs.from_knowledge([s.knowledge for s in samples], weights).to(self.device)
        points = torch.from_numpy(np.stack([s.points for s in samples])).to(self.device)
        return points, pairs, [s.index for s in samples]

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
        self.model.eval()
        self.average.complete(self.model, self.items)
        return {
            item.id: rescore(item.knowledge, self.average.parts(position, item))
            for position, item in enumerate(self.items)
        }

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
        with atomic_path(self._path("log.txt")) as tmp:
            tmp.write_text("".join(self.state.log))

    # --- the result -------------------------------------------------------------------------------

    def finish(self) -> Path:
        """Write the final student, its rebuild record and the training curve; returns the weights' path."""
        self._write_log()
        weights = self._path(STUDENT_WEIGHTS)
        save_tensors(self.model.state_dict(), weights)
        write_json(
            self._path(STUDENT_CONFIG),
            {
                "student": self.config.student,
                "category": self.config.category,
                "part_names": list(self.part_names),
                "catalogue": find_category(self.config.category).to_record(),
                "n_points": self.config.n_points,
                "epochs": self.state.epoch,
                "selection": "last epoch (no labels choose a checkpoint or the backward snapshot)",
                "backward_from_epoch": self.state.switch_epoch,
                "backward_snapshot": self._snapshot_note(),
            },
        )
        self._plot()
        return weights

    def _snapshot_note(self) -> str | None:
        """What the units were re-scored by at the switch, in words (None: no switch)."""
        switch, decay = self.state.switch_epoch, self.config.snapshot_decay
        if switch is None:
            return None
        if decay == 0:
            return f"the student's predictions at epoch {switch}"
        start = self.average.start_epoch(self.first_switch_epoch)
        return f"average of the student's predictions over epochs {start}-{switch} (decay {decay})"

    def _plot(self) -> None:
        from matplotlib.figure import Figure  # not pyplot, as in `viz.save_panels`

        epochs = np.arange(1, len(self.state.losses) + 1)
        figure = Figure(figsize=(6, 3.5))
        axis = figure.subplots()
        axis.plot(epochs, self.state.losses, color="tab:blue", label="training loss")
        axis.set_xlabel("epoch")
        axis.set_ylabel("distillation loss")
        if self.state.switch_epoch is not None:
            axis.axvline(
                self.state.switch_epoch + 0.5, color="grey", linestyle="--", label="backward distillation"
            )
        fits = [
            (epoch, 100 * fit) for epoch, fit in zip(epochs, self.state.fits, strict=True) if fit is not None
        ]
        if fits:
            twin = axis.twinx()
            twin.plot(
                *zip(*fits, strict=True),
                color="tab:orange",
                label="fit to the shapes' labels (display only)",
            )
            twin.set_ylabel("mIoU on training shapes")
            twin.legend(loc="upper right", fontsize=7)
        axis.legend(loc="upper left", fontsize=7)
        figure.tight_layout()
        with atomic_path(self._path("curve.png")) as tmp:
            figure.savefig(tmp, dpi=100)
