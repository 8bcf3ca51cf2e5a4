"""The teacher interface: rendered views and a category in, 2D part predictions out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from partdistill.prompts import Category
from partdistill.render.views import Views
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
    """A 2D part predictor. `kind` says whether it predicts boxes or masks; `needs_labels`, whether
    it reads the shapes' ground truth (the simulated teacher does)."""

    name: str
    kind: str
    needs_labels: bool

    def predict(self, views: Views, category: Category, shape: Shape) -> list[Prediction]:
        """Predictions for every view; `shape` is there for the simulated teacher's ground truth."""
        ...


def part_table(part_names: tuple[str, ...], category: Category) -> np.ndarray:
    """[len(part_names) + 1] int64: for each of a shape's part names, the index of the category's
    part of that name, -1 where the category has none. Its last entry, -1, takes the label -1 (no
    part) to itself, so `part_table(shape.part_names, category)[shape.labels]` relabels a shape.

    A shape's labels index its own part names, which need not be the category's or in its order
    (procedural chairs are back, seat, leg, arm; PartNetE's chair is arm, back, leg, seat, wheel).
    """
    index = {name: i for i, name in enumerate(category.part_names)}
    return np.array([index.get(name, -1) for name in part_names] + [-1], dtype=np.int64)


def labels_in_category(shape: Shape, category: Category) -> np.ndarray | None:
    """The shape's labels as indices of `category`'s parts, matched by name (`part_table`); None
    for an unlabelled shape."""
    return None if shape.labels is None else part_table(shape.part_names, category)[shape.labels]


GLIP_NMS = 0.6  # GLIP's ATSS post-processor suppresses same-class boxes overlapping by more than this


def suppress_duplicates(predictions: list[Prediction], iou: float) -> list[Prediction]:
    """Class-wise non-maximum suppression of box predictions, per view, as GLIP's post-processor.

    Of boxes of the same part in the same view that overlap with an IoU above `iou`, only the most
    confident is kept (`iou` >= 1 keeps everything). Mask predictions pass through; the order of
    the kept predictions is kept.
    """
    import torch
    from torchvision.ops import batched_nms

    boxes = [i for i, p in enumerate(predictions) if p.box is not None]
    if len(boxes) < 2 or iou >= 1:
        return predictions
    kept = batched_nms(
        torch.from_numpy(np.stack([predictions[i].box for i in boxes]).astype(np.float32)),
        torch.tensor([predictions[i].score for i in boxes], dtype=torch.float32),
        torch.tensor([predictions[i].view * 100_000 + predictions[i].part for i in boxes]),
        iou,
    )
    dropped = set(boxes) - {boxes[i] for i in kept.tolist()}
    return [p for i, p in enumerate(predictions) if i not in dropped]
