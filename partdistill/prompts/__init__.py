"""Category catalogues (ShapeNetPart, PartNetE) and prompts, kept as data files in this package."""

from partdistill.prompts.catalog import (
    QUERIES,
    Category,
    Part,
    PromptWords,
    categories,
    find_category,
    forget_category,
    part_prompt,
    partnete_categories,
    register_category,
    registered_on_success,
    same_category,
    shapenetpart_categories,
)
from partdistill.prompts.text import prompt_space, text_prompt

__all__ = [
    "QUERIES",
    "Category",
    "Part",
    "PromptWords",
    "categories",
    "find_category",
    "forget_category",
    "part_prompt",
    "partnete_categories",
    "prompt_space",
    "register_category",
    "registered_on_success",
    "same_category",
    "shapenetpart_categories",
    "text_prompt",
]
