"""Lifting: a teacher's 2D boxes and masks in rendered views become knowledge units on the 3D points.

A point belongs to a box or mask prediction of view k when it is visible in view k and its pixel
falls inside the box or mask: PartSLIP's rule (details in `lift`).
"""

from __future__ import annotations

import numpy as np

from partdistill.knowledge.units import Knowledge
from partdistill.render.views import Views
from partdistill.teach.teachers.base import Prediction

WHOLE_OBJECT = 0.98  # PartSLIP ignores a box holding >= 98% of the shape's projected points


def lift(
    views: Views,
    predictions: list[Prediction],
    part_names: tuple[str, ...],
    whole_object: float = WHOLE_OBJECT,
) -> Knowledge:
    """Lift 2D predictions to knowledge units over the shape's points.

    Box: the visible points whose projection lies strictly inside it (PartSLIP); a box holding the
    projections of at least `whole_object` of the shape's points, visible or not, is dropped as a
    whole-object box (PartSLIP's bbox2seg divides by all projected points). Mask: the
    visible points whose pixel is in it -- for point renders, the pixels a point won in the
    z-buffer; for mesh renders, the pixel its projection falls in. Predictions that cover no
    visible point make no unit.
    """
    members, parts, scores, unit_views = [], [], [], []
    pixels = views.pixels() if views.pixel_kind == "face" else None
    for prediction in predictions:
        k = prediction.view
        if prediction.box is not None:
            x1, y1, x2, y2 = prediction.box
            x, y = views.screen[k, :, 0], views.screen[k, :, 1]
            in_box = (x > x1) & (x < x2) & (y > y1) & (y < y2)
            if in_box.mean() >= whole_object:  # of all the shape's points, seen or hidden (PartSLIP)
                continue
            inside = np.flatnonzero(in_box & views.visible[k])
        elif pixels is None:  # point render: the points owning a mask pixel
            owners = views.pixel_index[k][prediction.mask]
            inside = np.unique(owners[owners >= 0])
        else:
            seen = np.flatnonzero(views.visible[k])
            inside = seen[prediction.mask[pixels[k, seen, 0], pixels[k, seen, 1]]]
        if len(inside) == 0:
            continue
        members.append(inside)
        parts.append(prediction.part)
        scores.append(prediction.score)
        unit_views.append(k)
    return Knowledge.from_units(views.screen.shape[1], part_names, members, parts, scores, unit_views)
