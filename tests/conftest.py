"""Shared fixtures: small shapes whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from partdistill.prompts import catalog
from partdistill.shapes import Provenance, Shape


@pytest.fixture(autouse=True, scope="module")
def _user_categories_of_this_module():
    """User categories are registered process-wide (one definition per name): each test module
    starts with none, so two modules may each define a 'teapot' of their own."""
    before = dict(catalog._USER)
    catalog._USER.clear()
    yield
    catalog._USER.clear()
    catalog._USER.update(before)


@pytest.fixture(autouse=True)
def _checkpoints_on_their_epochs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs in tests write their checkpoints on every epoch the every-k rule allows, however
    quickly the epochs go (a real run waits `CHECKPOINT_SECONDS` between two), so that which
    epoch a killed run resumes after does not depend on the machine's speed."""
    monkeypatch.setattr("partdistill.distill.train.CHECKPOINT_SECONDS", 0.0)


@pytest.fixture
def two_part_shape() -> Shape:
    """Two unit squares of points, 'top' at y=1 and 'bottom' at y=0: a split whose answer is known."""
    rng = np.random.default_rng(0)
    xz = rng.uniform(-0.5, 0.5, size=(200, 2))
    top = np.column_stack([xz[:100, 0], np.ones(100), xz[:100, 1]])
    bottom = np.column_stack([xz[100:, 0], np.zeros(100), xz[100:, 1]])
    return Shape(
        points=np.vstack([top, bottom]),
        normals=np.tile([0.0, 1.0, 0.0], (200, 1)),
        labels=np.repeat([0, 1], 100),
        part_names=("top", "bottom"),
        category="table",
        provenance=Provenance("test"),
    )
