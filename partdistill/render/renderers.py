"""Multi-view rendering with a pixel -> point (or face) map, for teachers to look at and for lifting.

Two renderers share one output record, `Views`:

- `PointRenderer` splats every point as a disc of `radius` (in normalised device units, with
  PyTorch3D's point rasteriser's coverage rule; PartSLIP used 0.005, the default adapts it to the
  cloud's density) and keeps, per pixel, the nearest point (`zbuffer`: a compiled loop on the CPU,
  torch scatter-min passes on a GPU).
- `MeshRenderer` casts a ray through every pixel centre against the shape's mesh (Embree, in
  float32), so Shap-E meshes and procedural shapes are seen as closed surfaces. A point counts as
  visible when nothing on the mesh lies in front of it at its pixel.

Shapes are centred on their centroid and scaled into the unit sphere before rendering, as
PartSLIP does; `Views` indexes the shape's own points, so that normalisation is invisible to
callers.
"""

from __future__ import annotations

import numpy as np
import torch

from partdistill.errors import PdError
from partdistill.render import kernels
from partdistill.render.cameras import Cameras
from partdistill.render.views import Views
from partdistill.render.zbuffer import nearest_points_cpu, nearest_points_torch
from partdistill.shapes import Shape, normalize, normalize_points
from partdistill.threads import cpu_threads

BACKGROUND = np.array([255, 255, 255], dtype=np.uint8)
# Renderers run their CPU work on one thread: a second torch / BLAS thread cost CPU time for the
# same wall time on an idle machine, and slowed the renderer beside a busy process
# (benchmarks/bench_teach.py; docs/benchmarks.md).
RENDER_THREADS = 1
GREY = 0.78  # albedo of uncoloured shapes: light grey on white, like the paper's renders


def _shade(
    colors: np.ndarray | None,
    normals: np.ndarray | None,
    points: np.ndarray,
    eye: np.ndarray,
    drawn: np.ndarray | None = None,
    rgb: np.ndarray | None = None,
) -> np.ndarray:
    """[M,3] uint8 RGB of `points` [M,3]: their albedo (own colour, or grey) lit by a headlight at
    `eye` (`kernels.shade`), into `rgb` if given; only the rows where `drawn` [M] is set, if given."""
    rgb = np.empty((len(points), 3), dtype=np.uint8) if rgb is None else rgb
    none = np.empty((0, 3), dtype=np.float32)
    kernels.shade()(
        none if colors is None else np.asarray(colors, dtype=np.float32),
        none if normals is None else np.asarray(normals, dtype=np.float32),
        np.asarray(points, dtype=np.float32),
        np.asarray(eye, dtype=np.float32),
        np.empty(0, dtype=bool) if drawn is None else drawn,
        GREY,
        rgb,
    )
    return rgb


PARTSLIP_RADIUS = 0.005  # PartSLIP's splat radius, chosen for PartNetE's dense clouds
# Splat radius in typical gaps between neighbours. Measured on procedural chairs, tables and
# airplanes against their meshes' silhouettes (benchmarks/bench_teach.py): at 2,048 points 1.0
# covers 84-86% of the silhouette, 1.5 covers 96-97% and 2.0 99-100%, the outline growing by
# 15-23% and 22-32% of its area; 1.5 is the balance.
DENSITY_FACTOR = 1.5


def density_radius(points: np.ndarray, cameras: Cameras, sample: int = 2048) -> float:
    """A splat radius (normalised device units) at which a cloud of this density covers its surface.

    `points` [N,3] are in the renderer's frame (the unit sphere). The typical gap between points
    is the median distance from a point to its nearest neighbour (over a fixed subsample of at
    most `sample` points); a splat of `DENSITY_FACTOR` gaps, as seen at the centre of the rig,
    closes the gaps between neighbours. Never below PartSLIP's 0.005.
    """
    from scipy.spatial import cKDTree

    chosen = np.linspace(0, len(points) - 1, min(sample, len(points))).astype(np.int64)
    if len(points) < 2:
        return PARTSLIP_RADIUS
    distances, _ = cKDTree(points).query(points[chosen], k=2)
    gaps = distances[:, 1]
    gap = float(np.median(gaps[gaps > 0])) if (gaps > 0).any() else 0.0
    ndc_per_unit = 1.0 / (cameras.distance * np.tan(np.radians(cameras.fov) / 2))
    return max(PARTSLIP_RADIUS, DENSITY_FACTOR * gap * ndc_per_unit)


class PointRenderer:
    """Z-buffered disc splatting of point clouds with PyTorch3D's point rasteriser's coverage rule
    (`partdistill.render.zbuffer`: a pixel shows the nearest point whose disc covers its centre).

    Args:
        radius: splat radius in normalised device units; None chooses one from each cloud's
            density (`density_radius`); PartSLIP used 0.005 (`PARTSLIP_RADIUS`), which suits
            clouds of ~100k points but leaves a 2,048-point cloud mostly gaps.
        device: where the z-buffer is computed: "cpu" runs the compiled loop, any other torch
            device ("cuda", ...) the scatter-min passes.
    """

    def __init__(self, radius: float | None = None, device: str | torch.device = "cpu") -> None:
        if radius is not None and not radius > 0:
            raise PdError(f"the point splat radius must be positive, not {radius}")
        self.radius = radius
        self.device = torch.device(device)

    def radius_for(self, points: np.ndarray, cameras: Cameras) -> float:
        """The radius this renderer uses for `points` [N,3] (already normalised to the unit sphere)."""
        return self.radius if self.radius is not None else density_radius(points, cameras)

    def render(self, shape: Shape, cameras: Cameras) -> Views:
        with cpu_threads(RENDER_THREADS if self.device.type == "cpu" else None):
            return self._render(shape, cameras)

    def _render(self, shape: Shape, cameras: Cameras) -> Views:
        points = normalize_points(shape.points)
        screen, depth = cameras.project(points)
        radius = np.float32(self.radius_for(points, cameras))
        size, znear = cameras.image_size, cameras.znear
        if self.device.type == "cpu":
            pixel_index = nearest_points_cpu(screen, depth, size, radius, znear)
        else:
            pixel_index = nearest_points_torch(screen, depth, size, radius, znear, self.device)
        return self._draw(shape, points, cameras, pixel_index, screen, depth)

    @staticmethod
    def _draw(
        shape: Shape,
        points: np.ndarray,
        cameras: Cameras,
        pixel_index: np.ndarray,
        screen: np.ndarray,
        depth: np.ndarray,
    ) -> Views:
        """The views' images and visibility from their pixel -> point maps (`points`: the shape's,
        normalised).

        Each seen point's shade is computed once per view, in a palette whose last entry (index -1)
        is the background, and the image is the palette looked up by the pixel map.
        """
        n = shape.n_points
        eyes = cameras.eyes().astype(np.float32)
        images = np.empty((*pixel_index.shape, 3), dtype=np.uint8)
        visible = np.empty((len(cameras), n), dtype=bool)
        palette = np.empty((n + 1, 3), dtype=np.uint8)
        palette[-1] = BACKGROUND
        for k in range(len(cameras)):
            nearest = pixel_index[k].reshape(-1)
            kernels.seen()(nearest, visible[k])
            _shade(shape.colors, shape.normals, points, eyes[k], visible[k], palette[:n])
            kernels.paint()(nearest, palette, images[k].reshape(-1, 3))
        return Views(images, pixel_index, "point", screen, depth, visible, cameras)


class MeshRenderer:
    """Ray casting of the shape's mesh with Embree, with a per-pixel face index.

    Embree is called directly (embreex, the binding trimesh uses), in float32, with one ray per
    pixel centre from the camera; the ray directions are computed once per image size and scaled
    to unit depth along the view axis, so the distance Embree returns is the hit's depth. (Through
    trimesh's ray queries the same casts took twice the CPU: float64 copies, a per-view matrix
    product in float64 and hit locations recomputed from planes.)

    A point is visible in a view when it lies in the image and the first surface hit at its pixel
    is no nearer than the point itself (within `tolerance`, relative to the depth).
    """

    def __init__(self, tolerance: float = 2e-3) -> None:
        self.tolerance = tolerance
        self._rays: dict[tuple[int, float], np.ndarray] = {}

    def _camera_rays(self, cameras: Cameras) -> np.ndarray:
        """[H*W,3] float32 camera-frame directions through every pixel centre, with unit depth."""
        key = (cameras.image_size, cameras.fov)
        if key not in self._rays:
            directions = cameras.ray_directions()
            self._rays[key] = (directions / directions[:, 2:3]).astype(np.float32)
        return self._rays[key]

    def render(self, shape: Shape, cameras: Cameras) -> Views:
        with cpu_threads(RENDER_THREADS):
            return self._render(shape, cameras)

    def _render(self, shape: Shape, cameras: Cameras) -> Views:
        from embreex import rtcore_scene
        from embreex.mesh_construction import TriangleMesh

        if shape.mesh is None:
            raise PdError(
                "the mesh renderer needs a shape with a mesh (use the point renderer for point clouds)"
            )
        shape = normalize(shape)
        vertices, faces = shape.mesh.vertices, shape.mesh.faces
        scene = rtcore_scene.EmbreeScene()
        TriangleMesh(scene=scene, vertices=vertices, indices=faces.astype(np.int32))
        normals = np.cross(
            vertices[faces[:, 1]] - vertices[faces[:, 0]], vertices[faces[:, 2]] - vertices[faces[:, 0]]
        )
        colors = None
        if shape.mesh.vertex_colors is not None:
            colors = shape.mesh.vertex_colors[faces].mean(axis=1)
        size = cameras.image_size
        screen, depth = cameras.project(shape.points)
        eyes, rotations = cameras.eyes().astype(np.float32), cameras.rotations().astype(np.float32)
        rays = self._camera_rays(cameras)
        origins = np.empty_like(rays)
        images = np.empty((len(cameras), size, size, 3), dtype=np.uint8)
        pixel_index = np.empty((len(cameras), size * size), dtype=np.int32)
        visible = np.zeros((len(cameras), shape.n_points), dtype=bool)
        cells = np.floor(screen[..., ::-1]).astype(np.int64)
        for k in range(len(cameras)):
            directions = rays @ rotations[k]
            origins[:] = eyes[k]
            hits = scene.run(origins, directions, output=1)
            face_map = hits["primID"]
            pixel_index[k] = face_map
            hit = face_map >= 0
            zbuffer = np.where(hit, hits["tfar"], np.float32(np.inf))  # depth: the rays have unit depth
            inside = (cells[k] >= 0).all(-1) & (cells[k] < size).all(-1)
            cell = np.clip(cells[k], 0, size - 1)
            front = zbuffer[cell[:, 0] * size + cell[:, 1]]
            visible[k] = inside & (depth[k] <= front * (1 + self.tolerance))
            seen = face_map[hit]
            # Each hit as seen from an eye at the origin, along its ray: the headlight shines back
            # along the ray.
            face_colors = None if colors is None else colors[seen]
            shaded = _shade(face_colors, normals[seen], directions[hit], np.zeros(3))
            image = images[k].reshape(-1, 3)
            image[:] = BACKGROUND
            image[hit] = shaded
        return Views(
            images, pixel_index.reshape(len(cameras), size, size), "face", screen, depth, visible, cameras
        )
