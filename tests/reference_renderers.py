"""Independent reference renderers, for tests and benchmarks to hold partdistill's renderers against.

Written apart from `partdistill.render.renderers`, sharing none of its code:

- `pytorch3d_rule_zbuffer`: PyTorch3D's naive CPU point rasteriser's rule, straightforwardly in numpy.
- `trimesh_mesh_maps`: the mesh renderer as it first was, through trimesh's ray queries
  (`intersects_id` in float64, the hit depth from the hit locations).
"""

from __future__ import annotations

import numpy as np

from partdistill.render.cameras import Cameras
from partdistill.shapes import Shape, normalize


def pytorch3d_rule_zbuffer(
    points_ndc: np.ndarray, depth: np.ndarray, size: int, radius: float, znear: float
) -> np.ndarray:
    """[size*size] nearest covering point per pixel, by PyTorch3D's naive CPU rasteriser's rule, written
    independently of the renderer: pixel i's centre is at -1 + (2i + 1) / S, a point covers a pixel when
    dx^2 + dy^2 < r^2 in float32, points nearer than znear are skipped, and the smallest (depth, index) wins.
    Every pixel in a generous window around each point is tested, so no candidate set is shared."""
    f32 = np.float32
    window = int(np.ceil(radius * size / 2)) + 3
    x_ndc, y_ndc = points_ndc[:, 0].astype(f32), points_ndc[:, 1].astype(f32)
    col0 = np.floor((x_ndc + f32(1)) * f32(size / 2)).astype(np.int64)
    row0 = np.floor((y_ndc + f32(1)) * f32(size / 2)).astype(np.int64)
    pixel, z, owner = [], [], []
    for dy in range(-window, window + 1):
        for dx in range(-window, window + 1):
            col, row = col0 + dx, row0 + dy
            cx = (f32(2) * col.astype(f32) + f32(1)) / f32(size) - f32(1)
            cy = (f32(2) * row.astype(f32) + f32(1)) / f32(size) - f32(1)
            gx, gy = x_ndc - cx, y_ndc - cy
            hit = (gx * gx + gy * gy < f32(radius) * f32(radius)) & (depth > znear)
            hit &= (col >= 0) & (col < size) & (row >= 0) & (row < size)
            pixel.append((row * size + col)[hit])
            z.append(depth[hit])
            owner.append(np.flatnonzero(hit))
    pixel, z, owner = np.concatenate(pixel), np.concatenate(z), np.concatenate(owner)
    order = np.lexsort((owner, z, pixel))
    first = np.ones(len(order), dtype=bool)
    first[1:] = pixel[order][1:] != pixel[order][:-1]
    out = np.full(size * size, -1, dtype=np.int64)
    out[pixel[order][first]] = owner[order][first]
    return out


def trimesh_mesh_maps(
    shape: Shape, cameras: Cameras, tolerance: float = 2e-3
) -> tuple[np.ndarray, np.ndarray]:
    """([K,H,W] int32 face index per pixel, -1 = none; [K,N] bool point visibility) by trimesh's ray
    queries, a point being visible when the first hit at its pixel is no nearer than it (relative
    `tolerance`)."""
    import trimesh

    shape = normalize(shape)
    mesh = trimesh.Trimesh(shape.mesh.vertices, shape.mesh.faces, process=False)
    size = cameras.image_size
    screen, depth = cameras.project(shape.points)
    eyes, rotations = cameras.eyes(), cameras.rotations()
    rows, cols = np.mgrid[0:size, 0:size]
    rays = np.stack(
        [
            (cols + 0.5 - size / 2) / cameras.focal,
            (rows + 0.5 - size / 2) / cameras.focal,
            np.ones((size, size)),
        ],
        axis=-1,
    ).reshape(-1, 3)
    rays /= np.linalg.norm(rays, axis=1, keepdims=True)
    pixel_index = np.full((len(cameras), size * size), -1, dtype=np.int32)
    visible = np.zeros((len(cameras), shape.n_points), dtype=bool)
    cells = np.floor(screen[..., ::-1]).astype(np.int64)
    for k in range(len(cameras)):
        directions = rays @ rotations[k]
        faces, hit_rays, hits = mesh.ray.intersects_id(
            np.broadcast_to(eyes[k], directions.shape), directions, multiple_hits=False, return_locations=True
        )
        pixel_index[k, hit_rays] = faces
        zbuffer = np.full(size * size, np.inf)
        zbuffer[hit_rays] = (hits - eyes[k]) @ rotations[k, 2]
        inside = (cells[k] >= 0).all(-1) & (cells[k] < size).all(-1)
        cell = np.clip(cells[k], 0, size - 1)
        visible[k] = inside & (depth[k] <= zbuffer[cell[:, 0] * size + cell[:, 1]] * (1 + tolerance))
    return pixel_index.reshape(len(cameras), size, size), visible
