"""Category catalogues (ShapeNetPart, PartNetE) and prompts, kept as data files in this package."""

from partdistill.prompts.catalog import (
    QUERIES,
    Category,
    Part,
    categories,
    find_category,
    part_prompt,
    partnete_categories,
    shapenetpart_categories,
    teacher_prompt,
)
from partdistill.prompts.text import prompt_space, text_prompt

__all__ = [
    "QUERIES",
    "Category",
    "Part",
    "categories",
    "find_category",
    "part_prompt",
    "partnete_categories",
    "prompt_space",
    "shapenetpart_categories",
    "teacher_prompt",
    "text_prompt",
]
