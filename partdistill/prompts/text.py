"""Text-to-3D prompts: varied descriptions of a category, reproducible from a seed.

Every template is filled with every combination of the category's nouns, styles, materials and
features (a user category's own words where it gives them; otherwise generic styles and
materials, and its parts as features: "a rustic wooden teapot with a spout"); the distinct
sentences are shuffled once by the seed. Prompt i depends only on the seed
and i, so a collection that grows from 20 to 500 shapes keeps its first 20 prompts.
"""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np

from partdistill.prompts.catalog import (
    Category,
    check_prompt_count,
    fix_articles,
    prompt_words,
    slot_words,
    template_slots,
)


@cache
def prompt_space(category: Category) -> tuple[str, ...]:
    """Every distinct prompt the templates can make for `category`, in a fixed order.

    Each template is filled with every choice of words for the slots it uses (a slot it does not
    use would only repeat its sentences); the count is checked against MAX_PROMPTS first.
    """
    check_prompt_count(category, f"The category '{category.key}'")
    words = prompt_words(category)
    options = slot_words(words)
    sentences: dict[str, None] = {}
    for template in words.templates:
        slots = template_slots(template)
        for chosen in itertools.product(*(options[slot] for slot in slots)):
            text = template.format(**dict(zip(slots, chosen, strict=True)))
            sentences[fix_articles(" ".join(text.split()))] = None
    return tuple(sentences)


def text_prompt(category: Category, index: int, seed: int) -> str:
    """The `index`-th prompt of a collection seeded with `seed` (prompts repeat only past the space)."""
    space = prompt_space(category)
    order = np.random.default_rng([seed, 0x7E47]).permutation(len(space))
    return space[int(order[index % len(space)])]
