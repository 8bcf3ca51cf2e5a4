"""`pd categories`: the categories pd knows, and checking a category of one's own."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from partdistill.cli.common import Parts, console, reports_errors

app = typer.Typer(
    help="The categories pd knows (ShapeNetPart's, PartNetE's) and how to define your own.",
    invoke_without_command=True,
)


@app.callback()
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


@app.command("show")
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
    ids = any(part.global_id is not None for part in category.parts)  # ShapeNetPart's global part ids
    for column in ("label", "part", "teacher words", *(["benchmark id"] if ids else [])):
        table.add_column(column)
    for label, part in enumerate(category.parts):
        benchmark = [] if not ids else ["" if part.global_id is None else str(part.global_id)]
        table.add_row(str(label), part.name, part.teacher, *benchmark)
    console.print(table)
    space = prompt_space(category)
    console.print(f"{len(space):,} text-to-3D prompts, e.g.:")
    for prompt in space[:: max(1, len(space) // 5)][:5]:
        console.print(f"  {prompt}")
