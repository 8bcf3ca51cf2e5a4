"""`pd predict`: label shape files with a trained student."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.table import Table

from partdistill.cli.common import Device, Front, Up, console, reports_errors, shown_progress


@reports_errors
def predict(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Shape files (PLY/OBJ/GLB/GLTF/OFF/STL or .npz), or a collection's folder."),
    ],
    run: Annotated[Path, typer.Option(help="A pd distill run folder.")],
    out: Annotated[Path, typer.Option(help="Where to write <name>.ply, .json and .png.")] = Path(
        "predictions"
    ),
    points: Annotated[int, typer.Option(help="Points sampled from meshes.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed of mesh sampling and chunking.")] = 0,
    device: Device = "auto",
    force_category: Annotated[
        bool, typer.Option(help="Label inputs whose files name another category than the run's.")
    ] = False,
    page: Annotated[
        bool, typer.Option("--view/--no-view", help="Also write view.html, an interactive 3D page.")
    ] = True,
    up: Up = "y",
    front: Front = "x",
) -> None:
    """Label shapes with a trained student: part-coloured PLY, per-point JSON and a PNG per input."""
    from partdistill import api

    trained = api.load_run(run, device)
    with shown_progress() as progress:
        predicted = api.predict(
            inputs,
            run=trained,
            out=out,
            points=points,
            seed=seed,
            force_category=force_category,
            view=page,
            up=up,
            front=front,
            progress=progress,
        )
    table = Table(title=f"{trained.category} parts by {run}", show_header=True)
    table.add_column("input", overflow="fold")  # a path is there to be read whole, not cut short
    table.add_column("written as", overflow="fold")
    for name in trained.parts:
        table.add_column(name, justify="right")
    for row in predicted:
        counts = np.bincount(row.labels, minlength=len(trained.parts))
        table.add_row(str(row.input), row.name, *(f"{100 * c / len(row.labels):.0f}%" for c in counts))
    console.print(table)
    page_note = " and view.html" if page else ""
    console.print(
        f"Wrote <name>.ply, <name>.json and <name>.png for each input into {out} (names: inputs.json)"
        f"{page_note}."
    )
