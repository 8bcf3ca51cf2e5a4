"""The `pd` program's entry point: it takes the process's stop signals before anything heavy is
imported, so that a Ctrl-C while pd imports its command line ends it as one at any later moment
does (one sentence, the shell's exit code), not with Python's traceback.

Only the standard library and `partdistill.stops` are imported here; the command line itself is
`partdistill.cli`.
"""

from __future__ import annotations

from partdistill.stops import Stops


def main() -> None:
    """`pd`: the stop signals taken, then the command line imported and run."""
    try:
        Stops.take()
        from partdistill import cli

        Stops.check()  # a stop an import swallowed
    except (KeyboardInterrupt, Exception) as error:
        Stops.end_if_stopped(error)
        raise
    cli.main()
