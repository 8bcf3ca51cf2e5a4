"""2D teachers behind one interface; `build_teacher` makes one from a name and its settings.

simulated       reads ground truth, errs at set rates (offline; for tests and measurement)
grounding-dino  boxes, transformers (IDEA-Research/grounding-dino-base)
owlv2           boxes, transformers (google/owlv2-base-patch16-ensemble)
clipseg         masks, transformers (CIDAS/clipseg-rd64-refined)
clip            masks, open_clip dense features (ViT-B-16, openai)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from partdistill.distill.teachers.base import GLIP_NMS, Prediction, Teacher, suppress_duplicates
from partdistill.distill.teachers.simulated import NOISE_PRESETS, Noise, SimulatedTeacher
from partdistill.errors import PdError


def _simulated(
    model_id: str | None, threshold: float | None, device: str, options: dict[str, Any]
) -> Teacher:
    noise = options.get("noise", "noisy")
    if noise not in NOISE_PRESETS:
        raise PdError(f"Unknown noise preset '{noise}': use one of {', '.join(NOISE_PRESETS)}.")
    return SimulatedTeacher(options.get("kind", "box"), NOISE_PRESETS[noise], options.get("seed", 0))


def _settings(threshold: float | None, options: dict[str, Any], *names: str) -> dict[str, Any]:
    """The given threshold and the named options that are set, as keyword arguments."""
    chosen = {} if threshold is None else {"threshold": threshold}
    return chosen | {name: options[name] for name in names if options.get(name) is not None}


def _grounding_dino(
    model_id: str | None, threshold: float | None, device: str, options: dict[str, Any]
) -> Teacher:
    from partdistill.distill.teachers.vlm import GROUNDING_DINO, GroundingDinoTeacher

    return GroundingDinoTeacher.from_pretrained(
        model_id or GROUNDING_DINO, device=device, **_settings(threshold, options, "nms", "query")
    )


def _owlv2(model_id: str | None, threshold: float | None, device: str, options: dict[str, Any]) -> Teacher:
    from partdistill.distill.teachers.vlm import OWLV2, Owlv2Teacher

    return Owlv2Teacher.from_pretrained(
        model_id or OWLV2, device=device, **_settings(threshold, options, "nms", "query")
    )


def _clipseg(model_id: str | None, threshold: float | None, device: str, options: dict[str, Any]) -> Teacher:
    from partdistill.distill.teachers.vlm import CLIPSEG, ClipSegTeacher

    return ClipSegTeacher.from_pretrained(
        model_id or CLIPSEG, device=device, **_settings(threshold, options, "query")
    )


def _clip(model_id: str | None, threshold: float | None, device: str, options: dict[str, Any]) -> Teacher:
    from partdistill.distill.teachers.vlm import CLIP, ClipDenseTeacher

    arch, pretrained = (
        model_id.split(":", 1) if model_id and ":" in model_id else (model_id or CLIP[0], CLIP[1])
    )
    return ClipDenseTeacher.from_pretrained(
        arch, pretrained, device=device, **_settings(None, options, "query")
    )


TEACHERS: dict[str, Callable[[str | None, float | None, str, dict[str, Any]], Teacher]] = {
    "simulated": _simulated,
    "grounding-dino": _grounding_dino,
    "owlv2": _owlv2,
    "clipseg": _clipseg,
    "clip": _clip,
}


THRESHOLDED = ("grounding-dino", "owlv2", "clipseg")  # the teachers with a score threshold
DETECTORS = ("grounding-dino", "owlv2")  # the teachers whose boxes go through NMS


def refuse_ignored(name: str, *, threshold: float | None, nms: float | None) -> None:
    """Refuse (PdError) a threshold or NMS IoU asked of teacher `name` when it has none, instead of
    recording a setting that changed nothing."""
    if threshold is not None and name not in THRESHOLDED:
        raise PdError(
            f"The {name} teacher has no score threshold: --threshold is for {', '.join(THRESHOLDED)}."
        )
    if nms is not None and name not in DETECTORS:
        raise PdError(f"The {name} teacher draws no boxes to suppress: --nms is for {', '.join(DETECTORS)}.")


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
    if name not in TEACHERS:
        raise PdError(f"Unknown teacher '{name}': use one of {', '.join(TEACHERS)}.")
    return TEACHERS[name](model_id, threshold, device, options)


__all__ = [
    "DETECTORS",
    "GLIP_NMS",
    "NOISE_PRESETS",
    "TEACHERS",
    "THRESHOLDED",
    "Noise",
    "Prediction",
    "SimulatedTeacher",
    "Teacher",
    "build_teacher",
    "refuse_ignored",
    "suppress_duplicates",
]
