"""Which labels `pd distill --mode tta` hands over: the student's, or direct lifting of the units.

The student is distilled to do better than lifting its teacher's units, and on the procedural
collections measured it does, by far; on three partial shapes per category (the real sample of
docs/quality.md) it lands a little below. Without labels, the two are compared on teacher views neither
has seen: a twin of the run, with the same settings, is distilled on the units of the even views
only; those units are lifted too; and both are scored on the units of the odd views by
`held_out_agreement`, lifting as it is (a point no even-view unit covers has no label, so it
counts against it: lifting must explain the held-out views on its own). The student's labels are
handed over if its twin scored higher by more than twice the standard error of that lead
(`lead_error`: the held-out units scatter, and on three shapes a lead of a point or two is
noise), else direct lifting of all the units, with the student's label where no unit covers a
point (better than none, for a user who needs every point labelled).

The check costs a second distillation, so it runs only where the run distilled forward only (no
switch came: collections too small for backward distillation, the regime where the student was
measured below lifting, --no-backward, or a run whose trigger never fired); after backward
distillation the student is handed over unchecked. Units of unknown view (imported knowledge)
cannot be held out by view, and are not checked either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from partdistill.distill.data import Item
from partdistill.distill.train import Distillation
from partdistill.errors import PdError
from partdistill.files import inside
from partdistill.knowledge.units import Knowledge, vote

CHECK_DIR = "held-out-check"  # the twin's run folder, inside the run's
CHOICE_FILE = "choice.json"


@dataclass(frozen=True)
class Choice:
    """What TTA mode hands over, and why.

    Attributes:
        labels: "student", "lifting" or (with generated shapes) "generated".
        student, lifting: held-out agreement of the twin student and of lifting the twin's units,
            in [0, 1]; None where the check did not run.
        reason: why, in a few words.
        generated: held-out agreement of the student distilled on generated shapes alone (it saw
            none of the units); None without generated shapes or where the check did not run.
        margin: what `generated` had to beat the others by (`view_gain`); None where it was not
            a candidate.
    """

    labels: str
    student: float | None = None
    lifting: float | None = None
    reason: str = ""
    generated: float | None = None
    margin: float | None = None


def split_views(knowledge: Knowledge) -> tuple[Knowledge, Knowledge]:
    """The units of the even views (to learn from) and of the odd views (held out); units of
    unknown view are in neither."""
    known = knowledge.views >= 0
    odd = known & (knowledge.views % 2 == 1)
    return knowledge.subset(known & ~odd), knowledge.subset(odd)


def quarter_views(knowledge: Knowledge) -> Knowledge:
    """The units of every fourth view (0, 4, 8, ...): half of `split_views`' even views."""
    return knowledge.subset((knowledge.views >= 0) & (knowledge.views % 4 == 0))


def view_gain(items: list[Item], odd: list[Knowledge], lifted: list[float]) -> float:
    """How much lifting's held-out agreement on the odd views' units `odd` grows from every fourth
    view's units to the even views' units (`lifted`: its agreement per item), averaged over the
    items (below 0 where it lost): an estimate of what the held-out views would add to those
    learnt from, which the candidates handed over learn from and the check's versions of them do
    not."""
    quarter = [
        held_out_agreement(vote(quarter_views(item.knowledge)), units)
        for item, units in zip(items, odd, strict=True)
    ]
    gains = np.array(lifted) - np.array(quarter)
    gains = gains[~np.isnan(gains)]
    return float(gains.mean()) if len(gains) else 0.0


def unit_shares(labels: np.ndarray, held: Knowledge) -> tuple[np.ndarray, np.ndarray]:
    """Each held-out unit's share of points that `labels` [n_points] give its part [U], and its
    weight in the agreement [U]: its score, 0 for a unit without points."""
    sizes = np.diff(held.offsets)
    units = held.unit_of_entry()
    right = np.bincount(units, weights=labels[held.indices] == held.parts[units], minlength=held.n_units)
    return right / np.maximum(sizes, 1), held.scores * (sizes > 0)


def held_out_agreement(labels: np.ndarray, held: Knowledge) -> float:
    """How far `labels` [n_points] give held-out units their part: the mean over units of the share
    of a unit's points labelled its part, weighted by the units' scores. NaN without a unit of
    some point and some score."""
    shares, weights = unit_shares(labels, held)
    if weights.sum() <= 0:
        return float("nan")
    return float(np.sum(weights * shares) / weights.sum())


def lead_error(odd: list[Knowledge], labels: list[np.ndarray], baseline: list[np.ndarray]) -> float:
    """The standard error of how far `labels` lead `baseline` in held-out agreement with the units
    `odd` (one of each per item), as the check averages it: the items' score-weighted means over
    their units, then the mean over the items that have any. Paired unit by unit (both are scored
    on the same units), each unit's lead taken as an independent draw about its item's mean (the
    plug-in variance, without a small-sample correction: an item of one unit adds none)."""
    variance, counted = 0.0, 0
    for units, ours, theirs in zip(odd, labels, baseline, strict=True):
        shares, weights = unit_shares(ours, units)
        if weights.sum() <= 0:
            continue
        lead = shares - unit_shares(theirs, units)[0]
        share = weights / weights.sum()
        variance += float(np.sum(share**2 * (lead - np.sum(share * lead)) ** 2))
        counted += 1
    return float(np.sqrt(variance)) / counted if counted else 0.0


def filled(lifted: np.ndarray, student: np.ndarray) -> np.ndarray:
    """Direct lifting's labels `lifted` (`knowledge.vote`), with the `student`'s label where no
    unit covers a point."""
    return np.where(lifted >= 0, lifted, student)


def twin(run: Distillation) -> Distillation | None:
    """The run's twin on its items' even-view units, in its check folder and resumed where it
    stopped; None where there is nothing to hold out or nothing to learn from (no held-out unit,
    or no even-view unit for the run or for a source with a share of its batches)."""
    halves = [split_views(item.knowledge) for item in run.items]
    if not any(held.n_units for _, held in halves):
        return None
    items = [
        Item(item.id, item.shape, even, item.source)
        for item, (even, _) in zip(run.items, halves, strict=True)
    ]
    try:
        checked = Distillation(run.config, items, inside(run.run_dir, CHECK_DIR), device=run.device)
    except PdError:  # no even-view unit at all, or none for a source with a share of the batches
        return None
    checked.start(resume=inside(checked.run_dir, "config.json").exists())
    return checked


SIGNIFICANCE = 2.0  # standard errors (`lead_error`) a student must lead lifting by to be handed over
LIFTING, STUDENT, GENERATED = "lifting", "student", "generated"
WHAT = {
    LIFTING: "direct lifting of the units",
    STUDENT: "the student's",
    GENERATED: "the student distilled on the generated shapes alone",
}


def compare(items: list[Item], twin_labels: list[np.ndarray]) -> Choice:
    """The choice, from each item's labels by the twin (distilled on the even views' units)."""
    return compare_candidates(items, {STUDENT: twin_labels})


def compare_candidates(items: list[Item], held: dict[str, list[np.ndarray]]) -> Choice:
    """The choice among lifting and the students in `held` (by name: `pd` has "student" and
    "generated"), each given as its labels of every item made without the odd views' units (a
    twin's, or those of a student that never saw the items' units); lifting is that of the even
    views' units. Each is scored by `held_out_agreement` with the odd views' units, averaged over
    the items. A student counts only if it leads lifting by more than `SIGNIFICANCE` standard
    errors of its lead (`lead_error`); the highest of those is handed over, a tie going to the
    earlier in `held` (callers list them in the order they trust them), and lifting where none
    counts.

    The check's lifting and twin learnt from half the views, while what is handed over learns
    from all of them; the generated shapes' student is the same in the check as handed over. So
    that like is compared with like, that student must win by `view_gain`, what lifting gains
    from doubling its views. Without the margin, on the real sample of docs/quality.md the check
    handed it over on 6 and 5 categories of 16 (seeds 0 and 1), where it was the worst candidate
    on average.
    """
    halves = [split_views(item.knowledge) for item in items]
    held = {LIFTING: [vote(even) for even, _ in halves], **held}
    odd = [units for _, units in halves]
    agreement = {
        name: [held_out_agreement(x, units) for x, units in zip(labels, odd, strict=True)]
        for name, labels in held.items()
    }
    if np.isnan(agreement[LIFTING]).all():
        first = next(name for name in held if name != LIFTING)
        return Choice(first, reason="no held-out unit to score the candidates on")
    scores = {name: float(np.nanmean(values)) for name, values in agreement.items()}
    gain = view_gain(items, odd, agreement[LIFTING]) if GENERATED in scores else None
    margin = None if gain is None else max(0.0, gain)  # a loss asks generated for no less
    judged = scores | ({GENERATED: scores[GENERATED] - margin} if margin is not None else {})
    errors = {name: lead_error(odd, held[name], held[LIFTING]) for name in held if name != LIFTING}
    clear = [name for name, error in errors.items() if judged[name] - judged[LIFTING] > SIGNIFICANCE * error]
    best = min(clear, key=lambda n: -judged[n], default=LIFTING)  # a tie: the earlier in `held`
    figures = ", ".join(
        f"{name} {100 * scores[name]:.1f}" + (f" (± {100 * errors[name]:.1f})" if name in errors else "")
        for name in [*errors, LIFTING]
    )
    if gain is not None and margin is not None:
        lost = f" (none: it lost {-100 * gain:.1f})" if gain < 0 else ""
        figures += (
            f"; generated by a margin of {100 * margin:.1f}, what lifting gained from doubling its "
            f"views{lost}, as the others learnt from half of them there"
        )
    noise = f"by more than {SIGNIFICANCE:g} standard errors (±) of the lead"
    two = len(scores) == 2
    if best != LIFTING and two:
        how = f"it agreed better with held-out views than lifting, {noise}"
    elif best != LIFTING:
        how = f"it agreed best with held-out views of the students ahead of lifting {noise}"
    elif any(judged[name] > judged[LIFTING] for name in errors):
        how = f"no student agreed better with held-out views {noise}"
    else:
        how = f"it agreed {'at least as well' if two else 'at least as well as any'} with held-out views"
    measure = "agreement in %: the share of the points of each held-out unit given its part; not mIoU"
    reason = f"{how}: {figures} ({measure})"
    return Choice(best, scores.get(STUDENT), scores[LIFTING], reason, scores.get(GENERATED), margin)
