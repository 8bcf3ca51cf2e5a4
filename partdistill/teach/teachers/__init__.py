"""2D teachers behind one interface; `build_teacher` makes one from a name and its settings.

simulated       reads ground truth, errs at set rates (offline; for tests and measurement)
grounding-dino  boxes, transformers (IDEA-Research/grounding-dino-base)
owlv2           boxes, transformers (google/owlv2-base-patch16-ensemble)
clipseg         masks, transformers (CIDAS/clipseg-rd64-refined)
clip            masks, open_clip dense features (ViT-B-16, openai)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from partdistill.errors import PdError, option
from partdistill.teach.teachers.base import (
    GLIP_NMS,
    Prediction,
    Teacher,
    labels_in_category,
    suppress_duplicates,
)
from partdistill.teach.teachers.simulated import NOISE_PRESETS, Noise, SimulatedTeacher


def _simulated(
    model_id: str | None, threshold: float | None, device: str, options: dict[str, Any]
) -> Teacher:
    noise = options.get("noise", "noisy")
    if noise not in NOISE_PRESETS:
        raise PdError(
            f"Unknown noise preset '{noise}' ({option('noise')}): use one of {', '.join(NOISE_PRESETS)}."
        )
    return SimulatedTeacher(options.get("kind", "box"), NOISE_PRESETS[noise], options.get("seed", 0))


def _settings(threshold: float | None, options: dict[str, Any], *names: str) -> dict[str, Any]:
    """The given threshold and the named options that are set, as keyword arguments."""
    chosen = {} if threshold is None else {"threshold": threshold}
    return chosen | {name: options[name] for name in names if options.get(name) is not None}


def _grounding_dino(
    model_id: str | None, threshold: float | None, device: str, options: dict[str, Any]
) -> Teacher:
    from partdistill.teach.teachers.vlm import GROUNDING_DINO, GroundingDinoTeacher

    return GroundingDinoTeacher.from_pretrained(
        model_id or GROUNDING_DINO, device=device, **_settings(threshold, options, "nms", "query")
    )


def _owlv2(model_id: str | None, threshold: float | None, device: str, options: dict[str, Any]) -> Teacher:
    from partdistill.teach.teachers.vlm import OWLV2, Owlv2Teacher

    return Owlv2Teacher.from_pretrained(
        model_id or OWLV2, device=device, **_settings(threshold, options, "nms", "query")
    )


def _clipseg(model_id: str | None, threshold: float | None, device: str, options: dict[str, Any]) -> Teacher:
    from partdistill.teach.teachers.vlm import CLIPSEG, ClipSegTeacher

    return ClipSegTeacher.from_pretrained(
        model_id or CLIPSEG, device=device, **_settings(threshold, options, "query")
    )


def _clip(model_id: str | None, threshold: float | None, device: str, options: dict[str, Any]) -> Teacher:
    from partdistill.teach.teachers.vlm import CLIP, ClipDenseTeacher

    if model_id and model_id.startswith("hf-hub:"):  # open_clip's own form: the weights come with it
        arch, pretrained = model_id, None
    else:
        arch, pretrained = (
            model_id.split(":", 1) if model_id and ":" in model_id else (model_id or CLIP[0], CLIP[1])
        )
    return ClipDenseTeacher.from_pretrained(
        arch, pretrained, device=device, **_settings(None, options, "query")
    )


@dataclass(frozen=True)
class TeacherKind:
    """How to build one teacher, and which of `pd teach`'s shared options it takes.

    Attributes:
        build: (model_id, threshold, device, options) -> the teacher.
        threshold: it keeps predictions above a score threshold (--threshold).
        nms: it draws boxes that non-maximum suppression merges (--nms).
        weights: the Hugging Face repository its default weights come from (None: it needs none).
    """

    build: Callable[[str | None, float | None, str, dict[str, Any]], Teacher]
    threshold: bool = False
    nms: bool = False
    weights: str | None = None


# The repositories are the ones vlm.py loads by default (a test keeps them equal; importing vlm
# here would load torch and transformers for `pd --help`).
TEACHERS: dict[str, TeacherKind] = {
    "simulated": TeacherKind(_simulated),
    "grounding-dino": TeacherKind(
        _grounding_dino, threshold=True, nms=True, weights="IDEA-Research/grounding-dino-base"
    ),
    "owlv2": TeacherKind(_owlv2, threshold=True, nms=True, weights="google/owlv2-base-patch16-ensemble"),
    "clipseg": TeacherKind(_clipseg, threshold=True, weights="CIDAS/clipseg-rd64-refined"),
    "clip": TeacherKind(_clip, weights="timm/vit_base_patch16_clip_224.openai"),
}


def offline_teachers(missing: str) -> str:
    """What teaches without the weights of teacher `missing`, as a clause: the simulated teacher on
    shapes that carry part labels, and the real teachers whose default weights are cached here."""
    from partdistill.weights import is_cached

    cached = [name for name, kind in TEACHERS.items() if name != missing and kind.weights]
    cached = [name for name in cached if is_cached(TEACHERS[name].weights or "")]
    here = (
        f"; the weights of {', '.join(cached)} are cached here"
        if cached
        else "; no real teacher's weights are cached here"
    )
    return (
        f"without these weights, {option('teacher')} simulated teaches shapes that carry part labels "
        f"(procedural shapes, labelled imports), not unlabelled ones{here}"
    )


# The settings of a TeachConfig that not every teacher reads, and what a teacher that does not
# read one lacks, in words.
_LACKS = {
    "model_id": "loads no model",
    "query": "is asked no text",
    "threshold": "has no score threshold",
    "nms": "draws no boxes to suppress",
}


def _reads(kind: TeacherKind) -> dict[str, bool]:
    """Which of `_LACKS`' settings a teacher of `kind` reads."""
    real = kind.weights is not None  # a model, asked in words
    return {"model_id": real, "query": real, "threshold": kind.threshold, "nms": kind.nms}


def ignored_settings(name: str) -> tuple[str, ...]:
    """The settings of a TeachConfig that teacher `name` does not read (none for a name unknown)."""
    kind = TEACHERS.get(name)
    return () if kind is None else tuple(setting for setting, read in _reads(kind).items() if not read)


def refuse_ignored(
    name: str, *, threshold: float | None, nms: float | None, model_id: str | None = None, query: str = "part"
) -> None:
    """Refuse (PdError) a threshold, NMS IoU, model or query style asked of teacher `name` when it
    has none, instead of recording a setting that changed nothing (and that a later run into the
    same folder must then repeat)."""
    given = {
        "model_id": model_id is not None,
        "query": query != "part",
        "threshold": threshold is not None,
        "nms": nms is not None,
    }
    for setting in ignored_settings(name):  # an unknown name: build_teacher names the teachers there are
        if given[setting]:
            takers = ", ".join(n for n, kind in TEACHERS.items() if _reads(kind)[setting])
            raise PdError(f"The {name} teacher {_LACKS[setting]}: {option(setting)} is for {takers}.")


def build_teacher(
    name: str,
    *,
    model_id: str | None = None,
    threshold: float | None = None,
    device: str = "cpu",
    **options: Any,
) -> Teacher:
    """The teacher `name` with its weights loaded.

    `options` are the simulated teacher's noise, kind and seed, and the real teachers' query style
    ("part" or "part-of-category") and, for the detectors, their NMS IoU threshold. For `clip`,
    `model_id` is an open_clip "architecture:pretrained-tag" pair (default ViT-B-16:openai).
    """
    from partdistill.weights import MissingWeights

    if name not in TEACHERS:
        raise PdError(f"Unknown teacher '{name}' ({option('teacher')}): use one of {', '.join(TEACHERS)}.")
    try:
        return TEACHERS[name].build(model_id, threshold, device, options)
    except MissingWeights as error:
        raise error.with_advice(offline_teachers(name)) from error


__all__ = [
    "GLIP_NMS",
    "NOISE_PRESETS",
    "TEACHERS",
    "Noise",
    "Prediction",
    "SimulatedTeacher",
    "Teacher",
    "TeacherKind",
    "build_teacher",
    "ignored_settings",
    "labels_in_category",
    "offline_teachers",
    "refuse_ignored",
    "suppress_duplicates",
]
