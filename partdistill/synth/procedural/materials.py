"""Colours of the materials procedural shapes are painted with (RGB in [0,1])."""

from __future__ import annotations

import numpy as np

from partdistill.synth.procedural.kit import RGB

WOOD: tuple[RGB, ...] = ((0.55, 0.35, 0.2), (0.72, 0.53, 0.34), (0.4, 0.26, 0.13), (0.8, 0.65, 0.45))
METAL: tuple[RGB, ...] = ((0.6, 0.6, 0.62), (0.75, 0.75, 0.78), (0.3, 0.3, 0.32), (0.85, 0.8, 0.6))
PAINT: tuple[RGB, ...] = (
    (0.8, 0.1, 0.1),
    (0.1, 0.3, 0.7),
    (0.95, 0.95, 0.95),
    (0.1, 0.1, 0.1),
    (0.2, 0.55, 0.25),
    (0.95, 0.75, 0.1),
    (0.5, 0.5, 0.5),
)
FABRIC: tuple[RGB, ...] = (
    (0.3, 0.3, 0.6),
    (0.6, 0.2, 0.2),
    (0.4, 0.4, 0.4),
    (0.8, 0.75, 0.65),
    (0.2, 0.4, 0.3),
)
RUBBER: RGB = (0.08, 0.08, 0.08)


def pick(rng: np.random.Generator, colors: tuple[RGB, ...]) -> RGB:
    """One colour of `colors`, drawn with `rng`, slightly varied so that no two shapes match exactly."""
    base = np.asarray(colors[int(rng.integers(len(colors)))])
    r, g, b = np.clip(base + rng.normal(0.0, 0.03, 3), 0.0, 1.0).tolist()
    return (r, g, b)
