"""The hand-written Adam against torch.optim.Adam."""

from __future__ import annotations

import torch

from partdistill.distill.optim import Adam


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.GELU(), torch.nn.Linear(8, 2))


def _train(model: torch.nn.Module, optimizer, set_lr, steps: int = 12) -> None:
    data = torch.randn(32, 3, generator=torch.Generator().manual_seed(1))
    for step in range(steps):
        set_lr(3e-3 * (0.8**step))  # the learning rate changes between steps, as the cosine schedule does
        optimizer.zero_grad()
        model(data).square().mean().backward()
        optimizer.step()


def test_adam_equals_torch_adam_bit_for_bit() -> None:
    ours, theirs = _model(), _model()
    adam = Adam(ours.parameters(), lr=3e-3)
    reference = torch.optim.Adam(theirs.parameters(), lr=3e-3, foreach=False)

    def set_reference(lr: float) -> None:
        for group in reference.param_groups:
            group["lr"] = lr

    _train(ours, adam, lambda lr: setattr(adam, "lr", lr))
    _train(theirs, reference, set_reference)
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(a, b)
    for i, param in enumerate(theirs.parameters()):
        for name, value in reference.state[param].items():
            assert torch.equal(adam.state[i][name], value)


def test_adam_state_round_trips() -> None:
    first, second = _model(), _model()
    adam = Adam(first.parameters(), lr=1e-2)
    _train(first, adam, lambda lr: None, steps=3)
    copy = Adam(second.parameters(), lr=1e-2)
    second.load_state_dict(first.state_dict())
    copy.load_state_tensors({k: v.clone() for k, v in adam.state_tensors().items()})
    _train(first, adam, lambda lr: None, steps=3)
    _train(second, copy, lambda lr: None, steps=3)
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)
