"""One `pd distill` run as a value: where its shapes and knowledge come from, how it trains, where it
writes. The command line builds one per category; a job runs in this process (with the command's
progress display) or, called as a function, quietly in a Ray worker (`partdistill.scale`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from partdistill.distill.choose import CHOICE_FILE, Choice, compare, filled, twin
from partdistill.distill.data import Item
from partdistill.distill.sources import Source, plan_sources
from partdistill.distill.train import Distillation, DistillConfig
from partdistill.distill.trained import TrainedStudent, save_labels
from partdistill.errors import PdError
from partdistill.files import OutputFolder, inside, write_json
from partdistill.knowledge.units import vote
from partdistill.prompts import Category, register_category
from partdistill.teach.config import TeachConfig, build_config_teacher
from partdistill.teach.run import teach


@dataclass(frozen=True)
class Planned:
    """A job with its category, sources and complete training settings decided.

    Attributes:
        category: the category distilled.
        sources: where its shapes and knowledge come from.
        config: the training settings, sources and category filled in.
        run_dir: the run folder.
    """

    category: Category
    sources: list[Source]
    config: DistillConfig
    run_dir: Path


@dataclass(frozen=True)
class Finished:
    """What a job did: its category, run folder, epochs, last loss, backward switch (or None), and
    in TTA mode which labels it handed over ("student" or "lifting"; None outside TTA mode)."""

    category: str
    run_dir: Path
    epochs: int
    loss: float
    switch_epoch: int | None
    handed_over: str | None = None


@dataclass(frozen=True)
class DistillJob:
    """Everything a `pd distill` run needs (see `plan` for how sources are found).

    Attributes:
        shapes, knowledge: the --shapes and --knowledge folders.
        category: the category the user named, or None for the one the shapes share.
        teach: how knowledge is made for a collection that has none.
        pinned: the `teach` settings the user chose explicitly: a collection's knowledge made
            with other values of them is refused rather than silently used.
        training: DistillConfig fields (all but category and sources).
        out: the run folder, or None for runs/<category>-<student>.
        resume: continue the run in `out`.
        device: where the student trains.
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

    def plan(self) -> Planned:
        found, sources = plan_sources(
            list(self.shapes), list(self.knowledge), self.category, self.teach, self.pinned
        )
        config = DistillConfig(
            category=found.key, sources=tuple(source.label for source in sources), **self.training
        )
        run_dir = self.out or Path("runs") / f"{found.name}-{config.student}"
        return Planned(found, sources, config, run_dir)

    def __call__(self) -> Finished:
        """Run the whole job quietly: teach what is missing, distil, label (TTA); resumable."""
        if self.category is not None:  # a user category travels with the job to a Ray worker
            register_category(self.category)
        planned = self.plan()
        for source in planned.sources:
            if source.teach is not None:
                assert source.collection is not None and source.store is not None
                teacher = build_config_teacher(source.teach, self.device)
                with OutputFolder(source.store.root, within=source.collection.root):
                    for _ in teach(
                        source.collection, planned.category, teacher, source.teach, source.store, sheets=8
                    ):
                        pass
        items = gather(planned.sources)
        with OutputFolder(planned.run_dir):
            run = Distillation(planned.config, items, planned.run_dir, device=self.device)
            resume = self.resume or (planned.run_dir / "config.json").exists()  # a retried task goes on
            run.start(resume)
            _train_quietly(run)
            handed_over = None
            if planned.config.mode == "tta":
                handed_over = label_distilled(run, items, choose_labels(run, _train_quietly)).choice.labels
        loss = run.state.losses[-1] if run.state.losses else float("nan")
        return Finished(
            planned.category.key, planned.run_dir, run.state.epoch, loss, run.state.switch_epoch, handed_over
        )

    def for_category(self, category: Category, template: dict[str, str]) -> DistillJob:
        """This job for one of several categories: "{category}" in its paths becomes the name."""

        def fill(path: Path) -> Path:
            return Path(str(path).replace("{category}", category.name))

        return dataclasses.replace(
            self,
            shapes=tuple(fill(p) for p in self.shapes),
            knowledge=tuple(fill(p) for p in self.knowledge),
            category=category,
            out=fill(Path(template["out"])),
        )


def gather(sources: list[Source]) -> list[Item]:
    """The items of all sources; with several, their ids say which source they came from."""
    items = []
    for k, source in enumerate(sources):
        for item in source.items():
            shape_id = item.id if len(sources) == 1 else f"source{k + 1}/{item.id}"
            items.append(Item(shape_id, item.shape, item.knowledge, source=k))
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
    """

    shapes: int
    choice: Choice
    agreement: float | None


def choose_labels(run: Distillation, follow: Callable[[Distillation], None]) -> Choice:
    """Which labels TTA mode hands over (`partdistill.distill.choose`); `follow` trains the twin
    run to its end, quietly or with progress, and finishes it."""
    if not run.forward_only:
        return Choice(
            "student", reason="it could distil backward; the held-out check is for forward-only runs"
        )
    checked = twin(run)
    if checked is None:
        return Choice(
            "student", reason="unchecked: its units cannot be split into views to learn from and hold out"
        )
    follow(checked)
    trained = TrainedStudent.load(checked.run_dir, run.device)
    return compare(run.items, [trained.labels(item.shape) for item in run.items])


def _train_quietly(run: Distillation) -> None:
    for _ in run.run():
        pass
    run.finish()


def label_distilled(run: Distillation, items: list[Item], choice: Choice) -> Labelled:
    """Label the very shapes distilled on (TTA mode). In the run folder: predictions/<id>.npy, the
    labels handed over (`choice`); student/<id>.npy, the student's; lifted/<id>.npy, direct lifting
    of the units (-1 where no unit covers a point); choice.json, the choice and its figures."""
    trained = TrainedStudent.load(run.run_dir, run.device)
    same = covered = 0
    for item in items:
        student, lifted = trained.labels(item.shape), vote(item.knowledge)
        handed = student if choice.labels == "student" else filled(lifted, student)
        save_labels(handed, run.run_dir, "predictions", item.id)
        save_labels(student, run.run_dir, "student", item.id)
        save_labels(lifted, run.run_dir, "lifted", item.id)
        same += int(np.sum((student == lifted) & (lifted >= 0)))
        covered += int(np.sum(lifted >= 0))
    write_json(inside(run.run_dir, CHOICE_FILE), dataclasses.asdict(choice))
    return Labelled(len(items), choice, same / covered if covered else None)


def parse_weights(text: str | None) -> tuple[float, ...] | None:
    """--weights "1,3" as numbers (None stays None)."""
    if text is None:
        return None
    try:
        return tuple(float(w) for w in text.split(","))
    except ValueError as error:
        raise PdError(f"--weights must be numbers separated by commas, not '{text}'.") from error
