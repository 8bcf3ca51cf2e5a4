"""Distillation losses, re-scoring and the backward trigger, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from partdistill.distill.losses import Trigger, UnitPairs, class_weights, distillation_loss, rescore
from partdistill.knowledge.units import Knowledge

PARTS = ("a", "b")


def _two_units(n_points: int = 2) -> Knowledge:
    # Unit 0 covers points 0 and 1 as part a with score 0.5; unit 1 covers point 1 as part b with score 1.
    return Knowledge.from_units(n_points, PARTS, [np.array([0, 1]), np.array([1])], [0, 1], [0.5, 1.0])


def test_class_weights_by_hand() -> None:
    pairs = UnitPairs.from_knowledge([_two_units()])
    # Pairs per part: a 2, b 1, T = 3, C = 2: w_a = clip(1 + log4(3/4)) = 1, w_b = 1 + log4(3/2).
    np.testing.assert_allclose(class_weights(pairs, 2).numpy(), [1.0, 1 + math.log(1.5, 4)], rtol=1e-6)
    # A part with no pair gets the cap, 4.
    assert class_weights(pairs, 3).numpy()[2] == pytest.approx(4.0)


def test_forward_loss_by_hand() -> None:
    logits = torch.tensor(
        [[[0.0, 0.0], [math.log(3.0), 0.0]]]
    )  # point 0: p = (1/2, 1/2); point 1: (3/4, 1/4)
    w_b = 1 + math.log(1.5, 4)
    point0 = 0.5 * 1.0 * -math.log(0.5)  # one unit covers it
    point1 = (0.5 * 1.0 * -math.log(0.75) + 1.0 * w_b * -math.log(0.25)) / 2  # two units: averaged
    loss = distillation_loss(logits, UnitPairs.from_knowledge([_two_units()]))
    assert loss.item() == pytest.approx((point0 + point1) / 2, rel=1e-6)


def test_uncovered_points_count_in_the_mean() -> None:
    logits = torch.tensor([[[0.0, 0.0], [math.log(3.0), 0.0], [5.0, -5.0]]])
    two = distillation_loss(logits[:, :2], UnitPairs.from_knowledge([_two_units(2)]))
    three = distillation_loss(logits, UnitPairs.from_knowledge([_two_units(3)]))
    assert three.item() == pytest.approx(two.item() * 2 / 3, rel=1e-6)


def _dense_reference(logits: torch.Tensor, batch: list[Knowledge], n_parts: int) -> torch.Tensor:
    """The reference's dense formulation, written out plainly: conf [B, N, U, C] and a [B, N, U] CE."""
    size = max(k.n_units for k in batch)
    conf = torch.zeros(len(batch), batch[0].n_points, size, n_parts)
    labels = torch.zeros(len(batch), size, dtype=torch.long)
    for b, knowledge in enumerate(batch):
        conf[b, :, : knowledge.n_units] = torch.from_numpy(knowledge.dense())
        labels[b, : knowledge.n_units] = torch.from_numpy(knowledge.parts)
    weight = conf.max(dim=-1).values  # [B, N, U]
    member = (weight > 0).float()
    counts = torch.stack([(member * (labels[:, None, :] == c)).sum() for c in range(n_parts)])
    w = (
        (1 + torch.log(counts.sum() / (n_parts * counts)) / math.log(4))
        .nan_to_num(4.0, posinf=4.0)
        .clamp(1, 4)
    )
    log_p = torch.log_softmax(logits, dim=-1)  # [B, N, C]
    ce = -torch.gather(log_p, 2, labels[:, None, :].expand(-1, logits.shape[1], -1)) * w[labels][:, None, :]
    per_point = (member * weight * ce).sum(-1) / member.sum(-1).clamp(min=1)
    return per_point.mean()


def test_sparse_loss_equals_the_dense_reference_on_random_units() -> None:
    rng = np.random.default_rng(0)
    batch = []
    for _ in range(3):
        units = [rng.choice(40, size=rng.integers(1, 15), replace=False) for _ in range(rng.integers(1, 7))]
        batch.append(
            Knowledge.from_units(
                40,
                ("a", "b", "c"),
                units,
                rng.integers(0, 3, len(units)).tolist(),
                rng.uniform(0.3, 1, len(units)).tolist(),
            )
        )
    logits = torch.from_numpy(rng.normal(size=(3, 40, 3)).astype(np.float32))
    sparse = distillation_loss(logits, UnitPairs.from_knowledge(batch))
    assert sparse.item() == pytest.approx(_dense_reference(logits, batch, 3).item(), rel=1e-5)


def test_backward_weights_replace_the_teacher_scores() -> None:
    logits = torch.tensor([[[0.0, 0.0], [math.log(3.0), 0.0]]])
    rescored = UnitPairs.from_knowledge([_two_units()], weights=[np.array([1.0, 0.0])])
    # Unit 1 now weighs nothing: point 1 keeps only unit 0's term, still divided by its 2 covering units.
    expected = (1.0 * -math.log(0.5) + 1.0 * -math.log(0.75) / 2) / 2
    assert distillation_loss(logits, rescored).item() == pytest.approx(expected, rel=1e-6)


def test_rescore_is_the_share_of_unit_points_given_its_part() -> None:
    units = Knowledge.from_units(
        6,
        ("a", "b", "c"),
        [np.array([0, 1, 2, 3]), np.array([4]), np.array([], int)],
        [1, 2, 0],
        [0.9, 0.9, 0.9],
    )
    predicted = np.array([1, 1, 0, 2, 2, 0])
    # Unit 0 (part 1): points 0..3 are predicted 1, 1, 0, 2, so 2 of 4 agree. Unit 1 (part 2): point 4
    # is predicted 2, 1 of 1. The empty unit scores 0.
    np.testing.assert_allclose(rescore(units, predicted), [0.5, 1.0, 0.0])


def test_trigger_fires_when_and_only_when_the_moving_average_flattens() -> None:
    trigger = Trigger(window=5, delta=0.01)
    losses = [5.0, 4.0, 3.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    fired = [trigger.fires(losses[:e]) for e in range(1, len(losses) + 1)]
    # The 5-epoch average is 3, 2.2, 1.6, 1.2, 1.0, 1.0 at epochs 5..10: its change first drops
    # below 0.01 at epoch 10.
    assert fired == [False] * 9 + [True, True]


def test_trigger_waits_for_the_window_even_when_flat() -> None:
    trigger = Trigger(window=5, delta=0.01)
    assert [trigger.fires([2.0] * e) for e in range(1, 7)] == [False, False, False, False, True, True]


def test_trigger_ignores_small_noise_but_not_a_trend() -> None:
    trigger = Trigger(window=5, delta=0.01)
    noisy_plateau = [1.0, 1.02, 0.98, 1.01, 0.99, 1.0, 1.005]
    assert trigger.fires(noisy_plateau)
    falling = [1.0 - 0.05 * e for e in range(10)]
    assert not any(trigger.fires(falling[:e]) for e in range(1, 11))


def test_the_gradient_is_the_same_on_one_thread_and_on_two() -> None:
    # Many overlapping units, as in training. Summing gradients in thread order (what the backward of
    # tensor indexing does on a CPU) made a run's weights depend on the CPU load.
    rng = np.random.default_rng(0)
    parts = ("a", "b", "c", "d")
    batch = [
        Knowledge.from_units(
            2048,
            parts,
            [np.sort(rng.choice(2048, rng.integers(50, 800), replace=False)) for _ in range(40)],
            rng.integers(0, 4, 40).tolist(),
            rng.uniform(0.5, 0.95, 40).tolist(),
        )
        for _ in range(16)
    ]
    pairs = UnitPairs.from_knowledge(batch)
    logits = torch.from_numpy(rng.normal(size=(16, 2048, 4)).astype(np.float32))
    threads, gradients = torch.get_num_threads(), []
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            leaf = logits.clone().requires_grad_(True)
            distillation_loss(leaf, pairs).backward()
            gradients.append(leaf.grad)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(gradients[0], gradients[1])
