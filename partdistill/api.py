"""partdistill from Python: the calls the `pd` command makes, one per command.

    import partdistill.api as ptd

    chairs = ptd.synth("chair", n=8, out="shapes/chair")      # a Collection of 8 procedural chairs
    ptd.teach(chairs)                                          # knowledge from the simulated teacher
    run = ptd.distill(chairs, out="runs/chair")                # a trained student (300 steps at least)
    labels = run.predict(points)                               # points [N, 3] -> labels [N]; run.parts
    run = ptd.load_run("runs/chair")                           # the same student, later
    report = ptd.evaluate("collection", "shapes/held-out", run="runs/chair")

Keyword arguments are named as the command line's flags (`--image-size` is `image_size=`), take
the same values and defaults, and are checked by the same rules; a bad value is a `PdError` naming
the keyword. Each call reports its progress to `progress=` (a `partdistill.progress.Progress`;
nothing is shown by default), and the command line passes one that draws bars: both run this code.
`device="auto"` picks CUDA, then Apple's MPS, then the CPU. `ray=` takes a
`partdistill.scale.RayOptions` to spread synth, teach and per-category distill over a Ray cluster.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from partdistill.collection import MANIFEST, Collection
from partdistill.devices import enough_memory, resolve_device
from partdistill.errors import MAX_SEED, PdError, check_number, first_few, option
from partdistill.files import PAGE, CommandFiles, OutputFolder, inside
from partdistill.folders import COLLECTION_KIND, refuse_others
from partdistill.progress import QUIET, Progress, tracked
from partdistill.prompts import Category, registered_on_success

if TYPE_CHECKING:
    from partdistill.distill.job import DistillJob, Failed, Finished
    from partdistill.distill.trained import TrainedStudent
    from partdistill.eval.evaluate import EvalResult
    from partdistill.predict import Predicted
    from partdistill.scale import RayOptions
    from partdistill.teach.run import TeachSummary

__all__ = [
    "CategoriesFailed",
    "Evaluation",
    "Viewed",
    "distill",
    "distill_categories",
    "evaluate",
    "import_shapes",
    "load_run",
    "predict",
    "synth",
    "teach",
    "view",
]

PathLike = str | Path
Params = ParamSpec("Params")
Returned = TypeVar("Returned")


def _call(call: Callable[Params, Returned]) -> Callable[Params, Returned]:
    """A call of this module: one that raises leaves no user category registered behind it (a
    misspelt part would otherwise refuse its corrected repeat until the process ends)."""

    @functools.wraps(call)
    def wrapped(*args: Params.args, **kwargs: Params.kwargs) -> Returned:
        with registered_on_success():
            return call(*args, **kwargs)

    return wrapped


def _shown(value: Any) -> str:
    """`value` as an error message names it: its repr where that is short, else its type (a
    student's repr is its whole network)."""
    text = repr(value)
    return text if len(text) <= 80 and "\n" not in text else f"a {type(value).__name__}"


def _names(value: Any, keyword: str) -> list[str] | None:
    """The names given as `keyword`: comma-separated in one string, or a list (or tuple) of
    strings, or a path (a category file's) as one name; None for None, one PdError for anything
    else."""
    if value is None:
        return None
    if isinstance(value, os.PathLike):
        return [os.fspath(value)]
    if isinstance(value, str):
        return [name.strip() for name in value.split(",")]
    if isinstance(value, list | tuple) and all(isinstance(name, str) for name in value):
        return [name.strip() for name in value]
    raise PdError(
        f"{option(keyword)} takes a name, names separated by commas or a list of names, not {_shown(value)}."
    )


def _category(
    category: str | Category | None, parts: str | Sequence[str] | None, keyword: str = "category"
) -> Category | None:
    """The category named as `keyword` (a catalogue name, a category file, or a new name with
    its parts)."""
    from partdistill.prompts.user import resolve_category

    if isinstance(category, os.PathLike):  # a category file
        category = os.fspath(category)
    if category is not None and not isinstance(category, str | Category):
        raise PdError(
            f"{option(keyword)} takes a category's name or file (or a Category), not {_shown(category)}."
        )
    names = _names(parts, "parts")
    if category is None or isinstance(category, Category):
        if names is not None:
            raise PdError(f"{option('parts')} needs a new category name in {option(keyword)}.")
        return category
    return resolve_category(category, None if names is None else ",".join(names))


def _path(value: Any) -> Path:
    """The folder of what a call takes or an earlier call returned: a path, a `Collection`, a
    knowledge folder (`KnowledgeStore`) or what `teach` returned (its knowledge folder)."""
    from partdistill.knowledge.store import KnowledgeStore
    from partdistill.teach.run import TeachSummary

    if isinstance(value, TeachSummary):
        value = value.store
    if isinstance(value, Collection | KnowledgeStore):
        return value.root
    if isinstance(value, str | Path):
        return Path(value)
    raise PdError(f"{_shown(value)} is not a folder: give a path, a Collection, or what teach returned.")


def _given(value: Any, keyword: str) -> Path:
    """`value`, a path the caller gave as `keyword`, as a Path; one PdError for anything else."""
    if isinstance(value, str | os.PathLike):
        return Path(value)
    raise PdError(f"{option(keyword)} must be a path, not {_shown(value)}.")


def _each(values: Any) -> list[Any]:
    """One value, or each of several, as a list (none for None): a path is one value, and so is
    a Collection, which iterates over its records."""
    if values is None:
        return []
    if not isinstance(values, Iterable) or isinstance(values, str | Path | Collection):
        return [values]
    return list(values)


def _paths(values: Any) -> tuple[Path, ...]:
    """`_path` of one value or of each of several."""
    return tuple(_path(value) for value in _each(values))


def _dataset_category(dataset: str, name: str) -> Category:
    """The category `name` of `dataset` ("shapenetpart", "partnete", or "collection", whose
    categories are any); a name qualified with the dataset's own vocabulary is taken as it is, one
    of another's refused."""
    from partdistill.prompts import find_category

    if dataset == "collection":
        return find_category(name)
    vocabulary, _, bare = name.rpartition("/")
    if vocabulary and vocabulary.lower() != dataset:
        raise PdError(f"'{name}' is not a {dataset} category: {option('categories')} names {dataset}'s.")
    return find_category(f"{dataset}/{bare}")


def _check_progress_and_ray(progress: Any, ray: Any = None) -> None:
    """Refuse a `progress` that is not a `Progress` and a `ray` that is not `RayOptions`, before a
    call writes anything."""
    from partdistill.scale import RayOptions

    if not isinstance(progress, Progress):
        raise PdError(
            f"{option('progress')} takes a partdistill.progress.Progress (such as Printed(), or QUIET),"
            f" not {_shown(progress)}."
        )
    if ray is not None and not isinstance(ray, RayOptions):
        raise PdError(f"{option('ray')} takes a partdistill.scale.RayOptions (or None), not {_shown(ray)}.")


# --- pd synth ---------------------------------------------------------------------------------------


@_call
def synth(
    category: str | Category,
    *,
    n: int = 100,
    out: PathLike | None = None,
    generator: str = "procedural",
    seed: int = 0,
    points: int = 10_000,
    device: str = "auto",
    model_id: str | None = None,
    grid_size: int = 128,
    steps: int = 64,
    guidance: float = 15.0,
    quality_filter: bool = True,
    parts: str | Sequence[str] | None = None,
    ray: RayOptions | None = None,
    progress: Progress = QUIET,
) -> Collection:
    """Make (or resume, or extend) a collection of `n` shapes of `category`; returns it.

    `out` defaults to shapes/<category>-<generator>. Shape i depends on (settings, seed, i) only,
    so the same call gives the same bytes, and a killed call resumes where it stopped. What the
    other keywords mean: `SynthConfig`'s fields (`help(partdistill.synth.run.SynthConfig)`;
    `points` is its `n_points`), as `pd synth --help` says it.
    """
    _check_progress_and_ray(progress, ray)
    from partdistill.synth import GENERATORS, SynthConfig, build_generator, prepare, refuse_unused, synthesize

    chosen = _category(category, parts)
    if chosen is None:
        raise PdError(f"Say which category to make shapes of with {option('category')}.")
    if not isinstance(generator, str) or generator not in GENERATORS:
        raise PdError(
            f"Unknown {option('generator')} {_shown(generator)}: use one of {', '.join(GENERATORS)}."
        )
    config = SynthConfig(
        category=chosen.key,
        n=n,
        generator=generator,
        seed=seed,
        n_points=points,
        model_id=model_id,
        grid_size=grid_size,
        steps=steps,
        guidance=guidance,
        quality_filter=quality_filter,
    )
    refuse_unused(config)
    out = _given(out, "out") if out is not None else Path("shapes") / f"{chosen.key}-{generator}"
    refuse_others(out, COLLECTION_KIND)
    run_device = resolve_device(device) if ray is None else ray.device
    with OutputFolder(out):
        collection, todo = prepare(config, out)
        if not todo:
            more = (
                f" (and {len(collection) - n} more: {len(collection)} in all)" if len(collection) > n else ""
            )
            progress.note(f"{out} already holds all {n} shapes{more}.")
            return collection
        if len(todo) < n:
            progress.note(f"Resuming {out}: {n - len(todo)} of {n} shapes are already there.")
        if ray is None:
            records = synthesize(config, build_generator(config, run_device), collection, todo)
        else:
            from partdistill.scale import synthesize_on_ray

            progress.note(ray.describe())
            records = synthesize_on_ray(config, collection, todo, ray)
        start, made = time.perf_counter(), 0
        # The settings are the collection's own: smaller ones make another collection.
        smaller = {"shap-e": f"{option('grid_size')} (now {grid_size}) or ", "procedural": ""}.get(generator)
        anew = (
            ""
            if smaller is None
            else f", or start another {option('out')} with a lower {smaller}{option('points')} (now {points})"
        )
        # Closed here, whatever ends the loop: the generator's clean-up (the manifest compacted)
        # runs now, under the folder's lock, and not whenever a traceback holding it is dropped.
        with (
            enough_memory(lambda: f"free memory and run the same command again to go on from there{anew}."),
            closing(records),
            tracked(progress, f"{chosen.name} ({generator})", len(todo)) as bar,
        ):
            for record in records:
                bar.advance()
                made += record.ok
                if not record.ok:
                    progress.note(f"{record.id} failed: {record.error}")
        elapsed = time.perf_counter() - start
        failed = f" ({len(todo) - made} failed)" if made < len(todo) else ""
        progress.note(
            f"Made {made} of {len(todo)} shapes{failed} in {elapsed:.1f} s ({made / elapsed:.2f} shapes/s)."
        )
    return collection


# --- pd teach ---------------------------------------------------------------------------------------


@_call
def teach(
    shapes: PathLike | Collection,
    *,
    category: str | Category | None = None,
    teacher: str = "simulated",
    name: str | None = None,
    model_id: str | None = None,
    threshold: float | None = None,
    query: str = "part",
    nms: float | None = None,
    noise: str = "noisy",
    kind: str = "box",
    renderer: str = "auto",
    image_size: int = 800,
    point_radius: float | None = None,
    sheets: int = -1,
    seed: int = 0,
    device: str = "auto",
    force_category: bool = False,
    parts: str | Sequence[str] | None = None,
    ray: RayOptions | None = None,
    progress: Progress = QUIET,
) -> TeachSummary:
    """Render every shape of a collection, ask a 2D teacher where each part is, lift the answers
    to knowledge units in `<shapes>/knowledge/<name>/` (resumable); returns the run's summary.

    `name` defaults to the teacher's (`simulated-<noise>-<kind>` for the simulated teacher);
    `sheets` is how many contact sheets to draw (-1: all). What the other keywords mean:
    `TeachConfig`'s fields (`help(partdistill.teach.config.TeachConfig)`), as `pd teach --help`
    says it.
    """
    from partdistill.knowledge.store import KnowledgeStore
    from partdistill.teach.config import TeachConfig, build_config_teacher
    from partdistill.teach.run import follow, refuse_foreign
    from partdistill.teach.run import teach as teach_shapes
    from partdistill.teach.teachers import GLIP_NMS, refuse_ignored

    _check_progress_and_ray(progress, ray)
    refuse_ignored(teacher, threshold=threshold, nms=nms, model_id=model_id, query=query)
    check_number(sheets, "sheets", at_least=-1, whole=True)
    collection = shapes if isinstance(shapes, Collection) else Collection.open(_given(shapes, "shapes"))
    found = collection.category_for(_category(category, parts), force_category)
    config = TeachConfig(
        teacher=teacher,
        model_id=model_id,
        threshold=threshold,
        query=query,
        nms=GLIP_NMS if nms is None else nms,
        noise=noise,
        kind=kind,
        renderer=renderer,
        image_size=image_size,
        point_radius=point_radius,
        seed=seed,
    )
    config.check_new()  # before the teacher's weights are loaded
    store = KnowledgeStore.named(collection.root, config.default_name() if name is None else name)
    refuse_foreign(store)  # before the teacher's weights are loaded; again under the folder's lock
    model = build_config_teacher(config, resolve_device(device)) if ray is None else None
    with OutputFolder(store.root, within=collection.root):
        if ray is None:
            assert model is not None
            results = teach_shapes(collection, found, model, config, store, sheets=sheets)
        else:
            from partdistill.scale import teach_on_ray

            progress.note(ray.describe())
            results = teach_on_ray(collection, found, config, store, ray, sheets=sheets)
        with enough_memory(
            lambda: (
                f"free memory and run the same command again to go on from there, or teach under another "
                f"{option('name')} with a lower {option('image_size')} (now {image_size})."
            )
        ):
            return follow(
                results, collection, store, f"teaching {found.name} ({config.default_name()})", progress
            )


# --- pd distill -------------------------------------------------------------------------------------


@_call
def distill(
    shapes: PathLike | Collection | Iterable[PathLike | Collection] | None = None,
    *,
    out: PathLike | None = None,
    category: str | Category | None = None,
    knowledge: PathLike | TeachSummary | Iterable[PathLike | TeachSummary] | None = None,
    with_: PathLike | Collection | Iterable[PathLike | Collection] | None = None,
    weights: str | Sequence[float] | None = None,
    teacher: str | None = None,
    noise: str | None = None,
    kind: str | None = None,
    image_size: int | None = None,
    student: str = "pointnet",
    checkpoint: PathLike | None = None,
    mode: str = "pre",
    epochs: int = 25,
    min_steps: int = 300,
    batch_size: int = 16,
    points: int = 2048,
    lr: float = 3e-3,
    backward: bool = True,
    rotate: bool = False,
    switch: str = "guarded",
    seed: int = 0,
    resume: bool = False,
    device: str = "auto",
    force_category: bool = False,
    parts: str | Sequence[str] | None = None,
    progress: Progress = QUIET,
) -> TrainedStudent:
    """Distil a 3D student from the knowledge of one or more collections (`shapes`, taught first
    where they have no knowledge yet) and knowledge folders (`knowledge`: pd teach folders or
    PartDistill h5 files), into the run folder `out` (default runs/<category>-<student>); returns
    the trained student. In TTA mode (`mode="tta"`) it also labels the very shapes distilled on,
    in `<out>/predictions/`; `with_` (TTA mode only) names collections of generated shapes of the
    category, whose student and its fine-tune on these shapes become candidates too.
    `rotate=True` also turns each training cloud about the up axis (for shapes whose front is not
    known). `resume=True` continues a killed run. `teacher`, `noise` and `kind` (default: the
    simulated, noisy, box teacher; with a knowledge folder given, the folder's) and `image_size`
    (default: the knowledge's, or 800) say how missing knowledge is made; knowledge made with
    other values of those given is refused. What the training keywords mean (`epochs`, `min_steps`,
    `batch_size`, `points` as `n_points`, `lr`, `backward`, `seed`...): `DistillConfig`'s fields
    (`help(partdistill.distill.config.DistillConfig)`), as `pd distill --help` says it; `switch`
    picks a set of its switch settings ("guarded", or "reference" as the reference code switches).
    """
    arguments = dict(locals())
    _check_progress_and_ray(progress)
    from partdistill.distill.trained import TrainedStudent

    if "{category}" in str(out):  # a folder of that very name is not what was meant
        raise PdError(
            f"'{{category}}' in {option('out')} stands for each category's name with {option('categories')}; "
            "name the folder itself for one category."
        )
    job = _job(**_by_name(arguments, category=_category(category, parts), device=resolve_device(device)))
    finished = job.run(progress)
    return TrainedStudent.load(finished.run_dir, job.device)


@_call
def distill_categories(
    categories: str | Sequence[str | Category],
    shapes: PathLike | Iterable[PathLike] | None = None,
    *,
    out: PathLike | None = None,
    knowledge: PathLike | TeachSummary | Iterable[PathLike | TeachSummary] | None = None,
    with_: PathLike | Collection | Iterable[PathLike | Collection] | None = None,
    weights: str | Sequence[float] | None = None,
    teacher: str | None = None,
    noise: str | None = None,
    kind: str | None = None,
    image_size: int | None = None,
    student: str = "pointnet",
    checkpoint: PathLike | None = None,
    mode: str = "pre",
    epochs: int = 25,
    min_steps: int = 300,
    batch_size: int = 16,
    points: int = 2048,
    lr: float = 3e-3,
    backward: bool = True,
    rotate: bool = False,
    switch: str = "guarded",
    seed: int = 0,
    resume: bool = False,
    device: str = "auto",
    force_category: bool = False,
    ray: RayOptions | None = None,
    progress: Progress = QUIET,
) -> list[Finished]:
    """One `distill` run per category (a list, "chair,table", or "all" for ShapeNetPart's 16), in
    turn or on Ray; "{category}" in `shapes`, `knowledge` and `out` stands for each one's name.
    Every run's sources are checked, and no run folder may hold a run (unless `resume`), before the
    first one starts. Returns what each run did, in the order they finished. A run that ends on
    its input (a `PdError`) stops none of the others: once all have ended, `CategoriesFailed` says
    which, and holds the finished runs."""
    arguments = dict(locals())
    _check_progress_and_ray(progress, ray)
    import dataclasses

    from partdistill.prompts import shapenetpart_categories

    if isinstance(categories, str) and categories.strip() == "all":
        chosen = list(shapenetpart_categories())
    else:
        names = _names(categories, "categories") if isinstance(categories, str) else categories
        chosen = [c if isinstance(c, Category) else _category(c, None) for c in names if c]
    if not chosen:
        raise PdError(f"{option('categories')} names no category: give a comma-separated list, or 'all'.")
    repeated = sorted({c.name for c in chosen if sum(other.name == c.name for other in chosen) > 1})
    if repeated:
        raise PdError(
            f"{option('categories')} names {', '.join(repeated)} more than once (runs are told apart by "
            "category name)."
        )
    if len(chosen) > 1 and out is not None and "{category}" not in str(out):
        raise PdError(
            f"{option('out')} needs '{{category}}' in it with several categories, or every run lands in "
            "one folder."
        )
    device = ray.device if ray is not None else resolve_device(device)
    job = _job(**_by_name(arguments, category=None, device=device))
    template = str(out if out is not None else Path("runs") / f"{{category}}-{student}")
    jobs = [job.for_category(c, template) for c in chosen]
    _refuse_shared_folders(jobs)
    for each in jobs:  # every category's sources exist and fit it, and its folder is free, first
        each.check_free(each.plan())
    if ray is None:
        return _finished_or_failed((each.outcome(progress) for each in jobs), len(jobs), progress)
    from partdistill.scale import run_on_ray

    progress.note(ray.describe())
    with tracked(progress, "categories", len(jobs)) as bar:
        # A task retried after a lost worker finds its own run begun: it resumes it.
        ran = run_on_ray([dataclasses.replace(each, resume=True) for each in jobs], ray)
        return _finished_or_failed(ran, len(jobs), progress, bar.advance)


class CategoriesFailed(PdError):
    """Some runs of `distill_categories` ended on their input (`failed`, each with its sentence)
    and the others finished (`finished`, as `distill_categories` returns them)."""

    def __init__(self, failed: list[Failed], finished: list[Finished]) -> None:
        self.failed, self.finished = failed, finished
        said = " ".join(f"{each.category}: {each.sentence}" for each in failed)
        names = ",".join(each.category for each in failed)
        super().__init__(
            f"{len(failed)} of {len(failed) + len(finished)} categories failed. {said} Run "
            f"{'it' if len(failed) == 1 else 'them'} again with {option('categories')} {names} and "
            f"{option('resume')}" + ("; the finished runs stay as they are." if finished else ".")
        )

    def __reduce__(self) -> tuple[type, tuple[list[Failed], list[Finished]]]:
        return type(self), (self.failed, self.finished)  # its own arguments, not its message


def _refuse_shared_folders(jobs: list[DistillJob]) -> None:
    """Refuse (PdError) runs of several categories whose folders, '{category}' filled in, are one
    folder or one inside another ("runs/{category}/.."): the second would find the first's run."""
    folders = [(each.out.resolve(), each) for each in jobs if each.out is not None]
    for i, (folder, job) in enumerate(folders):
        for other, later in folders[i + 1 :]:
            if folder.is_relative_to(other) or other.is_relative_to(folder):
                raise PdError(
                    f"{option('out')} puts the runs of {job.category.name} and {later.category.name} in "
                    f"{job.out} and {later.out}, one folder or one inside the other; give each category "
                    "a folder of its own."
                )


def _finished_or_failed(
    outcomes: Iterable[Finished | Failed],
    total: int,
    progress: Progress,
    advance: Callable[[], None] = lambda: None,
) -> list[Finished]:
    """The finished runs of `outcomes`, in their order, once every one has ended; `CategoriesFailed`
    if any failed. Each failure is noted as it comes: the others can take hours."""
    from partdistill.distill.job import Failed

    finished, failed = [], []
    for outcome in outcomes:
        if isinstance(outcome, Failed):
            failed.append(outcome)
            if len(finished) + len(failed) < total:
                progress.note(
                    f"{outcome.category} failed: {outcome.sentence} Going on with the other categories."
                )
        else:
            finished.append(outcome)
        advance()
    if failed:
        raise CategoriesFailed(failed, finished)
    return finished


def _by_name(arguments: dict[str, Any], **resolved: Any) -> dict[str, Any]:
    """The settings `_job` takes, from a distil function's own `arguments` (its parameters share
    `_job`'s names) with the `resolved` ones in their place."""
    import inspect

    names = inspect.signature(_job).parameters
    return {name: resolved[name] if name in resolved else arguments[name] for name in names}


def _job(
    *, shapes: Any, knowledge: Any, with_: Any, category: Category | None, weights: Any,
    teacher: str | None, noise: str | None, kind: str | None, image_size: int | None, student: str,
    checkpoint: Any, mode: str, epochs: int, min_steps: int, batch_size: int, points: int, lr: float,
    backward: bool, rotate: bool, switch: str, seed: int, out: Any, resume: bool, device: str,
    force_category: bool,
) -> DistillJob:  # fmt: skip
    """The `DistillJob` that `distill`'s arguments describe (passed by name, as `distill` and
    `distill_categories` take them; `category` parsed and `device` resolved)."""
    from partdistill.distill.config import SWITCHES
    from partdistill.distill.job import DistillJob, parse_weights
    from partdistill.distill.students import check_student
    from partdistill.teach.config import TeachConfig

    check_student(student, checkpoint)
    # The teacher's settings the caller gave: knowledge made with others is refused, not used.
    chosen = dict(teacher=teacher, noise=noise, kind=kind, image_size=image_size)
    if switch not in SWITCHES:
        raise PdError(f"Unknown {option('switch')} '{switch}': use one of {', '.join(SWITCHES)}.")
    return DistillJob(
        shapes=_paths(shapes),
        knowledge=_paths(knowledge),
        with_=_paths(with_),
        category=category,
        teach=TeachConfig(seed=seed, **{name: value for name, value in chosen.items() if value is not None}),
        pinned=tuple(name for name, value in chosen.items() if value is not None),
        training=dict(
            student=student,
            mode=mode,
            epochs=epochs,
            min_steps=min_steps,
            batch_size=batch_size,
            n_points=points,
            lr=lr,
            backward=backward,
            rotate=rotate,
            seed=seed,
            **SWITCHES[switch],
            checkpoint=None if checkpoint is None else str(checkpoint),
            weights=parse_weights(weights) if weights is None or isinstance(weights, str) else tuple(weights),
        ),
        out=None if out is None else _given(out, "out"),
        resume=resume,
        device=device,
        force_category=force_category,
    )


@_call
def load_run(run: PathLike, device: str = "auto") -> TrainedStudent:
    """The student a `distill` run folder holds, ready to `predict`."""
    from partdistill.distill.trained import TrainedStudent

    return TrainedStudent.load(_given(run, "run"), resolve_device(device))


# --- pd predict -------------------------------------------------------------------------------------


@_call
def predict(
    inputs: PathLike | Collection | Iterable[PathLike | Collection],
    *,
    run: PathLike | TrainedStudent,
    out: PathLike = "predictions",
    points: int = 10_000,
    seed: int = 0,
    device: str = "auto",
    force_category: bool = False,
    view: bool = True,
    up: str = "y",
    front: str = "x",
    progress: Progress = QUIET,
) -> list[Predicted]:
    """Label shape files (PLY/OBJ/GLB/GLTF/OFF/STL or .npz; a Collection, or its folder, stands for
    its shapes' files) with a trained student: per input `<name>.ply`, `.json` and `.png` in `out`, with
    `inputs.json` and (with `view`) `view.html`.
    Meshes are sampled to `points` points. `up` and `front` name the files' axes that point up and
    to the front: the student sees each shape turned into the catalogue's frame (+y up, front +x),
    and the outputs keep the input's own frame and point order. Returns each input's labels."""
    from partdistill.distill.trained import TrainedStudent
    from partdistill.predict import label_files, seal_outputs
    from partdistill.shapes import Frame

    _check_progress_and_ray(progress)
    frame = Frame(up, front)
    paths = [path for each in _each(inputs) for path in _shape_files(each)]
    if not paths:
        raise PdError("No shape files to label: give at least one.")
    if not isinstance(run, TrainedStudent):
        run = TrainedStudent.load(_given(run, "run"), resolve_device(device))
    out = _given(out, "out")
    with OutputFolder(out):
        predicted = label_files(paths, run, out, points, seed, force_category, view, progress, frame)
        if view:
            from partdistill.view import page_for, write_page

            write_page(inside(out, PAGE), page_for(out))
            seal_outputs(out, [PAGE])
    return predicted


def _shape_files(given: PathLike | Collection) -> list[Path]:
    """The shape files an input to `predict` stands for: itself, or a collection's (given as one or
    as its folder), those whose making did not fail."""
    if not isinstance(given, Collection):
        path = _given(given, "inputs")
        if not (path.is_dir() and (path / MANIFEST).is_file()):
            return [path]
        given = Collection.open(path)
    return [given.path(record.file) for record in given.ok_records if record.file is not None]


# --- pd eval ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """What `evaluate` scored and wrote.

    Attributes:
        result: the scores (per method and category) and the shapes kept for pictures.
        reports: the files written (report.json, report.csv, gallery.png, view.html).
        published: the benchmark's published numbers, per method and category (empty for a
            collection of one's own).
    """

    result: EvalResult
    reports: list[Path]
    published: dict[str, dict[str, float]]


@_call
def evaluate(
    dataset: str,
    root: PathLike | Collection,
    *,
    run: PathLike | TrainedStudent | None = None,
    predictions: PathLike | None = None,
    knowledge: PathLike | TeachSummary | None = None,
    split: str = "test",
    categories: str | Sequence[str] | None = None,
    points: int | str | None = None,
    out: PathLike | None = None,
    gallery: int = 8,
    seed: int = 0,
    device: str = "auto",
    view: bool = True,
    progress: Progress = QUIET,
) -> Evaluation:
    """Score a trained student (`run`) or predictions made elsewhere (`predictions`) on a benchmark
    split ("shapenetpart", "partnete") or a labelled collection ("collection"), with the
    benchmark's own protocol; direct lifting of `knowledge` of the same shapes is scored beside.
    `points`: a fixed subset of that many per shape, or "all"; by default the protocol's (2048 for
    ShapeNetPart and collections, all for PartNetE). Reports go to `out` (default
    eval-<dataset>)."""
    _check_progress_and_ray(progress)
    names = _names(categories, "categories") or []
    if categories is not None and not any(names):
        raise PdError(f"{option('categories')} names no category: leave it out to score them all.")
    from partdistill.datasets.readers import open_dataset
    from partdistill.distill.trained import TrainedStudent
    from partdistill.eval.evaluate import (
        EvalResult,
        FilePredictions,
        StudentPredictor,
        default_knowledge,
        lifting_from,
        parse_points,
        student_categories,
    )
    from partdistill.eval.evaluate import (
        evaluate as score,
    )
    from partdistill.eval.report import published, report_files, write_reports
    from partdistill.view import COMPARISON, page_for, save_comparison, write_page

    if (run is None) == (predictions is None):
        raise PdError(
            f"Give either {option('run')} (a trained student) or {option('predictions')} "
            "(labels made elsewhere)."
        )
    subset = parse_points(points, dataset)
    check_number(gallery, "gallery", at_least=0, whole=True)
    check_number(seed, "seed", at_least=0, at_most=MAX_SEED, whole=True)
    out = _given(out, "out") if out is not None else Path(f"eval-{dataset}")
    root = _path(root)
    OutputFolder(out).check()  # before the scoring, which can take long
    walked = (root,) if dataset == "partnete" else ()  # its shapes are found by walking its folders
    refuse_others(out, "a pd eval report", read_from=(root,), read_within=walked)
    report = CommandFiles(out, "pd eval", shares=("pd view",))  # pd view writes only pages
    planned = [*report_files(gallery > 0), *([COMPARISON, PAGE] if view else [])]
    report.check(planned)  # before the scoring, which can take long
    if dataset == "collection" and split != "test":
        raise PdError(f"{option('split')} is for the benchmarks: a collection is scored whole.")
    data = open_dataset(dataset, root, split)
    chosen = [_dataset_category(dataset, name) for name in names if name] or None
    predictors: list[Any] = []
    files = None
    if run is not None:
        trained = run
        if not isinstance(trained, TrainedStudent):
            trained = TrainedStudent.load(_given(run, "run"), resolve_device(device))
        student = StudentPredictor(trained)
        asked = chosen
        chosen, unmatched = student_categories(data, root, student, chosen)
        left = [c.name for c in asked or [] if c not in chosen]
        if left:
            progress.note(f"Note: the run segments {trained.category} alone; {', '.join(left)} not scored.")
        if unmatched:
            progress.note(f"Note: the student's parts {unmatched} have no namesake here.")
        predictors.append(student)
    else:
        files = FilePredictions(_given(predictions, "predictions"), dataset, every_category=chosen is None)
        predictors.append(files)
    knowledge = _path(knowledge) if knowledge is not None else default_knowledge(data)
    if knowledge is not None:
        predictors.append(lifting_from(knowledge, data, chosen))
        progress.note(f"Direct lifting from {knowledge} is scored beside.")
    result: EvalResult | None = None
    short = 0  # shapes of fewer points than the subset scored
    with tracked(progress, "scoring", len(data.ids(chosen))) as bar:
        for step in score(data, predictors, categories=chosen, points=subset, seed=seed, examples=gallery):
            if isinstance(step, EvalResult):
                result = step
            else:
                short += subset is not None and step.shape.n_points < subset
                bar.advance()
    assert result is not None
    if short:
        progress.note(
            f"{short} of the {sum(result.counts.values())} shapes have fewer than {subset:,} points: each of "
            f"their points is scored once and random repeats of them fill the rest ({option('points')} all "
            "scores every point once)."
        )
    settings: dict[str, object] = {
        "dataset": dataset,
        "root": str(root),
        "split": None if dataset == "collection" else split,
        "points": "all" if subset is None else subset,  # a number of points, or all of them
        "seed": seed,
        "run": None if run is None else str(trained.run),
        "predictions": None if predictions is None else str(predictions),
        "knowledge": None if knowledge is None else str(knowledge),
    }
    unused = [] if files is None else files.unused(data.ids(chosen))
    if unused:
        progress.note(
            f"Note: {len(unused)} of the predictions are for shapes not scored here (e.g. {unused[0]}): "
            "of another split or category, or not in the dataset."
        )
    if files is not None and files.outside:
        example = next(iter(files.outside))
        progress.note(
            f"Note: {sum(files.outside.values())} labels in {len(files.outside)} shapes are not parts of "
            f"their shape's category (e.g. {example}); they count as wrong."
        )
        settings["labels outside their category"] = files.outside
    with OutputFolder(out):
        report.claim(planned)
        reports = write_reports(result, out, settings, benchmark=dataset != "collection")
        written = {path.name for path in reports}
        if view and result.worst:
            save_comparison(inside(out, COMPARISON), result.worst)
            reports.append(write_page(inside(out, PAGE), page_for(out)))
            written |= {COMPARISON, PAGE}
        # An earlier run's gallery or page that this one did not draw would show its results.
        report.retire([name for name in [*report_files(True), COMPARISON, PAGE] if name not in written])
        report.seal(planned)
    # Published numbers are the benchmark's; a collection of one's own shapes has none.
    return Evaluation(result, reports, {} if dataset == "collection" else published(result.protocol))


# --- pd import --------------------------------------------------------------------------------------


@_call
def import_shapes(
    dataset: str,
    root: PathLike,
    *,
    out: PathLike,
    split: str = "test",
    categories: str | Sequence[str] | None = None,
    points: int = 10_000,
    seed: int = 0,
    parts: str | Sequence[str] | None = None,
    replace: bool = False,
    up: str = "y",
    front: str = "x",
    progress: Progress = QUIET,
) -> Collection:
    """A collection at `out` from a benchmark split ("shapenetpart", "partnete": shapes keep their
    dataset ids and labels) or a folder of shape files ("files": one category, named in
    `categories`, a category file, or a new name with `parts`; the labels the files carry are
    matched to its parts, and each file's outcome is noted; `up` and `front` name the files' axes
    that point up and to the front, and the shapes are turned into the catalogue's frame, +y up
    and front +x). Every input is read before anything is written. Into an existing collection, a
    shape it holds already is skipped (a resume), and a different shape under an id it uses gets a
    new id, or with `replace` replaces that shape and its knowledge units are deleted. Returns the
    collection."""
    from partdistill.datasets.importing import SOURCES, import_files, label_lines, what_changed
    from partdistill.datasets.importing import import_shapes as copy_shapes
    from partdistill.datasets.readers import open_dataset
    from partdistill.shapes import MAX_POINTS, Frame

    _check_progress_and_ray(progress)
    check_number(points, "points", at_least=1, at_most=MAX_POINTS, whole=True)
    check_number(seed, "seed", at_least=0, at_most=MAX_SEED, whole=True)
    frame = Frame(up, front)
    if dataset != "files" and parts is not None:
        raise PdError(
            f"{option('parts')} names the parts of a new category for {option('dataset')} files; "
            f"{dataset}'s categories have their parts already."
        )
    if dataset != "files" and not frame.is_catalogue:
        raise PdError(
            f"{option('up')} and {option('front')} are for your own files: {dataset}'s shapes are in the "
            "catalogue's frame (+y up, front +x) already."
        )
    root, out = _given(root, "root"), _given(out, "out")
    refuse_others(out, COLLECTION_KIND, read_from=(root,))
    names = [name for name in _names(categories, "categories") or [] if name]
    if dataset == "files":
        # A collection brings its category along: its own, a user category included, is known now.
        own = Collection.open(out).shared_category() if (out / MANIFEST).is_file() else None
        if not names and parts is None and own is not None:
            category = own
        elif len(names) != 1:
            raise PdError(
                f"Importing files needs the one category they show, named with {option('categories')}: a "
                f"catalogue name such as chair, a category file, or a new name with {option('parts')}."
            )
        else:
            category = _category(names[0], parts, "categories")
        assert category is not None
    elif dataset in SOURCES:
        chosen = [_dataset_category(dataset, name) for name in names] or None
        data = open_dataset(dataset, root, split)
        total = len(data.ids(chosen))
        if not total:
            raise PdError(
                f"The {split} split in {root} holds no shapes"
                + (f" of {', '.join(names)}." if names else ".")
            )
    else:
        raise PdError(f"Unknown dataset '{dataset}': use one of {', '.join(SOURCES)}.")
    forget = _forget_units(out) if replace else None
    done = []
    with OutputFolder(out):
        if dataset == "files":
            results = import_files(root, category, out, points, seed, forget, frame, progress)
            count = None
        else:
            Collection.create(out)  # writes nothing: a folder it refuses is refused before the checking
            with tracked(progress, f"checking {root}", total) as bar:
                for _ in data.shapes(chosen):  # every shape readable before any is written
                    bar.advance()
            results = copy_shapes(data, chosen, out, forget)
            count = total
        with closing(results), tracked(progress, f"importing into {out}", count) as bar:  # as in `synth`
            for imported in results:
                done.append(imported)
                bar.advance()
    for line in [*label_lines(done), *what_changed(done, out)]:
        progress.note(line)
    collection = Collection.open(out)
    several = sorted({record.category for record in collection.ok_records if record.category})
    if len(several) > 1:
        progress.note(
            f"{out} holds shapes of {len(several)} categories: pd teach and pd distill take one category a "
            f"collection, so import each into a collection of its own ({option('categories')}) to distil it."
        )
    point_e = [d.id for d in done if d.added and collection[d.id].provenance.generator == "point-e"]
    if point_e and frame.is_catalogue:
        progress.note(
            f"{first_few(point_e, 3)}: clouds Point-E saved, which are z-up, taken as they are (y-up) and so "
            f"lying on their side; import them with {option('up')} z (and {option('front')} where they face: "
            "Point-E's example corgi faces -y)."
        )
    if not frame.is_catalogue:
        progress.note(
            f"Turned the shapes from their frame ({frame.describe()}) into the catalogue's (up y, front x); "
            "each shape's provenance records the frame it came in."
        )
    return collection


def _forget_units(root: Path) -> Callable[[str], None]:
    """What importing with `replace` does before a shape of the collection at `root` is replaced:
    delete its units and sheets in each of the collection's knowledge folders (made from the shape
    being replaced)."""
    from partdistill.knowledge.store import KnowledgeStore

    def forget(shape_id: str) -> None:
        for store in KnowledgeStore.of_collection(root):
            store.forget(shape_id)

    return forget


# --- pd view ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Viewed:
    """A page `view` wrote: its file, how many entries its menu has, and its title (which says
    where it shows the first `limit` shapes of more)."""

    path: Path
    entries: int
    title: str


@_call
def view(path: PathLike, *, out: PathLike | None = None, limit: int = 30, points: int = 20_000) -> Viewed:
    """Write an interactive 3D page (one HTML file that opens offline) of a shape file, a
    collection, a knowledge folder, a pd predict folder, a run or a pd eval report, at `out`
    (default: view.html in the folder; <name>.html beside a shape file); at most `limit` shapes and
    `points` points per shape. A page replaces only a page pd wrote (`files.CommandFiles`)."""
    from partdistill.view import page_for, write_page

    check_number(limit, "limit", at_least=1, whole=True)
    check_number(points, "points", at_least=100, whole=True)
    path = _given(path, "path")
    page = page_for(path, limit=limit, budget=points)
    target = (
        _given(out, "out")
        if out is not None
        else (path / PAGE if path.is_dir() else path.with_suffix(".html"))
    )
    if target.is_dir():
        raise PdError(
            f"{target} is a folder: give {option('out')} the page's file name, such as {target / PAGE}."
        )
    if target.exists() and target.suffix.lower() != ".html":
        raise PdError(f"{target} exists and is not a web page; give {option('out')} a new .html file name.")
    with OutputFolder(target.parent):
        pages = CommandFiles(target.parent, "pd view", shares=("pd predict", "pd eval"))
        [target] = pages.claim([target.name])
        write_page(target, page)
        pages.seal([target.name])
    return Viewed(target, len(page.entries), page.title)
