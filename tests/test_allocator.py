"""`keep_freed_memory`: a freed 48 MiB block comes back without faulting its pages in again."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from partdistill.allocator import KEPT

GLIBC = hasattr(os, "confstr") and "CS_GNU_LIBC_VERSION" in os.confstr_names

# Allocates, fills and frees a 48 MiB array ten times (the size of the PointNet student's largest
# activation at the defaults) and prints the page faults of the last nine, or "refused".
FAULTS = """
import resource, sys
import numpy as np
from partdistill.allocator import keep_freed_memory
if sys.argv[1] == "kept" and not keep_freed_memory():
    sys.exit(print("refused"))
np.ones(12 << 20, dtype=np.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(9):
    np.ones(12 << 20, dtype=np.float32)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(setting: str) -> str:
    done = subprocess.run([sys.executable, "-c", FAULTS, setting], capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.mark.skipif(not GLIBC, reason="the setting is glibc's malloc's; elsewhere it changes nothing")
@pytest.mark.skipif("LD_PRELOAD" in os.environ, reason="a preloaded malloc is not glibc's to set")
def test_a_freed_block_is_reused_instead_of_faulted_in_again() -> None:
    assert KEPT > 48 << 20
    kept = faults("kept")
    if kept == "refused":
        pytest.skip("this glibc refuses an mmap threshold above 32 MiB")
    default = int(faults("default"))
    assert default >= 9  # a fresh mapping every time: at least one fault each, whatever the page size
    assert int(kept) * 20 < default  # reused: not a twentieth of those
