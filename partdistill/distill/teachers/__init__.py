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

from partdistill.distill.teachers.base import Prediction, Teacher
from partdistill.distill.teachers.simulated import NOISE_PRESETS, Noise, SimulatedTeacher
from partdistill.errors import PdError


def _simulated(
    model_id: str | None, threshold: float | None, device: str, options: dict[str, Any]
) -> Teacher:
    noise = options.get("noise", "noisy")
    if noise not in NOISE_PRESETS:
        raise PdError(f"Unknown noise preset '{noise}': use one of {', '.join(NOISE_PRESETS)}.")
    return SimulatedTeacher(options.get("kind", "box"), NOISE_PRESETS[noise], options.get("seed", 0))


def _with_threshold(threshold: float | None) -> dict[str, float]:
    return {} if threshold is None else {"threshold": threshold}


def _grounding_dino(
    model_id: str | None, threshold: float | None, device: str, options: dict[str, Any]
) -> Teacher:
    from partdistill.distill.teachers.vlm import GROUNDING_DINO, GroundingDinoTeacher

    return GroundingDinoTeacher.from_pretrained(
        model_id or GROUNDING_DINO, device=device, **_with_threshold(threshold)
    )


def _owlv2(model_id: str | None, threshold: float | None, device: str, options: dict[str, Any]) -> Teacher:
    from partdistill.distill.teachers.vlm import OWLV2, Owlv2Teacher

    return Owlv2Teacher.from_pretrained(model_id or OWLV2, device=device, **_with_threshold(threshold))


def _clipseg(model_id: str | None, threshold: float | None, device: str, options: dict[str, Any]) -> Teacher:
    from partdistill.distill.teachers.vlm import CLIPSEG, ClipSegTeacher

    return ClipSegTeacher.from_pretrained(model_id or CLIPSEG, device=device, **_with_threshold(threshold))


def _clip(model_id: str | None, threshold: float | None, device: str, options: dict[str, Any]) -> Teacher:
    from partdistill.distill.teachers.vlm import CLIP, ClipDenseTeacher

    arch, pretrained = (
        model_id.split(":", 1) if model_id and ":" in model_id else (model_id or CLIP[0], CLIP[1])
    )
    return ClipDenseTeacher.from_pretrained(arch, pretrained, device=device)


TEACHERS: dict[str, Callable[[str | None, float | None, str, dict[str, Any]], Teacher]] = {
    "simulated": _simulated,
    "grounding-dino": _grounding_dino,
    "owlv2": _owlv2,
    "clipseg": _clipseg,
    "clip": _clip,
}


def build_teacher(
    name: str,
    *,
    model_id: str | None = None,
    threshold: float | None = None,
    device: str = "cpu",
    **options: Any,
) -> Teacher:
    """The teacher `name` with its weights loaded; `options` are the simulated teacher's noise, kind, seed.

    For `clip`, `model_id` is an open_clip "architecture:pretrained-tag" pair (default ViT-B-16:openai).
    """
    if name not in TEACHERS:
        raise PdError(f"Unknown teacher '{name}': use one of {', '.join(TEACHERS)}.")
    return TEACHERS[name](model_id, threshold, device, options)


__all__ = ["NOISE_PRESETS", "TEACHERS", "Noise", "Prediction", "SimulatedTeacher", "Teacher", "build_teacher"]
