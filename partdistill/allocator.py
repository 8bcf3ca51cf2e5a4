"""The host allocator's settings for `pd`: freed memory kept for the next step, not handed back.

A training step of the PointNet student frees and allocates again the same activations, several
of them 32 to 48 MiB. glibc's malloc serves blocks of 32 MiB and more with fresh mappings and
unmaps them when they are freed, so every step faults in and zeroes the same pages again: on
this project's 2-core machine 20,000 to 30,000 page faults a step, and about a tenth of the
step's time (docs/benchmarks.md, "Distill speed"). With both thresholds raised, those blocks stay
in malloc's heap and the next step reuses them.

This is a setting of the process, not of the library: the `pd` command line takes it, a program
or notebook that imports `partdistill` keeps its own allocator's settings unless it calls
`keep_freed_memory` itself. The price is memory: what a command freed stays in its heap, up to
`KEPT` bytes, until it exits (a tenth more peak memory in the runs measured there). Elsewhere than
glibc (macOS, Windows, musl) nothing changes.
"""

from __future__ import annotations

import ctypes
import os

# mallopt(3)'s parameters, from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEPT = 1 << 30


def keep_freed_memory() -> bool:
    """Have glibc's malloc serve blocks of up to `KEPT` bytes from its heap and keep up to `KEPT`
    freed bytes at its top instead of handing them back; whether it took both settings (False where
    the C library is not glibc, and nothing changed)."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
        libc = ctypes.CDLL("libc.so.6")
    except (ValueError, OSError, AttributeError):  # no such name on this system, or no glibc
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, KEPT)) and bool(libc.mallopt(M_TRIM_THRESHOLD, KEPT))
