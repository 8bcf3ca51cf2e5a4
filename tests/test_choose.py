"""Which labels TTA mode hands over: held-out views, their agreement, and the choice, on known answers."""

from __future__ import annotations

import numpy as np
import pytest

from partdistill.distill.choose import (
    compare,
    compare_candidates,
    filled,
    held_out_agreement,
    split_views,
    view_gain,
)
from partdistill.distill.data import Item
from partdistill.knowledge.units import Knowledge, vote
from partdistill.shapes import Shape

PARTS = ("a", "b")


def units(
    n_points: int, members: list[list[int]], parts: list[int], views: list[int], scores=None
) -> Knowledge:
    scores = scores or [1.0] * len(members)
    return Knowledge.from_units(n_points, PARTS, [np.array(m) for m in members], parts, scores, views)


def test_subset_keeps_the_chosen_units_with_their_points_and_confidences() -> None:
    members = [np.array([0, 1]), np.array([2, 3, 4]), np.array([4])]
    confidences = [np.array([0.1, 0.2]), np.array([0.3, 0.4, 0.5]), np.array([0.6])]
    knowledge = Knowledge.from_units(
        5, PARTS, members, [0, 1, 0], [0.5, 0.6, 0.7], [0, 1, 2], point_scores=confidences
    )
    kept = knowledge.subset(np.array([True, False, True]))
    assert kept.n_units == 2 and kept.parts.tolist() == [0, 0] and kept.views.tolist() == [0, 2]
    assert [kept.members(u).tolist() for u in range(2)] == [[0, 1], [4]]
    np.testing.assert_allclose(kept.scores, [0.5, 0.7])
    np.testing.assert_allclose(kept.point_scores, [0.1, 0.2, 0.6])


def test_views_split_even_from_odd_and_units_of_unknown_view_are_in_neither() -> None:
    knowledge = units(4, [[0], [1], [2], [3], [0], [1]], [0, 0, 1, 1, 0, 1], [0, 1, 2, 3, -1, -1])
    even, odd = split_views(knowledge)
    assert even.views.tolist() == [0, 2] and odd.views.tolist() == [1, 3]
    assert even.indices.tolist() == [0, 2] and odd.indices.tolist() == [1, 3]


def test_held_out_agreement_is_each_units_share_weighted_by_score() -> None:
    held = units(4, [[0, 1], [2, 3], []], [0, 1, 0], [1, 3, 5], scores=[0.9, 0.3, 0.8])
    labels = np.array([0, 1, 1, 1])  # unit 0: half right; unit 1: all right; unit 2: no point, no say
    assert held_out_agreement(labels, held) == pytest.approx((0.9 * 0.5 + 0.3 * 1.0) / 1.2)
    assert np.isnan(held_out_agreement(labels, held.subset(np.zeros(3, dtype=bool))))
    assert np.isnan(held_out_agreement(labels, units(4, [[0]], [0], [1], scores=[0.0])))


def test_lifting_takes_the_students_label_where_no_unit_covers_a_point() -> None:
    knowledge = units(3, [[0, 1]], [1], [0])
    assert filled(vote(knowledge), np.array([0, 0, 0])).tolist() == [1, 1, 0]


def _item(knowledge: Knowledge) -> Item:
    points = np.random.default_rng(0).normal(size=(knowledge.n_points, 3)).astype(np.float32)
    return Item("s", Shape(points=points), knowledge)


def test_the_labels_that_agree_better_with_held_out_views_are_handed_over() -> None:
    # Points 0-3 are part a, 4-7 part b. Every odd (held-out) view says so; the even views call
    # points 2-3 part b.
    held_out = [([0, 1, 2, 3], 0, 1), ([4, 5, 6, 7], 1, 1), ([0, 1, 2, 3], 0, 3), ([4, 5, 6, 7], 1, 3)]
    learnt = [([0, 1], 0, 0), ([2, 3, 4, 5, 6, 7], 1, 0), ([0, 1], 0, 2), ([2, 3, 4, 5, 6, 7], 1, 2)]
    members, parts, views = zip(*[(m, p, v) for m, p, v in held_out + learnt], strict=True)
    item = _item(units(8, list(members), list(parts), list(views)))
    right = np.array([0, 0, 0, 0, 1, 1, 1, 1])  # a twin that saw past the even views' mistake
    choice = compare([item], [right])
    assert choice.labels == "student" and choice.student == pytest.approx(1.0)
    assert choice.lifting == pytest.approx(0.75)  # lifting the even views gets points 2-3 wrong
    wrong = np.array([1, 1, 1, 1, 0, 0, 0, 0])  # a twin that learnt nothing (lifting covers every point)
    choice = compare([item], [wrong])
    assert choice.labels == "lifting" and choice.student == pytest.approx(0.0)
    assert "student 0.0, lifting 75.0" in choice.reason


def test_without_held_out_units_the_student_is_handed_over_unchecked() -> None:
    item = _item(units(4, [[0, 1], [2, 3]], [0, 1], [-1, -1]))  # imported: no view to hold out
    choice = compare([item], [np.zeros(4, dtype=np.int64)])
    assert choice.labels == "student" and choice.student is None and "no held-out unit" in choice.reason


def test_of_three_candidates_the_one_that_agrees_best_with_held_out_views_is_handed_over() -> None:
    # Points 0-3 are part a, 4-7 part b. The odd (held-out) views say so; the even views call
    # points 2-3 part b, so lifting them gets those two wrong.
    held_out = [([0, 1, 2, 3], 0, 1), ([4, 5, 6, 7], 1, 1)]
    learnt = [([0, 1], 0, 0), ([2, 3, 4, 5, 6, 7], 1, 0)]
    members, parts, views = zip(*[(m, p, v) for m, p, v in held_out + learnt], strict=True)
    item = _item(units(8, list(members), list(parts), list(views)))
    right = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    half = np.array([0, 0, 0, 1, 1, 1, 1, 1])  # one of the two points the even views get wrong
    wrong = np.array([1, 1, 1, 1, 1, 1, 1, 1])
    choice = compare_candidates([item], {"student": [half], "generated": [right]})
    assert choice.labels == "generated" and choice.generated == pytest.approx(1.0)
    assert choice.student == pytest.approx(0.875) and choice.lifting == pytest.approx(0.75)
    assert "student 87.5, generated 100.0, lifting 75.0;" in choice.reason
    assert choice.margin == 0.0  # views 0 and 1 only: every fourth view is the even views
    choice = compare_candidates([item], {"student": [half], "generated": [wrong]})
    assert choice.labels == "student" and choice.generated == pytest.approx(0.5)
    # A tie goes to lifting, then the student: the cheaper to trust.
    choice = compare_candidates([item], {"student": [right], "generated": [right]})
    assert choice.labels == "student"
    lifted = vote(split_views(item.knowledge)[0])
    choice = compare_candidates([item], {"student": [lifted], "generated": [lifted]})
    assert choice.labels == "lifting" and "at least as well as any" in choice.reason


def test_the_generated_shapes_student_must_win_by_what_lifting_gains_from_doubling_its_views() -> None:
    # Points 0-3 are part a, 4-7 part b, as the odd (held-out) views 1 and 3 say. View 0 sees
    # points 0-1 and 4-5 and gets them right; view 2 sees 2-3 and 6-7 and calls 2-3 part b.
    # Lifting view 0 alone agrees 0.5 with the held-out units, lifting views 0 and 2 0.75: doubling
    # the views gained 0.25, which the generated shapes' student (right everywhere: 1.0) must beat
    # lifting by. It only ties, and a tie goes to lifting.
    held_out = [([0, 1, 2, 3], 0, 1), ([4, 5, 6, 7], 1, 1), ([0, 1, 2, 3], 0, 3), ([4, 5, 6, 7], 1, 3)]
    learnt = [([0, 1], 0, 0), ([4, 5], 1, 0), ([2, 3], 1, 2), ([6, 7], 1, 2)]
    members, parts, views = zip(*[(m, p, v) for m, p, v in held_out + learnt], strict=True)
    item = _item(units(8, list(members), list(parts), list(views)))
    even, odd = split_views(item.knowledge)
    assert view_gain([item], [odd], [held_out_agreement(vote(even), odd)]) == pytest.approx(0.25)
    choice = compare_candidates([item], {"generated": [np.array([0, 0, 0, 0, 1, 1, 1, 1])]})
    assert choice.labels == "lifting" and choice.generated == pytest.approx(1.0)
    assert choice.lifting == pytest.approx(0.75) and choice.margin == pytest.approx(0.25)
    assert "generated by a margin of 25.0" in choice.reason
