"""`pd import`: a benchmark split or a folder of shape files, as a collection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from partdistill.cli.common import Front, Up, console, one_of, reports_errors, shown_progress
from partdistill.cli.synth import collection_table
from partdistill.datasets.importing import SOURCES

Sources = one_of(SOURCES)


@reports_errors
def import_(
    out: Annotated[Path, typer.Option(help="The collection to create (or extend).")],
    dataset: Annotated[
        Sources,
        typer.Option(help="shapenetpart, partnete, or files (a folder of PLY/OBJ/GLB/GLTF/OFF/STL/.npz)."),
    ],
    root: Annotated[Path, typer.Option(help="The dataset folder, or the folder of files.")],
    split: Annotated[str, typer.Option(help="Dataset split.")] = "test",
    categories: Annotated[
        str | None, typer.Option(help="Comma-separated categories (files: exactly one, or a category file).")
    ] = None,
    points: Annotated[int, typer.Option(help="Points sampled from mesh files.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed of mesh sampling.")] = 0,
    parts: Annotated[
        str | None,
        typer.Option(
            help="With files of a new category: its parts in label order, e.g. --categories teapot"
            ' --parts "lid,spout,body".'
        ),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="A different shape under an id the collection already uses replaces that shape (its "
            "knowledge units are deleted); without it, the imported shape gets a new id.",
        ),
    ] = False,
    up: Up = "y",
    front: Front = "x",
) -> None:
    """Make a collection from a benchmark split or a folder of shape files, for pd teach and pd distill."""
    from partdistill import api

    with shown_progress() as progress:
        collection = api.import_shapes(
            dataset,
            root,
            out=out,
            split=split,
            categories=categories,
            points=points,
            seed=seed,
            parts=parts,
            replace=replace,
            up=up,
            front=front,
            progress=progress,
        )
    console.print(collection_table(collection))
