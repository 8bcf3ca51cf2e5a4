"""The paper's student: Point-M2AE's hierarchical encoder (frozen) and a per-point MLP head.

The encoder is written so that the official Point-M2AE pre-training checkpoint (`pre-train.pth`,
its `base_model` entry) loads into it key for key, and so that it runs on a CPU: farthest point
sampling and k-nearest neighbours, CUDA kernels in the original, are plain torch here.

Architecture (Point-M2AE pre-training config; PartDistill model/model.py):
- three scales of 512 / 256 / 64 centres chosen by farthest point sampling (from the points, then
  from the previous centres), grouped by their 16 / 8 / 8 nearest neighbours;
- token embedding: a mini-PointNet on each neighbourhood at scale 1 (relative xyz), and "token
  merging" of the previous scale's token features at scales 2 and 3;
- 5 pre-norm transformer blocks per scale (96 / 192 / 384 wide, 6 heads, no qkv bias), a learned
  positional embedding of the centres added before every block, and local attention: centre pairs
  at least 0.32 / 0.64 / 1.28 apart are masked out;
- a LayerNorm per scale, then each scale's tokens are spread to every point by inverse squared
  distance weighting over its 3 nearest centres, and [xyz, features] of the three scales are
  concatenated: 3 + 96 + 3 + 192 + 3 + 384 = 681 features per point;
- the head: three Linear(681, 681) + ReLU layers and a Linear(681, C).

The encoder stays frozen and in eval mode throughout training (batch-norm statistics from the
checkpoint, no stochastic depth). PartDistill's released code instead ran its first epoch in
train mode, which re-estimates the frozen encoder's batch-norm statistics on the category; we
keep the checkpoint's statistics, which makes runs independent of batch composition.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from partdistill.errors import PdError

GROUPS = (512, 256, 64)
NEIGHBOURS = (16, 8, 8)
DIMS = (96, 192, 384)
DEPTH = 5
HEADS = 6
RADII = (0.32, 0.64, 1.28)
FEATURES = sum(3 + d for d in DIMS)  # 681
PREFIX = "h_encoder."


def farthest_points(points: torch.Tensor, count: int) -> torch.Tensor:
    """[B, count] indices chosen by farthest point sampling from points [B, N, 3].

    Like pointnet2's CUDA kernel: starts at index 0, measures squared distances, breaks ties to
    the lower index, and never picks a point within 1e-3 (squared norm) of the origin after the
    first, which the kernel skips.
    """
    batch, n, _ = points.shape
    device = points.device
    chosen = torch.zeros(batch, count, dtype=torch.long, device=device)
    nearest = torch.full((batch, n), 1e10, dtype=points.dtype, device=device)
    skip = (points.square().sum(-1) <= 1e-3) & (torch.arange(n, device=device) > 0)
    rows = torch.arange(batch, device=device)
    last = torch.zeros(batch, dtype=torch.long, device=device)
    for i in range(1, count):
        gap = (points - points[rows, last][:, None, :]).square().sum(-1)
        nearest = torch.minimum(nearest, gap)
        last = torch.where(skip, -1.0, nearest).argmax(dim=1)
        chosen[:, i] = last
    return chosen


def _gather(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """values [B, N, C] at index [B, ...] -> [B, ..., C]."""
    flat = index.reshape(index.shape[0], -1)
    picked = torch.gather(values, 1, flat[..., None].expand(-1, -1, values.shape[-1]))
    return picked.reshape(*index.shape, values.shape[-1])


def _nearest(reference: torch.Tensor, query: torch.Tensor, k: int) -> torch.Tensor:
    """[B, Q, k] indices of the k points of reference [B, R, 3] nearest each query [B, Q, 3]."""
    return torch.cdist(query, reference).topk(k, dim=-1, largest=False).indices


class TokenEmbed(nn.Module):
    """A mini-PointNet per group: conv-BN-ReLU-conv, max, [global, local], conv-BN-ReLU-conv, max."""

    def __init__(self, width_in: int, width_out: int) -> None:
        super().__init__()
        hidden, local = (128, 256) if width_in == 3 else (width_in, width_in)
        middle = 512 if width_in == 3 else width_out
        self.first_conv = nn.Sequential(
            nn.Conv1d(width_in, hidden, 1),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv1d(hidden, local, 1),
        )
        self.second_conv = nn.Sequential(
            nn.Conv1d(2 * local, middle, 1),
            nn.BatchNorm1d(middle),
            nn.ReLU(inplace=True),
            nn.Conv1d(middle, width_out, 1),
        )

    def forward(self, groups: torch.Tensor) -> torch.Tensor:
        """groups [B, G, n, C] -> tokens [B, G, width_out]."""
        batch, count, n, width = groups.shape
        x = self.first_conv(groups.reshape(batch * count, n, width).transpose(1, 2))
        pooled = x.max(dim=2, keepdim=True).values
        x = self.second_conv(torch.cat([pooled.expand(-1, -1, n), x], dim=1))
        return x.max(dim=2).values.reshape(batch, count, -1)


class Attention(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(width, 3 * width, bias=False)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
        batch, n, width = x.shape
        q, k, v = self.qkv(x).reshape(batch, n, 3, HEADS, width // HEADS).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-2, -1) * (width // HEADS) ** -0.5
        scores = scores + masked[:, None].to(scores.dtype) * -1e5
        return self.proj((scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(batch, n, width))


class Mlp(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, 4 * width)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = Attention(width)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = Mlp(width)

    def forward(self, x: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), masked)
        return x + self.mlp(self.norm2(x))


class Stage(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(width) for _ in range(DEPTH))


class HierarchicalEncoder(nn.Module):
    """Point-M2AE's encoder: points [B, N, 3] -> per-scale (centres [B, G, 3], tokens [B, G, D])."""

    def __init__(self) -> None:
        super().__init__()
        self.token_embed = nn.ModuleList(TokenEmbed(a, b) for a, b in zip((3, *DIMS[:-1]), DIMS, strict=True))
        self.encoder_pos_embeds = nn.ModuleList(
            nn.Sequential(nn.Linear(3, d), nn.GELU(), nn.Linear(d, d)) for d in DIMS
        )
        self.encoder_blocks = nn.ModuleList(Stage(d) for d in DIMS)
        self.encoder_norms = nn.ModuleList(nn.LayerNorm(d) for d in DIMS)

    def forward(self, points: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        scales = []
        source, tokens = points, None
        for s in range(len(DIMS)):
            centres = _gather(source, farthest_points(source, GROUPS[s]))
            neighbours = _nearest(source, centres, NEIGHBOURS[s])
            if tokens is None:
                x = self.token_embed[s](_gather(source, neighbours) - centres[:, :, None, :])
            else:
                x = self.token_embed[s](_gather(tokens, neighbours))
            position = self.encoder_pos_embeds[s](centres)
            masked = torch.cdist(centres, centres) >= RADII[s]
            for block in self.encoder_blocks[s].blocks:
                x = block(x + position, masked)
            scales.append((centres, self.encoder_norms[s](x)))
            source, tokens = centres, x
        return scales


def upsample(points: torch.Tensor, centres: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Tokens [B, G, D] spread to points [B, N, 3]: weights 1/(d^2 + 1e-8) over the 3 nearest centres."""
    squared = torch.cdist(points, centres).square()
    distance, index = squared.topk(3, dim=-1, largest=False)
    weight = 1.0 / (distance + 1e-8)
    weight = weight / weight.sum(dim=-1, keepdim=True)
    return (_gather(tokens, index) * weight[..., None]).sum(dim=2)


class PointM2AEStudent(nn.Module):
    """Frozen Point-M2AE encoder + trainable head. Build it with `from_checkpoint` to be pretrained."""

    def __init__(self, n_parts: int) -> None:
        super().__init__()
        self.n_parts = n_parts
        self.h_encoder = HierarchicalEncoder()
        self.h_encoder.requires_grad_(False)
        self.head = nn.Sequential(
            nn.Linear(FEATURES, FEATURES), nn.ReLU(),
            nn.Linear(FEATURES, FEATURES), nn.ReLU(),
            nn.Linear(FEATURES, FEATURES), nn.ReLU(),
            nn.Linear(FEATURES, n_parts),
        )  # fmt: skip
        self.h_encoder.eval()

    def train(self, mode: bool = True) -> PointM2AEStudent:
        super().train(mode)
        self.h_encoder.eval()  # frozen: always the checkpoint's batch-norm statistics
        return self

    def features(self, points: torch.Tensor) -> torch.Tensor:
        """[B, N, 681] per-point features: [xyz, scale-1, xyz, scale-2, xyz, scale-3]."""
        with torch.no_grad():
            parts = []
            for centres, tokens in self.h_encoder(points):
                parts += [points, upsample(points, centres, tokens)]
            return torch.cat(parts, dim=-1)

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(points))

    @classmethod
    def from_checkpoint(cls, n_parts: int, path: str | Path) -> PointM2AEStudent:
        """The student with Point-M2AE's pre-trained encoder; every encoder key must be in the file."""
        path = Path(path)
        if not path.is_file():
            missing = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise PdError(f"The Point-M2AE checkpoint {path} {missing}.")
        try:
            with warnings.catch_warnings():  # torch's advice on a file it refuses: the PdError says it
                warnings.simplefilter("ignore", UserWarning)
                saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # pickle, zip and torch errors alike mean "not a checkpoint"
            if "Unsupported global" in str(error) or "Unsupported class" in str(error):  # torch >= / < 2.4
                raise PdError(
                    f"{path} holds objects besides tensors, which pd does not unpickle (they could run "
                    "code): save its 'base_model' state dict alone with torch.save and give that file."
                ) from error
            raise PdError(f"{path} is not a readable PyTorch checkpoint ({type(error).__name__}).") from error
        state = saved.get("base_model", saved) if isinstance(saved, dict) else None
        if not isinstance(state, dict):
            raise PdError(
                f"{path} holds no state dict (expected Point-M2AE's pre-train.pth with 'base_model')."
            )
        encoder = {
            key.removeprefix("module.")[len(PREFIX) :]: value
            for key, value in state.items()
            if key.removeprefix("module.").startswith(PREFIX)
        }
        student = cls(n_parts)
        expected = student.h_encoder.state_dict()
        missing = sorted(set(expected) - set(encoder))
        unexpected = sorted(set(encoder) - set(expected))
        if missing or unexpected:
            details = []
            if missing:
                details.append(
                    f"{len(missing)} of its {len(expected)} encoder weights are missing (e.g. {missing[0]})"
                )
            if unexpected:
                details.append(f"{len(unexpected)} are unknown (e.g. {unexpected[0]})")
            raise PdError(f"{path} does not fit the Point-M2AE encoder: {'; '.join(details)}.")
        wrong = [key for key, value in encoder.items() if value.shape != expected[key].shape]
        if wrong:
            raise PdError(
                f"{path} does not fit the Point-M2AE encoder: {wrong[0]} has shape "
                f"{list(encoder[wrong[0]].shape)}, expected {list(expected[wrong[0]].shape)}."
            )
        student.h_encoder.load_state_dict(encoder, strict=True)
        return student
