"""Pictures of shapes for people: point clouds drawn from a three-quarter view, coloured by part.

Points are projected orthographically and painted back to front (a painter's algorithm on the
points), which reads as a solid object and is far faster than matplotlib's 3D axes.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partdistill.files import atomic_path
from partdistill.palette import part_color, part_colors
from partdistill.shapes import Shape, normalize

ELEVATION, AZIMUTH = 20.0, 35.0  # the three-quarter view, in degrees
PANEL_POINTS = 6000  # points drawn per panel at most (a random subset of bigger shapes)


@dataclass(frozen=True)
class Panel:
    """One drawing in a figure.

    Attributes:
        shape: the shape to draw.
        title: the caption above it.
        labels: [N] int64 part labels to colour by (-1 grey); None uses the shape's own labels,
            or its colours when it has none.
    """

    shape: Shape
    title: str = ""
    labels: np.ndarray | None = None


def _view(points: np.ndarray, elevation: float, azimuth: float) -> tuple[np.ndarray, np.ndarray]:
    """Screen coordinates [N,2] and depth [N] of points seen from (elevation, azimuth) in degrees."""
    a, e = np.radians(azimuth), np.radians(elevation)
    turn = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
    tilt = np.array([[1, 0, 0], [0, np.cos(e), -np.sin(e)], [0, np.sin(e), np.cos(e)]])
    camera = points @ turn.T @ tilt.T
    return camera[:, :2], camera[:, 2]


def _colors(panel: Panel) -> np.ndarray:
    labels = panel.labels if panel.labels is not None else panel.shape.labels
    if labels is not None:
        return part_colors(labels) / 255.0
    if panel.shape.colors is not None:
        return panel.shape.colors
    return np.full((panel.shape.n_points, 3), 0.6)


def save_panels(
    panels: Sequence[Panel],
    path: str | Path,
    *,
    columns: int = 4,
    part_names: Sequence[str] = (),
    title: str | None = None,
) -> None:
    """Draw `panels` in a grid and save a PNG, atomically; `part_names` adds a colour legend."""
    # The figure API, not pyplot: pyplot would need its backend switched to draw off screen, which
    # would switch the caller's too (a notebook's inline plots stop showing).
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    columns = max(1, min(columns, len(panels)))
    rows = (len(panels) + columns - 1) // columns
    figure = Figure(figsize=(3.2 * columns, 3.2 * rows + 0.4))
    axes = figure.subplots(rows, columns, squeeze=False)
    for axis in axes.flat:
        axis.set_axis_off()
    rng = np.random.default_rng(0)
    for axis, panel in zip(axes.flat, panels, strict=False):
        shape = normalize(panel.shape)
        keep = np.arange(shape.n_points)
        if shape.n_points > PANEL_POINTS:
            keep = np.sort(rng.choice(shape.n_points, PANEL_POINTS, replace=False))
        screen, depth = _view(shape.points[keep], ELEVATION, AZIMUTH)
        order = np.argsort(depth)  # far first; the camera looks down -z
        colors = _colors(panel)[keep]
        if shape.normals is not None:  # a headlight: brightest where the surface faces the viewer
            _, lit = _view(shape.normals[keep], ELEVATION, AZIMUTH)
            norms = np.linalg.norm(shape.normals[keep], axis=1) + 1e-9
            colors = colors * (0.55 + 0.45 * np.abs(lit / norms))[:, None]
        axis.scatter(screen[order, 0], screen[order, 1], c=colors[order], s=2.0, linewidths=0)
        axis.set_aspect("equal")
        axis.set_xlim(-1.05, 1.05)
        axis.set_ylim(-1.05, 1.05)
        axis.set_title(_printable(panel.title), fontsize=8)
    if part_names:
        handles = [Patch(color=part_color(i), label=_printable(name)) for i, name in enumerate(part_names)]
        figure.legend(
            handles=handles, loc="lower center", ncol=min(len(handles), 6), fontsize=8, frameon=False
        )
    top = 1.0
    if title:
        figure.suptitle(_printable(title), fontsize=10)
        top = 1 - 0.4 / figure.get_figheight()  # the title's own band, above the panels' captions
    with warnings.catch_warnings():
        # A name in a script the font lacks is drawn as boxes: one warning per letter says so.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        figure.tight_layout(rect=(0, 0.05 if part_names else 0, 1, top))
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=100)


def _printable(text: str) -> str:
    """`text` as matplotlib can draw it: a file name's undecodable bytes (lone surrogates) are
    shown as escapes such as \\udcff instead of failing the whole figure."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
