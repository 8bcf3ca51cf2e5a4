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

from partdistill.errors import PdError

if TYPE_CHECKING:
    from partdistill.collection import Collection
    from partdistill.prompts import Category

app = typer.Typer(
    name="pd",
    help="partdistill: 3D part segmentation without 3D labels (PartDistill, CVPR 2024).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(soft_wrap=True)  # sentences with paths stay on one line
errors = Console(stderr=True, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a `PdError` into one sentence on stderr and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except PdError as error:
            errors.print(f"[bold red]Error:[/] {error}", highlight=False)
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


@app.command()
@reports_errors
def synth(
    category: Annotated[str, typer.Option(help="Category to make, e.g. chair (see prompts/ for all).")],
    n: Annotated[int, typer.Option("--n", min=1, help="How many shapes the collection should hold.")] = 100,
    generator: Annotated[
        GeneratorName, typer.Option(help="Where shapes come from.")
    ] = GeneratorName.procedural,
    out: Annotated[
        Path | None, typer.Option(help="Collection folder [default: shapes/<category>-<generator>].")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the whole run; same seed, same shapes.")] = 0,
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
) -> None:
    """Make a collection of shapes of one category (resumable: re-run the same command to continue)."""
    from partdistill.info import resolve_device
    from partdistill.prompts import find_category
    from partdistill.synth import SynthConfig, build_generator, prepare, synthesize

    name = find_category(category).name
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
    collection, todo = prepare(config, out)
    if todo:
        if len(todo) < n:
            console.print(f"Resuming {out}: {n - len(todo)} of {n} shapes are already there.")
        made = build_generator(config, resolve_device(device))
        start = time.perf_counter()
        with progress_bar() as bar:
            task = bar.add_task(f"{name} ({generator.value})", total=len(todo))
            for record in synthesize(config, made, collection, todo):
                bar.advance(task)
                if not record.ok:
                    bar.console.print(f"[yellow]{record.id} failed:[/] {record.error}", highlight=False)
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
    for part in collection.part_coverage():
        table.add_row(f"part '{part.name}'", f"in {part.shapes}/{len(ok)} shapes, {part.share:.0%} of points")
    return table


class TeacherName(str, Enum):
    simulated = "simulated"
    grounding_dino = "grounding-dino"
    owlv2 = "owlv2"
    clipseg = "clipseg"
    clip = "clip"


class RendererName(str, Enum):
    auto = "auto"
    points = "points"
    mesh = "mesh"


def _collection_category(collection: Collection, category: str | None) -> Category:
    """The category given, or the one every shape of the collection shares."""
    from partdistill.prompts import find_category

    if category is not None:
        return find_category(category)
    names = {record.category for record in collection.ok_records}
    if len(names) != 1 or None in names:
        raise PdError(
            f"{collection.root} holds shapes of {len(names)} categories; say which with --category."
        )
    return find_category(names.pop())


@app.command()
@reports_errors
def teach(
    shapes: Annotated[Path, typer.Option(help="A shape collection (made by pd synth).")],
    category: Annotated[str | None, typer.Option(help="Category [default: the collection's].")] = None,
    teacher: Annotated[TeacherName, typer.Option(help="The 2D teacher.")] = TeacherName.simulated,
    name: Annotated[
        str | None, typer.Option(help="Knowledge folder name [default: from the teacher].")
    ] = None,
    model_id: Annotated[str | None, typer.Option(help="Teacher weights (clip: ARCH:TAG).")] = None,
    threshold: Annotated[
        float | None, typer.Option(help="Teacher score threshold [default: its own].")
    ] = None,
    noise: Annotated[str, typer.Option(help="Simulated teacher: clean, noisy or harsh.")] = "noisy",
    kind: Annotated[str, typer.Option(help="Simulated teacher: box or mask predictions.")] = "box",
    renderer: Annotated[RendererName, typer.Option(help="How views are drawn.")] = RendererName.auto,
    image_size: Annotated[int, typer.Option(min=32, help="Render size in pixels.")] = 800,
    point_radius: Annotated[float, typer.Option(help="Point splat radius (NDC units).")] = 0.005,
    sheets: Annotated[int, typer.Option(help="Contact sheets to draw (-1: all, 0: none).")] = -1,
    seed: Annotated[int, typer.Option(help="Seed of the simulated teacher.")] = 0,
    device: Device = "auto",
) -> None:
    """Render every shape, ask a 2D teacher where each part is, and lift its answers to 3D units."""
    from partdistill.collection import Collection
    from partdistill.distill.teach import KnowledgeStore, TeachConfig, TeachSummary, knowledge_dir
    from partdistill.distill.teach import teach as run_teach
    from partdistill.distill.teachers import build_teacher
    from partdistill.info import resolve_device

    collection = Collection.open(shapes)
    found = _collection_category(collection, category)
    config = TeachConfig(
        teacher=teacher.value,
        model_id=model_id,
        threshold=threshold,
        noise=noise,
        kind=kind,
        renderer=renderer.value,
        image_size=image_size,
        point_radius=point_radius,
        seed=seed,
    )
    store = KnowledgeStore(knowledge_dir(collection, name or config.default_name()))
    model = build_teacher(
        config.teacher,
        model_id=model_id,
        threshold=threshold,
        device=resolve_device(device),
        noise=noise,
        kind=kind,
        seed=seed,
    )
    todo = sum(1 for record in collection.ok_records if not store.has(record.id))
    summary = TeachSummary()
    with progress_bar() as bar:
        task = bar.add_task(f"teaching {found.name} ({config.default_name()})", total=todo)
        for result in run_teach(collection, found, model, config, store, sheets=sheets):
            bar.advance(task)
            summary.add(result)
    table = Table(title=str(store.root), show_header=False)
    table.add_column()
    table.add_column(justify="right")
    table.add_row("shapes taught now", str(len(summary.units)))
    table.add_row("already there", str(len(collection.ok_records) - todo))
    if summary.units:
        table.add_row("units per shape", f"{np.mean(summary.units):.1f}")
        table.add_row("points covered", f"{100 * np.mean(summary.coverage):.1f}%")
    if summary.lifting_iou:
        table.add_row("direct lifting mIoU (labelled shapes)", f"{100 * np.mean(summary.lifting_iou):.1f}")
    console.print(table)
    console.print(f"Contact sheets: {store.root / 'sheets'}")


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


if __name__ == "__main__":
    main()
