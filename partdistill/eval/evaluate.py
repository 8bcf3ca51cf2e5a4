"""Scoring predictions on a benchmark with its own protocol.

A `Predictor` labels the points of a test shape it is given: a trained student, predictions
made elsewhere (a JSON file or a folder of .npy, in the dataset's own label ids and point order),
or the direct-lifting baseline from knowledge units of the same shapes.

Points: ShapeNetPart's reference evaluation (PointCLIP V2, PartDistill) scores one fixed random
subset of 2,048 points per test shape, tiled up to 2,048 for smaller shapes; `points=2048` does
that (the subset of each shape depends only on the seed and its id), `points=None` scores every
point.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from partdistill.datasets.readers import Dataset, EvalShape
from partdistill.errors import PdError, option
from partdistill.files import inside, read_json
from partdistill.folders import INPUTS_FILE
from partdistill.knowledge.units import Knowledge, vote
from partdistill.metrics import partnete_category_miou, shapenetpart_miou, shapenetpart_shape_iou
from partdistill.prompts import Category, find_category
from partdistill.shapes import MAX_POINTS, sample_indices


class Predictor(Protocol):
    """Labels [M] (category part indices, -1 = none) for the points `index` [M] of a test shape."""

    name: str

    def predict(self, item: EvalShape, index: np.ndarray) -> np.ndarray: ...


class StudentPredictor:
    """A trained student; its parts are matched to the dataset category's parts by name."""

    name = "student"

    def __init__(self, trained: object) -> None:  # a partdistill.predict.TrainedStudent
        self.trained = trained

    def mapping(self, category: Category) -> np.ndarray:
        """[student parts] -> the category's part index of the same name, or -1."""
        names = list(category.part_names)
        return np.array(
            [names.index(p) if p in names else -1 for p in self.trained.part_names], dtype=np.int64
        )

    def predict(self, item: EvalShape, index: np.ndarray) -> np.ndarray:
        labels = self.trained.labels(item.shape.select(index))
        return self.mapping(item.category)[labels]


class FilePredictions:
    """Predictions made elsewhere: a JSON object {dataset id: [label per point]}, or a folder of
    `<dataset id>.npy`. Labels are the dataset's own ids: ShapeNetPart's global part ids 0-49,
    PartNetE's per-category indices (-1 allowed). Labels that are not whole numbers are refused;
    labels outside the shape's category count as wrong, and `outside` keeps how many per shape; a
    shape with no label inside its category is refused (its labels are not the dataset's ids)."""

    name = "predictions"

    def __init__(self, path: str | Path, dataset: str, every_category: bool = False) -> None:
        """`every_category`: whether all the dataset's categories are scored (none was named), where
        a missing prediction is likely a category the predictions leave out."""
        self.path = Path(path)
        self.dataset = dataset
        self.outside: dict[str, int] = {}
        self._only = (
            f"; to score only the categories it predicts, name them with {option('categories')}"
            if every_category
            else ""
        )
        if self.path.is_file():
            table = read_json(self.path, "a JSON object mapping each shape id to its per-point labels")
            self.table: dict[str, object] | None = {str(k): v for k, v in table.items()}
        elif self.path.is_dir():
            if (self.path / INPUTS_FILE).is_file():
                raise PdError(
                    f"{self.path} is a pd predict folder: its labels are a run's parts on the files it "
                    f"labelled, not predictions in the dataset's ids; score the run with {option('run')} "
                    "instead (pd eval labels the shapes itself)."
                )
            self.table = None
        else:
            raise PdError(
                f"{self.path} does not exist: expected a JSON file or a folder of .npy predictions."
            )

    def unused(self, scored: list[str]) -> list[str]:
        """The ids it holds predictions for that are not among the `scored` ids, sorted."""
        if self.table is not None:
            held = set(self.table)
        else:
            relative = (path.relative_to(self.path) for path in self.path.rglob("*.npy"))
            held = {  # nothing hidden: a killed writer's temporaries, or the user's own (.ipynb_checkpoints)
                path.with_suffix("").as_posix()
                for path in relative
                if not any(part.startswith(".") for part in path.parts)
            }
        return sorted(held - set(scored))

    def _raw(self, shape_id: str) -> np.ndarray:
        if self.table is not None:
            if shape_id not in self.table:
                raise PdError(f"{self.path} has no prediction for {shape_id}{self._only}.")
            return _labels(self.table[shape_id], f"{self.path}: the prediction for {shape_id}")
        file = inside(self.path, f"{shape_id}.npy")
        if not file.is_file():
            raise PdError(f"{self.path} has no prediction for {shape_id} (expected {file}){self._only}.")
        with file.open("rb") as handle:  # np.load calls any file without numpy's header "pickled"
            if handle.read(6) != b"\x93NUMPY":
                raise PdError(
                    f"{file} is not a .npy file (it has no numpy header): expected an array of labels."
                )
        try:
            values = np.load(file, allow_pickle=False)
        except (OSError, ValueError, MemoryError) as error:
            raise PdError(f"{file} is not a readable .npy array of labels ({error}).") from error
        return _labels(values, str(file))

    def predict(self, item: EvalShape, index: np.ndarray) -> np.ndarray:
        raw = self._raw(item.id)
        if len(raw) != item.shape.n_points:
            raise PdError(
                f"The prediction for {item.id} has {len(raw)} labels for its {item.shape.n_points} points."
            )
        first = (item.category.parts[0].global_id if self.dataset == "shapenetpart" else None) or 0
        local = raw - first
        foreign = (
            (local < -1)
            | (local >= len(item.category.parts))
            | ((local == -1) & (self.dataset != "partnete"))
        )
        if foreign.all():  # not one of its parts: the labels are not the dataset's ids at all
            raise PdError(self._no_part_of_its_category(item, first))
        if foreign.any():
            self.outside[item.id] = int(foreign.sum())
        local[foreign] = -1  # another category's part, or no part at all: wrong wherever there is a part
        return local[index]

    def _no_part_of_its_category(self, item: EvalShape, first: int) -> str:
        parts = len(item.category.parts)
        said = (
            f"The prediction for {item.id} gives no point a part of {item.category.name} "
            f"({first} to {first + parts - 1})"
        )
        if self.dataset != "shapenetpart":
            return f"{said}."
        return (
            f"{said}: ShapeNetPart predictions hold its global part ids, and the labels a pd run writes "
            f"(0 to {parts - 1} here) are scored on the collection it labelled, with {option('dataset')} "
            "collection."
        )


def _labels(values: object, source: str) -> np.ndarray:
    """[N] int64 labels from a JSON list or an array, or one PdError: they must be whole numbers."""
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as error:
        raise PdError(f"{source} is not a flat list of labels ({error}).") from error
    if array.ndim != 1 or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise PdError(f"{source} is not a flat list of whole-number labels.")
    if np.issubdtype(array.dtype, np.floating):
        whole = np.isfinite(array) & (array == np.round(array)) & (np.abs(array) < 2**31)
        if not whole.all():
            example = array[~whole][0]
            raise PdError(
                f"{source} holds {int((~whole).sum())} labels that are not whole numbers (e.g. {example})."
            )
    return array.astype(np.int64)


class LiftingPredictor:
    """Direct 2D-to-3D transfer from knowledge units of the same shapes (`vote`)."""

    name = "direct lifting"

    def __init__(self, knowledge: dict[str, Knowledge], source: str = "the knowledge") -> None:
        self.knowledge = knowledge
        self.source = source

    def predict(self, item: EvalShape, index: np.ndarray) -> np.ndarray:
        units = self.knowledge[item.id]
        units.require_points(item.shape.n_points, item.id)
        units.require_parts(item.category.part_names, item.category.key, f"{self.source} (shape {item.id})")
        return vote(units)[index]


def student_categories(
    dataset: Dataset, root: Path, student: StudentPredictor, chosen: list[Category] | None
) -> tuple[list[Category], list[str]]:
    """The dataset category a trained student is scored on (its own), and the student's parts that
    have no namesake there; a dataset (at `root`) without the category, or `chosen` categories that
    leave it out, are refused."""
    segments = student.trained.category
    target = [c for c in dataset.categories() if c.key == segments]
    if not target:
        own = find_category(segments).dataset  # the catalogue the run's category is of
        if dataset.name == "collection":
            hint = ""
        elif own == "user":
            hint = (
                f": {segments} is your own category; score the run on a collection of its shapes "
                f"({option('dataset')} collection)"
            )
        elif own != dataset.name:
            hint = f": {segments} is a {own} category; score the run on {own}, or distil a {dataset.name} one"
        else:
            hint = f"; check {option('split')}"
        raise PdError(
            f"{root} holds no {segments} shapes to score the run on (it segments {segments}){hint}."
        )
    if chosen is not None and target[0] not in chosen:
        names = ", ".join(c.name for c in chosen)
        raise PdError(
            f"The run segments '{segments}', not {names}: leave {option('categories')} out or give the "
            "run's category."
        )
    matched = student.mapping(target[0])
    unmatched = [part for part, index in zip(student.trained.part_names, matched, strict=True) if index < 0]
    return target, unmatched


def default_knowledge(dataset: Dataset) -> Path | None:
    """For a collection with exactly one `pd teach` folder, that folder; otherwise None."""
    from partdistill.knowledge.store import KnowledgeStore

    root = getattr(getattr(dataset, "collection", None), "root", None)
    if root is None:
        return None
    stores = KnowledgeStore.of_collection(root)
    return stores[0].root if len(stores) == 1 else None


def lifting_from(
    knowledge: str | Path, dataset: Dataset, categories: list[Category] | None
) -> LiftingPredictor:
    """The direct-lifting baseline from a `pd teach` folder or PartDistill h5 files of the test shapes."""
    from partdistill.knowledge.h5 import find_h5_files, read_partdistill_h5, shape_id_from_path
    from partdistill.knowledge.store import KnowledgeStore

    knowledge = Path(knowledge)
    ids = dataset.ids(categories)
    if KnowledgeStore.is_store(knowledge):
        store = KnowledgeStore(knowledge)
        units = {shape_id: store.load(shape_id) for shape_id in ids if store.has(shape_id)}
    else:
        units = {shape_id_from_path(path): read_partdistill_h5(path)[1] for path in find_h5_files(knowledge)}
    missing = [shape_id for shape_id in ids if shape_id not in units]
    if missing:
        raise PdError(
            f"{knowledge} has no knowledge matching {len(missing)} test shapes (e.g. {missing[0]})."
        )
    return LiftingPredictor(units, str(knowledge))


@dataclass
class MethodScores:
    """Everything one predictor scored, grouped by category."""

    shape_ious: dict[str, list[float]] = field(default_factory=dict)
    pairs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)


@dataclass
class EvalResult:
    """A finished evaluation.

    Attributes:
        protocol: "shapenetpart" or "partnete".
        categories: the categories scored, in order.
        counts: test shapes per category.
        scores: per method, per category mIoU (0-100) with "class" (mean of categories, PartDistill's
            "overall") and, for ShapeNetPart, "instance" (mean of shapes).
        part_ious: per method, per category, the per-part IoUs (PartNetE protocol; NaN = part absent).
        examples: a few (id, shape, {method: labels}) for the gallery: those the first method did
            worst on, worst first.
        worst: the shapes the first method did worst on, worst first, for the interactive page:
            (id, points [M,3], truth [M], {method: labels [M]}, its shape mIoU, part names).
        points: the points scored per shape: a fixed subset of this many, or None for all of them.
    """

    # Shown as the scores and counts (a notebook displays it whole): not the shapes kept for pictures.
    protocol: str
    categories: list[Category] = field(repr=False)
    counts: dict[str, int]
    scores: dict[str, dict[str, float]]
    part_ious: dict[str, dict[str, list[float]]]
    examples: list[tuple[str, object, dict[str, np.ndarray]]] = field(repr=False)
    worst: list[tuple] = field(default_factory=list, repr=False)
    points: int | None = field(kw_only=True)


def parse_points(points: int | str | None, dataset: str) -> int | None:
    """How many points of each shape of `dataset` are scored: a number, or None for "all"; None
    given, the protocol's: ShapeNetPart's reference scores a fixed 2,048 (collections alike),
    PartNetE's evaluator (PartSLIP's) every point."""
    if points is None:
        return None if dataset == "partnete" else 2048
    if points == "all":
        return None
    text = str(points)
    if not text.isdigit() or not 1 <= int(text) <= MAX_POINTS:
        raise PdError(
            f"{option('points')} must be a number from 1 to {MAX_POINTS:,} (the reference protocol: 2048) "
            f"or all, not '{points}'."
        )
    return int(text)


def point_subset(item: EvalShape, points: int | None, seed: int) -> np.ndarray:
    """The indices scored for `item`: all points, or a fixed random `points`-subset (tiled when short)."""
    if points is None:
        return np.arange(item.shape.n_points)
    rng = np.random.default_rng([seed, zlib.crc32(item.id.encode("utf-8", "surrogateescape"))])
    return np.sort(sample_indices(item.shape.points, points, rng))


def evaluate(
    dataset: Dataset,
    predictors: list[Predictor],
    *,
    categories: list[Category] | None = None,
    points: int | None = 2048,
    seed: int = 0,
    examples: int = 8,
    worst: int = 30,
) -> Iterator[EvalShape | EvalResult]:
    """Score every predictor on the dataset's shapes; yields each shape as it is done, then the result.

    Keeps the `examples` shapes the first predictor did worst on (by the ShapeNetPart shape IoU)
    for the gallery, and its `worst` shapes for the interactive page, worst first.
    """
    protocol = "partnete" if dataset.name == "partnete" else "shapenetpart"
    methods = {p.name: MethodScores() for p in predictors}
    counts: dict[str, int] = {}
    lowest: list[tuple] = []  # a heap of (-score, arrival, row, shape): the lowest scores
    order: list[Category] = []
    for item in dataset.shapes(categories):
        name = item.category.name
        if name not in counts:
            order.append(item.category)
        counts[name] = counts.get(name, 0) + 1
        index = point_subset(item, points, seed)
        truth = item.shape.labels[index]
        predicted = {}
        for predictor in predictors:
            labels = predictor.predict(item, index)
            predicted[predictor.name] = labels
            scores = methods[predictor.name]
            if protocol == "shapenetpart":
                parts = len(item.category.parts)
                scores.shape_ious.setdefault(name, []).append(shapenetpart_shape_iou(labels, truth, parts))
            else:
                scores.pairs.setdefault(name, []).append((labels, truth))
        if worst or examples:
            first = predicted[predictors[0].name]
            score = shapenetpart_shape_iou(first, truth, len(item.category.parts))
            row = (item.id, item.shape.points[index], truth, predicted, score, item.category.part_names)
            shape = item.shape.select(index).replace(labels=truth) if examples else None
            heapq.heappush(lowest, (-score, sum(counts.values()), row, shape))
            if len(lowest) > max(worst, examples):
                heapq.heappop(lowest)  # the best of them goes
        yield item
    if not counts:
        raise PdError(
            f"The dataset holds no shapes of the requested categories in the {option('split')} asked for."
        )
    rank = {c.qualified_name: i for i, c in enumerate(dataset.categories())}
    order.sort(key=lambda c: rank.get(c.qualified_name, len(rank)))
    ranked = [(row, shape) for _, _, row, shape in sorted(lowest, key=lambda entry: entry[:2], reverse=True)]
    kept = [(row[0], shape, row[3]) for row, shape in ranked[:examples]]
    result = EvalResult(
        protocol, order, counts, {}, {}, kept, [row for row, _ in ranked[:worst]], points=points
    )
    for method, scores in methods.items():
        if protocol == "shapenetpart":
            miou = shapenetpart_miou(scores.shape_ious)
            result.scores[method] = {k: 100 * v for k, v in miou.items()}
        else:
            per_category, per_part = {}, {}
            for category in order:
                value, ious = partnete_category_miou(scores.pairs[category.name], len(category.parts))
                per_category[category.name] = 100 * value
                per_part[category.name] = [100 * v for v in ious]
            per_category["class"] = float(np.mean([per_category[c.name] for c in order]))
            result.scores[method] = per_category
            result.part_ious[method] = per_part
    yield result
