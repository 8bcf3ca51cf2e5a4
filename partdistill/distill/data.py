"""What the student sees: fixed-size point samples of shapes, normalised, augmented, with their units.

Training follows the reference: each shape is subsampled to 2,048 points, centred on its
bounding box and scaled to the unit sphere, then augmented per cloud with an anisotropic scale
U[0.9, 1.1] and a shift U[-0.1, 0.1] per axis and a per-point jitter N(0, 0.01^2) clipped to
+-0.02 (no rotation; `rotate` adds a random rotation about the up axis, +y, before them, for
students of shapes whose front is not known). Prediction covers every point of a shape by
splitting a random permutation of its points into chunks of the training size, so each point is
seen in a context like training.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from partdistill.files import atomic_path
from partdistill.knowledge.units import Knowledge
from partdistill.shapes import Shape, normalize_points, sample_indices


@dataclass(frozen=True)
class Item:
    """One shape to distil on.

    Attributes:
        id: its id in the collection (or `<synset>/<id>` for imported h5 files); with several
            sources, prefixed by its source ("source1/chair-00003").
        shape: the shape (labels, if any, are used for display only).
        knowledge: its knowledge units over all of its points.
        source: which of the run's sources it comes from (0 with one source).
    """

    id: str
    shape: Shape
    knowledge: Knowledge
    source: int = 0

    def __post_init__(self) -> None:
        self.knowledge.require_points(self.shape.n_points, self.id)


def item_id(source: int, shape_id: str, sources: int) -> str:
    """The id in a run of `sources` sources of the shape `shape_id` of source `source` (from 0):
    its own with one source, prefixed by its source ("source2/<id>") with several."""
    return shape_id if sources == 1 else f"source{source + 1}/{shape_id}"


def source_of(identifier: str, sources: int) -> tuple[int, str] | None:
    """The source (from 0) and the shape id that an item's `identifier` names in a run of
    `sources` sources (the inverse of `item_id`); None where it names no source of the run."""
    if sources == 1:
        return 0, identifier
    prefix, _, shape_id = identifier.partition("/")
    number = prefix.removeprefix("source")
    if prefix.startswith("source") and number.isdecimal() and 1 <= int(number) <= sources:
        return int(number) - 1, shape_id
    return None


def save_item_arrays(path: Path, items: Sequence[Item], arrays: dict[str, np.ndarray]) -> None:
    """Write to an .npz, atomically, the array `arrays` holds (by item id) for each of `items` that
    has one, under the item's position: a running average has none yet for the shapes that no
    step has drawn."""
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.savez(handle, **{f"s{i}": arrays[item.id] for i, item in enumerate(items) if item.id in arrays})


def load_item_arrays(path: Path, items: Sequence[Item], every: bool = False) -> dict[str, np.ndarray]:
    """The arrays `save_item_arrays` wrote for the same `items`, by item id; with `every`, a
    ValueError naming the first item without one."""
    with np.load(path) as data:
        if every and (missing := [item.id for i, item in enumerate(items) if f"s{i}" not in data]):
            raise ValueError(f"{path.name} holds no array for {missing[0]}")
        return {item.id: data[f"s{i}"] for i, item in enumerate(items) if f"s{i}" in data}


@dataclass(frozen=True)
class Sample:
    """A training view of one item.

    Attributes:
        points: [n, 3] float32 normalised (and possibly augmented) coordinates.
        index: [n] int64 the item's point each sampled point is.
        knowledge: the item's units restricted to the sample.
    """

    points: np.ndarray
    index: np.ndarray
    knowledge: Knowledge


def augment(points: np.ndarray, rng: np.random.Generator, rotate: bool = False) -> np.ndarray:
    """The reference augmentation of one cloud [n, 3]; with `rotate`, first a uniformly random
    rotation about +y (drawn only then, so runs without it take the same random numbers)."""
    if rotate:
        angle = rng.uniform(0.0, 2 * np.pi)
        cos, sin = np.cos(angle), np.sin(angle)
        points = points @ np.array([[cos, 0.0, -sin], [0.0, 1.0, 0.0], [sin, 0.0, cos]])
    scale = rng.uniform(0.9, 1.1, size=3)
    shift = rng.uniform(-0.1, 0.1, size=3)
    jitter = np.clip(rng.normal(0.0, 0.01, size=points.shape), -0.02, 0.02)
    return (points * scale + shift + jitter).astype(np.float32)


def make_sample(
    item: Item, n_points: int, rng: np.random.Generator, augmented: bool, rotate: bool = False
) -> Sample:
    """A random `n_points` subsample of `item` with its units (repeats only when the shape is
    smaller), augmented if `augmented` (about the up axis too if `rotate`)."""
    index = sample_indices(item.shape.points, n_points, rng)
    points = normalize_points(item.shape.points[index], "bbox")
    if augmented:
        points = augment(points, rng, rotate)
    return Sample(points=points, index=index, knowledge=item.knowledge.restricted(index))


def batches(count: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """A shuffled epoch of item indices in full batches (the last partial batch is dropped, as the
    reference's drop_last; with fewer items than a batch, one batch of all of them)."""
    order = rng.permutation(count)
    size = min(batch_size, count)
    return [order[i : i + size] for i in range(0, count - size + 1, size)]


def source_slots(count: int, weights: Sequence[float], batch_size: int) -> np.ndarray:
    """[sources] int64: the item slots of an epoch of `count` items in full batches of
    `batch_size` that each source gets, in the shares `weights` gives them (largest remainders for
    the rounding; a share too small for one slot gets none)."""
    size = min(batch_size, count)
    slots = (count // size) * size
    share = np.asarray(weights, dtype=np.float64) / np.sum(weights) * slots
    taken = np.floor(share).astype(np.int64)
    taken[np.argsort(-(share - taken), kind="stable")[: slots - taken.sum()]] += 1
    return taken


def shared_batches(
    sources: np.ndarray, weights: Sequence[float], batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """An epoch of as many full batches of `batch_size` as the items fill, whose item slots go to
    the sources as `source_slots` gives them; a source draws its items in a random order, starting
    over when it has given all of them.

    sources: [items] int, the source of each item; weights: one per source.
    """
    size = min(batch_size, len(sources))
    taken = source_slots(len(sources), weights, batch_size)
    chosen = []
    for source, number in enumerate(taken):
        members = np.flatnonzero(sources == source)
        laps = -(-number // len(members))
        chosen.append(np.concatenate([rng.permutation(members) for _ in range(laps)])[:number])
    order = rng.permutation(np.concatenate(chosen))
    return [order[i : i + size] for i in range(0, len(order), size)]


def predict_logits(
    model: torch.nn.Module, shape: Shape, n_points: int, rng: np.random.Generator, batch: int = 16
) -> np.ndarray:
    """[N, C] logits for every point of `shape`, in chunks of `n_points` (the last padded with repeats).

    The chunks go to the device of `model`'s parameters (the CPU if it has none); the logits come
    back to the host.
    """
    return predict_logits_many(model, [shape], n_points, [rng], batch)[0]


def predict_clouds(
    model: torch.nn.Module, clouds: Iterable[np.ndarray], batch: int = 16
) -> Iterator[np.ndarray]:
    """[n, C] logits of each of `clouds` ([n, 3] normalised points, all of the same n) in turn,
    `batch` clouds to a forward pass on the device of `model`'s parameters (the CPU if it has
    none), back on the host. The clouds are read a batch at a time."""
    device = next(model.parameters(), torch.empty(0)).device
    clouds = iter(clouds)
    while group := list(itertools.islice(clouds, batch)):
        with torch.no_grad():  # not around the yield: the caller's code would run without gradients
            logits = model(torch.from_numpy(np.stack(group)).to(device)).cpu().numpy()
        yield from logits


@torch.no_grad()
def predict_logits_many(
    model: torch.nn.Module,
    shapes: Sequence[Shape],
    n_points: int,
    rngs: Sequence[np.random.Generator],
    batch: int = 16,
) -> list[np.ndarray]:
    """`predict_logits` of each of `shapes` in turn with its generator in `rngs` (one generator
    may stand for several shapes, drawn from in turn), with the chunks of all of them packed into
    batches of `batch` clouds: a collection of shapes smaller than a chunk otherwise makes one
    forward pass of one cloud per shape. The random draws are those of `predict_logits` on each
    shape in turn, and in eval mode a cloud's logits do not depend on the others in its batch, so
    the logits are the same (bit for bit for the PointNet student on this project's 2-core CPU,
    checked against one cloud at a time; other kernels may round differently).
    """
    clouds: list[tuple[int, np.ndarray]] = []  # (shape, chunk of its point indices)
    for number, (shape, rng) in enumerate(zip(shapes, rngs, strict=True)):
        order = rng.permutation(shape.n_points)
        chunks = [order[i : i + n_points] for i in range(0, len(order), n_points)]
        if len(chunks[-1]) < n_points:
            pad = rng.choice(shape.n_points, n_points - len(chunks[-1]), replace=shape.n_points < n_points)
            chunks[-1] = np.concatenate([chunks[-1], pad])
        clouds += [(number, chunk) for chunk in chunks]
    points = [normalize_points(shape.points, "bbox") for shape in shapes]
    logits = predict_clouds(model, (points[number][chunk] for number, chunk in clouds), batch)
    out: list[np.ndarray | None] = [None] * len(shapes)
    for (number, chunk), values in zip(clouds, logits, strict=True):
        if out[number] is None:
            out[number] = np.zeros((shapes[number].n_points, values.shape[-1]), dtype=np.float32)
        out[number][chunk] = values  # a padded repeat writes the same point twice; either is kept
    return out  # type: ignore[return-value]  (every shape has at least one chunk)
