"""Other libraries' log lines that pd says in its own words, held back while it calls them."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def held_back(library: str) -> Iterator[None]:
    """No warnings from `library`'s loggers (its errors still come) while it is held."""
    logger = logging.getLogger(library)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
