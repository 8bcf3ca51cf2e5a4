"""The teacher interface: rendered views and a category in, 2D part predictions out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from partdistill.distill.render import Views
from partdistill.prompts import Category
from partdistill.shapes import Shape


@dataclass(frozen=True)
class Prediction:
    """One 2D prediction of a teacher in one view.

    Attributes:
        view: index of the view.
        part: index of the predicted part in the category's parts.
        score: the teacher's confidence in (0, 1].
        box: [4] float32 (x1, y1, x2, y2) in pixels (x = column, y = row), or None.
        mask: [H,W] bool pixel mask, or None. Exactly one of box and mask is set.
    """

    view: int
    part: int
    score: float
    box: np.ndarray | None = None
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        if (self.box is None) == (self.mask is None):
            raise ValueError("a prediction has either a box or a mask")


class Teacher(Protocol):
    """A 2D part predictor. `kind` says whether it predicts boxes or masks."""

    name: str
    kind: str

    def predict(self, views: Views, category: Category, shape: Shape) -> list[Prediction]:
        """Predictions for every view; `shape` is there for the simulated teacher's ground truth."""
        ...
