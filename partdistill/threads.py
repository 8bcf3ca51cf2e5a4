"""How many CPU threads a process's numeric libraries use.

PyTorch and the BLAS under numpy and scipy each start a pool with one thread per core. A process
that shares the machine with others (Ray workers, a second `pd teach`) gains nothing from them: a
second thread slowed the point renderer beside a busy process, and idle BLAS threads spinning
between calls cost CPU time (benchmarks/bench_teach.py measures it; docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """Within it, torch and the BLAS libraries use at most `count` threads (None: as they were)."""
    if count is None:
        yield
        return
    if count < 1:
        from partdistill.errors import PdError

        raise PdError(f"A thread count must be at least 1, not {count}.")
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        with threadpool_limits(limits=count):
            yield
    finally:
        torch.set_num_threads(before)
