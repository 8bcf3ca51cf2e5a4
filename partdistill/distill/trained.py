"""A trained student as a run folder holds it: loaded back, it labels the points of any shape."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from partdistill.distill.data import predict_logits, predict_logits_many, source_of
from partdistill.distill.students import build_student
from partdistill.distill.train import STUDENT_CONFIG, STUDENT_WEIGHTS, holds_run
from partdistill.errors import PdError, option
from partdistill.files import OutputFolder, atomic_path, check_id, inside, read_json
from partdistill.prompts import Category, register_category
from partdistill.shapes import MAX_POINTS, Shape


@dataclass
class TrainedStudent:
    """A student restored from a run folder.

    Attributes:
        model: the network, in eval mode.
        student: its name in the registry.
        category: the category it segments.
        part_names: what its outputs mean, in order.
        n_points: the cloud size it was trained on (prediction uses chunks of it).
        run: the run folder.
    """

    model: torch.nn.Module = field(repr=False)  # shown, its repr is the whole network
    student: str
    category: str
    part_names: tuple[str, ...]
    n_points: int
    run: Path

    @classmethod
    def load(cls, run: str | Path, device: str = "cpu") -> TrainedStudent:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        run = Path(run)
        config_path, weights = inside(run, STUDENT_CONFIG), inside(run, STUDENT_WEIGHTS)
        if not config_path.is_file() or not weights.is_file():
            if holds_run(run):  # begun, not finished: running now, or stopped
                OutputFolder(run).refuse_held(reading=True)
                raise PdError(
                    f"{run} is a distillation run that has not finished; distilling again with "
                    f"{option('resume')} continues it."
                )
            raise PdError(
                f"{run} holds no trained student ({STUDENT_CONFIG} and {STUDENT_WEIGHTS}); run `pd distill`."
            )
        config = read_json(config_path, "the record of a trained student")
        try:
            if "catalogue" in config:  # the run brings its category along, user categories included
                register_category(Category.from_record(config["catalogue"], f"{config_path}: 'catalogue'"))
            part_names = tuple(str(name) for name in config["part_names"])
            # Its random initial weights are replaced by the run's: the caller's generator is left alone.
            with torch.random.fork_rng(devices=[]):
                model = build_student(str(config["student"]), len(part_names), restoring=True)
            category, n_points = str(config["category"]), int(config["n_points"])
            if not 1 <= n_points <= MAX_POINTS:
                raise ValueError(f"n_points {n_points}")
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise PdError(
                f"{config_path} is not a complete student record (missing or bad {error})."
            ) from error
        try:
            model.load_state_dict(load_file(weights))
        except (SafetensorError, RuntimeError, OSError) as error:
            raise PdError(
                f"{weights} does not hold the weights of this {config['student']} student "
                f"({type(error).__name__}); distil it again."
            ) from error
        return cls(
            model=model.to(device).eval(),
            student=str(config["student"]),
            category=category,
            part_names=part_names,
            n_points=n_points,
            run=run,
        )

    @property
    def parts(self) -> tuple[str, ...]:
        """What its labels mean: label i is part `parts[i]`."""
        return self.part_names

    def predict(self, points: np.ndarray | Shape, seed: int = 0) -> np.ndarray:
        """[N] int64 part of each point: `points` a float array [N, 3] in the frame the student
        learnt (+y up), or a `Shape`; `parts` names the labels."""
        shape = points if isinstance(points, Shape) else Shape(points=points)
        return self.labels(shape, seed)

    def labels(self, shape: Shape, seed: int = 0) -> np.ndarray:
        """[N] int64 part of every point of `shape`."""
        rng = np.random.default_rng(seed)
        logits = predict_logits(self.model, shape, self.n_points, rng)
        return logits.argmax(axis=-1).astype(np.int64)

    def labels_of(self, shapes: Sequence[Shape], seed: int = 0) -> list[np.ndarray]:
        """`labels` of each of `shapes` (the same labels), their clouds packed into shared batches:
        shapes smaller than a cloud otherwise go through the student one cloud at a time."""
        rngs = [np.random.default_rng(seed) for _ in shapes]
        logits = predict_logits_many(self.model, shapes, self.n_points, rngs)
        return [values.argmax(axis=-1).astype(np.int64) for values in logits]


def save_labels(labels: np.ndarray, run: Path, kind: str, shape_id: str) -> Path:
    """Write one shape's labels as `<run>/<kind>/<id>.npy` (a "/" in the id becomes a sub-folder),
    atomically; refused if a link leads the path out of the run folder."""
    path = inside(run, f"{kind}/{check_id(shape_id, 'the shape to label')}.npy")
    with atomic_path(path) as tmp:
        np.save(tmp, labels)
    return path


def load_labels(run: Path, kind: str, shape_id: str, n_points: int) -> np.ndarray:
    """[n_points] int64 labels `save_labels` wrote; one PdError naming the file where it is missing
    or holds anything else (a pickle is never loaded)."""
    path = inside(run, f"{kind}/{check_id(shape_id, 'the shape to show')}.npy")
    try:
        labels = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise PdError(f"{path} is not a label file pd distill wrote ({error}).") from error
    if labels.shape != (n_points,) or labels.dtype.kind not in "iu":
        raise PdError(
            f"{path} holds {labels.dtype} values of shape {list(labels.shape)}, not a label for each of "
            f"the shape's {n_points} points."
        )
    return labels.astype(np.int64)


def distilled_shapes(
    run: str | Path, limit: int | None = None
) -> tuple[tuple[str, ...], list[tuple[str, Shape]]]:
    """The part names of the run in `run` and the shapes it distilled on (at most `limit`), by their
    ids in the run, read from the collections of the knowledge its config.json names; one PdError
    where a source is not a collection's knowledge or is not there any more."""
    from partdistill.collection import Collection
    from partdistill.knowledge.store import KnowledgeStore
    from partdistill.records import Fields

    run = Path(run)
    config_path = inside(run, "config.json")
    fields = Fields(read_json(config_path, "the settings of a pd distill run"), str(config_path))
    sources = fields.texts("sources", max_length=100_000)
    data = fields.record("data")
    ids = data.texts("shapes", max_items=MAX_POINTS)[:limit]
    part_names = data.texts("part_names", unique=True)
    collections = []
    for label in sources:
        store = Path(label)
        if not KnowledgeStore.is_store(store):
            raise PdError(
                f"{run} was distilled on {label}, which is not a collection's knowledge folder here (moved, "
                "or h5 files); pd view shows runs on collections where they were distilled."
            )
        collections.append(Collection.open(KnowledgeStore(store).collection_root))
    shapes = []
    for shape_id in ids:
        named = source_of(shape_id, len(collections))
        if named is None:
            raise PdError(f"{config_path}: the shape {shape_id} names no source of the run.")
        source, own = named
        collection = collections[source]
        if own not in collection:
            raise PdError(f"{collection.root} holds no shape {own} any more, which {run} was distilled on.")
        shapes.append((shape_id, collection.load(collection[own])))
    return part_names, shapes
