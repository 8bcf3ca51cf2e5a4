"""The `pd` command line: a thin shell over the library.

Each command parses options, calls one library function, and shows progress and a summary. A
`PdError` from the library becomes one red sentence and exit code 1; anything else is a bug and
keeps its traceback.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import numpy as np
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from partdistill.errors import MAX_SEED, PdError, check_number
from partdistill.files import OutputFolder, remove_stale_temporaries
from partdistill.shapes import MAX_POINTS

if TYPE_CHECKING:
    from partdistill.collection import Collection
    from partdistill.distill.data import Item
    from partdistill.distill.job import DistillJob, Planned
    from partdistill.distill.train import Distillation, DistillConfig
    from partdistill.eval.evaluate import EvalResult
    from partdistill.knowledge.store import KnowledgeStore
    from partdistill.prompts import Category
    from partdistill.scale import RayOptions
    from partdistill.teach.config import TeachConfig
    from partdistill.teach.run import TeachSummary
    from partdistill.teach.teachers import Teacher

app = typer.Typer(
    name="pd",
    help="partdistill: 3D part segmentation without 3D labels (PartDistill, CVPR 2024).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # usage errors in three plain lines (click's), not a boxed panel
    add_completion=False,
)
# Sentences with paths stay on one line; no console markup, so brackets in messages print as they are.
console = Console(soft_wrap=True, markup=False)
MAX_IMAGE_SIZE = 4096  # five times PartSLIP's 800 px; ten views of it are already 168 M pixels
errors = Console(stderr=True, soft_wrap=True, markup=False)

P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a `PdError`, or a file the system would not let the command read or write, into one
    sentence on stderr and exit code 1; Ctrl-C into one sentence and exit code 130."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except PdError as error:
            message = str(error)
        except OSError as error:  # a disk or permission problem, not a bug: say which file
            where = f"{error.filename}: " if error.filename else ""
            message = f"{where}{error.strerror or error} (nothing was left half-written)."
        except KeyboardInterrupt:
            errors.print("Stopped. Run the same command again to continue where it stopped.")
            raise typer.Exit(code=130) from None
        errors.print(Text("Error: ", style="bold red") + Text(message), highlight=False)
        raise typer.Exit(code=1) from None

    return wrapper


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


class GeneratorName(str, Enum):
    procedural = "procedural"
    shap_e = "shap-e"
    point_e = "point-e"


Device = Annotated[str, typer.Option(help="cpu, cuda, cuda:1, mps, or auto (the best available).")]
UseRay = Annotated[
    bool,
    typer.Option(
        "--ray",
        help="Run on a Ray cluster: the one in $RAY_ADDRESS (or --ray-address), else a new local one.",
    ),
]
RayAddress = Annotated[str | None, typer.Option(help="The Ray cluster to join, host:port (implies --ray).")]
Workers = Annotated[int, typer.Option(help="Ray workers (one model each).")]
CpusPerWorker = Annotated[float, typer.Option(help="CPUs each Ray worker reserves (and its threads).")]
GpusPerWorker = Annotated[
    float, typer.Option(help="GPUs each Ray worker reserves; with any, workers use CUDA.")
]


def _listed(text: str | None) -> list[str]:
    """The names of a comma-separated option ("chair, table,"), empty ones left out."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def _ray_line(scale: RayOptions) -> str:
    each = f"{scale.cpus_per_worker:g} CPU and {scale.gpus_per_worker:g} GPU"
    return f"On Ray: {scale.workers} workers, {each} each."


def _ray_options(use: bool, address: str | None, workers: int, cpus: float, gpus: float) -> RayOptions | None:
    """The Ray settings of a command, or None to run in this process (Ray is not imported then)."""
    from partdistill.scale import RayOptions

    if not use and address is None:
        return None
    return RayOptions(
        address="auto" if address is None else address,
        workers=workers,
        cpus_per_worker=cpus,
        gpus_per_worker=gpus,
    )


Parts = Annotated[
    str | None,
    typer.Option(
        help='A new category: its parts in label order, e.g. --category teapot --parts "lid,spout,body".'
    ),
]


@app.command()
@reports_errors
def synth(
    category: Annotated[
        str, typer.Option(help="Category to make: a name (pd categories lists them) or a category file.")
    ],
    n: Annotated[int, typer.Option("--n", min=1, help="How many shapes the collection should hold.")] = 100,
    generator: Annotated[
        GeneratorName, typer.Option(help="Where shapes come from.")
    ] = GeneratorName.procedural,
    out: Annotated[
        Path | None, typer.Option(help="Collection folder (default: shapes/<category>-<generator>).")
    ] = None,
    seed: Annotated[
        int, typer.Option(min=0, max=MAX_SEED, help="Seed of the whole run; same seed, same shapes.")
    ] = 0,
    points: Annotated[
        int, typer.Option(min=1, help="Points sampled per shape (Point-E always makes 4,096).")
    ] = 10_000,
    device: Device = "auto",
    model_id: Annotated[
        str | None, typer.Option(help="Weights to use instead of the generator's default.")
    ] = None,
    grid_size: Annotated[int, typer.Option(min=8, help="Shap-E mesh grid (finer is slower).")] = 128,
    steps: Annotated[int, typer.Option(min=1, help="Shap-E diffusion steps.")] = 64,
    guidance: Annotated[float, typer.Option(help="Shap-E guidance scale.")] = 15.0,
    quality_filter: Annotated[bool, typer.Option(help="Record degenerate generations as failures.")] = True,
    parts: Parts = None,
    ray: UseRay = False,
    ray_address: RayAddress = None,
    workers: Workers = 2,
    cpus_per_worker: CpusPerWorker = 1.0,
    gpus_per_worker: GpusPerWorker = 0.0,
) -> None:
    """Make a collection of shapes of one category (resumable: re-run the same command to continue)."""
    from partdistill.devices import resolve_device
    from partdistill.prompts.user import resolve_category
    from partdistill.synth import SynthConfig, build_generator, prepare, synthesize

    name = resolve_category(category, parts).key
    config = SynthConfig(
        category=name,
        n=n,
        generator=generator.value,
        seed=seed,
        n_points=points,
        model_id=model_id,
        grid_size=grid_size,
        steps=steps,
        guidance=guidance,
        quality_filter=quality_filter,
    )
    out = out or Path("shapes") / f"{name}-{generator.value}"
    scale = _ray_options(ray, ray_address, workers, cpus_per_worker, gpus_per_worker)
    run_device = resolve_device(device) if scale is None else scale.device
    with OutputFolder(out):
        remove_stale_temporaries(out)
        collection, todo = prepare(config, out)
        if todo:
            if len(todo) < n:
                console.print(f"Resuming {out}: {n - len(todo)} of {n} shapes are already there.")
            if scale is None:
                records = synthesize(config, build_generator(config, run_device), collection, todo)
            else:
                from partdistill.scale import synthesize_on_ray

                console.print(_ray_line(scale))
                records = synthesize_on_ray(config, collection, todo, scale)
            start = time.perf_counter()
            with progress_bar() as bar:
                task = bar.add_task(f"{name} ({generator.value})", total=len(todo))
                for record in records:
                    bar.advance(task)
                    if not record.ok:
                        bar.console.print(
                            Text(f"{record.id} failed: ", style="yellow") + Text(str(record.error))
                        )
            elapsed = time.perf_counter() - start
            console.print(f"Made {len(todo)} shapes in {elapsed:.1f} s ({len(todo) / elapsed:.2f} shapes/s).")
        else:
            console.print(f"{out} already holds all {n} shapes.")
    console.print(_collection_table(collection, out))


def _collection_table(collection: Collection, out: Path) -> Table:
    ok = collection.ok_records
    table = Table(title=str(out), show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("shapes", str(len(ok)))
    table.add_row("failed", str(len(collection) - len(ok)))
    if ok:
        table.add_row("points per shape", f"{sum(r.n_points for r in ok) / len(ok):,.0f}")
    coverage = collection.part_coverage()
    several = len({part.category for part in coverage}) > 1
    for part in coverage:
        label = f"{part.category}: part '{part.name}'" if several else f"part '{part.name}'"
        table.add_row(label, f"in {part.shapes}/{part.of} shapes, {part.share:.0%} of points")
    return table


class TeacherName(str, Enum):
    simulated = "simulated"
    grounding_dino = "grounding-dino"
    owlv2 = "owlv2"
    clipseg = "clipseg"
    clip = "clip"


class NoiseName(str, Enum):
    clean = "clean"
    noisy = "noisy"
    harsh = "harsh"


class KindName(str, Enum):
    box = "box"
    mask = "mask"


class Query(str, Enum):
    part = "part"
    part_of_category = "part-of-category"


class RendererName(str, Enum):
    auto = "auto"
    points = "points"
    mesh = "mesh"


def _collection_category(
    collection: Collection, category: str | None, force: bool = False, parts: str | None = None
) -> Category:
    """The category given (a name, a category file, or a name with --parts), or the one every
    shape of the collection shares. A category that contradicts the collection's own is refused
    unless `force` (--force-category)."""
    from partdistill.prompts import find_category
    from partdistill.prompts.user import resolve_category

    names = {record.category for record in collection.ok_records}
    own = find_category(next(iter(names))) if len(names) == 1 and None not in names else None
    if category is None:
        if own is None:
            raise PdError(
                f"{collection.root} holds shapes of {len(names)} categories; say which with --category."
            )
        return own
    chosen = resolve_category(category, parts)
    if own is not None and chosen != own and not force:
        raise PdError(
            f"{collection.root} holds {own.key} shapes, not {chosen.key}; "
            f"pass --force-category to treat them as {chosen.key} anyway."
        )
    return chosen


ForceCategory = Annotated[
    bool, typer.Option(help="Use --category even where the shapes' own category is another.")
]


@app.command()
@reports_errors
def teach(
    shapes: Annotated[Path, typer.Option(help="A shape collection (made by pd synth).")],
    category: Annotated[str | None, typer.Option(help="Category (default: the collection's).")] = None,
    teacher: Annotated[TeacherName, typer.Option(help="The 2D teacher.")] = TeacherName.simulated,
    name: Annotated[
        str | None, typer.Option(help="Knowledge folder name (default: from the teacher).")
    ] = None,
    model_id: Annotated[str | None, typer.Option(help="Teacher weights (clip: ARCH:TAG).")] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Teacher score threshold (default: its own).")
    ] = None,
    query: Annotated[
        Query, typer.Option(help="Ask for a part by its words, or as '<part> of a <category>'.")
    ] = Query.part,
    nms: Annotated[
        float | None,
        typer.Option(help="Detectors: IoU above which boxes of one part in a view are merged (GLIP's 0.6)."),
    ] = None,
    noise: Annotated[NoiseName, typer.Option(help="Simulated teacher: how often it errs.")] = NoiseName.noisy,
    kind: Annotated[
        KindName, typer.Option(help="Simulated teacher: box or mask predictions.")
    ] = KindName.box,
    renderer: Annotated[RendererName, typer.Option(help="How views are drawn.")] = RendererName.auto,
    image_size: Annotated[int, typer.Option(min=32, max=MAX_IMAGE_SIZE, help="Render size in pixels.")] = 800,
    point_radius: Annotated[
        float | None,
        typer.Option(
            help="Point splat radius in NDC units (default: from each cloud's density; PartSLIP: 0.005)."
        ),
    ] = None,
    sheets: Annotated[int, typer.Option(help="Contact sheets to draw (-1: all, 0: none).")] = -1,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Seed of the simulated teacher.")] = 0,
    device: Device = "auto",
    force_category: ForceCategory = False,
    parts: Parts = None,
    ray: UseRay = False,
    ray_address: RayAddress = None,
    workers: Workers = 2,
    cpus_per_worker: CpusPerWorker = 1.0,
    gpus_per_worker: GpusPerWorker = 0.0,
) -> None:
    """Render every shape, ask a 2D teacher where each part is, and lift its answers to 3D units."""
    from partdistill.collection import Collection
    from partdistill.devices import resolve_device
    from partdistill.knowledge.store import KnowledgeStore
    from partdistill.teach.config import TeachConfig, build_config_teacher
    from partdistill.teach.teachers import GLIP_NMS, refuse_ignored

    refuse_ignored(teacher.value, threshold=threshold, nms=nms)
    collection = Collection.open(shapes)
    found = _collection_category(collection, category, force_category, parts)
    config = TeachConfig(
        teacher=teacher.value,
        model_id=model_id,
        threshold=threshold,
        query=query.value,
        nms=GLIP_NMS if nms is None else nms,
        noise=noise.value,
        kind=kind.value,
        renderer=renderer.value,
        image_size=image_size,
        point_radius=point_radius,
        seed=seed,
    )
    store = KnowledgeStore.named(collection.root, config.default_name() if name is None else name)
    scale = _ray_options(ray, ray_address, workers, cpus_per_worker, gpus_per_worker)
    model = build_config_teacher(config, resolve_device(device)) if scale is None else None
    with OutputFolder(store.root):
        summary = _teach_with_progress(collection, found, model, config, store, sheets, scale)
    table = Table(title=str(store.root), show_header=False)
    table.add_column()
    table.add_column(justify="right")
    table.add_row("shapes taught now", str(len(summary.units)))
    table.add_row("already there", str(len(collection.ok_records) - len(summary.units)))
    if summary.units:
        table.add_row("units per shape", f"{np.mean(summary.units):.1f}")
        table.add_row("points covered", f"{100 * np.mean(summary.coverage):.1f}%")
    if summary.lifting_iou:
        table.add_row("direct lifting mIoU (labelled shapes)", f"{100 * np.mean(summary.lifting_iou):.1f}")
    console.print(table)
    console.print(f"Contact sheets: {store.root / 'sheets'}")


class StudentName(str, Enum):
    edgeconv = "edgeconv"
    pointnet = "pointnet"
    point_m2ae = "point-m2ae"


class Mode(str, Enum):
    pre = "pre"
    tta = "tta"


class Switch(str, Enum):
    guarded = "guarded"
    reference = "reference"


@app.command()
@reports_errors
def distill(
    shapes: Annotated[
        list[Path] | None,
        typer.Option(
            help="A shape collection; repeat to distil from several (not needed with h5 --knowledge)."
        ),
    ] = None,
    category: Annotated[str | None, typer.Option(help="Category (default: the shapes').")] = None,
    knowledge: Annotated[
        list[Path] | None,
        typer.Option(help="A pd teach folder, or a folder of PartDistill preprocess.h5 files; repeatable."),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(help="Each source's share of the batches, e.g. 1,3 (default: by their sizes)."),
    ] = None,
    teacher: Annotated[TeacherName, typer.Option(help="Teacher to run when there is no knowledge yet.")] = (
        TeacherName.simulated
    ),
    noise: Annotated[NoiseName, typer.Option(help="Simulated teacher: how often it errs.")] = NoiseName.noisy,
    kind: Annotated[KindName, typer.Option(help="Simulated teacher: box or mask.")] = KindName.box,
    image_size: Annotated[
        int | None,
        typer.Option(
            min=32,
            max=MAX_IMAGE_SIZE,
            help="Render size when teaching (default: the knowledge's, or 800); knowledge made at"
            " another size is refused.",
        ),
    ] = None,
    student: Annotated[StudentName, typer.Option(help="The 3D student.")] = StudentName.pointnet,
    checkpoint: Annotated[
        Path | None, typer.Option(help="Point-M2AE pre-training weights (point-m2ae).")
    ] = None,
    mode: Annotated[
        Mode, typer.Option(help="pre: distil, apply elsewhere; tta: distil on the shapes to label.")
    ] = Mode.pre,
    epochs: Annotated[int, typer.Option(min=1, help="Epochs (more where --min-steps asks).")] = 25,
    min_steps: Annotated[
        int, typer.Option(help="Optimisation steps to take at least: small collections train more epochs.")
    ] = 300,
    batch_size: Annotated[int, typer.Option(min=1, help="Clouds per batch.")] = 16,
    points: Annotated[int, typer.Option(min=16, help="Points per cloud.")] = 2048,
    lr: Annotated[float, typer.Option(help="Initial learning rate (cosine decay to lr/100).")] = 3e-3,
    backward: Annotated[bool, typer.Option(help="Allow backward distillation.")] = True,
    switch: Annotated[
        Switch,
        typer.Option(
            help="When backward distillation starts and what re-scores the units. guarded: the"
            " student's predictions averaged over epochs, not before half the epochs and 144 steps;"
            " reference: the student at the trigger."
        ),
    ] = Switch.guarded,
    seed: Annotated[
        int, typer.Option(min=0, max=MAX_SEED, help="Seed of initialisation, sampling and augmentation.")
    ] = 0,
    out: Annotated[Path | None, typer.Option(help="Run folder (default: runs/<category>-<student>).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue a killed run in --out.")] = False,
    device: Device = "auto",
    force_category: ForceCategory = False,
    parts: Parts = None,
    categories: Annotated[
        str | None,
        typer.Option(
            help="Distil several categories, one run each: a list or 'all' (ShapeNetPart's 16); "
            "'{category}' in --shapes, --knowledge and --out stands for each one's name."
        ),
    ] = None,
    ray: UseRay = False,
    ray_address: RayAddress = None,
    workers: Workers = 2,
    cpus_per_worker: CpusPerWorker = 1.0,
    gpus_per_worker: GpusPerWorker = 0.0,
) -> None:
    """Train a 3D student on a teacher's knowledge units (forward, then backward distillation)."""
    from partdistill.devices import resolve_device
    from partdistill.distill.job import DistillJob, gather, parse_weights
    from partdistill.distill.students import check_student
    from partdistill.distill.train import REFERENCE_SWITCH
    from partdistill.prompts.user import resolve_category
    from partdistill.teach.config import TeachConfig, build_config_teacher

    check_student(student.value, checkpoint)
    scale = _ray_options(ray, ray_address, workers, cpus_per_worker, gpus_per_worker)
    if scale is not None and categories is None:
        raise PdError("--ray distils several categories at once: give them with --categories.")
    job = DistillJob(
        shapes=tuple(shapes or ()),
        knowledge=tuple(knowledge or ()),
        category=resolve_category(category, parts) if category and categories is None else None,
        teach=TeachConfig(
            teacher=teacher.value,
            noise=noise.value,
            kind=kind.value,
            image_size=TeachConfig.image_size if image_size is None else image_size,
            seed=seed,
        ),
        pinned=() if image_size is None else ("image_size",),
        training=dict(
            student=student.value,
            mode=mode.value,
            epochs=epochs,
            min_steps=min_steps,
            batch_size=batch_size,
            n_points=points,
            lr=lr,
            backward=backward,
            seed=seed,
            **(REFERENCE_SWITCH if switch is Switch.reference else {}),
            checkpoint=None if checkpoint is None else str(checkpoint),
            weights=parse_weights(weights),
        ),
        out=out,
        resume=resume,
        device=scale.device if scale is not None else resolve_device(device),
    )
    if categories is not None:
        if category is not None or parts is not None:
            raise PdError("Give either --category (with --parts) or --categories, not both.")
        _distill_categories(job, categories, scale, force_category)
        return
    planned = job.plan()
    for source in planned.sources:  # a category that contradicts a collection's own needs --force-category
        if source.collection is not None:
            _collection_category(
                source.collection, planned.category.key if category else None, force_category
            )
    for source in planned.sources:
        if source.teach is not None:
            assert source.collection is not None and source.store is not None
            console.print(
                f"No complete knowledge in {source.store.root} yet: running the teacher stage first."
            )
            model = build_config_teacher(source.teach, job.device)
            with OutputFolder(source.store.root):
                _teach_with_progress(
                    source.collection, planned.category, model, source.teach, source.store, sheets=8
                )
    items = gather(planned.sources)
    if len(planned.sources) > 1:
        console.print(_sources_table(planned, items))
    with OutputFolder(planned.run_dir):
        _distill_into(planned.run_dir, planned.config, items, resume, job.device)


def _sources_table(planned: Planned, items: list[Item]) -> Table:
    table = Table(title="sources", show_header=True)
    for column in ("#", "source", "shapes", "share of the batches"):
        table.add_column(column)
    sizes = [sum(item.source == k for item in items) for k in range(len(planned.sources))]
    given = planned.config.weights or tuple(float(size) for size in sizes)
    for k, (source, size) in enumerate(zip(planned.sources, sizes, strict=True)):
        table.add_row(str(k + 1), source.label, str(size), f"{given[k] / sum(given):.0%}")
    return table


def _distill_categories(job: DistillJob, names: str, scale: RayOptions | None, force: bool) -> None:
    """One run per category ("{category}" in the paths stands for its name), on Ray or in turn.
    Categories are catalogue names or category files; each run's collections must be of its
    category (unless `force`), and several runs need "{category}" in --out to stay apart."""
    from partdistill.prompts import shapenetpart_categories
    from partdistill.prompts.user import resolve_category
    from partdistill.scale import run_on_ray

    chosen = (
        list(shapenetpart_categories())
        if names.strip() == "all"
        else [resolve_category(name) for name in _listed(names)]
    )
    if not chosen:
        raise PdError("--categories names no category: give a comma-separated list, or 'all'.")
    repeated = sorted({c.name for c in chosen if sum(other.name == c.name for other in chosen) > 1})
    if repeated:
        raise PdError(
            f"--categories names {', '.join(repeated)} more than once (runs are told apart by category name)."
        )
    if len(chosen) > 1 and job.out is not None and "{category}" not in str(job.out):
        raise PdError(
            "--out needs '{category}' in it with several categories, or every run lands in one folder."
        )
    template = {"out": str(job.out or Path("runs") / f"{{category}}-{job.training['student']}")}
    jobs = [job.for_category(c, template) for c in chosen]
    for planned_job in jobs:  # every category's sources exist and fit it before any runs
        planned = planned_job.plan()
        for source in planned.sources:
            if source.collection is not None:
                _collection_category(source.collection, planned.category.key, force)
    table = Table(title=f"{len(jobs)} categor{'y' if len(jobs) == 1 else 'ies'}", show_header=True)
    for column in ("category", "run", "epochs", "last loss", "backward from", "labels handed over"):
        table.add_column(column)
    if scale is not None:
        console.print(_ray_line(scale))
        results = run_on_ray(jobs, scale)
    else:
        results = (planned_job() for planned_job in jobs)
    with progress_bar() as bar:
        task = bar.add_task("categories", total=len(jobs))
        for done in results:
            bar.advance(task)
            table.add_row(
                done.category,
                str(done.run_dir),
                str(done.epochs),
                f"{done.loss:.4f}",
                str(done.switch_epoch or "-"),
                done.handed_over or "-",
            )
    console.print(table)


def _distill_into(run_dir: Path, config: DistillConfig, items: list[Item], resume: bool, device: str) -> None:
    """The training loop of `pd distill` with its progress, then, in TTA mode, the labels."""
    from partdistill.distill.choose import CHOICE_FILE
    from partdistill.distill.job import choose_labels, label_distilled
    from partdistill.distill.train import BatchReport, Distillation

    run = Distillation(config, items, run_dir, device=device)
    epochs = run.epochs
    run.start(resume)
    if run.budget_reason:
        console.print(f"Note: {run.budget_reason}.")
    if run.state.epoch:
        console.print(f"Resuming {run_dir} after epoch {run.state.epoch} of {epochs}.")
    if run.forward_only_reason:
        console.print(f"Note: {run.forward_only_reason}.")
    with progress_bar() as bar:
        task = bar.add_task("epoch", total=None)
        for report in run.run():
            if isinstance(report, BatchReport):
                bar.update(
                    task,
                    total=report.n_batches,
                    completed=report.batch,
                    description=f"epoch {report.epoch}/{epochs}  loss {report.loss:.3f}",
                )
                continue
            fit = "" if report.fit is None else f"  fit to labels {100 * report.fit:.1f} (display only)"
            line = Text(f"epoch {report.epoch:3d}  {report.phase:8s}  loss {report.loss:.4f}{fit}")
            if report.backward_note:
                line += Text(f"  -> {report.backward_note}", style="bold" if report.switched else "")
            bar.console.print(line)
    weights = run.finish()
    console.print(f"Student: {weights}  (log.txt, curve.png, config.json beside it)")
    if config.mode != "tta":
        return
    choice = choose_labels(run, _check_with_progress)
    labelled = label_distilled(run, items, choice)
    agreement = (
        "no unit covers any point"
        if labelled.agreement is None
        else f"they agree on {100 * labelled.agreement:.1f}% of the points the units cover"
    )
    handed = "the student's" if choice.labels == "student" else "direct lifting of the units"
    console.print(
        f"Labels of the {labelled.shapes} shapes: {run_dir / 'predictions'}/<id>.npy, {handed} "
        f"({choice.reason}). Beside them: the student's in student/, direct lifting's in lifted/ "
        f"({agreement}); the choice in {CHOICE_FILE}."
    )


def _check_with_progress(twin: Distillation) -> None:
    """Train the held-out check's twin run with a progress bar, and finish it."""
    from partdistill.distill.train import BatchReport

    console.print(
        f"Held-out check: distilling a twin on the even views' units into {twin.run_dir}, to compare "
        "the student with direct lifting on the odd views."
    )
    with progress_bar() as bar:
        task = bar.add_task("held-out check", total=twin.epochs)
        for report in twin.run():
            if not isinstance(report, BatchReport):
                bar.update(task, completed=report.epoch)
    twin.finish()


def _teach_with_progress(
    collection: Collection,
    category: Category,
    teacher: Teacher | None,
    config: TeachConfig,
    store: KnowledgeStore,
    sheets: int,
    scale: RayOptions | None = None,
) -> TeachSummary:
    """Teach the collection (in this process with `teacher`, or on Ray), counting shapes done."""
    from partdistill.teach.run import TeachSummary, teach

    summary = TeachSummary()
    todo = sum(1 for record in collection.ok_records if not store.has(record.id))
    if scale is None:
        assert teacher is not None
        results = teach(collection, category, teacher, config, store, sheets=sheets)
    else:
        from partdistill.scale import teach_on_ray

        results = teach_on_ray(collection, category, config, store, scale, sheets=sheets)
    with progress_bar() as bar:
        task = bar.add_task(f"teaching {category.name} ({config.default_name()})", total=todo)
        for result in results:
            bar.advance(task)
            summary.add(result)
    return summary


@app.command()
@reports_errors
def predict(
    inputs: Annotated[list[Path], typer.Argument(help="Shape files: PLY/OBJ/GLB/OFF/STL or .npz.")],
    run: Annotated[Path, typer.Option(help="A pd distill run folder.")],
    out: Annotated[Path, typer.Option(help="Where to write <name>.ply, .json and .png.")] = Path(
        "predictions"
    ),
    points: Annotated[int, typer.Option(min=1, help="Points sampled from meshes.")] = 10_000,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Seed of mesh sampling and chunking.")] = 0,
    device: Device = "auto",
    force_category: ForceCategory = False,
    page: Annotated[
        bool, typer.Option("--view/--no-view", help="Also write view.html, an interactive 3D page.")
    ] = True,
) -> None:
    """Label shapes with a trained student: part-coloured PLY, per-point JSON and a PNG per input."""
    from partdistill.devices import resolve_device
    from partdistill.distill.trained import TrainedStudent
    from partdistill.files import write_json
    from partdistill.formats import read_shape
    from partdistill.predict import INPUTS_FILE, check_outputs, output_names, write_prediction
    from partdistill.prompts import find_category

    check_number(points, "--points", at_least=1, at_most=MAX_POINTS)
    trained = TrainedStudent.load(run, resolve_device(device))
    shapes = [
        read_shape(path, n_points=points, seed=seed) for path in inputs
    ]  # all readable before writing any
    segments = find_category(trained.category)  # registered by the run's own record
    for path, shape in zip(inputs, shapes, strict=True):
        if shape.category and not _same_category(shape.category, segments) and not force_category:
            raise PdError(
                f"{path} is a {shape.category} and the run segments {trained.category}; "
                "pass --force-category to label it anyway."
            )
    names = output_names(inputs)
    check_outputs(out, names)
    table = Table(title=f"{trained.category} parts by {run}", show_header=True)
    table.add_column("input")
    table.add_column("written as")
    for name in trained.part_names:
        table.add_column(name, justify="right")
    with OutputFolder(out), progress_bar() as bar:
        task = bar.add_task("labelling", total=len(shapes))
        for path, shape, name in zip(inputs, shapes, names, strict=True):
            labels = trained.labels(shape, seed=seed)
            write_prediction(shape, labels, trained, out, name, path)
            counts = np.bincount(labels, minlength=len(trained.part_names))
            table.add_row(str(path), name, *(f"{100 * c / len(labels):.0f}%" for c in counts))
            bar.advance(task)
        write_json(out / INPUTS_FILE, {name: str(path) for name, path in zip(names, inputs, strict=True)})
        if page:
            from partdistill.view import page_for, write_page

            write_page(out / "view.html", page_for(out))
    console.print(table)
    console.print(
        f"Wrote <name>.ply, <name>.json and <name>.png for each input into {out} (names: inputs.json)"
    )


def _same_category(name: str, category: Category) -> bool:
    """Whether a shape file's category name means `category` (a name no catalogue knows, such as
    another user's category, is compared as written)."""
    from partdistill.prompts import find_category

    try:
        return find_category(name) == category
    except PdError:
        return name.strip().lower() == category.key


class DatasetName(str, Enum):
    shapenetpart = "shapenetpart"
    partnete = "partnete"
    collection = "collection"


@app.command(name="eval")
@reports_errors
def evaluate(
    dataset: Annotated[
        DatasetName, typer.Option(help="Benchmark (its own protocol) or a labelled collection.")
    ],
    root: Annotated[Path, typer.Option(help="The dataset folder.")],
    run: Annotated[Path | None, typer.Option(help="A pd distill run to score.")] = None,
    predictions: Annotated[
        Path | None,
        typer.Option(help="Predictions made elsewhere: a JSON {id: labels} or a folder of <id>.npy."),
    ] = None,
    knowledge: Annotated[
        Path | None, typer.Option(help="Knowledge of the same shapes, to score direct lifting beside.")
    ] = None,
    split: Annotated[str, typer.Option(help="Dataset split.")] = "test",
    categories: Annotated[str | None, typer.Option(help="Comma-separated categories (default: all).")] = None,
    points: Annotated[
        str, typer.Option(help="2048 (a fixed subset per shape, the reference protocol) or all.")
    ] = ("2048"),
    out: Annotated[Path | None, typer.Option(help="Report folder (default: eval-<dataset>).")] = None,
    gallery: Annotated[int, typer.Option(min=0, help="Shapes drawn in gallery.png.")] = 8,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Seed of the point subsets.")] = 0,
    device: Device = "auto",
    page: Annotated[
        bool,
        typer.Option("--view/--no-view", help="Also write view.html: the worst shapes in interactive 3D."),
    ] = True,
) -> None:
    """Score a trained student (or predictions made elsewhere) with the benchmark's own protocol."""
    from partdistill.datasets.readers import open_dataset
    from partdistill.devices import resolve_device
    from partdistill.eval.evaluate import (
        EvalResult,
        FilePredictions,
        StudentPredictor,
        default_knowledge,
        evaluate,
        lifting_from,
    )
    from partdistill.eval.report import published, write_reports
    from partdistill.prompts import find_category

    if (run is None) == (predictions is None):
        raise PdError("Give either --run (a trained student) or --predictions (labels made elsewhere).")
    if points != "all" and (not points.isdigit() or not 1 <= int(points) <= MAX_POINTS):
        raise PdError(
            f"--points must be a number from 1 to {MAX_POINTS:,} (the reference protocol: 2048) or all, "
            f"not '{points}'."
        )
    data = open_dataset(dataset.value, root, split)
    names = _listed(categories)
    prefix = "" if dataset is DatasetName.collection else f"{dataset.value}/"
    chosen = [find_category(prefix + name) for name in names] or None
    predictors = []
    if run is not None:
        from partdistill.distill.trained import TrainedStudent

        trained = TrainedStudent.load(run, resolve_device(device))
        student = StudentPredictor(trained)
        target = [c for c in data.categories() if c.key == trained.category]
        if not target:
            raise PdError(f"The run segments '{trained.category}', which {root} does not hold.")
        if chosen is not None and target[0] not in chosen:
            raise PdError(
                f"The run segments '{trained.category}', not {', '.join(names)}: leave --categories out "
                "or give the run's category."
            )
        unmatched = [p for p, i in zip(trained.part_names, student.mapping(target[0]), strict=True) if i < 0]
        if unmatched:
            console.print(
                Text("Note: ", style="yellow")
                + Text(f"the student's parts {unmatched} have no namesake here.")
            )
        chosen = target
        predictors.append(student)
    else:
        files = FilePredictions(predictions, dataset.value)
        predictors.append(files)
    knowledge = knowledge or default_knowledge(data)
    if knowledge is not None:
        console.print(f"Direct lifting from {knowledge} is scored beside.")
        predictors.append(lifting_from(knowledge, data, chosen))
    total = len(data.ids(chosen))
    with progress_bar() as bar:
        task = bar.add_task("scoring", total=total)
        for step in evaluate(
            data,
            predictors,
            categories=chosen,
            points=None if points == "all" else int(points),
            seed=seed,
            examples=gallery,
        ):
            if isinstance(step, EvalResult):
                result = step
            else:
                bar.advance(task)
    settings = {
        "dataset": dataset.value,
        "root": str(root),
        "split": split,
        "points": points,
        "seed": seed,
        "run": None if run is None else str(run),
        "predictions": None if predictions is None else str(predictions),
        "knowledge": None if knowledge is None else str(knowledge),
    }
    if predictions is not None and files.outside:
        console.print(
            Text("Note: ", style="yellow")
            + Text(
                f"{sum(files.outside.values())} labels in {len(files.outside)} shapes are not parts of their "
                f"shape's category (e.g. {next(iter(files.outside))}); they count as wrong."
            )
        )
        settings["labels outside their category"] = files.outside
    out = out or Path(f"eval-{dataset.value}")
    with OutputFolder(out):
        paths = write_reports(result, out, settings)
        if page and result.worst:
            from partdistill.view import COMPARISON, page_for, save_comparison, write_page

            save_comparison(out / COMPARISON, result.worst)
            paths.append(write_page(out / "view.html", page_for(out)))
    # Published numbers are the benchmark's; a collection of one's own shapes has none.
    reference = {} if dataset is DatasetName.collection else published(result.protocol)
    console.print(_score_table(result, reference))
    console.print(f"Reports: {', '.join(str(p) for p in paths)}")


def _score_table(result: EvalResult, reference: dict[str, dict[str, float]]) -> Table:
    table = Table(title=f"mIoU (%), {result.protocol} protocol", show_header=True)
    table.add_column("category")
    table.add_column("shapes", justify="right")
    for method in result.scores:
        table.add_column(method, justify="right")
    shown = {
        m: v for m, v in reference.items() if "GLIP" in m and any(c.name in v for c in result.categories)
    }
    for method in shown:
        table.add_column(
            method.replace("PartDistill", "paper:").replace(" GLIP", ""), justify="right", style="dim"
        )
    if shown:
        table.caption = "paper: published zero-shot numbers with a GLIP teacher (all in report.json)"
    for category in result.categories:
        row = [category.name, str(result.counts[category.name])]
        row += [f"{scores[category.name]:.1f}" for scores in result.scores.values()]
        row += [f"{v[category.name]:.1f}" if category.name in v else "" for v in shown.values()]
        table.add_row(*row)
    total = str(sum(result.counts.values()))
    table.add_row(
        "class mIoU",
        total,
        *(f"{s['class']:.1f}" for s in result.scores.values()),
        *(f"{v['overall']:.1f}" if len(result.categories) > 1 else "" for v in shown.values()),
    )
    if result.protocol == "shapenetpart":
        table.add_row("instance mIoU", total, *(f"{s['instance']:.1f}" for s in result.scores.values()))
    return table


@app.command(name="import")
@reports_errors
def import_(
    out: Annotated[Path, typer.Option(help="The collection to create (or extend).")],
    dataset: Annotated[
        str, typer.Option(help="shapenetpart, partnete, or files (a folder of PLY/OBJ/GLB/OFF/STL/.npz).")
    ],
    root: Annotated[Path, typer.Option(help="The dataset folder, or the folder of files.")],
    split: Annotated[str, typer.Option(help="Dataset split.")] = "test",
    categories: Annotated[
        str | None, typer.Option(help="Comma-separated categories (files: exactly one, or a category file).")
    ] = None,
    points: Annotated[int, typer.Option(min=1, help="Points sampled from mesh files.")] = 10_000,
    seed: Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Seed of mesh sampling.")] = 0,
    parts: Parts = None,
) -> None:
    """Make a collection from a benchmark split or a folder of shape files, for pd teach and pd distill."""
    from partdistill.collection import Collection
    from partdistill.datasets.importing import import_files, import_shapes
    from partdistill.datasets.readers import open_dataset
    from partdistill.prompts import find_category
    from partdistill.prompts.user import resolve_category

    check_number(points, "--points", at_least=1, at_most=MAX_POINTS)
    if dataset == "files":
        if not categories or ("," in categories and parts is None):
            raise PdError("Importing files needs the one category they show: --categories chair.")
        category = resolve_category(categories, parts)
    elif dataset in ("shapenetpart", "partnete"):
        names = _listed(categories)
        chosen = [find_category(f"{dataset}/{name}") for name in names] or None
        data = open_dataset(dataset, root, split)
        total = len(data.ids(chosen))
        if not total:
            raise PdError(
                f"The {split} split in {root} holds no shapes"
                + (f" of {', '.join(names)}." if names else ".")
            )
    else:
        raise PdError(f"Unknown dataset '{dataset}': use shapenetpart, partnete or files.")
    with OutputFolder(out), progress_bar() as bar:
        remove_stale_temporaries(out)
        if dataset == "files":
            ids = import_files(root, category, out, points, seed)
            total = None
        else:
            checking = bar.add_task(f"checking {root}", total=total)
            for _ in data.shapes(chosen):  # every shape readable before any is written
                bar.advance(checking)
            ids = import_shapes(data, chosen, out)
        task = bar.add_task(f"importing into {out}", total=total)
        for _ in ids:
            bar.advance(task)
    console.print(_collection_table(Collection.open(out), out))


@app.command()
@reports_errors
def view(
    path: Annotated[
        Path,
        typer.Argument(
            help="A shape file, a collection, a knowledge folder, a pd predict output or a pd eval report."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="The page to write (default: view.html in the folder, or beside the file)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Shapes on the page at most.")] = 30,
    points: Annotated[
        int, typer.Option(min=100, help="Points drawn per shape at most (a subset above).")
    ] = 20_000,
) -> None:
    """Write an interactive 3D page (one HTML file, offline) to look at parts: orbit, zoom, pick."""
    from partdistill.view import page_for, write_page

    page = page_for(path, limit=limit, budget=points)
    target = out or (path / "view.html" if path.is_dir() else path.with_suffix(".html"))
    if target.is_dir():
        raise PdError(
            f"{target} is a folder: give --out the page's file name, such as {target / 'view.html'}."
        )
    if target.exists() and target.suffix.lower() != ".html":
        raise PdError(f"{target} exists and is not a web page; give --out a new .html file name.")
    write_page(target, page)
    console.print(f"Wrote {target} ({len(page.entries)} menu entries): open it in a web browser.")


categories_app = typer.Typer(
    help="The categories pd knows (ShapeNetPart's, PartNetE's) and how to define your own.",
    invoke_without_command=True,
)
app.add_typer(categories_app, name="categories")


@categories_app.callback()
@reports_errors
def categories(ctx: typer.Context) -> None:
    """List the known categories and their parts (`pd categories show NAME` for one in full)."""
    from partdistill.prompts import categories as known

    if ctx.invoked_subcommand is not None:
        return
    table = Table(title="known categories", show_header=True)
    for column in ("name", "vocabulary", "parts (label order)"):
        table.add_column(column)
    for category in known():
        table.add_row(category.key, category.dataset, ", ".join(category.part_names))
    console.print(table)
    console.print(
        "Your own category: a TOML file (pd categories show FILE checks it) or --category NAME --parts "
        '"a,b,c" on any command that takes a category.'
    )


@categories_app.command("show")
@reports_errors
def show_category(
    name: Annotated[str, typer.Argument(help="A category name, or a category file (.toml or .json).")],
    parts: Parts = None,
) -> None:
    """One category in full: its parts, the words a teacher is asked, and its text-to-3D prompts."""
    from partdistill.prompts import prompt_space
    from partdistill.prompts.user import resolve_category

    category = resolve_category(name, parts)
    console.print(f"{category.key}: {category.noun} ({category.dataset})")
    table = Table(show_header=True)
    for column in ("label", "part", "teacher words", "benchmark id"):
        table.add_column(column)
    for label, part in enumerate(category.parts):
        table.add_row(
            str(label), part.name, part.teacher, "" if part.global_id is None else str(part.global_id)
        )
    console.print(table)
    space = prompt_space(category)
    console.print(f"{len(space):,} text-to-3D prompts, e.g.:")
    for prompt in space[:: max(1, len(space) // 5)][:5]:
        console.print(f"  {prompt}")


@app.command()
def info() -> None:
    """Versions, devices, optional backends, and where model weights are cached."""
    from partdistill import info as report

    for title, rows in (
        ("versions", report.versions()),
        ("devices", report.devices()),
        ("optional backends", report.backends()),
        ("weight caches", report.caches()),
    ):
        table = Table(title=title, title_justify="left", show_header=False)
        for _ in range(3):
            table.add_column()
        for row in rows:
            table.add_row(row.name, row.value, row.note)
        console.print(table)


def main() -> None:
    app()
