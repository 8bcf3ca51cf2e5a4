"""Running the package on a device other than the CPU, without a GPU.

PyTorch's `meta` device holds tensors without data. An operation that mixes a CPU tensor with a
meta tensor raises the same "not on the expected device" error that mixing the CPU with CUDA
raises, and `.numpy()` on a meta tensor fails as it does on a CUDA tensor. So code that runs with
its model on `meta` creates its tensors on the device of the data they meet.

What a GPU allows and `meta` cannot do is read values back: `.cpu()`, `.item()` and `.tolist()`.
`host_reads()` lets those return zeros for meta tensors, so a whole run can proceed; every value it
computes is meaningless, and tests using it check plumbing only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

META = torch.device("meta")


def _zeros(tensor: torch.Tensor) -> torch.Tensor:
    return torch.zeros(tensor.shape, dtype=tensor.dtype)


@contextmanager
def host_reads(log: list[str] | None = None) -> Iterator[None]:
    """Within it, `.cpu()`, `.item()` and `.tolist()` of a meta tensor read zeros instead of raising,
    and append "read" to `log` where one is given: on a GPU, each is where the host waits for the
    device."""

    def zeros(tensor: torch.Tensor) -> torch.Tensor:
        if log is not None:
            log.append("read")
        return _zeros(tensor)

    cpu, item, tolist = torch.Tensor.cpu, torch.Tensor.item, torch.Tensor.tolist
    torch.Tensor.cpu = lambda self, *a, **k: zeros(self) if self.is_meta else cpu(self, *a, **k)
    torch.Tensor.item = lambda self: item(zeros(self)) if self.is_meta else item(self)
    torch.Tensor.tolist = lambda self: tolist(zeros(self)) if self.is_meta else tolist(self)
    try:
        yield
    finally:
        torch.Tensor.cpu, torch.Tensor.item, torch.Tensor.tolist = cpu, item, tolist


class RecordingProcessor:
    """A transformers processor that remembers the (CPU) inputs it made last."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor
        self.last: dict[str, torch.Tensor] = {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        inputs = self.processor(*args, **kwargs)
        self.last = {k: v.clone() for k, v in inputs.items() if isinstance(v, torch.Tensor)}
        return inputs

    def __getattr__(self, name: str) -> Any:
        return getattr(self.processor, name)


class OnDevice(torch.nn.Module):
    """A real (tiny) transformers model that behaves as if it ran on the device it is moved to.

    `forward` refuses inputs that are not on that device, as a CUDA model would, computes the real
    outputs on the CPU from the inputs the processor made, and hands them back on the device, so
    the caller's post-processing sees device tensors.
    """

    def __init__(self, model: torch.nn.Module, processor: RecordingProcessor) -> None:
        super().__init__()
        self.model, self.processor = model, processor
        self.device = torch.device("cpu")

    def to(self, device: Any) -> OnDevice:  # type: ignore[override]
        self.device = torch.device(device)
        return self

    def forward(self, **inputs: Any) -> Any:
        for name, value in inputs.items():
            if isinstance(value, torch.Tensor) and value.device != self.device:
                raise RuntimeError(
                    f"input {name} is on {value.device}, not on the model's device {self.device}"
                )
        outputs = self.model(**self.processor.last)
        for name, value in outputs.items():
            if isinstance(value, torch.Tensor):
                setattr(outputs, name, value.to(self.device))
        return outputs


def on_device(model: torch.nn.Module, processor: Any) -> tuple[OnDevice, RecordingProcessor]:
    """(model, processor) to build a teacher with, as if the model ran on the device it is given."""
    recording = RecordingProcessor(processor)
    return OnDevice(model, recording), recording
