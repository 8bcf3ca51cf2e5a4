"""Teachers: the simulated teacher's noise model, and every real teacher through its real code path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_models import tiny_clipseg, tiny_grounding_dino, tiny_open_clip, tiny_owlv2

from partdistill.errors import PdError
from partdistill.knowledge.units import vote
from partdistill.prompts import find_category
from partdistill.render.cameras import Cameras, partslip_cameras
from partdistill.render.renderers import MeshRenderer, PointRenderer
from partdistill.render.views import Views
from partdistill.shapes import Shape
from partdistill.synth.base import Request
from partdistill.synth.procedural import ProceduralGenerator
from partdistill.teach.lift import lift
from partdistill.teach.teachers import (
    Noise,
    Prediction,
    SimulatedTeacher,
    build_teacher,
    labels_in_category,
    suppress_duplicates,
)
from partdistill.teach.teachers.vlm import (
    ClipDenseTeacher,
    ClipSegTeacher,
    GroundingDinoTeacher,
    Owlv2Teacher,
)

CHAIR = find_category("chair")


@pytest.fixture(scope="module")
def chairs() -> list[Shape]:
    generator = ProceduralGenerator(n_points=4000)
    return [generator.generate(Request(CHAIR, None, seed)) for seed in range(8)]


@pytest.fixture(scope="module")
def chair_views(chairs: list[Shape]) -> list[Views]:
    return [PointRenderer(radius=0.015).render(shape, partslip_cameras(128)) for shape in chairs]


def test_clean_masks_reproduce_the_truth_on_visible_points(chairs, chair_views) -> None:
    teacher = SimulatedTeacher("mask", Noise(min_pixels=1))
    for shape, views in zip(chairs, chair_views, strict=True):
        labels = vote(lift(views, teacher.predict(views, CHAIR, shape), CHAIR.part_names))
        seen = views.visible.any(axis=0)
        np.testing.assert_array_equal(labels[seen], shape.labels[seen])
        assert (labels[~seen] == -1).all()


def test_the_truth_is_read_by_part_name_in_another_category(chairs, chair_views) -> None:
    """Procedural chairs are back, seat, leg, arm; PartNetE's chair is arm, back, leg, seat, wheel.
    Clean masks still give every visible point its own part, by name, and no wheel."""
    partnete = find_category("partnete/Chair")
    teacher = SimulatedTeacher("mask", Noise(min_pixels=1))
    for shape, views in zip(chairs[:3], chair_views[:3], strict=True):
        predictions = teacher.predict(views, partnete, shape)
        labels = vote(lift(views, predictions, partnete.part_names))
        seen = views.visible.any(axis=0)
        names = np.array(partnete.part_names)[labels[seen]]
        np.testing.assert_array_equal(names, np.array(shape.part_names)[shape.labels[seen]])
        assert partnete.part_names.index("wheel") not in {p.part for p in predictions}
    mapped = labels_in_category(chairs[0], partnete)
    assert [partnete.part_names[i] for i in mapped[:50]] == [
        chairs[0].part_names[i] for i in chairs[0].labels[:50]
    ]


def test_clean_boxes_hold_every_visible_point_of_their_part(chairs, chair_views) -> None:
    shape, views = chairs[0], chair_views[0]
    for per_instance in (True, False):
        predictions = SimulatedTeacher("box", Noise(min_pixels=1), per_instance=per_instance).predict(
            views, CHAIR, shape
        )
        for k in range(views.n_views):
            for part in range(4):
                mine = views.visible[k] & (shape.labels == part)
                x, y = views.screen[k, mine, 0], views.screen[k, mine, 1]
                held = np.zeros(len(x), dtype=bool)
                for p in predictions:
                    if p.view == k and p.part == part:
                        x1, y1, x2, y2 = p.box
                        held |= (x >= x1) & (x <= x2) & (y >= y1) & (y <= y2)
                assert held.all()


def test_boxes_go_around_each_piece_of_a_part_as_a_detector_draws_them(chairs, chair_views) -> None:
    # Seen from the front, a chair's legs are apart: each gets its own box, none spanning the seat.
    index = next(i for i, c in enumerate(chairs) if "4 legs" in (c.provenance.description or ""))
    shape, views = chairs[index], chair_views[index]
    instances = SimulatedTeacher("box", Noise(min_pixels=1)).predict(views, CHAIR, shape)
    whole = SimulatedTeacher("box", Noise(min_pixels=1), per_instance=False).predict(views, CHAIR, shape)
    legs = [p for p in instances if p.view == 0 and p.part == 2]
    [union] = [p.box for p in whole if p.view == 0 and p.part == 2]
    assert len(legs) >= 2
    assert all(p.box[2] - p.box[0] < 0.5 * (union[2] - union[0]) for p in legs)


def _rates(chairs, chair_views, noise: Noise) -> dict[str, float]:
    """Measured error rates of a box teacher with `noise` (one kind of noise at a time), with one
    box per part and view, so that each clean box has one noisy counterpart."""
    teacher = SimulatedTeacher("box", noise, seed=1, per_instance=False)
    clean = SimulatedTeacher("box", Noise(min_pixels=noise.min_pixels), per_instance=False)
    eligible = predicted = mislabelled = extra = widths = 0
    growth = []
    for shape, views in zip(chairs, chair_views, strict=True):
        truth = {(p.view, tuple(p.box)): p.part for p in clean.predict(views, CHAIR, shape)}
        eligible += len(truth)
        for p in teacher.predict(views, CHAIR, shape):
            key = (p.view, tuple(p.box))
            if key in truth:
                predicted += 1
                mislabelled += p.part != truth[key]
            elif noise.grow:
                # A grown box: compare with the clean box of its part in its view.
                [source] = [b for (v, b), part in truth.items() if v == p.view and part == p.part]
                growth.append((p.box[2] - p.box[0]) / (source[2] - source[0]) - 1)
                predicted += 1
            else:
                extra += 1
        widths += views.n_views
    return {
        "miss": 1 - predicted / eligible,
        "mislabel": mislabelled / max(predicted, 1),
        "false_rate": extra / widths,
        "growth": float(np.mean(growth)) if growth else 0.0,
    }


@pytest.mark.parametrize(
    ("noise", "measured", "expected", "tolerance"),
    [
        # Tolerances are 4 binomial / Poisson standard deviations for ~250 predictions over 80 views.
        (Noise(miss=0.3), "miss", 0.3, 4 * np.sqrt(0.3 * 0.7 / 250)),
        (Noise(mislabel=0.25), "mislabel", 0.25, 4 * np.sqrt(0.25 * 0.75 / 250)),
        (Noise(false_rate=0.5), "false_rate", 0.5, 4 * np.sqrt(0.5 / 80)),
    ],
)
def test_noise_rates_are_what_is_documented(
    chairs, chair_views, noise, measured, expected, tolerance
) -> None:
    assert _rates(chairs, chair_views, noise)[measured] == pytest.approx(expected, abs=tolerance)


def test_grown_boxes_grow_by_the_documented_amount(chairs, chair_views) -> None:
    # Each side moves out by U(0, grow) x the extent: the width grows by 2 x grow / 2 = grow on average,
    # less where the image edge clips it (not here: the chairs sit well inside the frame).
    growth = _rates(chairs, chair_views, Noise(grow=0.4))["growth"]
    assert growth == pytest.approx(0.4, abs=0.06)


def test_a_confused_shape_swaps_two_part_names_in_every_view(chairs, chair_views) -> None:
    clean = SimulatedTeacher("box", Noise())
    truth = {(p.view, tuple(p.box)): p.part for p in clean.predict(chair_views[0], CHAIR, chairs[0])}
    confused = SimulatedTeacher("box", Noise(confusion=1.0)).predict(chair_views[0], CHAIR, chairs[0])
    renamed = {(truth[(p.view, tuple(p.box))], p.part) for p in confused}
    changed = {(a, b) for a, b in renamed if a != b}
    assert len(changed) == 2 and {(b, a) for a, b in changed} == changed  # one pair, swapped both ways


def test_confusion_rate_is_the_share_of_shapes_misread(chairs, chair_views) -> None:
    clean = SimulatedTeacher("box", Noise()).predict(chair_views[3], CHAIR, chairs[3])
    confused = 0
    for seed in range(200):
        predictions = SimulatedTeacher("box", Noise(confusion=0.3), seed=seed).predict(
            chair_views[3], CHAIR, chairs[3]
        )
        confused += any(p.part != q.part for p, q in zip(predictions, clean, strict=True))
    assert confused / 200 == pytest.approx(0.3, abs=4 * np.sqrt(0.3 * 0.7 / 200))


def test_same_seed_same_predictions(chairs, chair_views) -> None:
    noisy = Noise(miss=0.2, mislabel=0.2, grow=0.2, false_rate=0.5)
    first = SimulatedTeacher("box", noisy, seed=3).predict(chair_views[0], CHAIR, chairs[0])
    again = SimulatedTeacher("box", noisy, seed=3).predict(chair_views[0], CHAIR, chairs[0])
    assert [(p.view, p.part, p.score, tuple(p.box)) for p in first] == [
        (p.view, p.part, p.score, tuple(p.box)) for p in again
    ]


def test_simulated_teacher_refuses_unlabelled_shapes(chairs, chair_views) -> None:
    unlabelled = chairs[0].replace(labels=None, part_names=())
    with pytest.raises(PdError, match="reads ground-truth part labels"):
        SimulatedTeacher().predict(chair_views[0], CHAIR, unlabelled)


def test_simulated_teacher_reads_mesh_renders_too(chairs) -> None:
    views = MeshRenderer().render(chairs[1], partslip_cameras(200))
    labels = vote(
        lift(
            views,
            SimulatedTeacher("mask", Noise(min_pixels=1)).predict(views, CHAIR, chairs[1]),
            CHAIR.part_names,
        )
    )
    seen = views.visible.any(axis=0)
    assert (labels[seen] == chairs[1].labels[seen]).mean() > 0.97  # exact but at part boundaries


def test_unknown_teacher_and_noise() -> None:
    with pytest.raises(PdError, match="Unknown teacher 'glip'"):
        build_teacher("glip")
    with pytest.raises(PdError, match="Unknown noise preset"):
        build_teacher("simulated", noise="loud")


# --- real teachers, tiny random weights ---------------------------------------------------------


@pytest.fixture(scope="module")
def one_view(chairs) -> tuple[Shape, Views]:
    cameras = Cameras(np.array([10.0, 40.0]), np.array([30.0, 200.0]), image_size=120)
    return chairs[2], PointRenderer(radius=0.02).render(chairs[2], cameras)


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp: GroundingDinoTeacher(*tiny_grounding_dino(), threshold=0.0),
        lambda tmp: Owlv2Teacher(*tiny_owlv2(), threshold=0.0),
        lambda tmp: ClipSegTeacher(*tiny_clipseg(), threshold=0.5),
        lambda tmp: ClipDenseTeacher(*tiny_open_clip(tmp)),
    ],
    ids=["grounding-dino", "owlv2", "clipseg", "clip"],
)
def test_each_real_teacher_runs_end_to_end_and_yields_units(one_view, make, tmp_path: Path) -> None:
    shape, views = one_view
    teacher = make(tmp_path)
    predictions = teacher.predict(views, CHAIR, shape)
    assert predictions and {p.view for p in predictions} <= {0, 1}
    assert all(0 <= p.part < 4 and 0.0 <= p.score <= 1.0 for p in predictions)
    for p in predictions:
        if p.box is not None:
            assert (p.box >= 0).all() and (p.box <= views.image_size).all() and p.box[0] <= p.box[2]
        else:
            assert p.mask.shape == (120, 120) and not (p.mask & (views.pixel_index[p.view] < 0)).any()
    knowledge = lift(views, predictions, CHAIR.part_names)
    assert knowledge.n_units > 0 and knowledge.n_points == shape.n_points


class _Known(torch.nn.Module):
    """Runs the real tiny model, then overwrites its outputs with values whose right answer is known.

    Processor, post-processing and coordinate handling stay the library's own; only the numbers the
    network would have produced are fixed, so the boxes and masks that come out can be checked exactly.
    """

    def __init__(self, model: torch.nn.Module, overwrite) -> None:
        super().__init__()
        self.model, self.overwrite = model, overwrite

    def forward(self, **inputs):
        outputs = self.model(**inputs)
        self.overwrite(outputs, inputs)
        return outputs


def _expected_box(views: Views, cx: float, cy: float, w: float, h: float) -> np.ndarray:
    size = views.image_size
    return np.array([(cx - w / 2) * size, (cy - h / 2) * size, (cx + w / 2) * size, (cy + h / 2) * size])


def test_grounding_dino_boxes_land_on_the_right_pixels(one_view) -> None:
    shape, views = one_view
    model, processor = tiny_grounding_dino()

    def overwrite(out, inputs) -> None:
        out.logits = torch.full_like(out.logits, -20.0)
        out.logits[:, 0, :] = 20.0  # query 0 is confident about every text token
        out.pred_boxes = out.pred_boxes.clone()
        out.pred_boxes[:, 0] = torch.tensor([0.25, 0.6, 0.3, 0.5])

    teacher = GroundingDinoTeacher(_Known(model, overwrite), processor, threshold=0.5, batch_size=3)
    predictions = teacher.predict(views, CHAIR, shape)
    # One box per (view, part query), all at the known place.
    assert sorted((p.view, p.part) for p in predictions) == [(k, p) for k in range(2) for p in range(4)]
    expected = _expected_box(views, 0.25, 0.6, 0.3, 0.5)
    for p in predictions:
        np.testing.assert_allclose(p.box, expected, atol=1e-3)
    unit = lift(views, [predictions[0]], CHAIR.part_names)
    k = predictions[0].view
    x, y = views.screen[k, :, 0], views.screen[k, :, 1]
    inside = views.visible[k] & (x > expected[0]) & (x < expected[2]) & (y > expected[1]) & (y < expected[3])
    np.testing.assert_array_equal(unit.members(0), np.flatnonzero(inside))


def _grounding_dino_firing_on(word: str, query: str, near_duplicate: bool = False):
    """A Grounding DINO teacher whose box query 0 fires on `word`'s tokens alone (and, optionally, box
    query 1 on the same tokens at a near-duplicate place)."""
    model, processor = tiny_grounding_dino()
    ids = processor.tokenizer.convert_tokens_to_ids(processor.tokenizer.tokenize(word))

    def overwrite(out, inputs) -> None:
        out.logits = torch.full_like(out.logits, -20.0)
        out.pred_boxes = out.pred_boxes.clone()
        for row, tokens in enumerate(inputs["input_ids"].tolist()):
            for start in range(len(tokens) - len(ids) + 1):
                if tokens[start : start + len(ids)] == ids:
                    out.logits[row, 0, start : start + len(ids)] = 20.0
                    if near_duplicate:
                        out.logits[row, 1, start : start + len(ids)] = 10.0
        out.pred_boxes[:, 0] = torch.tensor([0.25, 0.6, 0.3, 0.5])
        out.pred_boxes[:, 1] = torch.tensor([0.26, 0.6, 0.3, 0.5])

    return GroundingDinoTeacher(_Known(model, overwrite), processor, threshold=0.5, query=query, batch_size=3)


def test_grounding_dino_ignores_a_box_that_fires_on_the_category_alone(one_view) -> None:
    # "leg of a chair.": a box confident about "chair" and nothing else is no leg (nor any other part).
    shape, views = one_view
    assert _grounding_dino_firing_on("chair", "part-of-category").predict(views, CHAIR, shape) == []


def test_grounding_dino_scores_each_box_by_its_part_words(one_view) -> None:
    shape, views = one_view
    for query in ("part", "part-of-category"):
        predictions = _grounding_dino_firing_on("leg", query).predict(views, CHAIR, shape)
        assert sorted((p.view, p.part) for p in predictions) == [(0, 2), (1, 2)]
        assert all(p.score == pytest.approx(1.0) for p in predictions)


def test_grounding_dino_merges_near_duplicate_boxes(one_view) -> None:
    shape, views = one_view
    teacher = _grounding_dino_firing_on("leg", "part", near_duplicate=True)
    assert len(teacher.predict(views, CHAIR, shape)) == 2  # one leg box per view: the duplicate is gone
    teacher.nms = 1.0  # suppression off
    assert len(teacher.predict(views, CHAIR, shape)) == 4


def test_suppression_is_per_part_and_per_view() -> None:
    box = np.array([10, 10, 50, 50], dtype=np.float32)
    shifted = box + np.array([2, 0, 2, 0], dtype=np.float32)  # IoU 0.9 with `box`
    apart = box + 100
    predictions = [
        Prediction(0, 1, 0.6, box=box),
        Prediction(0, 1, 0.9, box=shifted),  # the same part, same view, more confident: kept
        Prediction(0, 2, 0.5, box=box),  # another part: kept
        Prediction(1, 1, 0.5, box=box),  # another view: kept
        Prediction(0, 1, 0.4, box=apart),  # no overlap: kept
    ]
    kept = suppress_duplicates(predictions, iou=0.6)
    assert kept == predictions[1:]
    assert suppress_duplicates(predictions, iou=0.95) == predictions


def test_owlv2_merges_near_duplicates(one_view) -> None:
    shape, views = one_view
    model, processor = tiny_owlv2()

    def overwrite(out, inputs) -> None:
        out.logits = torch.full_like(out.logits, -20.0)
        out.logits[:, 5, 2] = 20.0
        out.logits[:, 6, 2] = 10.0
        out.pred_boxes = out.pred_boxes.clone()
        out.pred_boxes[:, 5] = torch.tensor([0.5, 0.4, 0.2, 0.6])
        out.pred_boxes[:, 6] = torch.tensor([0.51, 0.4, 0.2, 0.6])

    predictions = Owlv2Teacher(_Known(model, overwrite), processor, threshold=0.5).predict(
        views, CHAIR, shape
    )
    assert [(p.view, p.part) for p in predictions] == [(0, 2), (1, 2)]


def test_owlv2_boxes_and_query_labels_are_right(one_view) -> None:
    shape, views = one_view
    model, processor = tiny_owlv2()

    def overwrite(out, inputs) -> None:
        out.logits = torch.full_like(out.logits, -20.0)
        out.logits[:, 5, 2] = 20.0  # patch 5 detects query 2 ("leg")
        out.pred_boxes = out.pred_boxes.clone()
        out.pred_boxes[:, 5] = torch.tensor([0.5, 0.4, 0.2, 0.6])

    predictions = Owlv2Teacher(_Known(model, overwrite), processor, threshold=0.5).predict(
        views, CHAIR, shape
    )
    assert [(p.view, p.part) for p in predictions] == [(0, 2), (1, 2)]
    for p in predictions:
        np.testing.assert_allclose(p.box, _expected_box(views, 0.5, 0.4, 0.2, 0.6), atol=1e-3)


def test_clipseg_masks_follow_the_heat_map(one_view) -> None:
    shape, views = one_view
    model, processor = tiny_clipseg()

    def overwrite(out, inputs) -> None:
        logits = torch.full_like(out.logits, -10.0)
        logits[1, :, : logits.shape[-1] // 2] = 10.0  # query 1 (seat) is hot on the left half
        out.logits = logits

    predictions = ClipSegTeacher(_Known(model, overwrite), processor).predict(views, CHAIR, shape)
    assert {(p.view, p.part) for p in predictions} <= {(0, 1), (1, 1)}
    for p in predictions:
        foreground = views.pixel_index[p.view] >= 0
        np.testing.assert_array_equal(p.mask[:, :55], foreground[:, :55])  # well inside the hot half
        assert not p.mask[:, 65:].any()  # well inside the cold half
        assert p.score > 0.95  # below 1 only where bilinear upsampling blends the hot and cold halves


def test_clip_dense_masks_take_each_pixel_to_its_likeliest_part(one_view, tmp_path: Path) -> None:
    shape, views = one_view
    teacher = ClipDenseTeacher(*tiny_open_clip(tmp_path))
    grid = 4
    known = torch.zeros(views.n_views, 4, grid, grid)
    known[:, 0, : grid // 2] = 0.9  # top half of every view: back
    known[:, 3, grid // 2 :] = 0.9  # bottom half: arm
    known[known.sum(1, keepdim=True).expand_as(known) == 0] = 0.1
    teacher.patch_probabilities = lambda images, texts: known  # the model's part of the answer, fixed
    predictions = teacher.predict(views, CHAIR, shape)
    parts = {p.part for p in predictions}
    assert parts <= {0, 3}
    for p in predictions:
        rows = np.nonzero(p.mask)[0]
        assert (rows < 60).all() if p.part == 0 else (rows >= 60).all()


def test_real_teachers_build_from_the_registry_with_a_clear_error_when_weights_are_missing(
    tmp_path: Path,
) -> None:
    (tmp_path / "empty").mkdir()  # a local model folder without its files: the same error path as no download
    for name, label in (("owlv2", "OWLv2"), ("grounding-dino", "Grounding DINO"), ("clipseg", "CLIPSeg")):
        with pytest.raises(PdError, match=f"Could not load the {label} model"):
            build_teacher(name, model_id=str(tmp_path / "empty"))


def test_the_clip_teacher_builds_openais_clip_with_the_activation_its_weights_were_trained_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenAI's CLIP weights expect QuickGELU; open_clip's "ViT-B-16" has GELU unless told."""
    import open_clip
    from huggingface_hub import constants

    model, preprocess, tokenizer = tiny_open_clip(tmp_path)
    built = {}

    def create(arch: str, pretrained: str | None = None, **options: object):
        built.update(options, arch=arch, pretrained=pretrained)
        return model, None, preprocess

    monkeypatch.setattr(open_clip, "create_model_and_transforms", create)
    monkeypatch.setattr(open_clip, "get_tokenizer", lambda arch: tokenizer)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # no network check: nothing downloads here
    ClipDenseTeacher.from_pretrained()
    assert built == {"arch": "ViT-B-16", "pretrained": "openai", "force_quick_gelu": True}
    ClipDenseTeacher.from_pretrained("ViT-B-16", "laion2b_s34b_b88k")  # trained with GELU
    assert built["force_quick_gelu"] is False
