"""`pd synth`: make a collection of shapes of one category."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from partdistill.cli.common import (
    CpusPerWorker,
    Device,
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
from partdistill.collection import Collection
from partdistill.synth import GENERATORS

Generators = one_of(GENERATORS)


@reports_errors
def synth(
    category: Annotated[
        str, typer.Option(help="Category to make: a name (pd categories lists them) or a category file.")
    ],
    n: Annotated[int, typer.Option("--n", help="How many shapes the collection should hold.")] = 100,
    generator: Annotated[Generators, typer.Option(help="Where shapes come from.")] = "procedural",
    out: Annotated[
        Path | None, typer.Option(help="Collection folder (default: shapes/<category>-<generator>).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the whole run; same seed, same shapes.")] = 0,
    points: Annotated[
        int, typer.Option(help="Points sampled per shape (Point-E always makes 4,096).")
    ] = 10_000,
    device: Device = "auto",
    model_id: Annotated[
        str | None, typer.Option(help="Weights to use instead of the generator's default.")
    ] = None,
    grid_size: Annotated[int, typer.Option(help="Shap-E mesh grid (finer is slower).")] = 128,
    steps: Annotated[int, typer.Option(help="Shap-E diffusion steps.")] = 64,
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
    from partdistill import api

    with shown_progress() as progress:
        collection = api.synth(
            category,
            n=n,
            out=out,
            generator=generator,
            seed=seed,
            points=points,
            device=device,
            model_id=model_id,
            grid_size=grid_size,
            steps=steps,
            guidance=guidance,
            quality_filter=quality_filter,
            parts=parts,
            ray=ray_options(ray, ray_address, workers, cpus_per_worker, gpus_per_worker),
            progress=progress,
        )
    console.print(collection_table(collection))


def collection_table(collection: Collection) -> Table:
    """A collection in a few rows: shapes, failures, points, and each part's coverage."""
    ok = collection.ok_records
    table = Table(title=str(collection.root), show_header=False)
    table.add_column("")
    table.add_column("", justify="right")
    table.add_row("shapes", str(len(ok)))
    table.add_row("failed", str(len(collection) - len(ok)))
    if ok:
        sizes = sorted(record.n_points for record in ok)
        spread = (
            f"{sizes[0]:,}"
            if sizes[0] == sizes[-1]
            else f"{sizes[0]:,} to {sizes[-1]:,}, median {sizes[len(sizes) // 2]:,}"
        )
        table.add_row("points per shape", spread)  # not a mean: ~240-point shapes beside one of 2,751
    coverage = collection.part_coverage()
    several = len({part.category for part in coverage}) > 1
    for part in coverage:
        label = f"{part.category}: part '{part.name}'" if several else f"part '{part.name}'"
        table.add_row(label, f"in {part.shapes}/{part.of} shapes, {part.share:.0%} of points")
    return table
