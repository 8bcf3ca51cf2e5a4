"""Multi-view rendering with a pixel -> point (or face) map, for teachers to look at and for lifting.

Two renderers share one output record, `Views`:

- `PointRenderer` splats every point as a disc of `radius` (in normalised device units, as
  PyTorch3D's point rasteriser; PartSLIP used 0.005) and keeps, per pixel, the nearest point: a
  z-buffer computed in one vectorised scatter-min per view.
- `MeshRenderer` casts a ray through every pixel centre against the shape's mesh (Embree through
  trimesh), so Shap-E meshes and procedural shapes are seen as closed surfaces. A point counts as
  visible when nothing on the mesh lies in front of it at its pixel.

Shapes are centred on their centroid and scaled into the unit sphere before rendering, as
PartSLIP does; `Views` indexes the shape's own points, so that normalisation is invisible to
callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import torch

from partdistill.distill.cameras import Cameras
from partdistill.errors import PdError
from partdistill.shapes import Shape, normalize

BACKGROUND = np.array([255, 255, 255], dtype=np.uint8)
GREY = 0.78  # albedo of uncoloured shapes: light grey on white, like the paper's renders


@dataclass(frozen=True)
class Views:
    """K rendered views of one shape with N points.

    Attributes:
        images: [K,H,W,3] uint8 RGB renders (white background).
        pixel_index: [K,H,W] int32 index of what each pixel shows, -1 for background: a point
            index for the point renderer, a mesh face index for the mesh renderer.
        pixel_kind: "point" or "face", what `pixel_index` indexes.
        screen: [K,N,2] float32 pixel coordinates (x = column, y = row) of every point.
        depth: [K,N] float32 distance of every point along each camera's view axis.
        visible: [K,N] bool, whether the point is seen in the view (the z-buffer kept it).
        cameras: the cameras, one per view.
    """

    images: np.ndarray
    pixel_index: np.ndarray
    pixel_kind: Literal["point", "face"]
    screen: np.ndarray
    depth: np.ndarray
    visible: np.ndarray
    cameras: Cameras

    @property
    def n_views(self) -> int:
        return len(self.images)

    @property
    def image_size(self) -> int:
        return self.images.shape[1]

    def pixels(self) -> np.ndarray:
        """[K,N,2] int64 (row, column) of the pixel each point falls in, clipped to the image."""
        cells = np.floor(self.screen[..., ::-1]).astype(np.int64)
        return np.clip(cells, 0, self.image_size - 1)


class Renderer(Protocol):
    """Renders a shape from cameras."""

    def render(self, shape: Shape, cameras: Cameras) -> Views: ...


def _shade(colors: np.ndarray | None, normals: np.ndarray | None, toward_camera: np.ndarray) -> np.ndarray:
    """[M,3] float RGB: the albedo (own colour, or grey) lit by a headlight.

    With normals, brightness follows |cos| between normal and view ray (two-sided, so flipped
    normals still read as lit); without, a flat albedo.
    """
    albedo = np.full((len(toward_camera), 3), GREY) if colors is None else colors
    if normals is None:
        return albedo
    length = np.linalg.norm(normals, axis=1) + 1e-12
    cosine = np.abs(np.einsum("md,md->m", normals, toward_camera)) / length
    return albedo * (0.35 + 0.65 * cosine)[:, None]


def _splat_offsets(radius_px: float) -> np.ndarray:
    """[S,2] integer (dx, dy) offsets from the pixel holding a point to pixels its splat can cover.

    A pixel dx columns away has its centre between |dx + 0.5| - 0.5 and |dx + 0.5| + 0.5 pixels
    from the point; offsets whose nearest possible centre is beyond the radius are left out.
    """
    reach = int(np.ceil(radius_px + 0.5))
    span = np.arange(-reach, reach)
    nearest = np.maximum(np.abs(span + 0.5) - 0.5, 0.0)
    dx, dy = np.meshgrid(span, span, indexing="xy")
    near_x, near_y = np.meshgrid(nearest, nearest, indexing="xy")
    keep = near_x**2 + near_y**2 <= radius_px**2
    return np.stack([dx[keep], dy[keep]], axis=1)


class PointRenderer:
    """Z-buffered disc splatting of point clouds (PyTorch3D-style radius, nearest point per pixel).

    Args:
        radius: splat radius in normalised device units (the image spans [-1, 1]); a pixel is
            covered when its centre lies within the radius of a point's projection. Each point
            also covers the pixel it falls in, so no point vanishes at small radii.
    """

    def __init__(self, radius: float = 0.005) -> None:
        self.radius = radius

    def render(self, shape: Shape, cameras: Cameras) -> Views:
        shape = normalize(shape)
        size, n = cameras.image_size, shape.n_points
        screen, depth = cameras.project(shape.points)
        radius_px = self.radius * size / 2
        offsets = _splat_offsets(radius_px)
        dx, dy = (torch.from_numpy(offsets[:, i]) for i in (0, 1))
        own_cell = torch.from_numpy((offsets == 0).all(axis=1))
        trash = size * size  # candidates off the image or outside the radius are scattered here
        empty = torch.iinfo(torch.int64).max
        eyes = cameras.eyes()
        images = np.empty((len(cameras), size, size, 3), dtype=np.uint8)
        pixel_index = np.empty((len(cameras), size, size), dtype=np.int32)
        visible = np.zeros((len(cameras), n), dtype=bool)
        ids = torch.arange(n, dtype=torch.int64)
        for k in range(len(cameras)):
            xy, z = torch.from_numpy(screen[k]), torch.from_numpy(depth[k])
            cell = torch.floor(xy)
            fx, fy = (xy - cell).unbind(1)
            col, row = cell.long().unbind(1)
            # A candidate pixel is covered when its centre lies within the radius of the point, or
            # when it is the pixel the point falls in.
            near = (dx + 0.5 - fx[:, None]).square() + (dy + 0.5 - fy[:, None]).square() <= radius_px**2
            near |= own_cell
            col, row = col[:, None] + dx, row[:, None] + dy
            near &= (col >= 0) & (col < size) & (row >= 0) & (row < size)
            flat = torch.where(near, row * size + col, trash)
            # Nearest point per pixel: a scatter-min of (quantised depth, point id) packed in one int64.
            quantised = (z / (2 * cameras.distance + 2) * (1 << 30)).long().clamp(0, (1 << 31) - 1)
            key = torch.where(z > cameras.znear, (quantised << 32) | ids, empty)
            keys = torch.full((trash + 1,), empty, dtype=torch.int64)
            keys.scatter_reduce_(0, flat.reshape(-1), key[:, None].expand_as(flat).reshape(-1), reduce="amin")
            keys = keys[:trash]
            index = torch.where(keys != empty, keys & 0xFFFFFFFF, -1).numpy().astype(np.int32)
            pixel_index[k] = index.reshape(size, size)
            hit = index >= 0
            shown = index[hit]
            visible[k, shown] = True
            toward = eyes[k] - shape.points[shown]
            toward /= np.linalg.norm(toward, axis=1, keepdims=True)
            colors = None if shape.colors is None else shape.colors[shown]
            normals = None if shape.normals is None else shape.normals[shown]
            image = np.empty((size * size, 3), dtype=np.uint8)
            image[:] = BACKGROUND
            image[hit] = np.round(255 * np.clip(_shade(colors, normals, toward), 0, 1)).astype(np.uint8)
            images[k] = image.reshape(size, size, 3)
        return Views(images, pixel_index, "point", screen, depth, visible, cameras)


class MeshRenderer:
    """Ray casting of the shape's mesh (Embree through trimesh), with a per-pixel face index.

    A point is visible in a view when it lies in the image and the first surface hit at its pixel
    is no nearer than the point itself (within `tolerance`, relative to the depth).
    """

    def __init__(self, tolerance: float = 2e-3) -> None:
        self.tolerance = tolerance

    def render(self, shape: Shape, cameras: Cameras) -> Views:
        import trimesh

        if shape.mesh is None:
            raise PdError(
                "the mesh renderer needs a shape with a mesh (use the point renderer for point clouds)"
            )
        shape = normalize(shape)
        mesh = trimesh.Trimesh(shape.mesh.vertices, shape.mesh.faces, process=False)
        size = cameras.image_size
        screen, depth = cameras.project(shape.points)
        eyes, rotations, rays_camera = cameras.eyes(), cameras.rotations(), cameras.ray_directions()
        images = np.empty((len(cameras), size, size, 3), dtype=np.uint8)
        pixel_index = np.empty((len(cameras), size, size), dtype=np.int32)
        visible = np.zeros((len(cameras), shape.n_points), dtype=bool)
        rows_cols = np.floor(screen[..., ::-1]).astype(np.int64)
        for k in range(len(cameras)):
            directions = rays_camera @ rotations[k]
            starts = np.broadcast_to(eyes[k], directions.shape)
            faces, rays, hits = mesh.ray.intersects_id(
                starts, directions, multiple_hits=False, return_locations=True
            )
            face_map = np.full(size * size, -1, dtype=np.int64)
            face_map[rays] = faces
            zbuffer = np.full(size * size, np.inf)
            zbuffer[rays] = (hits - eyes[k]) @ rotations[k, 2]
            pixel_index[k] = face_map.reshape(size, size)
            inside = (rows_cols[k] >= 0).all(-1) & (rows_cols[k] < size).all(-1)
            cell = np.clip(rows_cols[k], 0, size - 1)
            front = zbuffer[cell[:, 0] * size + cell[:, 1]]
            visible[k] = inside & (depth[k] <= front * (1 + self.tolerance))
            colors = None
            if shape.mesh.vertex_colors is not None:
                colors = shape.mesh.vertex_colors[shape.mesh.faces[faces]].mean(axis=1)
            image = np.tile(BACKGROUND, (size * size, 1))
            shaded = _shade(colors, mesh.face_normals[faces], -directions[rays])
            image[rays] = np.round(255 * np.clip(shaded, 0, 1)).astype(np.uint8)
            images[k] = image.reshape(size, size, 3)
        return Views(images, pixel_index.astype(np.int32), "face", screen, depth, visible, cameras)
