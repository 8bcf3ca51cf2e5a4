"""The `pd` command line: a thin shell over `partdistill.api`.

Each command (a module here) parses its options, calls one library function with a progress
display, and prints a summary; the library decides everything else. A `PdError` becomes one red
sentence (its settings named as flags) and exit code 1; a stop (Ctrl-C, SIGTERM, SIGHUP) one
sentence and the shell's code for it (`partdistill.stops`); anything else is a bug and keeps its
traceback.
"""

import gc

import typer

from partdistill.allocator import keep_freed_memory
from partdistill.cli import categories, distill, evaluate, importing, info, predict, synth, teach, view
from partdistill.stops import Stops

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
    """The `pd` program's command line: one command, then the process ends (a program that goes
    on calls `app`)."""
    try:
        Stops.take()  # again where `partdistill.program` took them; first under `python -m`
        keep_freed_memory()  # a setting of the process (partdistill.allocator), so the program's to take
        app()
    except (KeyboardInterrupt, Exception) as error:  # around the command: typer building it, say
        Stops.end_if_stopped(error)
        raise
    except SystemExit:
        if Stops.received is not None and not Stops.said:  # typer's parser took it for its Ctrl-C
            Stops.end()
        raise
    finally:
        # The command is done: the interpreter's garbage collections at exit need not walk the
        # objects torch and the rest made (0.4 s of the 0.55-0.6 s a `pd distill` took to exit on
        # this project's machine; docs/benchmarks.md). Exit handlers still run and objects are
        # still freed as their last reference goes; only objects in reference cycles are left as
        # they are, whose finalizers Python does not promise to run at exit in any case.
        gc.freeze()
