"""PartDistill's released knowledge format (`<synset>/<id>/extracted/preprocess.h5`), in and out.

Layout (reference repository, data_format.md and data.py):

    xyz              [n_pts, 3]              the shape's points
    cls_bbox         [1, U]                  part of each unit (0..C-1)
    conf_bbox        [n_pts, U, C]           unit u's score at its points, in its part's slot; 0 elsewhere
    gt_semantic_seg  [n_pts]                 ShapeNetPart global part ids (used for evaluation only)
    cls_view         [n_view, n_pts, n_pred] per-view predictions: prediction j of view v covers the
    conf_view        [n_view, n_pts, n_pred, C]  points where conf_view[v, :, j] is non-zero; the
                                             reference code reads them only to drop shapes with none

Importing turns each non-empty unit into a `Knowledge` unit. Its score is the mean of its
non-zero entries, which are equal in files written from boxes; where a file's confidences vary
inside a unit, each point keeps its own (`Knowledge.point_scores`), as the reference loss weighs
them. A unit takes the view of the view-wise prediction that covers the same points with the same
part (`unit_views`), so that `pd distill --mode tta` can hold views out; a unit no view-wise
prediction matches, or every unit of a file without them, has view -1 (unknown). Exporting writes
the same layout (units of unknown view under view 0: the reference code drops a shape without
view-wise predictions), so the authors' GLIP knowledge and any other tool's can be distilled, and
ours read by their code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from partdistill.errors import PdError
from partdistill.files import MAX_H5_VALUES, atomic_path, files_under, open_h5, read_h5_numbers
from partdistill.knowledge.units import MAX_UNITS, Knowledge
from partdistill.prompts import Category, find_category
from partdistill.shapes import MAX_POINTS, Provenance, Shape

FILE_NAME = "preprocess.h5"


def category_from_path(path: Path) -> Category:
    """The ShapeNetPart category named by the synset folder of `<synset>/<id>/extracted/preprocess.h5`."""
    for folder in path.resolve().parents:
        if folder.name.isdigit() and len(folder.name) == 8:
            return find_category(folder.name)
    raise PdError(
        f"{path} is not under a ShapeNet synset folder (<synset>/<id>/extracted/): pass the category."
    )


def shape_id_from_path(path: Path) -> str:
    """`<synset>/<id>` for a file at `<synset>/<id>/extracted/preprocess.h5`."""
    shape_dir = path.parent.parent if path.parent.name == "extracted" else path.parent
    return f"{shape_dir.parent.name}/{shape_dir.name}"


def read_partdistill_h5(path: str | Path, category: Category | None = None) -> tuple[Shape, Knowledge]:
    """The shape (points, and ground-truth labels when present) and the units of one file."""
    path = Path(path)
    category = category or category_from_path(path)
    source = str(path)
    with open_h5(path, "a readable PartDistill preprocess.h5") as data:
        xyz = read_h5_numbers(data, "xyz", source, 3 * MAX_POINTS).astype(np.float32)
        cls_bbox = read_h5_numbers(data, "cls_bbox", source, MAX_UNITS, whole=True).reshape(-1)
        conf_bbox = read_h5_numbers(data, "conf_bbox", source, MAX_H5_VALUES).astype(np.float32)
        gt = read_h5_numbers(data, "gt_semantic_seg", source, MAX_POINTS, whole=True, required=False)
        conf_view = read_h5_numbers(data, "conf_view", source, MAX_H5_VALUES, required=False)
    n, parts = len(xyz), len(category.parts)
    if n == 0:
        raise PdError(f"{path}: xyz holds no points.")
    slots_ok = conf_bbox.ndim == 3 and 1 <= conf_bbox.shape[2] <= parts  # an empty last axis has no max
    if not slots_ok or conf_bbox.shape[:2] != (n, len(cls_bbox)):
        raise PdError(
            f"{path}: conf_bbox has shape {list(conf_bbox.shape)}, "
            f"expected [{n}, {len(cls_bbox)}, 1 to {parts}]."
        )
    if not ((conf_bbox >= 0) & (conf_bbox <= 1)).all():  # NaN fails both
        raise PdError(f"{path}: conf_bbox must hold confidences from 0 to 1.")
    confidence = conf_bbox.max(axis=2)  # [n, U], the loss's conf_{i,u}
    present = confidence > 0
    members, unit_parts, scores, point_scores = [], [], [], []
    for unit in np.flatnonzero(present.any(axis=0)):
        points = np.flatnonzero(present[:, unit])
        members.append(points)
        unit_parts.append(int(cls_bbox[unit]))
        point_scores.append(confidence[points, unit])
        scores.append(float(point_scores[-1].mean()))
    varies = any(np.ptp(values) > 0 for values in point_scores)  # files written from boxes: never
    views = unit_views(conf_view, members, unit_parts, n, parts, path)
    labels = None
    if gt is not None:
        first = category.parts[0].global_id or 0
        labels = gt.reshape(-1) - first
        if labels.min() < 0 or labels.max() >= parts:
            raise PdError(
                f"{path}: gt_semantic_seg holds part ids outside "
                f"{category.title}'s {first}..{first + parts - 1}."
            )
    try:
        knowledge = Knowledge.from_units(
            n,
            category.part_names,
            members,
            unit_parts,
            scores,
            views,
            point_scores=point_scores if varies else None,
        )
        shape = Shape(
            points=xyz,
            labels=labels,
            part_names=category.part_names if labels is not None else (),
            category=category.name,
            provenance=Provenance("partdistill-h5", source=str(path)),
        )
    except (ValueError, PdError) as error:
        raise PdError(f"{path}: {error}") from error
    return shape, knowledge


def unit_views(
    conf_view: np.ndarray | None,
    members: list[np.ndarray],
    parts: list[int],
    n_points: int,
    n_parts: int,
    path: Path,
) -> list[int]:
    """The view each unit (`members`, `parts`: its points and part, from conf_bbox) came from: that
    of a view-wise prediction in `conf_view` [n_view, n_points, n_pred, <= n_parts] covering the
    same points with the same part, each prediction given to one unit at most; -1 where none does,
    and for every unit when the file has no view-wise predictions."""
    if conf_view is None or conf_view.size == 0:
        return [-1] * len(members)
    if conf_view.ndim != 4 or conf_view.shape[1] != n_points or not 1 <= conf_view.shape[3] <= n_parts:
        raise PdError(
            f"{path}: conf_view has shape {list(conf_view.shape)}, "
            f"expected [views, {n_points}, predictions, 1 to {n_parts}]."
        )
    if not ((conf_view >= 0) & (conf_view <= 1)).all():  # NaN fails both
        raise PdError(f"{path}: conf_view must hold confidences from 0 to 1.")
    predicted: dict[tuple[int, bytes], list[int]] = {}  # (part, points) -> the views predicting them
    for view in range(conf_view.shape[0]):
        present = conf_view[view].max(axis=2) > 0  # [n_points, n_pred]
        for j in np.flatnonzero(present.any(axis=0)):
            points = np.flatnonzero(present[:, j])
            part = int(conf_view[view, points, j].sum(axis=0).argmax())
            predicted.setdefault((part, points.astype(np.int64).tobytes()), []).append(view)
    views = []
    for points, part in zip(members, parts, strict=True):
        found = predicted.get((int(part), np.asarray(points, dtype=np.int64).tobytes()))
        views.append(found.pop(0) if found else -1)
    return views


def write_partdistill_h5(path: str | Path, shape: Shape, knowledge: Knowledge, category: Category) -> None:
    """Write `shape` and its units in PartDistill's layout, atomically."""
    import h5py

    knowledge.require_points(shape.n_points, str(path))
    n, parts = shape.n_points, len(category.parts)
    views = np.maximum(knowledge.views, 0)
    n_view = int(views.max()) + 1 if knowledge.n_units else 1
    per_view = [np.flatnonzero(views == v) for v in range(n_view)]
    confidence = knowledge.entry_scores()
    n_pred = max((len(units) for units in per_view), default=0)
    cls_view = np.full((n_view, n, n_pred), -1, dtype=np.int64)
    conf_view = np.zeros((n_view, n, n_pred, parts), dtype=np.float32)
    for v, units in enumerate(per_view):
        for j, unit in enumerate(units):
            cls_view[v, :, j] = knowledge.parts[unit]
            entries = slice(knowledge.offsets[unit], knowledge.offsets[unit + 1])
            conf_view[v, knowledge.members(unit), j, knowledge.parts[unit]] = confidence[entries]
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as out:
        out["xyz"] = shape.points
        out["cls_bbox"] = knowledge.parts[None, :]
        out["conf_bbox"] = knowledge.dense()
        if shape.labels is not None:
            out["gt_semantic_seg"] = shape.labels + (category.parts[0].global_id or 0)
        out["cls_view"] = cls_view
        out["conf_view"] = conf_view


def find_h5_files(root: str | Path, required: bool = True) -> list[Path]:
    """Every preprocess.h5 under `root` (any depth), sorted; a link under `root` that leads out of
    it is refused (`files_under`). None found is a PdError where `required`."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise PdError(f"{root} does not exist: expected a folder of PartDistill preprocess.h5 files.")
    files = files_under(root, FILE_NAME)
    if not files and required:
        raise PdError(f"{root} holds no {FILE_NAME} files (expected <synset>/<id>/extracted/{FILE_NAME}).")
    return files
