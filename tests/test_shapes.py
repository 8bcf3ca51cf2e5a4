"""The Shape record: validation, normalisation and sampling."""

from __future__ import annotations

import numpy as np
import pytest

from partdistill.errors import PdError
from partdistill.shapes import (
    MAX_PARTS,
    Mesh,
    Provenance,
    Shape,
    ShapeError,
    normalization,
    normalize,
    sample_indices,
    subsample,
)


def test_shape_coerces_dtypes(two_part_shape: Shape) -> None:
    assert two_part_shape.points.dtype == np.float32
    assert two_part_shape.labels.dtype == np.int64
    assert two_part_shape.n_points == 200 and two_part_shape.is_labelled


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"points": np.zeros((0, 3))}, "empty"),
        ({"points": np.zeros((5, 2))}, r"shape \[N,3\]"),
        ({"points": np.array([[0, 0, np.nan], [1, 1, 1]])}, "1 of 2 points have NaN"),
        ({"points": np.array([[0, 0, np.inf]])}, "NaN or infinite"),
        ({"points": np.zeros((4, 3)), "labels": np.zeros(3), "part_names": ("a",)}, "3 labels for 4 points"),
        (
            {"points": np.zeros((4, 3)), "labels": np.array([0, 1, 2, -1]), "part_names": ("a", "b")},
            "outside -1..1",
        ),
        ({"points": np.zeros((4, 3)), "labels": np.zeros(4)}, "no part names"),
        ({"points": np.zeros((4, 3)), "labels": np.full(4, 0.5), "part_names": ("a",)}, "whole numbers"),
        ({"points": np.zeros((4, 3)), "colors": np.full((4, 3), 2.0)}, r"in \[0,1\]"),
        ({"points": np.zeros((4, 3)), "normals": np.zeros((3, 3))}, "3 normals for 4 points"),
        ({"points": np.zeros((4, 3)), "point_faces": np.zeros(4)}, "needs the mesh"),
        # numpy would read these as numbers without a word
        ({"points": np.eye(3) + 1j}, "points must be real numbers, not complex numbers"),
        ({"points": np.array([["1", "2", "3"]])}, "points must be real numbers, not text"),
        ({"points": np.zeros((3, 3)), "normals": np.full((3, 3), "0")}, "normals must be real numbers"),
        ({"points": np.zeros((2, 3)), "colors": np.ones((2, 3), bool)}, "not true/false values"),
        (
            {"points": np.zeros((2, 3)), "labels": np.array([0, 2**64 - 1], np.uint64), "part_names": ("a",)},
            "too large for 64 bits",  # not -1 (no part), as a cast would make it
        ),
        (
            {"points": np.zeros((2, 3)), "labels": np.array([0, np.nan]), "part_names": ("a",)},
            "labels must be whole numbers",
        ),
        ({"points": np.zeros((2, 3)), "labels": np.zeros(2), "part_names": ("a", "a")}, "part names repeat"),
        ({"points": np.zeros((2, 3)), "labels": np.zeros(2), "part_names": (1, 2)}, "non-empty texts"),
        (
            {"points": np.zeros((2, 3)), "part_names": [f"p{i}" for i in range(MAX_PARTS + 1)]},
            f"more than the {MAX_PARTS}",
        ),
        ({"points": np.zeros((2, 3)), "category": 123}, "category must be a name"),
    ],
)
def test_shape_rejects_bad_arrays(kwargs: dict, message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        Shape(**kwargs)


def test_mesh_rejects_faces_beyond_vertices() -> None:
    with pytest.raises(ShapeError, match="do not exist"):
        Mesh(vertices=np.zeros((3, 3)), faces=np.array([[0, 1, 3]]))


def test_mesh_rejects_fractional_faces() -> None:
    with pytest.raises(ShapeError, match="mesh faces must be whole numbers"):  # not truncated to [0, 1, 1]
        Mesh(vertices=np.eye(3), faces=np.array([[0, 1, 1.5]]))


def test_provenance_round_trips() -> None:
    provenance = Provenance("shap-e", prompt="a red chair", seed=7, model_id="openai/shap-e")
    assert Provenance.from_dict(provenance.to_dict()) == provenance


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("x", r"m\.json: 'provenance' is not a provenance record \(a JSON object\): it holds a text"),
        ({}, r"'provenance' has no 'generator'"),
        ({"generator": 5}, r"'generator' must be a non-empty text"),
        ({"generator": "file", "seed": 1.5}, r"'seed' must be a whole number"),
        ({"generator": "file", "seed": -1}, r"'seed' must be a whole number from 0"),
        ({"generator": "file", "prompt": ["a", "b"]}, r"'prompt' must be a non-empty text"),
        ({"generator": "file", "colour": "red"}, r"unknown keys \['colour'\]"),
    ],
)
def test_provenance_of_the_wrong_types_is_one_sentence(data: object, message: str) -> None:
    with pytest.raises(PdError, match=message):
        Provenance.from_dict(data, "m.json: 'provenance'")


def test_normalize_mean_and_bbox_centres() -> None:
    # Three points at x = 0, 0, 3: centroid x = 1, bounding-box centre x = 1.5.
    shape = Shape(points=np.array([[0.0, 0, 0], [0, 0, 0], [3, 0, 0]]))
    offset, scale = normalization(shape.points, "mean")
    assert offset == pytest.approx([1, 0, 0]) and scale == pytest.approx(2.0)
    offset, scale = normalization(shape.points, "bbox")
    assert offset == pytest.approx([1.5, 0, 0]) and scale == pytest.approx(1.5)
    moved = normalize(shape, "bbox")
    assert moved.points[:, 0] == pytest.approx([-1, -1, 1])
    assert np.linalg.norm(moved.points, axis=1).max() == pytest.approx(1.0)


@pytest.mark.parametrize("center", ["mean", "bbox"])
def test_normalization_gives_the_plain_forms_bits(center: str) -> None:
    # The fast per-axis form against the plain [N, 3] one it replaced: training's clouds and
    # weights stay the same to the bit.
    rng = np.random.default_rng(5)
    for size in (2, 7, 2048, 10_000):
        spread, centre = rng.uniform(0.01, 100), rng.normal(size=3) * 10
        points = (rng.normal(size=(size, 3)) * spread + centre).astype(np.float32)
        plain = points.astype(np.float64)
        offset = plain.mean(axis=0) if center == "mean" else (plain.min(axis=0) + plain.max(axis=0)) / 2
        got_offset, got_scale = normalization(points, center)
        assert np.array_equal(got_offset, offset)
        assert got_scale == float(np.linalg.norm(plain - offset, axis=1).max())


def test_normalize_moves_the_mesh_with_the_points() -> None:
    mesh = Mesh(vertices=np.array([[0.0, 0, 0], [4, 0, 0], [0, 4, 0]]), faces=np.array([[0, 1, 2]]))
    shape = Shape(points=mesh.vertices, mesh=mesh)
    moved = normalize(shape)
    np.testing.assert_allclose(moved.mesh.vertices, moved.points)


def test_random_sampling_is_seeded_and_without_repeats() -> None:
    points = np.random.default_rng(1).normal(size=(500, 3))
    first = sample_indices(points, 100, np.random.default_rng(7))
    again = sample_indices(points, 100, np.random.default_rng(7))
    np.testing.assert_array_equal(first, again)
    assert len(np.unique(first)) == 100


def test_upsampling_keeps_every_point() -> None:
    points = np.zeros((10, 3))
    index = sample_indices(points, 25, np.random.default_rng(0))
    assert len(index) == 25 and set(index.tolist()) == set(range(10))


def test_farthest_point_sampling_spreads_points() -> None:
    # Two tight clusters far apart: FPS must take points from both; 2 random picks often do not.
    rng = np.random.default_rng(0)
    points = np.vstack([rng.normal(0, 0.01, (300, 3)), rng.normal(0, 0.01, (3, 3)) + 10])
    index = sample_indices(points, 2, rng, method="fps")
    assert {int(i >= 300) for i in index} == {0, 1}


def test_subsample_keeps_per_point_attributes(two_part_shape: Shape) -> None:
    small = subsample(two_part_shape, 50, np.random.default_rng(0))
    assert small.n_points == 50
    # Labels still match positions: top points (y=1) have label 0.
    np.testing.assert_array_equal(small.labels, np.where(small.points[:, 1] > 0.5, 0, 1))
