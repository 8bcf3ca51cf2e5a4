"""`pd eval`: score a student (or anyone's predictions) with the benchmark's own protocol."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from partdistill.cli.common import Device, console, one_of, reports_errors, shown_progress
from partdistill.datasets.readers import DATASETS
from partdistill.eval.evaluate import EvalResult

Datasets = one_of(DATASETS)


@reports_errors
def evaluate(
    dataset: Annotated[Datasets, typer.Option(help="Benchmark (its own protocol) or a labelled collection.")],
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
        str | None,
        typer.Option(
            help="A fixed subset of this many points per shape, or all (default: the protocol's, "
            "ShapeNetPart's 2048, PartNetE's all)."
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Report folder (default: eval-<dataset>).")] = None,
    gallery: Annotated[int, typer.Option(help="Shapes drawn in gallery.png.")] = 8,
    seed: Annotated[int, typer.Option(help="Seed of the point subsets.")] = 0,
    device: Device = "auto",
    page: Annotated[
        bool,
        typer.Option("--view/--no-view", help="Also write view.html: the worst shapes in interactive 3D."),
    ] = True,
) -> None:
    """Score a trained student (or predictions made elsewhere) with the benchmark's own protocol."""
    from partdistill import api

    with shown_progress() as progress:
        evaluation = api.evaluate(
            dataset,
            root,
            run=run,
            predictions=predictions,
            knowledge=knowledge,
            split=split,
            categories=categories,
            points=points,
            out=out,
            gallery=gallery,
            seed=seed,
            device=device,
            view=page,
            progress=progress,
        )
    console.print(score_table(evaluation.result, evaluation.published))
    console.print(f"Reports: {', '.join(str(p) for p in evaluation.reports)}")


def score_table(result: EvalResult, reference: dict[str, dict[str, float]]) -> Table:
    """Each category's mIoU per method, with the paper's GLIP numbers beside where published."""
    scored = "all points" if result.points is None else f"{result.points:,} points a shape"
    table = Table(title=f"mIoU (%), {result.protocol} protocol, {scored}", show_header=True)
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
