"""How a long library call reports what it is doing, for whoever called it to show.

The library's flows (`partdistill.api`) take a `Progress`; the `pd` command passes one that draws
rich progress bars, `Printed` prints plain lines (a notebook's cell output, a log), and `QUIET` shows
nothing. A flow reports
  - `note(text)`: one line worth reading (a phase begins, a decision and its reason, a result);
  - `task(name, total)`: a bar over `total` steps (None: unknown), advanced as work is done,
    with an optional status (e.g. the loss) shown beside it; closed when the work is done.
The flow is the same whoever watches it: the command line and a Python caller run the same code.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

from partdistill.errors import named


class Task(Protocol):
    """One bar: `advance` it as steps are done, with a short status; close it at the end
    (`finished`: False where the work stopped short, on an error or an interrupt)."""

    def advance(self, steps: int = 1, status: str = "") -> None: ...

    def close(self, finished: bool = True) -> None: ...


@runtime_checkable
class Progress(Protocol):
    """Where a flow reports its notes and bars. A note may name a setting, marked so that each
    reader writes it its own way (`errors.option`): `errors.named(text)` gives the text as a
    Python caller reads it (`Printed` shows that)."""

    def note(self, text: str) -> None: ...

    def task(self, name: str, total: int | None) -> Task: ...


class _QuietTask:
    def advance(self, steps: int = 1, status: str = "") -> None:
        pass

    def close(self, finished: bool = True) -> None:
        pass


class Quiet:
    """Shows nothing."""

    def __repr__(self) -> str:  # as a default in help()
        return "QUIET"

    def note(self, text: str) -> None:
        pass

    def task(self, name: str, total: int | None) -> Task:
        return _QuietTask()


QUIET = Quiet()


class _PrintedTask:
    def __init__(self, name: str, total: int | None, every: float) -> None:
        self.name, self.total, self.every = name, total, every
        self.done, self.status = 0, ""
        self.start = self.shown = time.monotonic()

    def advance(self, steps: int = 1, status: str = "") -> None:
        self.done += steps
        self.status = status or self.status
        now = time.monotonic()
        if now - self.shown >= self.every and (self.total is None or self.done < self.total):
            self.shown = now
            left = ""
            if self.total is not None and self.done:
                left = f", about {(now - self.start) / self.done * (self.total - self.done):.0f} s left"
            print(f"{self._count}{self._status} after {now - self.start:.0f} s{left}", flush=True)

    def close(self, finished: bool = True) -> None:
        ending = "done" if finished else "stopped"
        print(f"{self._count} {ending} in {time.monotonic() - self.start:.0f} s{self._status}", flush=True)

    @property
    def _count(self) -> str:
        return f"{self.name}: {self.done}" + ("" if self.total is None else f"/{self.total}")

    @property
    def _status(self) -> str:
        return f" ({self.status})" if self.status else ""


class Printed:
    """Prints each note, a line for each task when it ends (done, or stopped short), and one
    while it runs every `every` seconds (with its status and the time left at its pace so far)."""

    def __init__(self, every: float = 30.0) -> None:
        self.every = every

    def note(self, text: str) -> None:
        print(named(text), flush=True)

    def task(self, name: str, total: int | None) -> Task:
        return _PrintedTask(name, total, self.every)


@contextmanager
def tracked(progress: Progress, name: str, total: int | None) -> Iterator[Task]:
    """A `Task` of `progress` that is closed on the way out, error (or interrupt) or not."""
    task = progress.task(name, total)
    try:
        yield task
    except BaseException:
        task.close(finished=False)
        raise
    task.close()
