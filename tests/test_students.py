"""Students: every registered network runs and learns; Point-M2AE loads its checkpoint or says why not."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch

from partdistill.distill.students import STUDENTS, build_student, trainable_parameters
from partdistill.distill.students.m2ae import FEATURES, PointM2AEStudent, farthest_points
from partdistill.errors import PdError


def _points(batch: int, n: int) -> torch.Tensor:
    torch.manual_seed(0)
    points = torch.randn(batch, n, 3)
    return points / points.norm(dim=-1).max()


@pytest.mark.parametrize("name", sorted(STUDENTS))
def test_every_student_maps_points_to_logits_and_trains(name: str) -> None:
    n = 2048 if name == "point-m2ae" else 256  # Point-M2AE's first scale takes 512 centres
    model = build_student(name, n_parts=3, restoring=True)
    points = _points(1 if name == "point-m2ae" else 2, n)
    logits = model(points)
    assert logits.shape == (points.shape[0], n, 3) and torch.isfinite(logits).all()
    logits.logsumexp(-1).mean().backward()
    trainable = trainable_parameters(model)
    assert trainable and all(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)


@pytest.mark.parametrize("name", ["pointnet", "edgeconv"])
def test_prediction_computes_the_function_training_learns(name: str) -> None:
    # Eval mode splits the head's first layer (the pooled share once per cloud); the same logits.
    model = build_student(name, n_parts=4)
    points = _points(3, 256)
    with torch.no_grad():
        trained, predicted = model.train()(points), model.eval()(points)
    torch.testing.assert_close(predicted, trained, rtol=0, atol=1e-5)
    assert torch.equal(predicted.argmax(-1), trained.argmax(-1))


def test_point_m2ae_encoder_is_frozen_and_in_eval_mode() -> None:
    model = PointM2AEStudent(n_parts=2)
    model.train()
    assert not model.h_encoder.training and model.head.training
    assert not any(p.requires_grad for p in model.h_encoder.parameters())
    assert sum(p.numel() for p in model.h_encoder.parameters()) == 12_654_976  # Point-M2AE's encoder


def test_point_m2ae_features_carry_xyz_in_front_of_each_scale() -> None:
    points = _points(1, 2048)
    features = PointM2AEStudent(n_parts=2).features(points)
    assert features.shape == (1, 2048, FEATURES) == (1, 2048, 681)
    for start in (0, 99, 294):
        torch.testing.assert_close(features[..., start : start + 3], points)


def test_farthest_point_sampling_starts_at_zero_and_spreads() -> None:
    line = torch.tensor([[[x, 0.5, 0.0] for x in (0.0, 0.1, 0.2, 0.9, 1.0)]])
    assert farthest_points(line, 3).tolist() == [[0, 4, 2]]  # start, then farthest, then the middle
    # pointnet2's kernel never picks a point within sqrt(1e-3) of the origin (after the first).
    near_origin = torch.tensor([[[1.0, 0, 0], [0.0, 0.0, 0.01], [-0.5, 0, 0]]])
    assert farthest_points(near_origin, 3)[0, :2].tolist() == [0, 2]


def _checkpoint(
    path: Path, *, prefix: str = "", drop: str | None = None, extra: str | None = None, bad_shape=False
):
    """A checkpoint in Point-M2AE's layout: {'base_model': {...encoder..., decoder keys, mask_token}}."""
    torch.manual_seed(1)
    encoder = {
        f"h_encoder.{k}": torch.randn_like(v) if v.is_floating_point() else torch.full_like(v, 7)
        for k, v in PointM2AEStudent(2).h_encoder.state_dict().items()
    }
    if drop:
        encoder.pop(drop)
    if extra:
        encoder[extra] = torch.zeros(3)
    if bad_shape:
        encoder["h_encoder.encoder_norms.0.weight"] = torch.zeros(7)
    state = {f"{prefix}{k}": v for k, v in encoder.items()}
    state |= {f"{prefix}mask_token": torch.zeros(1, 384), f"{prefix}rec_head.weight": torch.zeros(48, 192, 1)}
    torch.save({"base_model": state, "epoch": 300}, path)
    return encoder


@pytest.mark.parametrize("prefix", ["", "module."])
def test_official_layout_checkpoint_loads_every_encoder_weight(tmp_path: Path, prefix: str) -> None:
    saved = _checkpoint(tmp_path / "pre-train.pth", prefix=prefix)
    model = build_student("point-m2ae", 4, tmp_path / "pre-train.pth")
    for key, value in model.h_encoder.state_dict().items():
        torch.testing.assert_close(value, saved[f"h_encoder.{key}"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"drop": "h_encoder.encoder_blocks.1.blocks.3.attn.qkv.weight"},
            "1 of its 237 encoder weights are missing",
        ),
        ({"extra": "h_encoder.encoder_blocks.0.blocks.9.attn.qkv.weight"}, "1 are unknown"),
        ({"bad_shape": True}, r"encoder_norms.0.weight has shape \[7\], expected \[96\]"),
    ],
)
def test_checkpoints_that_do_not_fit_are_refused_with_one_sentence(
    tmp_path: Path, kwargs: dict, message: str
) -> None:
    _checkpoint(tmp_path / "pre-train.pth", **kwargs)
    with pytest.raises(PdError, match=message):
        build_student("point-m2ae", 4, tmp_path / "pre-train.pth")


def test_old_or_foreign_checkpoints_are_refused(tmp_path: Path) -> None:
    torch.save({"base_model": {"MAE_encoder.blocks.0.weight": torch.zeros(2)}}, tmp_path / "old.pth")
    with pytest.raises(PdError, match="237 of its 237 encoder weights are missing"):
        build_student("point-m2ae", 4, tmp_path / "old.pth")
    (tmp_path / "junk.pth").write_text("not a checkpoint")
    with pytest.raises(PdError, match="not a readable PyTorch checkpoint"):
        build_student("point-m2ae", 4, tmp_path / "junk.pth")
    # A training checkpoint saved with its options (an argparse Namespace, numpy scalars).
    torch.save(
        {"base_model": {}, "args": argparse.Namespace(lr=1e-3), "epoch": np.int64(3)}, tmp_path / "full.pth"
    )
    with pytest.raises(
        PdError, match=r"full\.pth holds objects besides tensors, .* save its 'base_model' state dict"
    ):
        build_student("point-m2ae", 4, tmp_path / "full.pth")


def test_point_m2ae_without_a_checkpoint_does_not_pretend() -> None:
    with pytest.raises(PdError, match="needs Point-M2AE's pre-training checkpoint"):
        build_student("point-m2ae", 4)


def test_a_student_trained_from_scratch_refuses_a_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(PdError, match="trains from scratch and would ignore `checkpoint`"):
        build_student("pointnet", 4, tmp_path / "pre-train.pth")


def test_unknown_student() -> None:
    with pytest.raises(PdError, match=r"Unknown student 'pointnet\+\+'"):
        build_student("pointnet++", 4)
