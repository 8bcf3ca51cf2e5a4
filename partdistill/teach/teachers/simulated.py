"""A teacher that reads ground truth and makes the kinds of mistakes a 2D VLM makes, at set rates.

It exists to test and study the distiller: with it, how well a student recovers from a teacher's
errors can be measured against known labels. It is not zero-shot (it reads the shape's part
labels) and refuses unlabelled shapes. A shape's parts are the category's by name: a part the
category lacks is background to it, a category part the shape lacks is never predicted.

What it sees is what the renderer drew: in each view, a part is "visible" where pixels show it
(the label of the point or mesh face at each pixel). Noise model, drawn independently per view
from a generator seeded with (seed, shape) -- so views disagree with each other, as a VLM's do:

- miss: each visible part (at least `min_pixels` pixels) is left undetected with this probability;
- mislabel: a detection is given another part's name (uniformly among the others) with this
  probability;
- grow: each box side moves outwards by U(0, grow) times the box's extent along that axis (a mask
  is dilated by U(0, grow) times the square root of its area, in pixels), reaching into
  neighbouring parts;
- false_rate: each view gets Poisson(false_rate) false predictions: a random part on a random box
  (10-50% of the object's extent) inside the object's bounding box (masks: that box's object pixels);
- confusion: with this probability a shape is one the teacher consistently misreads: two of its
  parts (drawn at random) swap names in every view, the way a VLM can mistake one part for another
  on an unusual shape. Views of such a shape agree with each other; only other shapes disagree.

Scores are U(score_low, score_high) for every prediction, right or wrong, since a real teacher's
confidence does not reveal its mistakes. The clean setting (all rates 0) outlines every visible
part exactly: a mask is the part's pixels, a box the bounding box of those pixels and of the
part's visible points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partdistill.errors import PdError
from partdistill.prompts import Category
from partdistill.render.views import Views
from partdistill.shapes import Shape
from partdistill.teach.teachers.base import Prediction, part_table


@dataclass(frozen=True)
class Noise:
    """Error rates of the simulated teacher (see the module docstring)."""

    miss: float = 0.0
    mislabel: float = 0.0
    grow: float = 0.0
    false_rate: float = 0.0
    confusion: float = 0.0
    score_low: float = 0.5
    score_high: float = 0.95
    min_pixels: int = 20


NOISE_PRESETS: dict[str, Noise] = {
    "clean": Noise(),
    "noisy": Noise(miss=0.15, mislabel=0.15, grow=0.2, false_rate=0.3),
    "harsh": Noise(miss=0.3, mislabel=0.3, grow=0.4, false_rate=0.8),
}


class SimulatedTeacher:
    """Predictions made from ground-truth labels with the errors of `noise`.

    Args:
        kind: "box" (a B-VLM such as GLIP) or "mask" (a P-VLM).
        noise: error rates.
        seed: with the shape's provenance seed (or its point count), fixes every random choice.
        per_instance: boxes go around each connected piece of a part in a view (each leg, each
            wheel), as a detector draws them; False draws one box around all of a part's pixels,
            as this teacher first did, which made a car's wheel box cover its whole body.
    """

    name = "simulated"
    needs_labels = True

    def __init__(
        self, kind: str = "box", noise: Noise = Noise(), seed: int = 0, per_instance: bool = True
    ) -> None:
        if kind not in ("box", "mask"):
            raise ValueError(f"kind must be 'box' or 'mask', not {kind!r}")
        self.kind = kind
        self.noise = noise
        self.seed = seed
        self.per_instance = per_instance

    def predict(self, views: Views, category: Category, shape: Shape) -> list[Prediction]:
        if shape.labels is None:
            raise PdError(
                "The simulated teacher reads ground-truth part labels and this shape has none; "
                "teach unlabelled shapes with a real teacher (grounding-dino, owlv2, clipseg, clip)."
            )
        table = part_table(shape.part_names, category)  # the shape's labels are matched by part name
        labels = _pixel_labels(views, shape, table)
        point_labels = table[shape.labels]
        token = shape.provenance.seed if shape.provenance.seed is not None else shape.n_points
        rng = np.random.default_rng([self.seed, token])
        n_parts = len(category.parts)
        names = np.arange(n_parts)  # the name the teacher gives each part of this shape
        if n_parts > 1 and self.noise.confusion > 0 and rng.random() < self.noise.confusion:
            a, b = rng.choice(n_parts, size=2, replace=False)
            names[[a, b]] = names[[b, a]]
        predictions: list[Prediction] = []
        for k in range(views.n_views):
            seen = views.visible[k]
            points = [views.screen[k, seen & (point_labels == p)] for p in range(n_parts)]
            predictions += self._view(k, labels[k], points, names, rng)
        return predictions

    def _view(
        self,
        k: int,
        labels: np.ndarray,
        points: list[np.ndarray],
        names: np.ndarray,
        rng: np.random.Generator,
    ) -> list[Prediction]:
        """Predictions for view k from its pixel labels [H,W], each part's visible points' positions,
        and the name the teacher gives each part of this shape."""
        noise = self.noise
        n_parts = len(points)
        out = []
        for part in range(n_parts):
            for region, region_points in self._instances(labels == part, points[part]):
                if region.sum() < noise.min_pixels or rng.random() < noise.miss:
                    continue
                said = int(names[part])
                if n_parts > 1 and rng.random() < noise.mislabel:
                    said = int(rng.choice([p for p in range(n_parts) if p != said]))
                out.append(self._prediction(k, said, region, rng, part_points=region_points))
        foreground = labels >= 0
        if foreground.any():
            rows, cols = np.nonzero(foreground)
            top, left, bottom, right = rows.min(), cols.min(), rows.max() + 1, cols.max() + 1
            for _ in range(rng.poisson(noise.false_rate)):
                height = max(1, int(rng.uniform(0.1, 0.5) * (bottom - top)))
                width = max(1, int(rng.uniform(0.1, 0.5) * (right - left)))
                y = int(rng.integers(top, bottom - height + 1))
                x = int(rng.integers(left, right - width + 1))
                region = np.zeros_like(foreground)
                region[y : y + height, x : x + width] = True
                if self.kind == "mask":
                    region &= foreground
                out.append(self._prediction(k, int(rng.integers(n_parts)), region, rng, grow=False))
        return out

    def _instances(self, region: np.ndarray, points: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """The pieces of one part's pixels a detector would box separately, each with its visible
        points [M,2]: for boxes, every connected piece (a chair's four legs are four boxes, as a
        real detector draws them); for masks, the part's pixels as one."""
        if self.kind == "mask" or not self.per_instance:
            return [(region, points)]
        from scipy.ndimage import label

        pieces, count = label(region, structure=np.ones((3, 3), dtype=bool))
        size = region.shape[0]
        cells = np.clip(np.floor(points).astype(np.int64), 0, size - 1)
        owner = pieces[cells[:, 1], cells[:, 0]]  # the piece a point's own pixel belongs to
        lost = np.flatnonzero(owner == 0)  # points whose own pixel another part's point won
        if len(lost) and count:
            # Such a point goes to the piece whose pixels' bounding box lies nearest it.
            from scipy.ndimage import find_objects

            boxes = np.array([[s[1].start, s[0].start, s[1].stop, s[0].stop] for s in find_objects(pieces)])
            gap_x = np.maximum(
                boxes[None, :, 0] - points[lost, None, 0], points[lost, None, 0] - boxes[None, :, 2]
            )
            gap_y = np.maximum(
                boxes[None, :, 1] - points[lost, None, 1], points[lost, None, 1] - boxes[None, :, 3]
            )
            owner[lost] = 1 + np.argmin(np.maximum(gap_x, 0) ** 2 + np.maximum(gap_y, 0) ** 2, axis=1)
        return [(pieces == piece, points[owner == piece]) for piece in range(1, count + 1)]

    def _prediction(
        self,
        k: int,
        part: int,
        region: np.ndarray,
        rng: np.random.Generator,
        grow: bool = True,
        part_points: np.ndarray | None = None,
    ) -> Prediction:
        """A prediction of `part` on `region`; a box also holds `part_points` [M,2] by half a pixel."""
        noise = self.noise
        score = float(rng.uniform(noise.score_low, noise.score_high))
        size = region.shape[0]
        if self.kind == "mask":
            if grow and noise.grow > 0:
                from scipy.ndimage import binary_dilation

                steps = round(rng.uniform(0, noise.grow) * np.sqrt(region.sum()))
                if steps:
                    region = binary_dilation(region, iterations=steps)
            return Prediction(view=k, part=part, score=score, mask=region)
        rows, cols = np.nonzero(region)
        x1, y1, x2, y2 = float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)
        if part_points is not None and len(part_points):
            # A visible point can sit just outside the pixels it won (splats overlap): keep it inside.
            x1, y1 = (
                min(x1, float(part_points[:, 0].min()) - 0.5),
                min(y1, float(part_points[:, 1].min()) - 0.5),
            )
            x2, y2 = (
                max(x2, float(part_points[:, 0].max()) + 0.5),
                max(y2, float(part_points[:, 1].max()) + 0.5),
            )
        if grow and noise.grow > 0:
            w, h = x2 - x1, y2 - y1
            x1 -= rng.uniform(0, noise.grow) * w
            x2 += rng.uniform(0, noise.grow) * w
            y1 -= rng.uniform(0, noise.grow) * h
            y2 += rng.uniform(0, noise.grow) * h
        box = np.clip(np.array([x1, y1, x2, y2], dtype=np.float32), 0, size)
        return Prediction(view=k, part=part, score=score, box=box)


def _pixel_labels(views: Views, shape: Shape, table: np.ndarray) -> np.ndarray:
    """[K,H,W] int64 ground-truth part at each pixel as the category's part index (`table` maps
    the shape's labels to it; -1 = background, unlabelled, or a part the category lacks)."""
    index = views.pixel_index
    if views.pixel_kind == "point":
        labels = shape.labels
    else:
        if shape.mesh is None or shape.mesh.face_labels is None:
            raise PdError("the simulated teacher needs per-face labels to read mesh renders")
        labels = shape.mesh.face_labels
    return np.where(index >= 0, table[labels][np.maximum(index, 0)], -1)
