"""What every command shares: the options several commands take, the progress the library reports
drawn as rich bars, and errors turned into one sentence and an exit code."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any, Literal, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from partdistill.devices import out_of_memory
from partdistill.errors import PdError, named, option
from partdistill.progress import Printed, Task
from partdistill.shapes import AXES
from partdistill.stops import Stops

if TYPE_CHECKING:
    from partdistill.scale import RayOptions

# Sentences with paths stay on one line; no console markup, so brackets in messages print as they are.
console = Console(soft_wrap=True, markup=False)
errors = Console(stderr=True, soft_wrap=True, markup=False)

P = ParamSpec("P")
R = TypeVar("R")


def flag(setting: str) -> str:
    """The command line's flag for a library setting: `image_size` is `--image-size`, `with_` (a
    Python keyword with its underscore) `--with`."""
    return "--" + setting.rstrip("_").replace("_", "-")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn a `PdError` (its settings named as flags), or a file the system would not let the
    command read or write, into one sentence on stderr and exit code 1; a stop (`Stops`: Ctrl-C,
    SIGTERM, SIGHUP) into one sentence and the shell's code for it (130, 143, 129)."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        Stops.began = command.__name__  # the command's name: its function's (`pd distill`: distill)
        try:
            return command(*args, **kwargs)
        except (KeyboardInterrupt, Exception) as error:
            Stops.end_if_stopped(error)
            if isinstance(error, PdError):
                message = error.render(flag)
            elif isinstance(error, OSError):
                # A disk or permission problem, not a bug: say which file; of two (a temporary
                # renamed over its target), the second: the file being written.
                file = error.filename2 or error.filename
                where = f"{file}: " if file else ""
                message = f"{where}{error.strerror or error} (nothing was left half-written)."
            elif out_of_memory(error):  # where no stage said what to make smaller
                message = (
                    "Out of memory (nothing was left half-written): lower the sizes given, or free memory."
                )
            else:
                raise
        errors.print(Text("Error: ", style="bold red") + Text(message), highlight=False)
        raise typer.Exit(code=1) from None

    return wrapper


class _Bar:
    """One rich task, as the library's `progress.Task`."""

    def __init__(self, bars: Progress, task: TaskID, name: str) -> None:
        self.bars, self.task, self.name = bars, task, name

    def advance(self, steps: int = 1, status: str = "") -> None:
        description = f"{self.name}  {status}" if status else self.name
        self.bars.update(self.task, advance=steps, description=description)

    def close(self, finished: bool = True) -> None:
        self.bars.stop_task(self.task)


class RichProgress:
    """The library's `Progress` on the terminal: a bar per task (with its status and ETA), notes
    printed above the bars. Use it as a context manager around the library call."""

    def __init__(self) -> None:
        self.bars = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )

    def __enter__(self) -> RichProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bars.stop()

    def note(self, text: str) -> None:
        self.bars.console.print(named(text, flag))

    def task(self, name: str, total: int | None) -> Task:
        return _Checked(_Bar(self.bars, self.bars.add_task(name, total=total), name))


class _Checked:
    """A `Task` that asks `Stops.check` after each step: what every bar of the program is."""

    def __init__(self, task: Task) -> None:
        self.inner = task

    def advance(self, steps: int = 1, status: str = "") -> None:
        self.inner.advance(steps, status)
        Stops.check()  # after the step is counted: it is done

    def close(self, finished: bool = True) -> None:
        self.inner.close(finished)


class LogProgress(Printed):
    """The library's `Progress` where the output is not a terminal (a file, a pipe, a scheduler's
    log), which rich's bars would leave empty until they end: plain lines as they come, a line a
    minute for each bar that runs."""

    def __init__(self) -> None:
        super().__init__(every=60.0)

    def __enter__(self) -> LogProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def note(self, text: str) -> None:
        console.print(named(text, flag))

    def task(self, name: str, total: int | None) -> Task:
        return _Checked(super().task(name, total))


def shown_progress() -> RichProgress | LogProgress:
    """What a command reports its progress through: bars on a terminal, plain lines elsewhere."""
    return RichProgress() if console.is_terminal else LogProgress()


def one_of(values: Iterable[str]) -> Any:
    """The type of an option that takes one of `values` (Typer lists them as its choices): the
    allowed values come from the library's own registry of them."""
    return Literal[tuple(values)]


Device = Annotated[str, typer.Option(help="cpu, cuda, cuda:1, mps, or auto (the best available).")]
UseRay = Annotated[
    bool,
    typer.Option(
        "--ray",
        help="Run on a Ray cluster: the one in $RAY_ADDRESS (or --ray-address), else a new local one.",
    ),
]
RayAddress = Annotated[str | None, typer.Option(help="The Ray cluster to join, host:port (implies --ray).")]
Workers = Annotated[int, typer.Option(help="Ray workers (one model each).")]
CpusPerWorker = Annotated[float, typer.Option(help="CPUs each Ray worker reserves (and its threads).")]
GpusPerWorker = Annotated[
    float, typer.Option(help="GPUs each Ray worker reserves; with any, workers use CUDA.")
]
Parts = Annotated[
    str | None,
    typer.Option(
        help='A new category: its parts in label order, e.g. --category teapot --parts "lid,spout,body".'
    ),
]
Up = Annotated[
    one_of(AXES),
    typer.Option(
        help="The files' axis that points up (the catalogue's is y; scans and text-to-3D exports are "
        "often z): they are turned so that it points up.",
    ),
]
Front = Annotated[
    one_of(AXES),
    typer.Option(
        help="The files' horizontal axis that points to the shape's front (the catalogue's is x: a "
        "chair's seat edge, a car's nose; docs/your-shapes.md lists every category's).",
    ),
]
ForceCategory = Annotated[
    bool, typer.Option(help="Use --category even where the shapes' own category is another.")
]


def ray_options(use: bool, address: str | None, workers: int, cpus: float, gpus: float) -> RayOptions | None:
    """The Ray settings of a command, or None to run in this process (Ray is not imported then)."""
    if not use and address is None:
        return None
    from partdistill.scale import RayOptions

    if address is not None and not address.strip():
        raise PdError(f"{option('ray_address')} is empty: give the cluster's host:port, or leave it out.")
    return RayOptions(
        address="auto" if address is None else address,
        workers=workers,
        cpus_per_worker=cpus,
        gpus_per_worker=gpus,
    )
