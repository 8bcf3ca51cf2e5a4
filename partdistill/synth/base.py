"""The generator interface: one request (category, prompt, seed) in, one `Shape` out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from partdistill.prompts import Category
from partdistill.shapes import Shape


@dataclass(frozen=True)
class Request:
    """What to generate.

    Attributes:
        category: the category of the shape.
        prompt: the text to generate from (None for generators that take no text).
        seed: the seed that makes the result reproducible.
    """

    category: Category
    prompt: str | None
    seed: int


class Generator(Protocol):
    """Makes shapes. Loading weights happens when the generator is built, not per request."""

    name: str
    uses_prompts: bool

    def generate(self, request: Request) -> Shape:
        """One shape for `request`; raises on failure (the runner records the failure and goes on)."""
        ...
