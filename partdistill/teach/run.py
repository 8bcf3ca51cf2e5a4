"""The teacher stage as a library call: render every shape, ask the teacher, lift, store the units.

The units go into a knowledge folder beside the collection (`partdistill.knowledge.store`);
the run is resumable: shapes whose units exist are skipped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from partdistill.collection import Collection, ShapeRecord
from partdistill.errors import PdError, first_few, option
from partdistill.knowledge.store import CONFIG_FILE, KnowledgeStore
from partdistill.knowledge.units import Knowledge, coverage, vote
from partdistill.metrics import shapenetpart_shape_iou
from partdistill.progress import Progress, tracked
from partdistill.prompts import Category
from partdistill.records import refuse_other_settings
from partdistill.render.cameras import Cameras, partslip_cameras
from partdistill.render.renderers import MeshRenderer, PointRenderer
from partdistill.render.views import Renderer, Views
from partdistill.shapes import Shape
from partdistill.teach.config import TeachConfig
from partdistill.teach.lift import lift
from partdistill.teach.sheets import contact_sheet
from partdistill.teach.teachers import Prediction, Teacher, ignored_settings, labels_in_category


@dataclass(frozen=True)
class TeachResult:
    """What the stage did for one shape.

    Attributes:
        record: the shape's manifest record.
        knowledge: its units.
        n_predictions: how many 2D predictions the teacher made.
        truth: [N] int64 ground-truth labels as the category's part indices when the shape has
            labels (for reports only), else None.
    """

    record: ShapeRecord
    knowledge: Knowledge
    n_predictions: int
    truth: np.ndarray | None = None


def make_renderer(config: TeachConfig, shape: Shape) -> Renderer:
    """The renderer `config` asks for, for this shape."""
    use_mesh = config.renderer == "mesh" or (config.renderer == "auto" and shape.mesh is not None)
    if use_mesh:
        if shape.mesh is None:
            raise PdError(
                f"{option('renderer')} mesh needs shapes with meshes; these are point clouds "
                f"(use {option('renderer')} points)."
            )
        return MeshRenderer()
    return PointRenderer(radius=config.point_radius)


def teach_shape(
    shape: Shape, category: Category, teacher: Teacher, config: TeachConfig, cameras: Cameras
) -> tuple[Knowledge, list[Prediction], Views]:
    """Render, predict and lift one shape; returns (knowledge, predictions, views)."""
    views = make_renderer(config, shape).render(shape, cameras)
    predictions = teacher.predict(views, category, shape)
    knowledge = lift(views, predictions, category.part_names, whole_object=config.whole_object)
    return knowledge, predictions, views


@dataclass(frozen=True)
class Taught:
    """What teaching one shape gave, ready to be written.

    Attributes:
        id: the shape's id in its collection.
        knowledge: its units.
        n_predictions: how many 2D predictions the teacher made.
        sheet: its contact sheet as PNG bytes, when one was asked for.
    """

    id: str
    knowledge: Knowledge
    n_predictions: int
    sheet: bytes | None


def teach_one(
    shape_id: str, shape: Shape, category: Category, teacher: Teacher, config: TeachConfig, sheet: bool
) -> Taught:
    """Teach one shape (render, predict, lift), drawing its contact sheet if `sheet`."""
    knowledge, predictions, views = teach_shape(
        shape, category, teacher, config, partslip_cameras(config.image_size)
    )
    png = None
    if sheet:
        title = f"{shape_id}  {category.name}  teacher: {teacher.name}  {len(predictions)} predictions"
        png = contact_sheet(views, predictions, category.part_names, title)
    return Taught(shape_id, knowledge, len(predictions), png)


def refuse_foreign(store: KnowledgeStore) -> None:
    """Refuse (PdError) a knowledge folder that holds files without pd's `CONFIG_FILE`, which pd
    writes before anything else: they are the user's (sheets, notes, h5 files), and pd would write
    among them. Hidden files and empty folders are not counted."""
    if not store.root.is_dir() or (store.root / CONFIG_FILE).exists():
        return
    theirs = sorted(
        path.name
        for path in store.root.iterdir()
        if not path.name.startswith(".")
        and not (path.is_dir() and not path.is_symlink() and not any(path.iterdir()))
    )
    if theirs:
        raise PdError(
            f"{store.root} holds other files ({first_few(theirs, 3)}) and no {CONFIG_FILE}: it is no "
            f"pd teach folder, and pd would write among them; choose another {option('name')}."
        )


def begin_teaching(
    collection: Collection, category: Category, needs_labels: bool, config: TeachConfig, store: KnowledgeStore
) -> list[ShapeRecord]:
    """Check that the knowledge in `store` can be made or continued with `config`, write its
    settings, and return the records of the shapes still to teach (every one of them readable)."""
    config.check_new()
    unlabelled = [record.id for record in collection.ok_records if not record.part_counts]
    if needs_labels and unlabelled:
        raise PdError(
            f"The simulated teacher reads ground-truth part labels, and {collection.root} holds "
            f"{len(unlabelled)} unlabelled shape{'s' * (len(unlabelled) > 1)} ({first_few(unlabelled, 5)}); "
            f"teach them with a real teacher ({option('teacher')} grounding-dino, "
            "owlv2, clipseg or clip), whose weights download on first use (offline: fetch them first, "
            "`pd info` says where they go)."
        )
    strangers = [r for r in collection.ok_records if not set(r.part_names) & set(category.part_names)]
    if needs_labels and strangers:
        theirs, ours = ", ".join(strangers[0].part_names), ", ".join(category.part_names)
        raise PdError(
            f"The simulated teacher reads part labels by name, and shape {strangers[0].id} has none of "
            f"{category.key}'s parts ({ours}), only {theirs}."
        )
    todo = store.untaught(collection)
    for record in todo:  # every shape readable before anything is written
        collection.load(record)
    refuse_foreign(store)
    earlier = store.settings()
    ours = dataclasses.asdict(config) | {"category": category.key, "catalogue": category.to_record()}
    if earlier is not None and store.holds_units():
        # Settings the teacher does not read changed nothing (knowledge made before they were
        # refused may record them).
        ignored = ignored_settings(config.teacher)
        refuse_other_settings(
            {k: v for k, v in earlier.items() if k not in ignored},
            {k: v for k, v in ours.items() if k not in ignored},
            f"{store.root} holds knowledge made",
            f"choose another {option('name')}.",
        )
    store.write_settings(ours)
    for record in todo:  # units and sheets of a shape replaced since are not left beside its new ones
        store.forget(record.id)
    return todo


def sheets_to_draw(store: KnowledgeStore, todo: list[ShapeRecord], sheets: int) -> set[str]:
    """The ids of `todo` whose contact sheets are drawn: all for -1, else up to `sheets` in all."""
    if sheets < 0:
        return {record.id for record in todo}
    drawn = store.sheet_count()
    return {record.id for record in todo[: max(0, sheets - drawn)]}


def keep(store: KnowledgeStore, taught: Taught, made_from: str) -> None:
    """Write what teaching one shape gave: its sheet first, its units last (they mark it done),
    with the digest of the bytes the shape was read from (`Collection.read`)."""
    store.save(taught.id, taught.knowledge, made_from, taught.sheet)


class Teaching:
    """A teacher run begun (`teach`, `scale.teach_on_ray`): as many shapes to teach as `len` says
    (known when it began), taught as it is iterated."""

    def __init__(self, todo: int, results: Iterator[TeachResult]) -> None:
        self.todo, self.results = todo, results

    def __len__(self) -> int:
        return self.todo

    def __iter__(self) -> Iterator[TeachResult]:
        return self.results


def teach(
    collection: Collection,
    category: Category,
    teacher: Teacher,
    config: TeachConfig,
    store: KnowledgeStore,
    *,
    sheets: int = -1,
) -> Teaching:
    """Run the teacher stage on every shape of `collection` that has no units of its file yet in
    `store` (`KnowledgeStore.untaught`): the run is begun (its settings checked against the
    store's) here, and each shape taught as the returned iterator is read.

    `sheets` limits how many contact sheets are drawn (-1: one per shape, 0: none).
    """
    todo = begin_teaching(collection, category, teacher.needs_labels, config, store)
    drawn = sheets_to_draw(store, todo, sheets)
    return Teaching(len(todo), _taught(collection, todo, category, teacher, config, store, drawn))


def _taught(
    collection: Collection,
    todo: list[ShapeRecord],
    category: Category,
    teacher: Teacher,
    config: TeachConfig,
    store: KnowledgeStore,
    drawn: set[str],
) -> Iterator[TeachResult]:
    """What `teach` returns: its shapes `todo` taught as they are asked for (`teach` itself begins
    the run when called, so that a refusal comes before anything is drawn)."""
    for record in todo:
        shape, made_from = collection.read(record)
        taught = teach_one(record.id, shape, category, teacher, config, record.id in drawn)
        keep(store, taught, made_from)
        yield TeachResult(record, taught.knowledge, taught.n_predictions, labels_in_category(shape, category))


@dataclass
class TeachSummary:
    """Running totals of a teacher run, for the report at its end.

    Attributes:
        store: where the units went.
        skipped: shapes that had their units already (a resumed run).
        units: units per shape taught.
        coverage: share of points covered per shape.
        lifting_iou: per labelled shape, the ShapeNetPart-protocol IoU of direct lifting (`vote`).
    """

    store: KnowledgeStore
    skipped: int = 0
    units: list[int] = dataclasses.field(default_factory=list)
    coverage: list[float] = dataclasses.field(default_factory=list)
    lifting_iou: list[float] = dataclasses.field(default_factory=list)

    @property
    def lifting(self) -> float | None:
        """Mean direct-lifting mIoU (0-100) over the labelled shapes taught, or None without any."""
        return 100 * float(np.mean(self.lifting_iou)) if self.lifting_iou else None

    def __repr__(self) -> str:  # the totals, not a number per shape (a notebook shows it whole)
        totals = [f"{str(self.store.root)!r}", f"taught={len(self.units)}", f"skipped={self.skipped}"]
        if self.units:
            totals += [f"units_per_shape={np.mean(self.units):.1f}", f"coverage={np.mean(self.coverage):.3f}"]
        if self.lifting is not None:
            totals.append(f"lifting={self.lifting:.1f}")
        return f"TeachSummary({', '.join(totals)})"

    def add(self, result: TeachResult) -> None:
        self.units.append(result.knowledge.n_units)
        self.coverage.append(coverage(result.knowledge))
        if result.truth is not None:
            parts = len(result.knowledge.part_names)
            self.lifting_iou.append(shapenetpart_shape_iou(vote(result.knowledge), result.truth, parts))


def follow(
    results: Teaching,
    collection: Collection,
    store: KnowledgeStore,
    name: str,
    progress: Progress,
) -> TeachSummary:
    """Consume a teacher run's `results` (from `teach`, or from Ray workers) with a bar named `name`,
    and sum them up; the direct-lifting figure of labelled shapes is reported as a note."""
    summary = TeachSummary(store, skipped=len(collection.ok_records) - len(results))
    with tracked(progress, name, len(results)) as bar:
        for result in results:
            summary.add(result)
            bar.advance()
    if summary.lifting is not None:
        progress.note(
            f"Direct lifting of the units scores {summary.lifting:.1f} mIoU on the {len(summary.lifting_iou)}"
            " labelled shapes taught, on all of their points (the baseline a student has to beat)."
        )
    return summary
