"""Text-to-3D prompts: varied descriptions of a category, reproducible from a seed.

Every template is filled with every combination of the category's nouns, styles, materials and
features (a user category's own words where it gives them; otherwise generic styles and
materials, and its parts as features: "a rustic wooden teapot with a spout"); the distinct
sentences are shuffled once by the seed. Prompt i depends only on the seed
and i, so a collection that grows from 20 to 500 shapes keeps its first 20 prompts.
"""

from __future__ import annotations

import itertools
import json
from functools import cache
from importlib import resources

import numpy as np

from partdistill.prompts.catalog import Category, fix_articles


@cache
def _vocabulary() -> dict:
    return json.loads(resources.files("partdistill.prompts").joinpath("text_to_3d.json").read_text())


@cache
def prompt_space(category: Category) -> tuple[str, ...]:
    """Every distinct prompt the templates can make for `category`, in a fixed order."""
    vocab = _vocabulary()
    words = vocab["categories"].get(category.name if category.dataset == "shapenetpart" else "", None)
    if words is None:
        # The generic styles and materials; for a user category also its parts as features
        # ("with a spout"), so that prompts ask for the parts its teacher will look for.
        parts = (
            [fix_articles(f"with a {part.teacher}") for part in category.parts]
            if category.dataset == "user"
            else []
        )
        words = {
            **vocab["generic"],
            "nouns": [category.noun],
            "features": vocab["generic"]["features"] + parts,
        }
    own = category.words
    words = {
        "nouns": list(own.nouns) or words["nouns"],
        "styles": list(own.styles) or words["styles"],
        "materials": list(own.materials) or words["materials"],
        "features": list(own.features) or words["features"],
    }
    sentences: dict[str, None] = {}
    for template, noun, style, material, feature in itertools.product(
        list(own.templates) or vocab["templates"],
        words["nouns"],
        words["styles"],
        words["materials"],
        words["features"],
    ):
        text = template.format(noun=noun, style=style, material=material, feature=feature)
        sentences[fix_articles(" ".join(text.split()))] = None
    return tuple(sentences)


def text_prompt(category: Category, index: int, seed: int) -> str:
    """The `index`-th prompt of a collection seeded with `seed` (prompts repeat only past the space)."""
    space = prompt_space(category)
    order = np.random.default_rng([seed, 0x7E47]).permutation(len(space))
    return space[int(order[index % len(space)])]
