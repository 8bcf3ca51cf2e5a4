"""Which torch device a command runs on: "auto" resolved, a named one checked; and running out of
its memory said in one sentence."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from partdistill.errors import PdError, option

NAMES = "cpu, cuda, cuda:N, mps or auto"  # what a device is named


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' if available, else 'mps' if available, else 'cpu'; another name is checked:
    an unknown device, or one this machine does not have, is one PdError."""
    import torch

    if not isinstance(device, str):
        raise PdError(f"{option('device')} must be a device name ({NAMES}), not {device!r}.")
    mps = getattr(torch.backends, "mps", None)
    has_mps = mps is not None and mps.is_available()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "mps" if has_mps else "cpu"
    try:
        chosen = torch.device(device)
    except (RuntimeError, ValueError) as error:
        raise PdError(f"{option('device')} {device} is not a device: use {NAMES}.") from error
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise PdError(
                f"{option('device')} {device}: this machine has no CUDA GPU that PyTorch can use "
                "(see `pd info`)."
            )
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise PdError(
                f"{option('device')} {device}: this machine has {torch.cuda.device_count()} CUDA GPU(s)."
            )
    elif chosen.type == "mps" and not has_mps:
        raise PdError(f"{option('device')} {device}: this machine has no Apple GPU that PyTorch can use.")
    elif chosen.type not in ("cpu", "cuda", "mps"):
        raise PdError(f"{option('device')} {device} is not a device: use {NAMES}.")
    return device


@contextmanager
def enough_memory(advice: Callable[[], str]) -> Iterator[None]:
    """Within it, running out of memory on any device is one PdError ending with `advice()` (what
    to make smaller, asked then), where torch and numpy raise their own errors, one per allocator."""
    try:
        yield
    except (MemoryError, RuntimeError) as error:
        if not out_of_memory(error):
            raise
        raise PdError(f"Out of memory{_wanted(str(error))}; {advice()}") from error


def out_of_memory(error: BaseException) -> bool:
    """Whether `error` is an allocator's: numpy's MemoryError, torch's OutOfMemoryError (CUDA's),
    or the RuntimeError of an allocator that has no type of its own (the CPU's, Apple's MPS)."""
    torch = sys.modules.get("torch")  # not imported for this: without torch, no torch error
    if isinstance(error, MemoryError) or (torch is not None and isinstance(error, torch.OutOfMemoryError)):
        return True
    text = str(error)
    return isinstance(error, RuntimeError) and (
        "DefaultCPUAllocator: can't allocate memory" in text or text.startswith("MPS backend out of memory")
    )


def _wanted(text: str) -> str:
    """How much the allocation that failed asked for, as an allocator said it in `text` ('' if not)."""
    found = re.search(r"[Tt]ried to allocate ([\d.]+) ?([KMGT]i?B|bytes)", text)
    if found is None:
        return ""
    amount, unit = found.groups()
    if unit != "bytes":
        return f" ({amount} {unit} asked for at once)"
    size = int(amount)
    return (
        f" ({size / 2**30:.1f} GiB asked for at once)"
        if size >= 2**30
        else f" ({size / 2**20:.1f} MiB asked for at once)"
    )
