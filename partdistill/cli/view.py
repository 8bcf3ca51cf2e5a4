"""`pd view`: an interactive 3D page of shapes, knowledge, predictions, a run or an evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from partdistill.cli.common import console, reports_errors


@reports_errors
def view(
    path: Annotated[
        Path,
        typer.Argument(
            help="A shape file, a collection, a knowledge folder, a pd predict output, a pd distill run"
            " or a pd eval report."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(help="The page to write (default: view.html in the folder; <name>.html beside a file)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="Shapes on the page at most.")] = 30,
    points: Annotated[int, typer.Option(help="Points drawn per shape at most (a subset above).")] = 20_000,
) -> None:
    """Write an interactive 3D page (one HTML file, offline) to look at parts: orbit, zoom, pick."""
    from partdistill import api

    written = api.view(path, out=out, limit=limit, points=points)
    console.print(
        f"Wrote {written.path}: {written.title}, {written.entries} menu entries; open it in a web browser.",
        markup=False,
    )
