"""The offline generator: part-labelled shapes of the ShapeNetPart categories, built from primitives.

Each category has a recipe that draws proportions, part counts and styles from a seeded RNG and
builds a mesh whose faces carry ShapeNetPart's part names; points sampled on it inherit exact
labels. It needs no weights and no network, so it is the default for demos and tests and the
ground truth for measuring teachers and students.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from partdistill.errors import PdError, option
from partdistill.formats import shape_from_mesh
from partdistill.prompts import Category
from partdistill.shapes import Provenance, Shape
from partdistill.synth.base import Request
from partdistill.synth.procedural.furniture import chair, lamp, table
from partdistill.synth.procedural.handheld import guitar, knife, pistol
from partdistill.synth.procedural.household import bag, cap, earphone, laptop, mug
from partdistill.synth.procedural.kit import PartMesh
from partdistill.synth.procedural.vehicles import airplane, car, motorbike, rocket, skateboard

Recipe = Callable[[np.random.Generator, PartMesh], str]

RECIPES: dict[str, Recipe] = {
    "airplane": airplane,
    "bag": bag,
    "cap": cap,
    "car": car,
    "chair": chair,
    "earphone": earphone,
    "guitar": guitar,
    "knife": knife,
    "lamp": lamp,
    "laptop": laptop,
    "motorbike": motorbike,
    "mug": mug,
    "pistol": pistol,
    "rocket": rocket,
    "skateboard": skateboard,
    "table": table,
}


def recipe_for(category: Category) -> Recipe:
    """The recipe that builds `category`; a `PdError` naming the supported ones if there is none."""
    recipe = RECIPES.get(category.name) if category.dataset == "shapenetpart" else None
    if recipe is None:
        raise PdError(
            f"The procedural generator covers only its {len(RECIPES)} ShapeNetPart categories "
            f"({', '.join(sorted(RECIPES))}), not '{category.key}': use the {option('generator')} shap-e "
            "or point-e, or bring your own shapes with `pd import --dataset files`."
        )
    return recipe


class ProceduralGenerator:
    """Generates labelled shapes of the categories in `RECIPES`, `n_points` points each."""

    name = "procedural"
    uses_prompts = False

    def __init__(self, n_points: int = 10_000) -> None:
        self.n_points = n_points

    def generate(self, request: Request) -> Shape:
        category = request.category
        recipe = recipe_for(category)
        rng = np.random.default_rng(request.seed)
        kit = PartMesh(category.part_names)
        description = recipe(rng, kit)
        built = kit.build()
        mesh = built.mesh
        # ShapeNet's frame: centred on the bounding box, unit bounding-box diagonal.
        low, high = mesh.bounds
        mesh.apply_translation(-(low + high) / 2)
        mesh.apply_scale(1.0 / float(np.linalg.norm(high - low)))
        return shape_from_mesh(
            mesh,
            n_points=self.n_points,
            seed=request.seed,
            category=category.name,
            face_labels=built.face_labels,
            part_names=category.part_names,
            provenance=Provenance("procedural", seed=request.seed, description=description),
        )
