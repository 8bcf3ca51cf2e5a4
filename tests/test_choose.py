"""Which labels TTA mode hands over: held-out views, their agreement, and the choice, on known answers."""

from __future__ import annotations

import numpy as np
import pytest

from partdistill.distill.choose import (
    compare,
    compare_candidates,
    filled,
    held_out_agreement,
    lead_error,
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


def _even_views_wrong(odd_views: range) -> Item:
    """Points 0-3 are part a, 4-7 part b, as each of `odd_views` (held out) says in two units; the
    even views 0 and 2 call points 2-3 part b, so lifting them gets those two wrong."""
    held_out = [unit for view in odd_views for unit in (([0, 1, 2, 3], 0, view), ([4, 5, 6, 7], 1, view))]
    learnt = [([0, 1], 0, 0), ([2, 3, 4, 5, 6, 7], 1, 0), ([0, 1], 0, 2), ([2, 3, 4, 5, 6, 7], 1, 2)]
    members, parts, views = zip(*[(m, p, v) for m, p, v in held_out + learnt], strict=True)
    return _item(units(8, list(members), list(parts), list(views)))


RIGHT = np.array([0, 0, 0, 0, 1, 1, 1, 1])  # a twin that saw past the even views' mistake
HALF = np.array([0, 0, 0, 1, 1, 1, 1, 1])  # one of the two points the even views get wrong
WRONG = np.array([1, 1, 1, 1, 0, 0, 0, 0])  # a twin that learnt nothing (lifting covers every point)


def test_a_students_lead_has_the_standard_error_of_its_units() -> None:
    # Held out: views 1 and 3, two units each. Against lifting, RIGHT leads by 0.5 on the units of
    # part a and 0 on those of part b: a lead of 0.25 whose units scatter 0.25 about it, so its
    # standard error is sqrt(4 x (1/4)^2 x 0.25^2) = 0.125; over two such items, 0.125 / sqrt(2).
    item = _even_views_wrong(range(1, 4, 2))
    even, odd = split_views(item.knowledge)
    assert lead_error([odd], [RIGHT], [vote(even)]) == pytest.approx(0.125)
    assert lead_error([odd, odd], [RIGHT, RIGHT], [vote(even)] * 2) == pytest.approx(0.125 / np.sqrt(2))
    assert lead_error([odd], [vote(even)], [vote(even)]) == 0.0


def test_the_labels_that_agree_better_with_held_out_views_are_handed_over() -> None:
    # Ten held-out views: RIGHT leads lifting by 0.25 with a standard error of 0.25 / sqrt(20).
    item = _even_views_wrong(range(1, 20, 2))
    choice = compare([item], [RIGHT])
    assert choice.labels == "student" and choice.student == pytest.approx(1.0)
    assert choice.lifting == pytest.approx(0.75)  # lifting the even views gets points 2-3 wrong
    assert choice.reason.startswith("it agreed better with held-out views than lifting, by more than 2")
    assert "student 100.0 (± 5.6), lifting 75.0" in choice.reason
    choice = compare([item], [WRONG])
    assert choice.labels == "lifting" and choice.student == pytest.approx(0.0)
    assert "at least as well with held-out views: student 0.0 (± 5.6), lifting 75.0" in choice.reason


def test_a_student_that_leads_by_less_than_two_standard_errors_is_not_handed_over() -> None:
    # One held-out view: RIGHT leads by 0.5 on one unit and 0 on the other, 0.25 in all, with a
    # standard error of sqrt(2 x (1/2)^2 x 0.25^2) = 0.177: two of them are more than its lead.
    item = _even_views_wrong(range(1, 2))
    choice = compare([item], [RIGHT])
    assert choice.labels == "lifting" and choice.student == pytest.approx(1.0)
    assert choice.reason.startswith("no student agreed better with held-out views by more than 2 standard")
    assert "student 100.0 (± 17.7), lifting 75.0" in choice.reason


def test_without_held_out_units_the_student_is_handed_over_unchecked() -> None:
    item = _item(units(4, [[0, 1], [2, 3]], [0, 1], [-1, -1]))  # imported: no view to hold out
    choice = compare([item], [np.zeros(4, dtype=np.int64)])
    assert choice.labels == "student" and choice.student is None and "no held-out unit" in choice.reason


def test_of_three_candidates_the_one_that_agrees_best_with_held_out_views_is_handed_over() -> None:
    # Ten held-out views; HALF leads lifting by 0.125 (standard error 0.125 / sqrt(20)), RIGHT by
    # 0.25 (0.25 / sqrt(20)).
    item = _even_views_wrong(range(1, 20, 2))
    choice = compare_candidates([item], {"student": [HALF], "generated": [RIGHT]})
    assert choice.labels == "generated" and choice.generated == pytest.approx(1.0)
    assert choice.student == pytest.approx(0.875) and choice.lifting == pytest.approx(0.75)
    assert choice.reason.startswith("it agreed best with held-out views of the students ahead of lifting")
    assert "student 87.5 (± 2.8), generated 100.0 (± 5.6), lifting 75.0;" in choice.reason
    assert choice.margin == 0.0  # every fourth view (view 0) lifts as the even views (0 and 2) do
    choice = compare_candidates([item], {"student": [HALF], "generated": [np.ones(8, dtype=np.int64)]})
    assert choice.labels == "student" and choice.generated == pytest.approx(0.5)
    # A tie goes to lifting, then the student: the cheaper to trust.
    choice = compare_candidates([item], {"student": [RIGHT], "generated": [RIGHT]})
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


def test_a_loss_from_doubling_the_views_asks_no_margin_and_is_said() -> None:
    # View 0 (every fourth view) lifts points 0-3 as part a, 4-7 as b, as the held-out views 1 and
    # 3 do; view 2 calls 0-1 part b twice over, so lifting views 0 and 2 gets 0-1 wrong: 0.75
    # against view 0's 1.0. Doubling the views lost 0.25; the generated student need beat lifting
    # by no margin, and the reason says what was lost.
    held_out = [([0, 1, 2, 3], 0, 1), ([4, 5, 6, 7], 1, 1), ([0, 1, 2, 3], 0, 3), ([4, 5, 6, 7], 1, 3)]
    learnt = [([0, 1, 2, 3], 0, 0), ([4, 5, 6, 7], 1, 0), ([0, 1], 1, 2), ([0, 1, 4], 1, 2)]
    members, parts, views = zip(*[(m, p, v) for m, p, v in held_out + learnt], strict=True)
    item = _item(units(8, list(members), list(parts), list(views)))
    even, odd = split_views(item.knowledge)
    assert view_gain([item], [odd], [held_out_agreement(vote(even), odd)]) == pytest.approx(-0.25)
    choice = compare_candidates([item], {"generated": [np.array([0, 0, 0, 0, 1, 1, 1, 1])]})
    assert choice.margin == 0.0 and choice.lifting == pytest.approx(0.75)
    assert (
        "generated by a margin of 0.0, what lifting gained from doubling its views (none: it lost 25.0)"
        in (choice.reason)
    )
    assert choice.reason.endswith(
        " (agreement in %: the share of the points of each held-out unit given its part; not mIoU)"
    )
