"""Building blocks for procedural shapes: primitives placed in space, each tagged with a part.

A recipe adds primitives to a `PartMesh` (boxes, tubes along paths, lathed profiles, extruded
outlines); `build()` joins them into one mesh whose every face carries the part it belongs to.
Primitives come from trimesh (with shapely outlines for extrusions and sweeps); only their
placement is done here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import trimesh
from shapely.geometry import Point, Polygon

Vec = Sequence[float] | np.ndarray
RGB = tuple[float, float, float]


@dataclass(frozen=True)
class BuiltMesh:
    """A joined procedural mesh.

    Attributes:
        mesh: all primitives as one trimesh (vertex colours set).
        face_labels: [F] int64 part index of each face.
    """

    mesh: trimesh.Trimesh
    face_labels: np.ndarray


class PartMesh:
    """Collects primitives for one shape, each belonging to one named part."""

    def __init__(self, part_names: Sequence[str]) -> None:
        self.part_names = tuple(part_names)
        self._pieces: list[tuple[trimesh.Trimesh, int]] = []

    def add(self, part: str, mesh: trimesh.Trimesh, color: RGB) -> None:
        """Add a ready mesh to `part`, painted `color`."""
        if part not in self.part_names:
            raise ValueError(f"{part!r} is not one of {self.part_names}")
        mesh = mesh.copy()
        mesh.visual = trimesh.visual.ColorVisuals(
            mesh,
            vertex_colors=np.tile(np.append(np.round(np.asarray(color) * 255), 255), (len(mesh.vertices), 1)),
        )
        self._pieces.append((mesh, self.part_names.index(part)))

    def box(self, part: str, size: Vec, center: Vec, color: RGB, rotation: np.ndarray | None = None) -> None:
        """An axis-aligned box of `size` (x, y, z) at `center`, optionally rotated about its centre."""
        transform = np.eye(4)
        if rotation is not None:
            transform[:3, :3] = rotation
        transform[:3, 3] = center
        self.add(part, trimesh.creation.box(extents=size, transform=transform), color)

    def rod(self, part: str, start: Vec, end: Vec, radius: float, color: RGB, sections: int = 16) -> None:
        """A cylinder from `start` to `end`."""
        self.add(
            part, trimesh.creation.cylinder(radius=radius, segment=[start, end], sections=sections), color
        )

    def cone(self, part: str, base: Vec, tip: Vec, radius: float, color: RGB, sections: int = 24) -> None:
        """A cone standing on a disc of `radius` at `base`, pointing at `tip`."""
        base, tip = np.asarray(base, float), np.asarray(tip, float)
        axis = tip - base
        cone = trimesh.creation.cone(radius=radius, height=float(np.linalg.norm(axis)), sections=sections)
        cone.apply_transform(_align_z(axis, base))
        self.add(part, cone, color)

    def ellipsoid(self, part: str, radii: Vec, center: Vec, color: RGB, subdivisions: int = 2) -> None:
        """An ellipsoid with semi-axes `radii` (x, y, z) at `center`."""
        sphere = trimesh.creation.icosphere(subdivisions=subdivisions)
        sphere.apply_scale(np.asarray(radii, float))
        sphere.apply_translation(center)
        self.add(part, sphere, color)

    def tube(self, part: str, path: Vec, radius: float, color: RGB, sections: int = 10) -> None:
        """A round tube swept along the polyline `path` [K,3] (handles, headbands, wires, frames)."""
        sweep = trimesh.creation.sweep_polygon(
            Point(0.0, 0.0).buffer(radius, max(2, sections // 4)), np.asarray(path)
        )
        self.add(part, sweep, color)

    def lathe(
        self,
        part: str,
        profile: Vec,
        color: RGB,
        center: Vec = (0, 0, 0),
        axis: Vec = (0, 1, 0),
        sections: int = 32,
    ) -> None:
        """A surface of revolution: `profile` [K,2] holds (radius, height) pairs along `axis`."""
        solid = trimesh.creation.revolve(np.asarray(profile, float), sections=sections)
        solid.apply_transform(_align_z(np.asarray(axis, float), np.asarray(center, float)))
        self.add(part, solid, color)

    def slab(
        self,
        part: str,
        outline: Vec,
        thickness: float,
        color: RGB,
        center: Vec = (0, 0, 0),
        rotation: np.ndarray | None = None,
    ) -> None:
        """A flat outline [K,2] in the x-y plane, extruded `thickness` along z about z=0, then placed.

        Used for profiles that boxes do not fit: guitar bodies, blades, pistol frames, fins.
        """
        polygon = Polygon(np.asarray(outline, float)).buffer(0)
        solid = trimesh.creation.extrude_polygon(polygon, thickness)
        solid.apply_translation((0.0, 0.0, -thickness / 2))
        transform = np.eye(4)
        if rotation is not None:
            transform[:3, :3] = rotation
        transform[:3, 3] = center
        solid.apply_transform(transform)
        self.add(part, solid, color)

    def build(self) -> BuiltMesh:
        """Join the primitives; faces keep their part, vertices their colour."""
        if not self._pieces:
            raise ValueError("the shape has no primitives")
        mesh = trimesh.util.concatenate([piece for piece, _ in self._pieces])
        labels = np.concatenate(
            [np.full(len(piece.faces), part, dtype=np.int64) for piece, part in self._pieces]
        )
        return BuiltMesh(mesh=mesh, face_labels=labels)


def rotation(axis: str, degrees: float) -> np.ndarray:
    """The [3,3] rotation by `degrees` about the x, y or z axis."""
    vector = {"x": [1, 0, 0], "y": [0, 1, 0], "z": [0, 0, 1]}[axis]
    return trimesh.transformations.rotation_matrix(np.radians(degrees), vector)[:3, :3]


def arc(
    center: Vec, radius: float, start_deg: float, end_deg: float, plane: str = "xy", steps: int = 16
) -> np.ndarray:
    """Points [steps,3] on a circular arc in the `plane` ("xy", "xz" or "yz") around `center`."""
    angles = np.radians(np.linspace(start_deg, end_deg, steps))
    first, second = ("xyz".index(plane[0]), "xyz".index(plane[1]))
    points = np.tile(np.asarray(center, float), (steps, 1))
    points[:, first] += radius * np.cos(angles)
    points[:, second] += radius * np.sin(angles)
    return points


def _align_z(axis: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """A transform taking +z to `axis` and the origin to `origin`."""
    transform = trimesh.geometry.align_vectors([0.0, 0.0, 1.0], axis / np.linalg.norm(axis))
    transform[:3, 3] = origin
    return transform
