"""`pd synth` as a library call: fill a shape collection with generated shapes, resumably.

Shape i of a run is fully determined by (category, generator settings, seed, i): its prompt is
the i-th of the seeded prompt sequence and its generation seed is derived from (seed, i). A killed
run therefore resumes by generating the indices its manifest does not have yet, and never makes
a shape twice; growing `n` later extends the same sequence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partdistill.collection import Collection, ShapeRecord
from partdistill.devices import out_of_memory
from partdistill.errors import MAX_SEED, PdError, check_number, option
from partdistill.files import read_json, write_json
from partdistill.prompts import Category, find_category, text_prompt
from partdistill.records import refuse_other_settings
from partdistill.shapes import MAX_POINTS, Provenance, Shape
from partdistill.synth.base import Generator, Request

CONFIG_FILE = "synth_config.json"
MAX_SHAPES = 1_000_000  # the most shapes one collection may be asked for


@dataclass(frozen=True)
class SynthConfig:
    """Everything that decides what `pd synth` makes (written beside the collection).

    Attributes:
        category: catalogue name of the category.
        n: how many shapes the collection should hold.
        generator: "procedural", "shap-e" or "point-e".
        seed: the run's seed.
        n_points: points sampled per shape.
        model_id: weights to use (None = the generator's default).
        grid_size: Shap-E marching-cubes grid (higher = finer meshes, slower).
        steps: diffusion steps (Shap-E).
        guidance: classifier-free guidance scale (Shap-E; Point-E uses its own 3.0).
        quality_filter: drop degenerate generations (recorded as failures).
    """

    category: str
    n: int
    generator: str = "procedural"
    seed: int = 0
    n_points: int = 10_000
    model_id: str | None = None
    grid_size: int = 128
    steps: int = 64
    guidance: float = 15.0
    quality_filter: bool = True

    def __post_init__(self) -> None:
        check_number(self.n, "n", at_least=1, at_most=MAX_SHAPES, whole=True)
        check_number(self.n_points, "points", at_least=1, at_most=MAX_POINTS, whole=True)
        check_number(self.seed, "seed", at_least=0, at_most=MAX_SEED, whole=True)
        check_number(self.grid_size, "grid_size", at_least=8, whole=True)
        check_number(self.steps, "steps", at_least=1, whole=True)
        check_number(self.guidance, "guidance", at_least=0)

    def identity(self) -> dict[str, object]:
        """The settings two runs must share to write into the same collection (all but n)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "n"}


# The model settings of SynthConfig, and those each generator takes (its factory in
# `partdistill.synth.GENERATORS` reads no others).
MODEL_SETTINGS = ("model_id", "grid_size", "steps", "guidance")
TAKES: dict[str, tuple[str, ...]] = {
    "procedural": (),
    "shap-e": MODEL_SETTINGS,
    "point-e": ("model_id",),
}


def refuse_unused(config: SynthConfig) -> None:
    """Refuse (PdError) a model setting given to a generator that does not take it, instead of
    recording a setting that changed nothing (and that extending the collection must then repeat)."""
    defaults = SynthConfig(category=config.category, n=1)
    unused = [
        name
        for name in MODEL_SETTINGS
        if name not in TAKES[config.generator] and getattr(config, name) != getattr(defaults, name)
    ]
    if unused:
        takers = [name for name, takes in TAKES.items() if unused[0] in takes]
        raise PdError(
            f"The {config.generator} generator takes no {option(unused[0])}: it is for {', '.join(takers)}."
        )


def item_seed(seed: int, index: int) -> int:
    """The generation seed of shape `index` in a run seeded with `seed` (independent of n)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def shape_id(category: Category, index: int, seed: int = 0) -> str:
    """The id of shape `index` of a run seeded with `seed`: "chair-00003" for seed 0 (the ids
    collections have always had), "chair-s7-00003" for seed 7, so that the shapes of runs with
    different seeds never share an id (one collection or run may take both)."""
    return f"{category.name}-{index:05d}" if seed == 0 else f"{category.name}-s{seed}-{index:05d}"


def quality_problem(shape: Shape) -> str | None:
    """Why a generated shape is unusable (empty, flat, collapsed), or None when it looks fine."""
    extent = shape.points.max(axis=0) - shape.points.min(axis=0)
    if extent.max() <= 1e-6:
        return "all points coincide"
    if np.sort(extent)[1] < 1e-3 * extent.max():
        return "the shape is a line, not a surface"
    if len(np.unique(np.round(shape.points / extent.max(), 3), axis=0)) < min(64, shape.n_points):
        return "the shape has almost no distinct points"
    return None


def prepare(config: SynthConfig, out: str | Path) -> tuple[Collection, list[int]]:
    """Open (or start) the collection at `out` for `config`; returns it and the indices still to make.

    Writes nothing. Refuses a folder whose earlier run used different settings, so a resumed run
    can only extend the same sequence of shapes.
    """
    out = Path(out)
    category = find_category(config.category)
    collection = Collection.create(out, own=(CONFIG_FILE,))
    config_path = collection.path(CONFIG_FILE)
    if config_path.exists():
        earlier = read_json(config_path, "the settings of the run that made this collection")
        ours = config.identity() | {"category": category.name, "catalogue": category.to_record()}
        # A larger n extends the same sequence; settings the generator does not take changed
        # nothing (a collection made before they were refused may record them).
        unused = {"n", *(name for name in MODEL_SETTINGS if name not in TAKES.get(config.generator, ()))}
        refuse_other_settings(
            {k: v for k, v in earlier.items() if k not in unused},
            {k: v for k, v in ours.items() if k not in unused},
            f"{out} holds a collection made",
            f"use the same settings to resume it, or choose another {option('out')}.",
        )
    elif len(collection):
        raise PdError(f"{out} already holds shapes but no {CONFIG_FILE}; choose another {option('out')}.")
    # A run begun before seeds other than 0 had ids of their own holds its shapes under the seed-0
    # form; the settings check above makes sure they are this run's, so they are not made again.
    todo = [
        i
        for i in range(config.n)
        if shape_id(category, i, config.seed) not in collection and shape_id(category, i) not in collection
    ]
    return collection, todo


@dataclass(frozen=True)
class Made:
    """What generating one shape gave: the shape, or why there is none.

    Attributes:
        index: the shape's index in the run.
        shape: the shape, or None when generation failed or the quality filter refused it.
        provenance: where the shape came from (for a failure: what was asked).
        error: why there is no shape, or None.
    """

    index: int
    shape: Shape | None
    provenance: Provenance
    error: str | None = None


def make_shape(config: SynthConfig, generator: Generator, category: Category, index: int) -> Made:
    """Shape `index` of the run `config` describes; a generation that raises, or (with the quality
    filter) makes a degenerate shape, gives a failure with its reason instead of raising. Running
    out of memory is raised: a rerun with more memory, or smaller settings, makes the shape."""
    seed = item_seed(config.seed, index)
    prompt = text_prompt(category, index, config.seed) if generator.uses_prompts else None
    try:
        shape = generator.generate(Request(category=category, prompt=prompt, seed=seed))
        problem = quality_problem(shape) if config.quality_filter else None
    except Exception as error:  # one bad generation must not lose the others
        if out_of_memory(error):  # the machine's, not the shape's: not recorded as its failure
            raise
        provenance = Provenance(generator.name, prompt=prompt, seed=seed, model_id=config.model_id)
        return Made(index, None, provenance, f"{type(error).__name__}: {error}")
    if problem is not None:
        return Made(index, None, shape.provenance, f"filtered: {problem}")
    return Made(index, shape, shape.provenance)


def record_made(config: SynthConfig, collection: Collection, made: Made) -> ShapeRecord:
    """Write what `make_shape` gave into `collection` (a shape file and its record, or a failure)."""
    category = find_category(config.category)
    ident = shape_id(category, made.index, config.seed)
    if made.shape is None:
        return collection.add_failure(ident, category.key, made.provenance, str(made.error))
    return collection.add(ident, made.shape)


def start_run(config: SynthConfig, collection: Collection) -> None:
    """Write the run's settings beside the collection (before its first shape)."""
    category = find_category(config.category)
    record = dataclasses.asdict(config) | {"category": category.name, "catalogue": category.to_record()}
    write_json(collection.path(CONFIG_FILE), record)


def synthesize(
    config: SynthConfig, generator: Generator, collection: Collection, todo: list[int]
) -> Iterator[ShapeRecord]:
    """Generate the shapes at indices `todo` into `collection`, yielding each record as it lands.

    Writes the run's config beside the collection first. A generation that raises, or (with the
    quality filter) makes a degenerate shape, is recorded as a failure with its reason and the run
    goes on.
    """
    category = find_category(config.category)
    start_run(config, collection)
    try:
        for index in todo:
            yield record_made(config, collection, make_shape(config, generator, category, index))
    finally:
        collection.compact()
