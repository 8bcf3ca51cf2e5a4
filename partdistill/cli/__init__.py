"""The `pd` command line: a thin shell over `partdistill.api`.

Each command (a module here) parses its options, calls one library function with a progress
display, and prints a summary; the library decides everything else. A `PdError` becomes one red
sentence (its settings named as flags) and exit code 1; anything else is a bug and keeps its
traceback.
"""

import typer

from partdistill.allocator import keep_freed_memory
from partdistill.cli import categories, distill, evaluate, importing, info, predict, synth, teach, view

app = typer.Typer(
    name="pd",
    help="partdistill: 3D part segmentation without 3D labels (PartDistill, CVPR 2024).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # usage errors in three plain lines (click's), not a boxed panel
    add_completion=False,
)
app.command()(synth.synth)
app.command()(teach.teach)
app.command()(distill.distill)
app.command()(predict.predict)
app.command(name="eval")(evaluate.evaluate)
app.command(name="import")(importing.import_)
app.command()(view.view)
app.add_typer(categories.app, name="categories")
app.command()(info.info)


def main() -> None:
    keep_freed_memory()  # a setting of the process (partdistill.allocator), so the program's to take
    app()
