"""The real sample data that sits beside the project (../shared/data) on dev and CI machines."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test when that folder is not beside the project."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"real sample data not found at {path} (it sits beside the project only on dev and CI machines)"
        )
    return path
