"""Which torch device a command runs on: "auto" resolved, a named one checked."""

from __future__ import annotations

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
