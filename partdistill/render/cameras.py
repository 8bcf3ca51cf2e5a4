"""Pinhole cameras on a sphere around the shape, in PartSLIP's rig by default.

A camera sits at (elevation, azimuth) on a sphere of radius `distance` and looks at the origin,
with +y up: azimuth 0 and elevation 0 put it on the +z axis, azimuth 90 on +x (PyTorch3D's
`look_at_view_transform` convention, which PartSLIP used). Pixel coordinates follow image
arrays: x is the column and y the row, growing rightwards and downwards, with pixel (row i,
column j) covering [j, j+1) x [i, i+1) -- so its centre is (j + 0.5, i + 0.5). Detector boxes
(x1, y1, x2, y2) use the same coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# PartSLIP's ten (elevation, azimuth) pairs in degrees, distance 2.2, 60 degree field of view.
PARTSLIP_VIEWS: tuple[tuple[float, float], ...] = (
    (10, 0),
    (10, 90),
    (10, 180),
    (10, 270),
    (40, 0),
    (40, 120),
    (40, 240),
    (-20, 60),
    (-20, 180),
    (-20, 300),
)


@dataclass(frozen=True)
class Cameras:
    """K cameras looking at the origin, all with the same lens and square image.

    Attributes:
        elevation: [K] degrees above the x-z plane.
        azimuth: [K] degrees about +y, from +z towards +x.
        distance: distance from the origin (shapes are normalised to the unit sphere).
        fov: vertical (= horizontal) field of view in degrees.
        image_size: image width and height in pixels.
        znear: points closer than this to the camera are not drawn; positive (the GPU z-buffer
            orders depths by their float bits, which holds for positive depths only).
    """

    elevation: np.ndarray
    azimuth: np.ndarray
    distance: float = 2.2
    fov: float = 60.0
    image_size: int = 800
    znear: float = 0.01

    def __post_init__(self) -> None:
        object.__setattr__(self, "elevation", np.asarray(self.elevation, dtype=np.float64).reshape(-1))
        object.__setattr__(self, "azimuth", np.asarray(self.azimuth, dtype=np.float64).reshape(-1))
        if self.elevation.shape != self.azimuth.shape:
            raise ValueError("elevation and azimuth need one value per camera")
        if not self.znear > 0:
            raise ValueError(f"znear must be positive, not {self.znear}")

    def __len__(self) -> int:
        return len(self.elevation)

    @property
    def focal(self) -> float:
        """Focal length in pixels."""
        return (self.image_size / 2) / np.tan(np.radians(self.fov) / 2)

    def eyes(self) -> np.ndarray:
        """[K,3] camera positions."""
        e, a = np.radians(self.elevation), np.radians(self.azimuth)
        return self.distance * np.stack([np.cos(e) * np.sin(a), np.sin(e), np.cos(e) * np.cos(a)], axis=1)

    def rotations(self) -> np.ndarray:
        """[K,3,3] world-to-camera rotations; camera rows are (right, down, forward)."""
        forward = -self.eyes()
        forward /= np.linalg.norm(forward, axis=1, keepdims=True)
        up = np.tile([0.0, 1.0, 0.0], (len(self), 1))
        straight = np.abs(forward[:, 1]) > 1 - 1e-9  # looking straight up or down: pick another up
        up[straight] = [0.0, 0.0, -1.0]
        right = np.cross(forward, up)
        right /= np.linalg.norm(right, axis=1, keepdims=True)
        down = np.cross(forward, right)
        return np.stack([right, down, forward], axis=1)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates [K,N,2] (x = column, y = row) and depth [K,N] of world points [N,3].

        Camera coordinates (x right, y down, z forward: `rotations` applied to the point minus the
        eye), then the perspective division, in float64 rounded once to float32; points no farther
        than znear land on the image centre (their depth says they are not drawn).
        """
        from partdistill.render import kernels

        points = np.ascontiguousarray(points, dtype=np.float64)
        screen = np.empty((len(self), len(points), 2), dtype=np.float32)
        depth = np.empty((len(self), len(points)), dtype=np.float32)
        kernels.project()(
            points, self.eyes(), self.rotations(), self.focal, self.image_size / 2, self.znear, screen, depth
        )
        return screen, depth

    def ray_directions(self) -> np.ndarray:
        """[H*W,3] unit directions, in camera coordinates, through every pixel centre (row-major).

        World directions for camera k are `ray_directions() @ rotations()[k]`.
        """
        size = self.image_size
        rows, cols = np.mgrid[0:size, 0:size]
        camera = np.stack(
            [
                (cols + 0.5 - size / 2) / self.focal,
                (rows + 0.5 - size / 2) / self.focal,
                np.ones((size, size)),
            ],
            axis=-1,
        ).reshape(-1, 3)
        return camera / np.linalg.norm(camera, axis=1, keepdims=True)


def partslip_cameras(image_size: int = 800) -> Cameras:
    """PartSLIP's ten views: distance 2.2, 60 degree field of view, on unit-sphere shapes."""
    elevation, azimuth = zip(*PARTSLIP_VIEWS, strict=True)
    return Cameras(np.array(elevation), np.array(azimuth), image_size=image_size)
