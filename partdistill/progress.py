"""How a long library call reports what it is doing, for whoever called it to show.

The library's flows (`partdistill.api`) take a `Progress`; the `pd` command passes one that draws
rich progress bars, `Printed` prints plain lines (a notebook's cell output), and `QUIET` shows
nothing. A flow reports
  - `note(text)`: one line worth reading (a phase begins, a decision and its reason, a result);
  - `task(name, total)`: a bar over `total` steps (None: unknown), advanced as work is done,
    with an optional status (e.g. the loss) shown beside it; closed when the work is done.
The flow is the same whoever watches it: the command line and a Python caller run the same code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from partdistill.errors import named


class Task(Protocol):
    """One bar: `advance` it as steps are done, with a short status; close it at the end."""

    def advance(self, steps: int = 1, status: str = "") -> None: ...

    def close(self) -> None: ...


class Progress(Protocol):
    """Where a flow reports its notes and bars."""

    def note(self, text: str) -> None: ...

    def task(self, name: str, total: int | None) -> Task: ...


class _QuietTask:
    def advance(self, steps: int = 1, status: str = "") -> None:
        pass

    def close(self) -> None:
        pass


class Quiet:
    """Shows nothing."""

    def note(self, text: str) -> None:
        pass

    def task(self, name: str, total: int | None) -> Task:
        return _QuietTask()


QUIET = Quiet()


class _PrintedTask:
    def __init__(self, name: str, total: int | None) -> None:
        self.name, self.total, self.done, self.status = name, total, 0, ""

    def advance(self, steps: int = 1, status: str = "") -> None:
        self.done += steps
        self.status = status or self.status

    def close(self) -> None:
        of = "" if self.total is None else f"/{self.total}"
        print(f"{self.name}: {self.done}{of} done" + (f" ({self.status})" if self.status else ""))


class Printed:
    """Prints each note, and a line for each task when it ends."""

    def note(self, text: str) -> None:
        print(named(text))

    def task(self, name: str, total: int | None) -> Task:
        return _PrintedTask(name, total)


@contextmanager
def tracked(progress: Progress, name: str, total: int | None) -> Iterator[Task]:
    """A `Task` of `progress` that is closed on the way out, error or not."""
    task = progress.task(name, total)
    try:
        yield task
    finally:
        task.close()
