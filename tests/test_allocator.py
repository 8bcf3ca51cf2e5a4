"""`keep_freed_memory`: a freed 48 MiB block comes back without faulting its pages in again."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from partdistill.allocator import KEPT

GLIBC = hasattr(os, "confstr") and "CS_GNU_LIBC_VERSION" in os.confstr_names

# Allocates, fills and frees a 48 MiB array ten times (the size of the PointNet student's largest
# activation) and prints the page faults of the last nine.
FAULTS = """
import resource, sys
import numpy as np
from partdistill.allocator import keep_freed_memory
if sys.argv[1] == "kept":
    assert keep_freed_memory()
np.ones(12 << 20, dtype=np.float32)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(9):
    np.ones(12 << 20, dtype=np.float32)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def faults(setting: str) -> int:
    done = subprocess.run([sys.executable, "-c", FAULTS, setting], capture_output=True, text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(not GLIBC, reason="the setting is glibc's malloc's; elsewhere it changes nothing")
def test_a_freed_block_is_reused_instead_of_faulted_in_again() -> None:
    huge_pages = (48 << 20) // (2 << 20)  # the fewest faults one fresh block can take (2 MiB pages)
    assert KEPT > 48 << 20
    assert faults("default") >= 9 * huge_pages  # fresh pages every time
    assert faults("kept") < huge_pages  # not one block's worth in nine
