"""Knowledge units: 2D teacher predictions lifted onto a shape's 3D points, stored sparsely.

A unit is (the points one 2D prediction covers, its part, its score); `partdistill.teach.lift`
makes them from a teacher's boxes and masks. A shape's units are kept as one CSR-style index list
(PartDistill's reference code keeps a dense [points, units, parts] float32 array per shape: parts /
(the share of the points a unit covers) times larger, 42x on the median of 48 procedural chairs
taught at the defaults).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from partdistill.errors import PdError, first_few

MAX_UNITS = 100_000  # units one shape's file may declare (PartSLIP's 10 views give a few hundred)
MAX_ENTRIES = 2**28  # (unit, point) entries one shape's file may declare: 1 GiB of int32 indices


@dataclass(frozen=True)
class Knowledge:
    """The knowledge units of one shape with `n_points` points.

    Unit u covers points `indices[offsets[u]:offsets[u + 1]]`.

    Attributes:
        n_points: the number of points of the shape the units index.
        part_names: the category's parts; `parts` index them.
        parts: [U] int64 part of each unit.
        scores: [U] float32 confidence of each unit (the teacher's, or a re-score).
        views: [U] int64 view each unit came from (-1 when unknown, e.g. imported).
        offsets: [U+1] int64 start of each unit's points in `indices`.
        indices: [sum of unit sizes] int32 point indices, sorted within each unit.
        point_scores: [sum of unit sizes] float32 confidence of each (unit, point) entry, or None
            when every point of a unit has the unit's score. Knowledge imported from files whose
            confidences vary inside a unit keeps them here (the reference loss weighs each point
            by its own); `scores` then holds each unit's mean.
    """

    n_points: int
    part_names: tuple[str, ...]
    parts: np.ndarray
    scores: np.ndarray
    views: np.ndarray
    offsets: np.ndarray
    indices: np.ndarray
    point_scores: np.ndarray | None = None

    def __post_init__(self) -> None:
        arrays = (self.parts, self.scores, self.views, self.offsets, self.indices, self.point_scores)
        if any(values is not None and np.ndim(values) != 1 for values in arrays):
            raise ValueError("unit arrays must be one-dimensional")
        u = len(self.parts)
        if not (len(self.scores) == len(self.views) == u and len(self.offsets) == u + 1):
            raise ValueError("parts, scores, views and offsets disagree on the number of units")
        if self.offsets[0] != 0 or self.offsets[-1] != len(self.indices) or (np.diff(self.offsets) < 0).any():
            raise ValueError("offsets do not partition the index list")
        if self.point_scores is not None and len(self.point_scores) != len(self.indices):
            raise ValueError("point_scores needs one score per entry of the index list")
        if len(self.indices) and (self.indices.min() < 0 or self.indices.max() >= self.n_points):
            raise ValueError("unit indices refer to points that do not exist")
        if u and (self.parts.min() < 0 or self.parts.max() >= len(self.part_names)):
            raise ValueError("unit parts refer to parts that do not exist")
        if u and (self.views.min() < -1 or self.views.max() >= MAX_UNITS):
            raise ValueError(f"unit views must be -1 (unknown) or view numbers below {MAX_UNITS:,}")
        for name, values in (("scores", self.scores), ("point_scores", self.point_scores)):
            if values is not None and not ((values >= 0) & (values <= 1)).all():  # NaN fails both
                raise ValueError(f"unit {name} must be confidences from 0 to 1")

    def require_points(self, n_points: int, shape_id: str) -> None:
        """Refuse (PdError) units made for a shape of another size than shape `shape_id`'s `n_points`."""
        if self.n_points != n_points:
            raise PdError(
                f"The units of {shape_id} are for {self.n_points} points, but the shape has {n_points}: "
                "they were made for another version of it; run `pd teach` again."
            )

    def require_parts(self, part_names: tuple[str, ...], category: str, source: str) -> None:
        """Refuse (PdError naming `source`) units whose parts are not `category`'s `part_names`,
        in the same order: their part indices would mean other parts."""
        if self.part_names != tuple(part_names):
            raise PdError(
                f"{source} holds units of the parts {first_few(list(self.part_names), 8)}, but {category} "
                f"has {first_few(list(part_names), 8)}: use them with the category they were taught for, or "
                "teach again."
            )

    @classmethod
    def from_units(
        cls,
        n_points: int,
        part_names: tuple[str, ...],
        members: list[np.ndarray],
        parts: list[int],
        scores: list[float],
        views: list[int] | None = None,
        point_scores: list[np.ndarray] | None = None,
    ) -> Knowledge:
        """Pack per-unit point index arrays into one record.

        `point_scores`, when given, holds each unit's per-point confidences in `members` order.
        """
        sizes = [len(m) for m in members]
        orders = [np.argsort(m, kind="stable") for m in members]
        return cls(
            n_points=n_points,
            part_names=tuple(part_names),
            parts=np.asarray(parts, dtype=np.int64).reshape(-1),
            scores=np.asarray(scores, dtype=np.float32).reshape(-1),
            views=np.asarray(views if views is not None else [-1] * len(members), dtype=np.int64).reshape(-1),
            offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            indices=_concat([np.asarray(m)[o] for m, o in zip(members, orders, strict=True)], np.int32),
            point_scores=None
            if point_scores is None
            else _concat([np.asarray(v)[o] for v, o in zip(point_scores, orders, strict=True)], np.float32),
        )

    @property
    def n_units(self) -> int:
        return len(self.parts)

    def members(self, unit: int) -> np.ndarray:
        """The point indices of one unit."""
        return self.indices[self.offsets[unit] : self.offsets[unit + 1]]

    def unit_of_entry(self) -> np.ndarray:
        """[len(indices)] int64: which unit each entry of `indices` belongs to."""
        return np.repeat(np.arange(self.n_units), np.diff(self.offsets))

    def entry_scores(self) -> np.ndarray:
        """[len(indices)] float32 confidence of each (unit, point) entry."""
        if self.point_scores is not None:
            return self.point_scores
        return self.scores[self.unit_of_entry()]

    def restricted(self, index: np.ndarray) -> Knowledge:
        """The units on a subsample: `index` [M] holds the original point of each new point.

        A point sampled twice belongs to a unit twice; units that lose every point are kept (empty),
        so unit numbering stays the same across subsamples. Each unit's new points come in
        ascending order, as everywhere.

        It walks the sample (M points) through `_entries_by_point`, made once per record, rather
        than the whole index list: training restricts every shape at every step.
        """
        index = np.asarray(index, dtype=np.int64)
        entries, starts = self._entries_by_point
        first = starts[index]
        copies = starts[index + 1] - first  # entries (units) of each new point
        total = int(copies.sum())
        # New point j has entries entries[first[j]], entries[first[j] + 1], ... (units ascending).
        within = np.arange(total) - np.repeat(np.cumsum(copies) - copies, copies)
        source = entries[np.repeat(first, copies) + within]  # the old entry of each new one
        new_points = np.repeat(np.arange(len(index)), copies)
        units = self._unit_of_entry[source]
        # By unit; within a unit, by new point, as the pairs already are (a stable sort keeps that;
        # on 16-bit keys numpy's stable sort is a radix sort, several times faster).
        sort = np.argsort(units.astype(np.uint16) if self.n_units <= 2**16 else units, kind="stable")
        counts = np.bincount(units, minlength=self.n_units)
        return Knowledge(
            n_points=len(index),
            part_names=self.part_names,
            parts=self.parts,
            scores=self.scores,
            views=self.views,
            offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            indices=new_points[sort].astype(np.int32),
            point_scores=None if self.point_scores is None else self.point_scores[source[sort]],
        )

    @functools.cached_property
    def _unit_of_entry(self) -> np.ndarray:
        return self.unit_of_entry()

    @functools.cached_property
    def _entries_by_point(self) -> tuple[np.ndarray, np.ndarray]:
        """The index list by point: (entries [E], the old entries ordered by point, units ascending
        within a point; starts [n_points + 1], where each point's run begins)."""
        entries = np.argsort(self.indices, kind="stable")
        starts = np.concatenate([[0], np.cumsum(np.bincount(self.indices, minlength=self.n_points))])
        return entries, starts.astype(np.int64)

    def subset(self, keep: np.ndarray) -> Knowledge:
        """The units where `keep` [U] bool is true, with their points and confidences."""
        keep = np.asarray(keep, dtype=bool)
        entries = keep[self.unit_of_entry()]
        sizes = np.diff(self.offsets)[keep]
        return Knowledge(
            n_points=self.n_points,
            part_names=self.part_names,
            parts=self.parts[keep],
            scores=self.scores[keep],
            views=self.views[keep],
            offsets=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            indices=self.indices[entries],
            point_scores=None if self.point_scores is None else self.point_scores[entries],
        )

    def dense(self) -> np.ndarray:
        """[n_points, U, C] float32 in PartDistill's `conf_bbox` layout.

        Entry (i, u, c) is unit u's score when point i is in unit u and c is its part, else 0.
        """
        dense = np.zeros((self.n_points, self.n_units, len(self.part_names)), dtype=np.float32)
        units = self.unit_of_entry()
        dense[self.indices, units, self.parts[units]] = self.entry_scores()
        return dense

    @property
    def nbytes(self) -> int:
        """Bytes held by the sparse arrays."""
        arrays = (self.parts, self.scores, self.views, self.offsets, self.indices, self.point_scores)
        return sum(a.nbytes for a in arrays if a is not None)


def _concat(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return (np.concatenate(arrays) if arrays else np.zeros(0)).astype(dtype)


def vote(knowledge: Knowledge) -> np.ndarray:
    """Direct 2D-to-3D transfer: each point takes the part with the largest summed unit score over
    the units covering it; -1 where no unit covers it. [n_points] int64.
    """
    n_parts = len(knowledge.part_names)
    cell = knowledge.indices.astype(np.int64) * n_parts + knowledge.parts[knowledge.unit_of_entry()]
    # One bincount over (point, part) cells: each cell's entries are added in their order, in float64.
    totals = np.bincount(cell, weights=knowledge.entry_scores(), minlength=knowledge.n_points * n_parts)
    totals = totals.reshape(knowledge.n_points, n_parts)
    labels = totals.argmax(axis=1)
    labels[totals.max(axis=1) <= 0] = -1
    return labels


def coverage(knowledge: Knowledge) -> float:
    """Share of the shape's points covered by at least one unit."""
    if knowledge.n_points == 0:
        return 0.0
    return float(len(np.unique(knowledge.indices)) / knowledge.n_points)
