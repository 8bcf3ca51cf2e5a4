"""What stops a `pd` command: the stop signals, as the program takes them (`Stops`), the check
its progress bars make after each step, and how a stopped command ends.

Standard library only: the program takes the signals before it imports anything heavy
(`partdistill.program`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import ClassVar, NoReturn

# What ends a command as Ctrl-C does: Ctrl-C, a scheduler's or `kill`'s SIGTERM, and SIGHUP (the
# terminal closed; absent on Windows).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
STOPPED_BEFORE = "Stopped before the command began; nothing was written."


def stopped(command: str | None) -> str:
    """What a command (`pd <command>`; None: before one began) says when it is stopped."""
    if command is None:
        return STOPPED_BEFORE
    again = " with --resume added" if command == "distill" else ""  # a run resumes from its checkpoint
    return f"Stopped. Run the same command again{again} to continue where it stopped."


class Stops:
    """The stop signals, as the `pd` program takes them (`take`).

    The first raises KeyboardInterrupt where the program is, which ends the command as Ctrl-C
    does (temporaries removed, one sentence: `end`), and is remembered: a library that swallows
    the interrupt (trimesh imports its optional modules under `except BaseException`; an exception
    in a finalizer is only printed) does not keep the command going, as the next step of a bar
    raises it again (`check`). Later ones are ignored by the system, so that a second Ctrl-C does
    not break off the clean-up the first began (`kill -9` still ends the process at once), and
    stay ignored: the process is ending (a kernel that runs pd's entry in itself keeps them so).
    """

    received: ClassVar[int | None] = None  # the first signal that asked the program to stop
    began: ClassVar[str | None] = None  # the command that has begun (`reports_errors`), if one has
    said: ClassVar[bool] = False  # whether the program has said that it stopped (`end`)
    _reported: ClassVar = staticmethod(sys.__unraisablehook__)  # who reported unraisables before

    @classmethod
    def take(cls) -> None:
        """Handle the stop signals, except those the process was started ignoring: a shell starts
        a script's background jobs with Ctrl-C ignored, `nohup` with SIGHUP ignored, and they are
        to go on."""
        if sys.unraisablehook != cls._unraisable:  # taken once already: it would report to itself
            cls._reported = staticmethod(sys.unraisablehook)
            sys.unraisablehook = cls._unraisable
        for number in STOP_SIGNALS:
            if signal.getsignal(number) is not signal.SIG_IGN:
                signal.signal(number, cls._stop)

    @classmethod
    def _stop(cls, number: int, frame: object) -> None:
        if cls.received is not None:
            return
        cls.received = number
        # Later ones are ignored by the system, not by a handler: Python puts back the default
        # actions of the signals it handles as it exits, and one arriving then ended the process.
        for each in STOP_SIGNALS:
            if signal.getsignal(each) == cls._stop:
                signal.signal(each, signal.SIG_IGN)
        raise KeyboardInterrupt

    @classmethod
    def _unraisable(cls, unraisable: sys.UnraisableHookArgs) -> None:
        """Python's report of an exception it could not raise, but not of a stop's: the command
        ends at its next step all the same (`check`), and says so in one sentence. A stop can land
        in a finalizer or a weakref's callback (importlib's module locks have one), and a second
        signal that came before the first's handler ignored the others is reported as "ignored
        due to race condition" (CPython, bpo-43406)."""
        error = unraisable.exc_value
        stopping = isinstance(error, KeyboardInterrupt) or (
            isinstance(error, OSError) and "ignored due to race condition" in str(error)
        )
        if not (stopping and cls.received is not None):
            cls._reported(unraisable)

    @classmethod
    def check(cls) -> None:
        if cls.received is not None:
            raise KeyboardInterrupt

    @classmethod
    def exit_code(cls) -> int:
        """The shell's code for a program a signal stopped: 128 + its number (130 for Ctrl-C)."""
        return 128 + (cls.received or signal.SIGINT)

    @classmethod
    def end_if_stopped(cls, error: BaseException) -> None:
        """`end` the program where `error` is a stop's KeyboardInterrupt or came after a stop:
        what a stop's unwinding raised is the stop's (a write to the terminal SIGHUP took away, an
        import the interrupt broke off, which fails on its next use); else return."""
        if isinstance(error, KeyboardInterrupt) or cls.received is not None:
            cls.end(error)

    @classmethod
    def end(cls, error: BaseException | None = None) -> NoReturn:
        """Say in one sentence on stderr that the command stopped (and what else its unwinding
        raised, so that a bug it met is not hidden) and exit with the stop's code. Where the
        terminal has gone (SIGHUP), what is left to print goes nowhere: Python's last flush of its
        outputs would fail too, and turn the exit code into 120."""
        sentence = stopped(cls.began)
        if error is not None and not isinstance(error, KeyboardInterrupt):
            sentence += f" (On the way it met {type(error).__name__}: {error}.)"
        try:
            if sys.stdout is not None:
                sys.stdout.flush()
            if sys.stderr is not None:
                print(sentence, file=sys.stderr, flush=True)
        except (OSError, ValueError):
            nowhere = os.open(os.devnull, os.O_WRONLY)
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError, AttributeError):  # a stream with no descriptor
                    os.dup2(nowhere, stream.fileno())
            os.close(nowhere)
        cls.said = True
        raise SystemExit(cls.exit_code())
