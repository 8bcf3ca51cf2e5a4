"""`pd distill`: train a 3D student on a teacher's knowledge units."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from partdistill.cli.common import (
    CpusPerWorker,
    Device,
    ForceCategory,
    GpusPerWorker,
    Parts,
    RayAddress,
    UseRay,
    Workers,
    console,
    one_of,
    ray_options,
    reports_errors,
    shown_progress,
)
from partdistill.distill.config import MODES, SWITCHES
from partdistill.distill.students import STUDENTS
from partdistill.errors import PdError, option
from partdistill.teach.config import KINDS
from partdistill.teach.teachers import NOISE_PRESETS, TEACHERS

if TYPE_CHECKING:
    from partdistill.distill.job import Finished

Students = one_of(STUDENTS)
Teachers = one_of(TEACHERS)
Noises = one_of(NOISE_PRESETS)
Kinds = one_of(KINDS)
Modes = one_of(MODES)
Switches = one_of(SWITCHES)


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
    with_: Annotated[
        list[Path] | None,
        typer.Option(
            "--with",
            help="With --mode tta: generated shapes of the category (a collection, a pd teach folder or a"
            " folder of PartDistill h5 files; repeatable) to distil a student from too; the labels handed"
            " over are chosen by held-out views.",
        ),
    ] = None,
    teacher: Annotated[
        Teachers | None,
        typer.Option(
            help="The 2D teacher (default: simulated; with --knowledge, the folder's); knowledge made by"
            " another is refused.",
        ),
    ] = None,
    noise: Annotated[
        Noises | None,
        typer.Option(
            help="Simulated teacher: how often it errs (default: noisy; with --knowledge, the folder's)."
        ),
    ] = None,
    kind: Annotated[
        Kinds | None,
        typer.Option(
            help="Simulated teacher: box or mask predictions (default: box; with --knowledge, the folder's)."
        ),
    ] = None,
    image_size: Annotated[
        int | None,
        typer.Option(
            help="Render size when teaching (default: the knowledge's, or 800); knowledge made at"
            " another size is refused.",
        ),
    ] = None,
    student: Annotated[Students, typer.Option(help="The 3D student.")] = "pointnet",
    checkpoint: Annotated[
        Path | None, typer.Option(help="Point-M2AE pre-training weights (point-m2ae).")
    ] = None,
    mode: Annotated[
        Modes, typer.Option(help="pre: distil, apply elsewhere; tta: distil on the shapes to label.")
    ] = "pre",
    epochs: Annotated[int, typer.Option(help="Epochs (more where --min-steps asks).")] = 25,
    min_steps: Annotated[
        int, typer.Option(help="Optimisation steps to take at least: small collections train more epochs.")
    ] = 300,
    batch_size: Annotated[int, typer.Option(help="Clouds per batch.")] = 16,
    points: Annotated[int, typer.Option(help="Points per cloud.")] = 2048,
    lr: Annotated[float, typer.Option(help="Initial learning rate (cosine decay to lr/100).")] = 3e-3,
    backward: Annotated[bool, typer.Option(help="Allow backward distillation.")] = True,
    rotate: Annotated[
        bool,
        typer.Option(
            "--rotate",
            help="Also turn each training cloud by a random angle about the up axis: for shapes whose "
            "front you do not know (it can cost points on shapes that do face +x; docs/your-shapes.md).",
        ),
    ] = False,
    switch: Annotated[
        Switches,
        typer.Option(
            help="When backward distillation starts and what re-scores the units. guarded: the"
            " student's predictions averaged over epochs, not before half the epochs and 144 steps;"
            " reference: the student at the trigger."
        ),
    ] = "guarded",
    seed: Annotated[int, typer.Option(help="Seed of initialisation, sampling and augmentation.")] = 0,
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
    from partdistill import api

    scale = ray_options(ray, ray_address, workers, cpus_per_worker, gpus_per_worker)
    settings = dict(
        out=out, knowledge=knowledge, with_=with_, weights=weights, teacher=teacher, noise=noise, kind=kind,
        image_size=image_size, student=student, checkpoint=checkpoint, mode=mode, epochs=epochs,
        min_steps=min_steps, batch_size=batch_size, points=points, lr=lr, backward=backward,
        rotate=rotate, switch=switch, seed=seed, resume=resume, device=device, force_category=force_category,
    )  # fmt: skip
    if categories is None:
        if scale is not None:
            raise PdError(
                f"{option('ray')} distils several categories at once: give them with {option('categories')}."
            )
        with shown_progress() as progress:
            api.distill(shapes, category=category, parts=parts, progress=progress, **settings)
        return
    if category is not None or parts is not None:
        raise PdError(
            f"Give either {option('category')} (with {option('parts')}) or {option('categories')}, not both."
        )
    try:
        with shown_progress() as progress:
            finished = api.distill_categories(categories, shapes, ray=scale, progress=progress, **settings)
    except api.CategoriesFailed as failed:
        if failed.finished:
            _show_runs(failed.finished)
        raise
    _show_runs(finished)


def _show_runs(finished: list[Finished]) -> None:
    """The runs of `pd distill --categories` as a table."""
    table = Table(title=f"{len(finished)} categor{'y' if len(finished) == 1 else 'ies'}", show_header=True)
    for column in ("category", "run", "epochs", "last loss", "backward from", "labels handed over"):
        table.add_column(column, overflow="fold")  # a path is there to be read whole, not cut short
    for done in finished:
        table.add_row(
            done.category,
            str(done.run_dir),
            str(done.epochs),
            f"{done.loss:.4f}",
            str(done.switch_epoch or "-"),
            done.handed_over or "-",
        )
    console.print(table)
