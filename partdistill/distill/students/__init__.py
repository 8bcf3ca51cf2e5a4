"""3D students: points [B, N, 3] -> part logits [B, N, C]; `build_student` makes one by name.

pointnet     compact PointNet-style network, trained from scratch (the CPU default)
edgeconv     compact DGCNN-style network, trained from scratch; several times slower on a CPU
point-m2ae   the paper's student: frozen Point-M2AE encoder + MLP head (needs its checkpoint)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from partdistill.errors import PdError, option

if TYPE_CHECKING:  # the registry is read by the command line, which need not load torch for it
    from torch import nn


def _edgeconv(n_parts: int, checkpoint: Path | None) -> nn.Module:
    from partdistill.distill.students.compact import EdgeConvStudent

    return EdgeConvStudent(n_parts)


def _pointnet(n_parts: int, checkpoint: Path | None) -> nn.Module:
    from partdistill.distill.students.compact import PointNetStudent

    return PointNetStudent(n_parts)


def _point_m2ae(n_parts: int, checkpoint: Path | None) -> nn.Module:
    from partdistill.distill.students.m2ae import PointM2AEStudent

    if checkpoint is not None:
        return PointM2AEStudent.from_checkpoint(n_parts, checkpoint)
    return PointM2AEStudent(n_parts)  # `check_student` let this through only when restoring a run


NEEDS_CHECKPOINT = {"point-m2ae"}  # students whose encoder is frozen pretrained weights

STUDENTS: dict[str, Callable[[int, Path | None], nn.Module]] = {
    "edgeconv": _edgeconv,
    "pointnet": _pointnet,
    "point-m2ae": _point_m2ae,
}


def check_student(name: str, checkpoint: str | Path | None, restoring: bool = False) -> None:
    """Refuse an unknown student, the pretrained one without its checkpoint, or a checkpoint for a
    student trained from scratch, before any work starts."""
    if name not in STUDENTS:
        raise PdError(f"Unknown student '{name}' ({option('student')}): use one of {', '.join(STUDENTS)}.")
    if name not in NEEDS_CHECKPOINT and checkpoint is not None:
        raise PdError(
            f"The {name} student trains from scratch and would ignore {option('checkpoint')}; "
            f"pre-training checkpoints are for {', '.join(sorted(NEEDS_CHECKPOINT))}."
        )
    if name in NEEDS_CHECKPOINT and checkpoint is None and not restoring:
        raise PdError(
            f"The {name} student needs Point-M2AE's pre-training checkpoint ({option('checkpoint')} "
            "pre-train.pth): without it its frozen encoder would be random. Use the pointnet student "
            "to train from scratch."
        )


def build_student(
    name: str, n_parts: int, checkpoint: str | Path | None = None, *, restoring: bool = False
) -> nn.Module:
    """The student `name` for `n_parts` parts.

    `checkpoint` is pre-training weights for the student's encoder (point-m2ae needs them);
    `restoring` says a trained run's weights will be loaded right after, so none are needed.
    """
    check_student(name, checkpoint, restoring)
    return STUDENTS[name](n_parts, None if checkpoint is None else Path(checkpoint))


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]
