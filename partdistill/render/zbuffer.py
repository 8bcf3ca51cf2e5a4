"""The point renderer's z-buffer: which point of a splatted cloud each pixel shows.

The coverage rule is PyTorch3D's point rasteriser's, in its float32 normalised device coordinates
(the image spans [-1, 1]): pixel i's centre is at -1 + (2i + 1) / S, a point at pixel coordinate x
sits at 2x / S - 1, and a point covers a pixel when the squared distance between them is strictly
below the squared radius. Among the points covering a pixel the nearest (smallest depth, then
lowest index) owns it, as `points_per_pixel=1`; points no farther than znear are not drawn.

Two implementations of that one rule, equal pixel for pixel (tests/test_render.py):

- `nearest_points_cpu`, a compiled loop over the points (`kernels.nearest_points`). On the CPU, a
  vectorised pass per splat offset spends most of its time on the arithmetic around its scatter
  (benchmarks/bench_teach.py), and no library rasterises points fast on a CPU: PyTorch3D's CPU
  rasteriser was far slower than even this module's first, vectorised version (docs/benchmarks.md).
- `nearest_points_torch`, one scatter-min per splat offset on any torch device (a GPU).
"""

from __future__ import annotations

import numpy as np
import torch

from partdistill.render import kernels

NO_KEY = np.iinfo(np.int64).max  # the torch z-buffer's "no point yet" (above every packed key)


def splat_offsets(radius_px: float) -> np.ndarray:
    """[S,2] integer (dx, dy) offsets from the pixel holding a point to every pixel its splat can cover.

    A point lies somewhere in its own pixel, so the centre of the pixel dx columns away is at least
    max(|dx| - 0.5, 0) pixels from it; offsets whose nearest possible centre is not within the
    radius (plus `kernels.MARGIN_PX`, as the float32 test can pass a centre exactly at the radius)
    can never be covered and are left out.
    """
    reach = int(np.ceil(radius_px + kernels.MARGIN_PX + 0.5))
    span = np.arange(-reach, reach + 1)
    nearest = np.maximum(np.abs(span) - 0.5, 0.0)
    dx, dy = np.meshgrid(span, span, indexing="xy")
    near_x, near_y = np.meshgrid(nearest, nearest, indexing="xy")
    keep = near_x**2 + near_y**2 < (radius_px + kernels.MARGIN_PX) ** 2
    return np.stack([dx[keep], dy[keep]], axis=1)


def nearest_points_cpu(
    screen: np.ndarray, depth: np.ndarray, size: int, radius: np.float32, znear: float
) -> np.ndarray:
    """[K,size,size] int32 the nearest point covering each pixel of K views, -1 where none does.

    `screen` [K,N,2] float32 pixel coordinates, `depth` [K,N] float32, `radius` in normalised
    device units. A compiled loop over the points, on one thread.
    """
    nearest = np.empty((len(screen), size * size), dtype=np.int32)
    zbuffer = np.empty(size * size, dtype=np.float32)
    kernel = kernels.nearest_points()
    for k in range(len(screen)):
        kernel(screen[k], depth[k], size, np.float32(radius), np.float32(znear), nearest[k], zbuffer)
    return nearest.reshape(len(screen), size, size)


def nearest_points_torch(
    screen: np.ndarray, depth: np.ndarray, size: int, radius: np.float32, znear: float, device: torch.device
) -> np.ndarray:
    """`nearest_points_cpu` computed with torch on `device`: one scatter-min per splat offset and view."""
    offsets = splat_offsets(float(radius) * size / 2)
    out = np.empty((len(screen), size, size), dtype=np.int32)
    for k in range(len(screen)):
        xy, z = torch.from_numpy(screen[k]).to(device), torch.from_numpy(depth[k]).to(device)
        out[k] = (
            _torch_view(xy, z, size, radius, znear, offsets).to(torch.int32).cpu().numpy().reshape(size, size)
        )
    return out


def _torch_view(
    xy: torch.Tensor, z: torch.Tensor, size: int, radius: np.float32, znear: float, offsets: np.ndarray
) -> torch.Tensor:
    """[H*W] int64 the nearest point covering each pixel of one view, -1 where none does.

    Squared distances along x and y are computed once per column and row offset and shared; a
    candidate off the image, or of a point nearer than znear, gets an infinite distance and is
    scattered to a trash slot past the image.
    """
    trash = size * size
    cell = torch.floor(xy).long()
    drawn = z > znear
    far = torch.tensor(float("inf"), device=z.device)

    def squared_gaps(axis: int) -> dict[int, torch.Tensor]:
        ndc = xy[:, axis] * (2.0 / size) - 1.0
        gaps = {}
        for step in np.unique(offsets[:, axis]).tolist():
            pixel = cell[:, axis] + step
            gap = ndc - ((2 * pixel + 1).float() / size - 1.0)
            gaps[step] = torch.where((pixel >= 0) & (pixel < size) & drawn, gap * gap, far)
        return gaps

    across, down = squared_gaps(0), squared_gaps(1)
    own = cell[:, 1] * size + cell[:, 0]
    key = (z.view(torch.int32).long() << 32) | torch.arange(len(z), dtype=torch.int64, device=z.device)
    keys = torch.full((trash + 1,), NO_KEY, dtype=torch.int64, device=z.device)
    for dx, dy in offsets.tolist():
        covered = across[dx] + down[dy] < radius * radius
        keys.scatter_reduce_(0, torch.where(covered, own + (dy * size + dx), trash), key, reduce="amin")
    keys = keys[:trash]
    return torch.where(keys != NO_KEY, keys & 0xFFFFFFFF, -1)
