"""The procedural generator: every ShapeNetPart category, exact labels, all parts, variety, the frame."""

from __future__ import annotations

import random
from functools import cache

import numpy as np
import pytest

from partdistill.errors import PdError
from partdistill.prompts import Category, find_category, shapenetpart_categories
from partdistill.shapes import Shape
from partdistill.synth.base import Request
from partdistill.synth.procedural import RECIPES, ProceduralGenerator
from partdistill.synth.run import quality_problem

CATEGORIES = shapenetpart_categories()
BATCH = 24
N_POINTS = 2000


def _ids(category: Category) -> str:
    return category.name


@cache
def _batch(name: str) -> tuple[Shape, ...]:
    """Shapes of seeds 0..BATCH-1 of one category, made once for all tests."""
    generator = ProceduralGenerator(n_points=N_POINTS)
    category = find_category(name)
    return tuple(generator.generate(Request(category, None, seed)) for seed in range(BATCH))


def _mean(shape: Shape, part: str, axis: int) -> float | None:
    """Mean coordinate along `axis` of the points of `part`, or None when the shape lacks it."""
    mask = shape.labels == shape.part_names.index(part)
    return float(shape.points[mask, axis].mean()) if mask.any() else None


def test_every_shapenetpart_category_has_a_recipe() -> None:
    assert set(RECIPES) == {category.name for category in CATEGORIES}


@pytest.mark.parametrize("category", CATEGORIES, ids=_ids)
def test_every_point_carries_a_part_of_its_category(category: Category) -> None:
    for shape in _batch(category.name):
        assert shape.n_points == N_POINTS
        assert shape.part_names == category.part_names
        assert shape.category == category.name
        assert shape.labels is not None and shape.labels.shape == (N_POINTS,)
        assert shape.labels.min() >= 0 and shape.labels.max() < len(category.part_names)
        assert np.isfinite(shape.points).all()
        assert quality_problem(shape) is None
        # ShapeNet's normalisation: the mesh's bounding box is centred, with a unit diagonal.
        low, high = shape.mesh.vertices.min(axis=0), shape.mesh.vertices.max(axis=0)
        assert np.linalg.norm(high - low) == pytest.approx(1.0, abs=1e-4)
        assert np.abs((low + high) / 2).max() < 1e-4
        assert len(shape.mesh.face_labels) == len(shape.mesh.faces)


@pytest.mark.parametrize("category", CATEGORIES, ids=_ids)
def test_every_part_occurs_in_a_batch(category: Category) -> None:
    seen = set()
    for shape in _batch(category.name):
        seen |= {category.part_names[label] for label in np.unique(shape.labels)}
    assert seen == set(category.part_names), f"missing: {set(category.part_names) - seen}"


@pytest.mark.parametrize("category", CATEGORIES, ids=_ids)
def test_the_batch_varies(category: Category) -> None:
    shapes = _batch(category.name)
    descriptions = {shape.provenance.description for shape in shapes}
    assert len(descriptions) >= 3, descriptions
    assert all(description for description in descriptions)
    extents = np.array([shape.points.max(axis=0) - shape.points.min(axis=0) for shape in shapes])
    assert extents.std(axis=0).max() > 0.01  # proportions change, not only the labels


@pytest.mark.parametrize("category", CATEGORIES, ids=_ids)
def test_a_seed_gives_the_same_shape_and_another_seed_another(category: Category) -> None:
    # Recipes draw from the request's seed only: the global RNGs must not matter.
    np.random.seed(1)
    random.seed(1)
    first = ProceduralGenerator(n_points=500).generate(Request(category, None, 7))
    np.random.seed(2)
    random.seed(2)
    again = ProceduralGenerator(n_points=500).generate(Request(category, None, 7))
    other = ProceduralGenerator(n_points=500).generate(Request(category, None, 8))
    np.testing.assert_array_equal(first.points, again.points)
    np.testing.assert_array_equal(first.labels, again.labels)
    assert first.provenance.description == again.provenance.description
    assert first.points.shape == other.points.shape and not np.allclose(first.points, other.points)


# (part above or ahead, part below or behind, axis): the first part's mean coordinate is larger
# whenever a shape has both. ShapeNetPart's frame: +y up; vehicles and pistols point to +x.
X, Y, Z = 0, 1, 2
ORDER: dict[str, list[tuple[str, str, int]]] = {
    "airplane": [("body", "tail", X), ("wing", "tail", X)],
    "bag": [("handle", "body", Y)],
    "cap": [("peak", "panels", X), ("panels", "peak", Y)],
    "car": [("hood", "body", X), ("roof", "hood", Y), ("roof", "wheel", Y)],
    "chair": [("back", "leg", Y), ("seat", "leg", Y), ("back", "seat", Y)],
    "earphone": [("headband", "earcup", Y)],
    "guitar": [("head", "neck", Y), ("neck", "body", Y)],
    "knife": [("blade", "handle", Y)],
    "lamp": [("lampshade", "base", Y), ("canopy", "lampshade", Y)],
    "laptop": [("screen", "keyboard", Y), ("keyboard", "screen", X)],
    "motorbike": [
        ("handle", "seat", X),
        ("gas tank", "seat", X),
        ("light", "seat", X),
        ("gas tank", "wheel", Y),
        ("seat", "wheel", Y),
    ],
    "mug": [("handle", "cup", X)],
    "pistol": [("barrel", "handle", Y), ("barrel", "handle", X), ("barrel", "trigger and guard", Y)],
    "rocket": [("nose", "body", X), ("body", "fin", X)],
    "skateboard": [("deck", "wheel", Y), ("belt for foot", "wheel", Y)],
    "table": [("desktop", "leg", Y), ("desktop", "drawer", Y)],
}

# Axes from the longest to the shortest extent of the whole shape, where every variant agrees.
LONG_AXES: dict[str, tuple[int, int]] = {  # (longer, shorter)
    "car": (X, Z),
    "guitar": (Y, X),
    "knife": (Y, Z),
    "pistol": (X, Z),
    "rocket": (X, Y),
    "skateboard": (X, Z),
    "bag": (Z, X),
}


def test_every_category_has_frame_checks() -> None:
    assert set(ORDER) == {category.name for category in CATEGORIES}


@pytest.mark.parametrize("category", CATEGORIES, ids=_ids)
def test_shapes_stand_in_the_shapenetpart_frame(category: Category) -> None:
    checked = 0
    for shape in _batch(category.name):
        for first, second, axis in ORDER[category.name]:
            a, b = _mean(shape, first, axis), _mean(shape, second, axis)
            if a is not None and b is not None:
                assert a > b, (
                    f"{shape.provenance.description}: {first} not beyond {second} along {'xyz'[axis]}"
                )
                checked += 1
        if category.name in LONG_AXES:
            longer, shorter = LONG_AXES[category.name]
            extent = shape.points.max(axis=0) - shape.points.min(axis=0)
            assert extent[longer] > extent[shorter], shape.provenance.description
    assert checked >= BATCH // 2  # optional parts may be missing, but most shapes are checked


def test_car_hoods_are_at_the_front_and_airplane_wings_spread_along_z() -> None:
    for car in _batch("car"):
        assert _mean(car, "hood", X) > 0.1
    for plane in _batch("airplane"):
        wing = plane.points[plane.labels == plane.part_names.index("wing")]
        assert np.ptp(wing[:, Z]) > np.ptp(wing[:, Y])
        body = plane.points[plane.labels == plane.part_names.index("body")]
        assert body[:, X].max() > wing[:, X].max()  # the nose leads


def test_laptop_screens_face_the_user_and_hanging_lamps_hang() -> None:
    for laptop in _batch("laptop"):
        screen = laptop.points[laptop.labels == laptop.part_names.index("screen")]
        keyboard = laptop.points[laptop.labels == laptop.part_names.index("keyboard")]
        assert screen[:, Y].max() > keyboard[:, Y].max() + 0.2  # the lid stands up behind the keys
    for lamp in _batch("lamp"):
        canopy = lamp.labels == lamp.part_names.index("canopy")
        if canopy.any():
            assert lamp.points[canopy, Y].mean() > lamp.points[:, Y].max() - 0.06  # at the very top


def test_a_category_without_a_recipe_is_refused() -> None:
    with pytest.raises(
        PdError, match=r"covers only its 16 ShapeNetPart categories \(airplane, bag.*not 'partnete/kettle'"
    ):
        ProceduralGenerator().generate(Request(find_category("partnete/kettle"), None, 0))
