"""What a renderer gives: K views of one shape with a pixel -> point (or face) map, and the renderer seam."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from partdistill.render.cameras import Cameras
from partdistill.shapes import Shape


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
