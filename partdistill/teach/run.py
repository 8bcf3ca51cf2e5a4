"""The teacher stage as a library call: render every shape, ask the teacher, lift, store the units.

Output, beside the collection (resumable: shapes whose units exist are skipped):

    <collection>/knowledge/<name>/teach_config.json   the settings below
    <collection>/knowledge/<name>/units/<id>.npz      one shape's knowledge units
    <collection>/knowledge/<name>/sheets/<id>.png     its views with the teacher's predictions drawn
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partdistill.collection import Collection, ShapeRecord
from partdistill.errors import PdError, check_number
from partdistill.files import (
    TEMPORARY,
    check_id,
    read_json,
    remove_stale_temporaries,
    write_bytes,
    write_json,
)
from partdistill.knowledge.units import WHOLE_OBJECT, Knowledge, lift, load_knowledge, save_knowledge, vote
from partdistill.metrics import shapenetpart_shape_iou
from partdistill.prompts import QUERIES, Category
from partdistill.render.cameras import Cameras, partslip_cameras
from partdistill.render.renderers import MeshRenderer, PointRenderer, Renderer, Views
from partdistill.shapes import Shape
from partdistill.teach.sheets import contact_sheet
from partdistill.teach.teachers import GLIP_NMS, Prediction, Teacher

CONFIG_FILE = "teach_config.json"


@dataclass(frozen=True)
class TeachConfig:
    """How knowledge is made (written beside it).

    Attributes:
        teacher: a name in `partdistill.teach.teachers.TEACHERS`.
        model_id: the teacher's weights (None = its default).
        threshold: the teacher's score threshold (None = its default).
        query: how a real teacher is asked for a part: "part" (its words) or "part-of-category".
        nms: IoU above which a detector's boxes of one part in one view are suppressed (GLIP: 0.6).
        noise, kind: the simulated teacher's noise preset and prediction kind ("box" or "mask").
        renderer: "points", "mesh", or "auto" (mesh when the shape has one).
        image_size: render width and height in pixels (PartSLIP: 800).
        point_radius: splat radius of the point renderer, in normalised device units (PartSLIP:
            0.005); None chooses it from each cloud's density.
        whole_object: boxes holding the projections of at least this share of a shape's points are
            dropped.
        seed: seed of the simulated teacher.
    """

    teacher: str = "simulated"
    model_id: str | None = None
    threshold: float | None = None
    query: str = "part"
    nms: float = GLIP_NMS
    noise: str = "noisy"
    kind: str = "box"
    renderer: str = "auto"
    image_size: int = 800
    point_radius: float | None = None
    whole_object: float = WHOLE_OBJECT
    seed: int = 0

    def __post_init__(self) -> None:
        if self.threshold is not None:
            check_number(self.threshold, "--threshold", at_least=0, at_most=1)
        check_number(self.nms, "--nms", above=0, at_most=1)
        check_number(self.image_size, "--image-size", at_least=32)
        if self.point_radius is not None:
            check_number(self.point_radius, "--point-radius", above=0, at_most=1)
        check_number(self.whole_object, "whole_object", above=0, at_most=1)
        for value, option, known in (
            (self.query, "--query", QUERIES),
            (self.kind, "--kind", ("box", "mask")),
            (self.renderer, "--renderer", ("auto", "points", "mesh")),
        ):
            if value not in known:
                raise PdError(f"Unknown {option} '{value}': use one of {', '.join(known)}.")

    def default_name(self) -> str:
        if self.teacher == "simulated":
            return f"simulated-{self.noise}-{self.kind}"
        return self.teacher


@dataclass(frozen=True)
class TeachResult:
    """What the stage did for one shape.

    Attributes:
        record: the shape's manifest record.
        knowledge: its units.
        n_predictions: how many 2D predictions the teacher made.
        truth: [N] int64 ground-truth labels when the shape has them (for reports only), else None.
    """

    record: ShapeRecord
    knowledge: Knowledge
    n_predictions: int
    truth: np.ndarray | None = None


class KnowledgeStore:
    """The units of one teacher run over a collection (see the module docstring for the layout)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def units_path(self, shape_id: str) -> Path:
        return self.root / "units" / f"{check_id(shape_id, str(self.root))}.npz"

    def sheet_path(self, shape_id: str) -> Path:
        return self.root / "sheets" / f"{check_id(shape_id, str(self.root))}.png"

    def has(self, shape_id: str) -> bool:
        return self.units_path(shape_id).is_file()

    def holds_units(self) -> bool:
        """Whether any shape's units were written (a run that failed before its first has none)."""
        return any(TEMPORARY not in path.name for path in (self.root / "units").rglob("*.npz"))

    def load(self, shape_id: str) -> Knowledge:
        if not self.has(shape_id):
            raise PdError(
                f"{self.root} has no knowledge for shape {shape_id}; run `pd teach` on its collection."
            )
        return load_knowledge(self.units_path(shape_id))

    def config(self) -> dict | None:
        """The settings the knowledge was made with (None before any)."""
        path = self.root / CONFIG_FILE
        return read_json(path, "the settings of a pd teach run") if path.exists() else None


def teach_config_from(saved: dict, root: Path) -> TeachConfig:
    """The TeachConfig a knowledge folder's teach_config.json records (its category aside)."""
    try:
        return TeachConfig(**{k: v for k, v in saved.items() if k not in ("category", "catalogue")})
    except TypeError as error:
        raise PdError(
            f"{root / CONFIG_FILE} was written by another version of partdistill ({error}); "
            "teach again into another --name."
        ) from error


def build_config_teacher(config: TeachConfig, device: str = "cpu") -> Teacher:
    """The teacher `config` describes, with its weights loaded on `device`."""
    from partdistill.teach.teachers import build_teacher

    return build_teacher(
        config.teacher,
        model_id=config.model_id,
        threshold=config.threshold,
        device=device,
        query=config.query,
        nms=config.nms,
        noise=config.noise,
        kind=config.kind,
        seed=config.seed,
    )


def knowledge_dir(collection: Collection, name: str) -> Path:
    """Where the knowledge called `name` of `collection` is kept (`name`: one safe file name)."""
    if not name or "/" in name:
        raise PdError(f"The knowledge name {name!r} must be one folder name, without '/'.")
    return collection.root / "knowledge" / check_id(name, "--name")


def make_renderer(config: TeachConfig, shape: Shape) -> Renderer:
    """The renderer `config` asks for, for this shape."""
    use_mesh = config.renderer == "mesh" or (config.renderer == "auto" and shape.mesh is not None)
    if use_mesh:
        if shape.mesh is None:
            raise PdError(
                "--renderer mesh needs shapes with meshes; these are point clouds (use --renderer points)."
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


def begin_teaching(
    collection: Collection, category: Category, needs_labels: bool, config: TeachConfig, store: KnowledgeStore
) -> list[ShapeRecord]:
    """Check that the knowledge in `store` can be made or continued with `config`, write its
    settings, and return the records of the shapes still to teach (every one of them readable)."""
    if needs_labels and any(not record.part_counts for record in collection.ok_records):
        raise PdError(
            f"The simulated teacher reads ground-truth part labels, and {collection.root} holds "
            "unlabelled shapes; use a real teacher (grounding-dino, owlv2, clipseg, clip) for them."
        )
    todo = [record for record in collection.ok_records if not store.has(record.id)]
    for record in todo:  # every shape readable before anything is written
        collection.load(record)
    remove_stale_temporaries(store.root)
    earlier = store.config()
    ours = dataclasses.asdict(config) | {"category": category.key, "catalogue": category.to_record()}
    if earlier is not None and earlier != ours and store.holds_units():
        changed = sorted(k for k in ours if earlier.get(k) != ours[k])
        details = ", ".join(f"{k} was {earlier.get(k)!r}, now {ours[k]!r}" for k in changed)
        raise PdError(
            f"{store.root} holds knowledge made with other settings ({details}); choose another --name."
        )
    write_json(store.root / CONFIG_FILE, ours)
    return todo


def sheets_to_draw(store: KnowledgeStore, todo: list[ShapeRecord], sheets: int) -> set[str]:
    """The ids of `todo` whose contact sheets are drawn: all for -1, else up to `sheets` in all."""
    if sheets < 0:
        return {record.id for record in todo}
    drawn = sum(1 for _ in (store.root / "sheets").rglob("*.png"))
    return {record.id for record in todo[: max(0, sheets - drawn)]}


def keep(store: KnowledgeStore, taught: Taught) -> None:
    """Write what teaching one shape gave: its sheet first, its units last (they mark it done)."""
    if taught.sheet is not None:
        write_bytes(store.sheet_path(taught.id), taught.sheet)
    save_knowledge(taught.knowledge, store.units_path(taught.id))


def teach(
    collection: Collection,
    category: Category,
    teacher: Teacher,
    config: TeachConfig,
    store: KnowledgeStore,
    *,
    sheets: int = -1,
) -> Iterator[TeachResult]:
    """Run the teacher stage on every shape of `collection` that has no units yet in `store`.

    `sheets` limits how many contact sheets are drawn (-1: one per shape, 0: none).
    """
    todo = begin_teaching(collection, category, teacher.needs_labels, config, store)
    drawn = sheets_to_draw(store, todo, sheets)
    for record in todo:
        shape = collection.load(record)
        taught = teach_one(record.id, shape, category, teacher, config, record.id in drawn)
        keep(store, taught)
        yield TeachResult(record, taught.knowledge, taught.n_predictions, shape.labels)


def coverage(knowledge: Knowledge) -> float:
    """Share of the shape's points covered by at least one unit."""
    if knowledge.n_points == 0:
        return 0.0
    return float(len(np.unique(knowledge.indices)) / knowledge.n_points)


@dataclass
class TeachSummary:
    """Running totals of a teacher run, for the report at its end.

    Attributes:
        units: units per shape taught.
        coverage: share of points covered per shape.
        lifting_iou: per labelled shape, the ShapeNetPart-protocol IoU of direct lifting (`vote`).
    """

    units: list[int] = dataclasses.field(default_factory=list)
    coverage: list[float] = dataclasses.field(default_factory=list)
    lifting_iou: list[float] = dataclasses.field(default_factory=list)

    def add(self, result: TeachResult) -> None:
        self.units.append(result.knowledge.n_units)
        self.coverage.append(coverage(result.knowledge))
        if result.truth is not None:
            parts = len(result.knowledge.part_names)
            self.lifting_iou.append(shapenetpart_shape_iou(vote(result.knowledge), result.truth, parts))
