"""Compact point networks that train from scratch on a CPU in minutes.

- `PointNetStudent`: a shared per-point MLP with a global max-pooled feature concatenated back to
  every point (PointNet's segmentation design), with layer norm; the fastest.
- `EdgeConvStudent`: DGCNN-style EdgeConv layers over a k-nearest-neighbour graph of the input
  points (built once per cloud rather than per layer, which keeps it cheap on a CPU), plus the same
  global feature. Local geometry lets it separate parts that a global descriptor mixes up.

Both map points [B, N, 3] to logits [B, N, C]. benchmarks/bench_students.py measures their speed;
on procedural chairs the PointNet student distilled better at a fraction of EdgeConv's time per
step (docs/benchmarks.md, docs/quality.md), so it is the CPU default.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn import functional


def _mlp(widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), nn.LayerNorm(b), nn.GELU()]
    return nn.Sequential(*layers)


def _segment(head: nn.Sequential, local: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
    """`head` on each point's [local, pooled] features: local [B, N, L], pooled [B, 1, G], the
    head an `_mlp` from L + G widths and a final layer; logits [B, N, C].

    In training the pooled feature is concatenated to every point, as the weights measured so far
    were learnt. In eval mode the first layer runs as two, W [l; g] = W_l l + W_g g, with the
    pooled share computed once per cloud rather than once per point: the same function, rounded
    otherwise (in training that would change the weights' last bits). A PointNet forward pass of
    16 clouds of 2,048 points takes 0.070 s instead of 0.087 s; EdgeConv's time is in its
    neighbourhoods, and it gains nothing measurable (docs/benchmarks.md, "Distill speed")."""
    if head.training:
        return head(torch.cat([local, pooled.expand(-1, local.shape[1], -1)], dim=-1))
    mlp, last = head
    first, width = mlp[0], local.shape[-1]
    hidden = functional.linear(local, first.weight[:, :width]) + functional.linear(
        pooled, first.weight[:, width:], first.bias
    )
    return last(mlp[1:](hidden))


class PointNetStudent(nn.Module):
    """Per-point MLP + global max feature + per-point head."""

    def __init__(self, n_parts: int, width: int = 128) -> None:
        super().__init__()
        self.n_parts = n_parts
        self.local = _mlp([3, 64, width])
        self.globalize = _mlp([width, 2 * width])
        self.head = nn.Sequential(_mlp([width + 2 * width, width, width]), nn.Linear(width, n_parts))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        local = self.local(points)
        return _segment(self.head, local, self.globalize(local).max(dim=1, keepdim=True).values)


def knn(points: torch.Tensor, k: int) -> torch.Tensor:
    """[B, N, k] indices of each point's k nearest points (itself included)."""
    distances = torch.cdist(points, points)
    return distances.topk(k, dim=-1, largest=False).indices


class EdgeConv(nn.Module):
    """h_i = norm(max_j act(W [x_i, x_j - x_i] + b)) over the k neighbours j of i.

    W [x_i, x_j - x_i] = (W_1 - W_2) x_i + W_2 x_j, so both halves are projected once per point and
    only added per edge, instead of running a layer on every edge.
    """

    def __init__(self, width_in: int, width_out: int) -> None:
        super().__init__()
        self.centre = nn.Linear(width_in, width_out)
        self.neighbour = nn.Linear(width_in, width_out, bias=False)
        self.norm = nn.LayerNorm(width_out)

    def forward(self, features: torch.Tensor, neighbours: torch.Tensor) -> torch.Tensor:
        batch, n, k = neighbours.shape
        centre = self.centre(features) - self.neighbour(features)
        projected = self.neighbour(features)
        index = neighbours.reshape(batch, n * k, 1).expand(-1, -1, projected.shape[-1])
        edges = centre.unsqueeze(2) + torch.gather(projected, 1, index).reshape(batch, n, k, -1)
        return self.norm(functional.leaky_relu(edges, 0.2).max(dim=2).values)


class EdgeConvStudent(nn.Module):
    """Three EdgeConv layers on a fixed kNN graph, a global feature, and a per-point head."""

    def __init__(self, n_parts: int, k: int = 16, width: int = 64) -> None:
        super().__init__()
        self.n_parts = n_parts
        self.k = k
        self.convs = nn.ModuleList([EdgeConv(3, width), EdgeConv(width, width), EdgeConv(width, width)])
        self.globalize = _mlp([3 * width, 4 * width])
        self.head = nn.Sequential(_mlp([3 * width + 4 * width, 2 * width, width]), nn.Linear(width, n_parts))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        neighbours = knn(points, self.k)
        features, layers = points, []
        for conv in self.convs:
            features = conv(features, neighbours)
            layers.append(features)
        local = torch.cat(layers, dim=-1)
        return _segment(self.head, local, self.globalize(local).max(dim=1, keepdim=True).values)
