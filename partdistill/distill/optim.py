"""Adam, computed as torch.optim.Adam computes it, without importing torch.optim.

torch.optim's optimizers import torch._dynamo the first time they are used: a second or so on a
small machine, much of `pd distill`'s fixed cost, for a compiler a distillation run never uses.
This is the same update as torch's single-tensor Adam without weight decay or amsgrad (the path
torch takes for CPU parameters), and the tests hold it to torch.optim.Adam bit for bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch


class Adam:
    """Adam over `params` with a learning rate that the caller may change between steps.

    State per parameter i, as torch keeps it: `step` (a float32 scalar), `exp_avg` and
    `exp_avg_sq` (like the parameter); `state_tensors` names them "<i>.<name>", as torch's
    state dict would.
    """

    def __init__(
        self, params: Iterable[torch.nn.Parameter], lr: float, betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:  # fmt: skip
        self.params = list(params)
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self.state: dict[int, dict[str, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        for i, param in enumerate(self.params):
            if param.grad is None:
                continue
            grad = param.grad
            state = self.state.get(i)
            if state is None:
                state = self.state[i] = {
                    "step": torch.tensor(0.0),
                    "exp_avg": torch.zeros_like(param, memory_format=torch.preserve_format),
                    "exp_avg_sq": torch.zeros_like(param, memory_format=torch.preserve_format),
                }
            state["step"] += 1
            step = state["step"].item()
            state["exp_avg"].lerp_(grad, 1 - beta1)
            state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step_size = self.lr / (1 - beta1**step)
            denom = (state["exp_avg_sq"].sqrt() / math.sqrt(1 - beta2**step)).add_(self.eps)
            param.addcdiv_(state["exp_avg"], denom, value=-step_size)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The state as named tensors, for a checkpoint."""
        return {f"{i}.{name}": value for i, values in self.state.items() for name, value in values.items()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore what `state_tensors` saved (moments moved to their parameter's device)."""
        self.state = {}
        for key, value in tensors.items():
            index, name = key.split(".", 1)
            param = self.params[int(index)]
            self.state.setdefault(int(index), {})[name] = value if name == "step" else value.to(param.device)
