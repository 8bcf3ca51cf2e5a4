"""The host allocator's settings for `pd`: freed memory kept for the next step, not handed back.

A training step of the PointNet student frees and allocates again the same activations, several
of them 32 to 48 MiB. glibc's malloc serves blocks of 32 MiB and more with fresh mappings and
unmaps them when they are freed, so every step faults in and zeroes the same pages again: on
this project's 2-core machine 20,000 to 30,000 page faults a step, and about a tenth of the
step's time (docs/benchmarks.md, "Distill speed"). With both thresholds raised to `KEPT`, blocks
up to that size come from malloc's heap and the next step reuses them; larger ones are still
mapped and handed back when freed.

This is a setting of the process, not of the library: the `pd` command line takes it (Ray's
workers, which Ray starts, do not); a program or notebook that imports `partdistill` keeps its own
allocator's settings unless it calls `keep_freed_memory` itself. The price is memory: a freed
block stays in the process's heap for reuse as long as a live one sits above it, and up to `KEPT`
bytes at the heap's top (a sixth more peak memory in the runs docs/benchmarks.md measured).
Elsewhere than glibc (macOS, Windows, musl) nothing changes, and where another malloc is
preloaded (jemalloc, tcmalloc) glibc's settings do not apply to it.
"""

from __future__ import annotations

import ctypes
import os

# mallopt(3)'s parameters, from glibc's malloc.h.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# Five times the student's largest activation at the CPU defaults (16 clouds x 2,048 points x 384
# float32 features, 48 MiB): room for larger batches and clouds, not for every large buffer.
KEPT = 256 << 20


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds to `KEPT`, each on its own; whether both took. False
    where the C library is not glibc (nothing changed), or where glibc refused the mmap threshold
    (releases that allow at most 32 MiB; the trim threshold alone then keeps the heap's top)."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
        libc = ctypes.CDLL("libc.so.6")
    except (ValueError, OSError, AttributeError):  # no such name on this system, or no glibc
        return False
    took = [bool(libc.mallopt(option, KEPT)) for option in (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD)]
    return all(took)
