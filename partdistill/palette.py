"""Colours that tell parts apart, shared by PLY files, plots and contact sheets."""

from __future__ import annotations

import numpy as np

# Twelve well-separated hues (first six strong, then lighter companions); part i gets entry i mod 12.
_PALETTE = np.array(
    [
        [230, 25, 75],
        [60, 180, 75],
        [0, 130, 200],
        [245, 130, 48],
        [145, 30, 180],
        [70, 200, 200],
        [240, 50, 230],
        [170, 110, 40],
        [128, 128, 0],
        [0, 0, 128],
        [250, 190, 212],
        [255, 215, 0],
    ],
    dtype=np.uint8,
)
NO_PART = np.array([200, 200, 200], dtype=np.uint8)


def part_colors(labels: np.ndarray) -> np.ndarray:
    """[N,3] uint8 RGB for part labels [N] (-1 = no part, drawn light grey)."""
    labels = np.asarray(labels)
    colors = _PALETTE[np.maximum(labels, 0) % len(_PALETTE)]
    colors[labels < 0] = NO_PART
    return colors


def part_color(index: int) -> tuple[float, float, float]:
    """The colour of part `index` as RGB floats in [0,1] (for matplotlib)."""
    r, g, b = (part_colors(np.array([index]))[0] / 255.0).tolist()
    return (r, g, b)
