"""One `pd distill` run as a value: where its shapes and knowledge come from, how it trains, where it
writes. `DistillJob.run` is the whole flow (teach what has no knowledge yet, distil, and in TTA mode
label the shapes), reporting to a `Progress`: the command line shows it as bars and notes, a
Python caller may watch or not, and a Ray worker runs the same flow quietly (`partdistill.scale`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from partdistill.devices import enough_memory
from partdistill.distill.choose import (
    CHECK_DIR,
    CHOICE_FILE,
    GENERATED,
    LIFTING,
    STUDENT,
    WHAT,
    Choice,
    compare,
    compare_candidates,
    filled,
    twin,
)
from partdistill.distill.config import DistillConfig
from partdistill.distill.data import Item, item_id
from partdistill.distill.few import (
    FROM_GENERATED,
    GENERATED_DIR,
    fine_tune_config,
    generated_config,
    plan_generated,
)
from partdistill.distill.sources import Source, plan_sources, refuse_idle_teach_settings
from partdistill.distill.train import (
    STUDENT_WEIGHTS,
    BatchReport,
    Distillation,
    holds_kept_run,
    refuse_foreign,
    refuse_taken,
    stopped_before_checkpoint,
)
from partdistill.distill.trained import TrainedStudent, save_labels
from partdistill.errors import MissingDependencyError, PdError, option
from partdistill.files import OutputFolder, inside, write_json
from partdistill.knowledge.units import vote
from partdistill.progress import QUIET, Progress, tracked
from partdistill.prompts import Category, register_category
from partdistill.stops import Stops
from partdistill.teach.config import TeachConfig, build_config_teacher
from partdistill.teach.run import follow as follow_teaching
from partdistill.teach.run import teach
from partdistill.weights import DamagedWeights, MissingWeights


@dataclass(frozen=True)
class Planned:
    """A job with its category, sources and complete training settings decided.

    Attributes:
        category: the category distilled.
        sources: where its shapes and knowledge come from.
        config: the training settings, sources and category filled in.
        run_dir: the run folder.
        generated: with `--with`, the generated shapes' sources (empty without).
        generated_config: the settings of the student distilled on them alone (None without).
    """

    category: Category
    sources: list[Source]
    config: DistillConfig
    run_dir: Path
    generated: list[Source] = field(default_factory=list)
    generated_config: DistillConfig | None = None


@dataclass(frozen=True)
class Finished:
    """What a job did: its category, run folder, epochs, last loss, backward switch (or None), and
    in TTA mode which labels it handed over ("student", "lifting" or, with generated shapes,
    "generated"; None outside TTA mode)."""

    category: str
    run_dir: Path
    epochs: int
    loss: float
    switch_epoch: int | None
    handed_over: str | None = None


@dataclass(frozen=True)
class Failed:
    """A job that ended on its input: its category and the `PdError`'s sentence (its settings
    marked, as `option` writes them)."""

    category: str
    sentence: str


@dataclass(frozen=True)
class DistillJob:
    """Everything a `pd distill` run needs (see `plan` for how sources are found).

    Attributes:
        shapes, knowledge: the --shapes and --knowledge folders.
        with_: the --with folders: generated shapes of the category (collections, pd teach folders
            or folders of h5 files) for TTA mode to distil students from too (`generated`).
        category: the category the user named, or None for the one the shapes share.
        teach: how knowledge is made for a collection that has none.
        pinned: the `teach` settings the user chose explicitly: a collection's knowledge made
            with other values of them is refused rather than silently used.
        training: DistillConfig fields (all but category and sources).
        out: the run folder, or None for runs/<category>-<student>.
        resume: continue the run in `out`.
        device: where the student trains.
        force_category: distil the shapes as `category` even where their own category is another.
    """

    shapes: tuple[Path, ...]
    knowledge: tuple[Path, ...]
    category: Category | None
    teach: TeachConfig
    pinned: tuple[str, ...] = ()
    training: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None
    resume: bool = False
    device: str = "cpu"
    force_category: bool = False
    with_: tuple[Path, ...] = ()

    def plan(self) -> Planned:
        """The category, sources and settings of the run; a category that contradicts a
        collection's own is refused here, before anything is written (unless `force_category`)."""
        found, sources = plan_sources(
            list(self.shapes), list(self.knowledge), self.category, self.teach, self.pinned
        )
        named = found if self.category is not None else None
        for source in sources:
            if source.collection is not None:
                source.collection.category_for(named, self.force_category)
        config = DistillConfig(
            category=found.key, sources=tuple(source.label for source in sources), **self.training
        )
        run_dir = self.out or Path("runs") / f"{found.name}-{config.student}"
        generated = plan_generated(self.with_, found, sources, self.teach, self.pinned, config)
        refuse_idle_teach_settings([*sources, *generated], self.pinned)
        if not generated:
            return Planned(found, sources, config, run_dir)
        return Planned(
            found,
            sources,
            fine_tune_config(config, run_dir, generated),
            run_dir,
            generated,
            generated_config(config, generated),
        )

    def run(self, progress: Progress = QUIET) -> Finished:
        """Teach what has no knowledge yet, distil, and in TTA mode label the shapes; `resume`
        continues a killed run from its last checkpoint."""
        if self.category is not None:  # a user category travels with the job to a Ray worker
            register_category(self.category)
        planned = self.plan()
        self.check_free(planned)  # before any teaching; `check_folder` again below, under the folder's lock
        if self.resume and not planned.run_dir.exists():
            progress.note(f"{planned.run_dir} does not exist: nothing to resume, so the run starts afresh.")
        for source in [*planned.sources, *planned.generated]:
            if source.teach is not None:
                assert source.collection is not None and source.store is not None
                progress.note(
                    f"No complete knowledge in {source.store.root} yet: running the teacher stage first."
                )
                teacher = build_config_teacher(source.teach, self.device)
                with OutputFolder(source.store.root, within=source.collection.root):
                    results = teach(
                        source.collection, planned.category, teacher, source.teach, source.store, sheets=8
                    )
                    follow_teaching(
                        results,
                        source.collection,
                        source.store,
                        f"teaching {planned.category.name}",
                        progress,
                    )
        with enough_memory(lambda: smaller_steps(planned)):
            items = gather(planned.sources)
        for line in source_lines(planned, items):
            progress.note(line)
        with OutputFolder(planned.run_dir), enough_memory(lambda: smaller_steps(planned)):
            self.check_folder(planned)
            if planned.config.mode == "tta":  # a link planted there is refused now, not after the training
                for name in TTA_OUTPUTS:
                    inside(planned.run_dir, name)
            generated = None
            if planned.generated_config is not None:
                generated = self._distil_generated(planned, progress)
            run = Distillation(planned.config, items, planned.run_dir, device=self.device)
            if stopped_before_checkpoint(planned.run_dir):
                progress.note(
                    f"{planned.run_dir} holds a run stopped before its first checkpoint: it starts afresh."
                )
            run.start(self.resume)
            if run.state.epoch:
                progress.note(f"Resuming {run.run_dir} after epoch {run.state.epoch} of {run.epochs}.")
            progress.note(run.plan_note)
            name = planned.category.name
            follow(run, progress, f"fine-tuning on {name}" if generated else f"distilling {name}")
            progress.note(
                f"Student: {run.run_dir / STUDENT_WEIGHTS}  (log.txt, curve.png, config.json beside it)"
            )
            handed_over = None
            if planned.config.mode == "tta":
                if generated is None:
                    choice = choose_labels(run, progress)
                else:
                    choice = choose_with_generated(run, generated, progress)
                labelled = label_distilled(run, items, choice, generated)
                progress.note(labelled.summary(run.run_dir))
                handed_over = labelled.choice.labels
        loss = run.state.losses[-1] if run.state.losses else float("nan")
        return Finished(
            planned.category.key, planned.run_dir, run.state.epoch, loss, run.state.switch_epoch, handed_over
        )

    def _distil_generated(self, planned: Planned, progress: Progress) -> TrainedStudent:
        """The student of the generated shapes alone, in the run folder's generated/, distilled
        there unless it is there already (resumed where it stopped)."""
        assert planned.generated_config is not None
        items = gather(planned.generated)
        where = inside(planned.run_dir, GENERATED_DIR)
        run = Distillation(planned.generated_config, items, where, device=self.device)
        run.start(resume=inside(where, "config.json").exists())
        progress.note(
            f"Generated shapes: distilling a student on their {len(run.items)} shapes into {where}, to "
            f"fine-tune on your shapes' units. {run.plan_note}"
        )
        if run.state.epoch:
            progress.note(f"Resuming {where} after epoch {run.state.epoch} of {run.epochs}.")
        follow(run, progress, f"distilling generated {planned.category.name}")
        return TrainedStudent.load(where, self.device)

    def outcome(self, progress: Progress = QUIET) -> Finished | Failed:
        """`run`, with a `PdError` given back as `Failed` rather than raised: of several categories,
        one whose input is wrong then stops neither the others nor their workers. What the machine
        lacks (a package, model weights) and a stop end them all. For a job of a named category
        (`for_category`)."""
        assert self.category is not None
        try:
            return self.run(progress)
        except (MissingDependencyError, MissingWeights, DamagedWeights):
            raise  # what this machine lacks, every category lacks
        except PdError as error:
            if Stops.received is not None:  # met while a stop unwinds: the stop's, not the input's
                raise
            return Failed(self.category.key, error.args[0])

    def __call__(self) -> Finished | Failed:
        """The whole job, quietly, as its `outcome` (how a Ray worker runs it)."""
        return self.outcome()

    def check_free(self, planned: Planned) -> None:
        """`check_folder`, asked before any work and so without the folder's lock: a folder another
        process holds is refused as such first, not judged by what that process has written."""
        OutputFolder(planned.run_dir).refuse_held()
        self.check_folder(planned)

    def check_folder(self, planned: Planned) -> None:
        """Refuse a run folder that holds files pd distill did not write, or a run already unless
        the job resumes it."""
        refuse_foreign(planned.run_dir, GENERATED_DIR)
        refuse_taken(planned.run_dir, self.resume)

    def for_category(self, category: Category, template: str) -> DistillJob:
        """This job for one of several categories: "{category}" in its paths becomes the name."""

        def fill(path: Path) -> Path:
            return Path(str(path).replace("{category}", category.name))

        return dataclasses.replace(
            self,
            shapes=tuple(fill(p) for p in self.shapes),
            knowledge=tuple(fill(p) for p in self.knowledge),
            with_=tuple(fill(p) for p in self.with_),
            category=category,
            out=fill(Path(template)),
        )


def source_lines(planned: Planned, items: list[Item]) -> list[str]:
    """Where a run has several sources: a line for each (its shapes and share of the batches)."""
    if len(planned.sources) < 2:
        return []
    sizes = [sum(item.source == k for item in items) for k in range(len(planned.sources))]
    given = planned.config.weights or tuple(float(size) for size in sizes)
    return [f"The batches come from {len(planned.sources)} sources:"] + [
        f"  {k + 1}. {source.label}: {size} shapes, {given[k] / sum(given):.0%} of the batches"
        for k, (source, size) in enumerate(zip(planned.sources, sizes, strict=True))
    ]


def follow(run: Distillation, progress: Progress, name: str) -> None:
    """Train `run` to its last epoch with one bar over its optimisation steps (the epoch and loss
    beside it), a note when backward distillation starts or waits, then finish it."""
    steps = run.steps_per_epoch
    waited = False
    with tracked(progress, name, (run.epochs - run.state.epoch) * steps) as bar:
        for report in run.run():
            if isinstance(report, BatchReport):
                bar.advance(status=f"epoch {report.epoch}/{run.epochs}  loss {report.loss:.3f}")
            elif report.switched or (report.waiting_for and not waited):
                waited = waited or bool(report.waiting_for)
                progress.note(f"Epoch {report.epoch}: {report.backward_note}.")
    run.finish()


def gather(sources: list[Source]) -> list[Item]:
    """The items of all sources; with several, their ids say which source they came from."""
    items = []
    for k, source in enumerate(sources):
        for item in source.items():
            items.append(Item(item_id(k, item.id, len(sources)), item.shape, item.knowledge, source=k))
    return items


@dataclass(frozen=True)
class Labelled:
    """What TTA mode wrote.

    Attributes:
        shapes: how many shapes it labelled.
        choice: which labels it handed over in predictions/, and why.
        agreement: on what share of the points the teacher's units cover the student agrees with
            direct lifting of them (how far distillation moved the labels); None where no unit
            covers any point.
        generated: whether the run had generated shapes (`--with`), whose student's labels are
            written beside the others.
    """

    shapes: int
    choice: Choice
    agreement: float | None
    generated: bool = False

    def summary(self, run_dir: Path) -> str:
        """What was written, whose labels were handed over and why, in a sentence."""
        agreement = (
            "no unit covers any point"
            if self.agreement is None
            else f"they agree on {100 * self.agreement:.1f}% of the points the units cover"
        )
        also = f", the generated shapes' student's in {FROM_GENERATED}/" if self.generated else ""
        return (
            f"Labels of the {self.shapes} shapes: {run_dir / 'predictions'}/<id>.npy, "
            f"{WHAT[self.choice.labels]} ({self.choice.reason}). Beside them: the student's in student/"
            f"{also}, direct lifting's in lifted/ ({agreement}); the choice in {CHOICE_FILE}."
        )


def choose_labels(run: Distillation, progress: Progress = QUIET) -> Choice:
    """Which labels TTA mode hands over (`partdistill.distill.choose`); the twin of the held-out
    check trains with its own bar."""
    if run.state.switch_epoch is not None:
        return Choice(
            "student",
            reason=f"it distilled backward from epoch {run.state.switch_epoch}; the held-out check is for "
            "runs that distilled forward only",
        )
    checked = twin(run)
    if checked is None:
        return Choice(
            "student", reason="unchecked: its units cannot be split into views to learn from and hold out"
        )
    progress.note(
        f"Held-out check: distilling a twin on the even views' units into {checked.run_dir}, to compare "
        "the student with direct lifting on the odd views."
    )
    follow(checked, progress, "held-out check")
    trained = TrainedStudent.load(checked.run_dir, run.device)
    return compare(run.items, trained.labels_of([item.shape for item in run.items]))


def choose_with_generated(run: Distillation, generated: TrainedStudent, progress: Progress = QUIET) -> Choice:
    """Which labels TTA mode with generated shapes hands over: the run's student (fine-tuned on
    the user's units), the generated shapes' student, or lifting (`compare_candidates`); the
    student's twin, fine-tuned on the even views' units only, trains with its own bar."""
    checked = twin(run)
    if checked is None:
        return Choice(
            STUDENT, reason="unchecked: its units cannot be split into views to learn from and hold out"
        )
    progress.note(
        f"Held-out check: fine-tuning a twin on the even views' units into {checked.run_dir}, to compare "
        "it, the generated shapes' student and direct lifting on the odd views."
    )
    follow(checked, progress, "held-out check")
    trained = TrainedStudent.load(checked.run_dir, run.device)
    return compare_candidates(
        run.items,
        {
            STUDENT: trained.labels_of([item.shape for item in run.items]),
            GENERATED: generated.labels_of([item.shape for item in run.items]),
        },
    )


# What TTA mode writes in the run folder after the student (`label_distilled`, the held-out check).
TTA_OUTPUTS = ("predictions", "student", "lifted", FROM_GENERATED, CHOICE_FILE, CHECK_DIR)


def smaller_steps(planned: Planned) -> str:
    """What to do when `planned`'s run runs out of memory."""
    points, batch = planned.config.n_points, planned.config.batch_size
    lower = f"lower {option('points')} (now {points}) or {option('batch_size')} (now {batch})"
    if not holds_kept_run(planned.run_dir):
        return f"{lower}."
    return f"{lower}, in another {option('out')}: this run resumes only with the settings it began with."


def label_distilled(
    run: Distillation, items: list[Item], choice: Choice, generated: TrainedStudent | None = None
) -> Labelled:
    """Label the very shapes distilled on (TTA mode). In the run folder: predictions/<id>.npy, the
    labels handed over (`choice`); student/<id>.npy, the student's; lifted/<id>.npy, direct lifting
    of the units (-1 where no unit covers a point, where the labels handed over take the student's);
    with generated shapes, from-generated/<id>.npy, their student's; choice.json, the choice and
    its figures."""
    trained = TrainedStudent.load(run.run_dir, run.device)
    same = covered = 0
    shapes = [item.shape for item in items]
    theirs = generated.labels_of(shapes) if generated is not None else [None] * len(items)
    for item, student, from_generated in zip(items, trained.labels_of(shapes), theirs, strict=True):
        lifted = vote(item.knowledge)
        handed = {STUDENT: student, LIFTING: filled(lifted, student)}.get(choice.labels)
        if from_generated is not None:
            save_labels(from_generated, run.run_dir, FROM_GENERATED, item.id)
            handed = from_generated if choice.labels == GENERATED else handed
        assert handed is not None
        save_labels(handed, run.run_dir, "predictions", item.id)
        save_labels(student, run.run_dir, "student", item.id)
        save_labels(lifted, run.run_dir, "lifted", item.id)
        same += int(np.sum((student == lifted) & (lifted >= 0)))
        covered += int(np.sum(lifted >= 0))
    write_json(inside(run.run_dir, CHOICE_FILE), dataclasses.asdict(choice))
    return Labelled(len(items), choice, same / covered if covered else None, generated is not None)


def parse_weights(text: str | None) -> tuple[float, ...] | None:
    """Source weights written "1,3", as numbers (None stays None)."""
    if text is None:
        return None
    try:
        return tuple(float(w) for w in text.split(","))
    except ValueError as error:
        raise PdError(f"{option('weights')} must be numbers separated by commas, not '{text}'.") from error
