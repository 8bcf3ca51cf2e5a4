"""`pd teach`: render every shape, ask a 2D teacher where each part is, lift the answers to 3D."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
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
from partdistill.knowledge.store import SHEETS_DIR
from partdistill.prompts import QUERIES
from partdistill.teach.config import KINDS, RENDERERS
from partdistill.teach.teachers import NOISE_PRESETS, TEACHERS

Teacher = Annotated[one_of(TEACHERS), typer.Option(help="The 2D teacher.")]
Noise = Annotated[one_of(NOISE_PRESETS), typer.Option(help="Simulated teacher: how often it errs.")]
Kind = Annotated[one_of(KINDS), typer.Option(help="Simulated teacher: box or mask predictions.")]
Queries = one_of(QUERIES)
Renderers = one_of(RENDERERS)


@reports_errors
def teach(
    shapes: Annotated[Path, typer.Option(help="A shape collection (made by pd synth or pd import).")],
    category: Annotated[str | None, typer.Option(help="Category (default: the collection's).")] = None,
    teacher: Teacher = "simulated",
    name: Annotated[
        str | None, typer.Option(help="Knowledge folder name (default: from the teacher).")
    ] = None,
    model_id: Annotated[str | None, typer.Option(help="Teacher weights (clip: ARCH:TAG).")] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Teacher score threshold (default: its own).")
    ] = None,
    query: Annotated[
        Queries, typer.Option(help="Ask for a part by its words, or as '<part> of a <category>'.")
    ] = "part",
    nms: Annotated[
        float | None,
        typer.Option(help="Detectors: IoU above which boxes of one part in a view are merged (GLIP's 0.6)."),
    ] = None,
    noise: Noise = "noisy",
    kind: Kind = "box",
    renderer: Annotated[Renderers, typer.Option(help="How views are drawn.")] = "auto",
    image_size: Annotated[int, typer.Option(help="Render size in pixels.")] = 800,
    point_radius: Annotated[
        float | None,
        typer.Option(
            help="Point splat radius in NDC units (default: from each cloud's density; PartSLIP: 0.005)."
        ),
    ] = None,
    sheets: Annotated[int, typer.Option(help="Contact sheets to draw (-1: all, 0: none).")] = -1,
    seed: Annotated[int, typer.Option(help="Seed of the simulated teacher.")] = 0,
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
    from partdistill import api

    with shown_progress() as progress:
        summary = api.teach(
            shapes,
            category=category,
            teacher=teacher,
            name=name,
            model_id=model_id,
            threshold=threshold,
            query=query,
            nms=nms,
            noise=noise,
            kind=kind,
            renderer=renderer,
            image_size=image_size,
            point_radius=point_radius,
            sheets=sheets,
            seed=seed,
            device=device,
            force_category=force_category,
            parts=parts,
            ray=ray_options(ray, ray_address, workers, cpus_per_worker, gpus_per_worker),
            progress=progress,
        )
    table = Table(title=str(summary.store.root), show_header=False)
    table.add_column()
    table.add_column(justify="right")
    table.add_row("shapes taught now", str(len(summary.units)))
    table.add_row("already there", str(summary.skipped))
    if summary.units:
        table.add_row("units per shape", f"{np.mean(summary.units):.1f}")
        table.add_row("points covered", f"{100 * np.mean(summary.coverage):.1f}%")
    if summary.lifting is not None:
        table.add_row("direct lifting mIoU (labelled shapes, all points)", f"{summary.lifting:.1f}")
    console.print(table)
    if any((summary.store.root / SHEETS_DIR).glob("*.png")):
        console.print(f"Contact sheets: {summary.store.root / SHEETS_DIR}")
