"""Shared helpers for recipes, beyond the kit's primitives.

2D outlines are built with shapely (ellipses, rounded rectangles, unions and cut-outs) and extruded
with `prism`, which, unlike `PartMesh.slab`, keeps holes and several pieces. `hull` wraps points in
a convex hull (bag bodies, tapered blocks); `revolved` is a lathed mesh a recipe can still bend or
scale (`deformed`) before adding it; `band` is a flat strap along a path; `boxes` adds many equal
boxes as one mesh; `wheel` is a tyre with a hub, turning about z; `choose` draws a weighted style.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import trimesh
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from partdistill.synth.procedural.kit import RGB, PartMesh, Vec


def ellipse(cx: float, cy: float, rx: float, ry: float, steps: int = 32) -> Polygon:
    """An ellipse with semi-axes `rx`, `ry` centred at (`cx`, `cy`)."""
    angles = np.linspace(0.0, 2 * np.pi, steps, endpoint=False)
    return Polygon(np.column_stack([cx + rx * np.cos(angles), cy + ry * np.sin(angles)]))


def rounded_box(x0: float, y0: float, x1: float, y1: float, radius: float) -> Polygon:
    """The rectangle [x0,x1] x [y0,y1] with all corners rounded by `radius`."""
    radius = min(radius, (x1 - x0) / 2 * 0.99, (y1 - y0) / 2 * 0.99)
    core = Polygon(
        [
            (x0 + radius, y0 + radius),
            (x1 - radius, y0 + radius),
            (x1 - radius, y1 - radius),
            (x0 + radius, y1 - radius),
        ]
    )
    return core.buffer(radius, quad_segs=4) if radius > 0 else core


def smooth(geometry: BaseGeometry, radius: float) -> BaseGeometry:
    """Round the concave corners of `geometry` (a morphological closing by `radius`)."""
    return geometry.buffer(radius, quad_segs=4).buffer(-radius, quad_segs=4)


def polygons(geometry: BaseGeometry) -> list[Polygon]:
    """The non-empty polygons of a shapely result (a Polygon, MultiPolygon or collection)."""
    if isinstance(geometry, Polygon):
        return [geometry] if not geometry.is_empty else []
    if isinstance(geometry, MultiPolygon) or hasattr(geometry, "geoms"):
        return [g for part in geometry.geoms for g in polygons(part)]
    return []


def prism(
    kit: PartMesh,
    part: str,
    geometry: BaseGeometry | Vec,
    thickness: float,
    color: RGB,
    center: Vec = (0, 0, 0),
    rotation: np.ndarray | None = None,
) -> None:
    """Like `PartMesh.slab` for any shapely geometry (or outline): extruded along z about z=0, then placed."""
    if not isinstance(geometry, BaseGeometry):
        geometry = Polygon(np.asarray(geometry, float)).buffer(0)
    transform = np.eye(4)
    if rotation is not None:
        transform[:3, :3] = rotation
    transform[:3, 3] = center
    for polygon in polygons(geometry):
        if polygon.area < 1e-9:
            continue
        solid = trimesh.creation.extrude_polygon(polygon.simplify(1e-5), thickness)
        solid.apply_translation((0.0, 0.0, -thickness / 2))
        solid.apply_transform(transform)
        kit.add(part, solid, color)


def hull(kit: PartMesh, part: str, points: Vec, color: RGB) -> None:
    """The convex hull of `points` [K,3]."""
    kit.add(part, trimesh.convex.convex_hull(np.asarray(points, float)), color)


def revolved(
    profile: Vec, center: Vec = (0, 0, 0), axis: Vec = (0, 1, 0), sections: int = 32
) -> trimesh.Trimesh:
    """The lathed mesh of `PartMesh.lathe`, returned for the recipe to reshape before `kit.add`."""
    solid = trimesh.creation.revolve(np.asarray(profile, float), sections=sections)
    transform = trimesh.geometry.align_vectors(
        [0.0, 0.0, 1.0], np.asarray(axis, float) / np.linalg.norm(axis)
    )
    transform[:3, 3] = center
    solid.apply_transform(transform)
    return solid


def deformed(mesh: trimesh.Trimesh, warp: Callable[[np.ndarray], np.ndarray]) -> trimesh.Trimesh:
    """A copy of `mesh` with its vertices [V,3] moved by `warp` (bends, shears, tapers)."""
    mesh = mesh.copy()
    mesh.vertices = warp(np.array(mesh.vertices))
    return mesh


def wheel(
    kit: PartMesh,
    part: str,
    center: Vec,
    radius: float,
    width: float,
    tyre: RGB,
    hub: RGB,
    *,
    rim: float = 0.65,
    sections: int = 24,
) -> None:
    """A wheel turning about z: a rounded tyre of `width` and a recessed hub of `rim` x `radius`."""
    half, bevel, inner = width / 2, min(width, radius) * 0.25, radius * rim
    tyre_profile = [
        (inner, -half * 0.9),
        (radius - bevel, -half),
        (radius, -half + bevel),
        (radius, half - bevel),
        (radius - bevel, half),
        (inner, half * 0.9),
    ]
    kit.add(part, revolved(tyre_profile + [tyre_profile[0]], center, (0, 0, 1), sections), tyre)
    hub_profile = [
        (0.0, -half * 0.6),
        (inner * 1.02, -half * 0.8),
        (inner * 1.02, half * 0.8),
        (0.0, half * 0.6),
    ]
    kit.add(part, revolved(hub_profile, center, (0, 0, 1), sections), hub)


def band(
    kit: PartMesh, part: str, path: Vec, width: float, thickness: float, across: Vec, color: RGB
) -> None:
    """A flat strip along the polyline `path` [K,3], `width` wide along `across` (straps, fenders)."""
    path = np.asarray(path, float)
    across = np.asarray(across, float) / np.linalg.norm(across)
    tangents = np.gradient(path, axis=0)
    normals = np.cross(tangents, across)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    vertices = np.concatenate(
        [path + a * across * width / 2 + n * normals * thickness / 2 for a, n in corners], axis=0
    )
    steps = len(path)
    faces = []
    for side in range(4):
        first, second = side * steps, ((side + 1) % 4) * steps
        for i in range(steps - 1):
            faces += [(first + i, second + i, second + i + 1), (first + i, second + i + 1, first + i + 1)]
    for end, flip in ((0, False), (steps - 1, True)):
        quad = [c * steps + end for c in range(4)]
        cap = [(quad[0], quad[2], quad[1]), (quad[0], quad[3], quad[2])]
        faces += [tuple(reversed(f)) for f in cap] if flip else cap
    mesh = trimesh.Trimesh(vertices, np.array(faces), process=False)
    trimesh.repair.fix_normals(mesh)
    kit.add(part, mesh, color)


def choose(rng: np.random.Generator, options: dict[str, float]) -> str:
    """One of `options` (name -> weight), drawn with one uniform number.

    Used for a recipe's first, style-setting draw: `Generator.integers` maps the first draws of
    small consecutive seeds (0, 1, 2, ...) unevenly, `random()` spreads them well.
    """
    names = list(options)
    weights = np.cumsum([options[name] for name in names], dtype=float)
    return names[int(np.searchsorted(weights, rng.random() * weights[-1], side="right"))]


def boxes(kit: PartMesh, part: str, size: Vec, centers: Vec, color: RGB) -> None:
    """Many equal axis-aligned boxes of `size` at `centers` [K,3], added as one mesh (keycaps, studs)."""
    unit = trimesh.creation.box(extents=size)
    centers = np.asarray(centers, float)
    vertices = (unit.vertices[None] + centers[:, None]).reshape(-1, 3)
    faces = (unit.faces[None] + len(unit.vertices) * np.arange(len(centers))[:, None, None]).reshape(-1, 3)
    kit.add(part, trimesh.Trimesh(vertices, faces, process=False), color)
