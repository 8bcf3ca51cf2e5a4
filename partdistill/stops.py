"""What stops a `pd` command: the stop signals, as the program takes them (`Stops`), and the
check its progress bars make after each step.

Standard library only: the program takes the signals before it imports anything heavy
(`partdistill.program`).
"""

from __future__ import annotations

import signal

# What ends a command as Ctrl-C does: Ctrl-C, a scheduler's or `kill`'s SIGTERM, and SIGHUP (the
# terminal closed; absent on Windows).
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Stops:
    """The stop signals, as the `pd` program takes them (`take`).

    The first raises KeyboardInterrupt where the program is, which ends the command as Ctrl-C
    does (temporaries removed, one sentence), and is remembered: a library that swallows the
    interrupt (trimesh imports its optional modules under `except BaseException`; an exception in
    a finalizer is only printed) does not keep the command going, as the next step of a bar raises
    it again (`check`). Later ones are only remembered, so that a second Ctrl-C does not break off
    the clean-up the first began (`kill -9` still ends the process at once).
    """

    received: int | None = None  # the first signal that asked the program to stop

    @classmethod
    def take(cls) -> None:
        """Handle the stop signals, except those the process was started ignoring: a shell starts
        a script's background jobs with Ctrl-C ignored, `nohup` with SIGHUP ignored, and they are
        to go on."""
        for number in STOP_SIGNALS:
            if signal.getsignal(number) is not signal.SIG_IGN:
                signal.signal(number, cls._stop)

    @classmethod
    def _stop(cls, number: int, frame: object) -> None:
        if cls.received is None:
            cls.received = number
            raise KeyboardInterrupt

    @classmethod
    def check(cls) -> None:
        if cls.received is not None:
            raise KeyboardInterrupt

    @classmethod
    def exit_code(cls) -> int:
        """The shell's code for a program a signal stopped: 128 + its number (130 for Ctrl-C)."""
        return 128 + (cls.received or signal.SIGINT)
