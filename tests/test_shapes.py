"""The Shape record: validation, normalisation and sampling."""

from __future__ import annotations

import numpy as np
import pytest

from partdistill.shapes import Mesh, Shape, ShapeError, normalization, normalize, sample_indices, subsample


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
    ],
)
def test_shape_rejects_bad_arrays(kwargs: dict, message: str) -> None:
    with pytest.raises(ShapeError, match=message):
        Shape(**kwargs)


def test_mesh_rejects_faces_beyond_vertices() -> None:
    with pytest.raises(ShapeError, match="do not exist"):
        Mesh(vertices=np.zeros((3, 3)), faces=np.array([[0, 1, 3]]))


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
