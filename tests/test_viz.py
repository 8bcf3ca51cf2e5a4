"""Pictures for people: `partdistill.viz`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from partdistill.shapes import Shape
from partdistill.viz import Panel, save_panels


def test_a_file_name_that_is_not_text_still_gets_its_picture(tmp_path: Path) -> None:
    name = os.fsdecode(b"bad\xffname")  # how Python hands over an undecodable file name
    shape = Shape(points=np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32))
    save_panels([Panel(shape, title=name)], tmp_path / "out.png", part_names=("a", name), title=name)
    assert Image.open(tmp_path / "out.png").size[0] > 0


def test_drawing_leaves_the_callers_matplotlib_backend_as_it_was(tmp_path: Path) -> None:
    # A notebook's inline backend stops showing plots if a library switches pyplot to Agg.
    import matplotlib

    before = matplotlib.get_backend()
    matplotlib.use("svg")
    try:
        shape = Shape(points=np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32))
        save_panels([Panel(shape, title="a")], tmp_path / "out.png")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)


def test_a_name_in_a_script_the_font_lacks_is_drawn_without_a_warning_per_letter(tmp_path: Path) -> None:
    import warnings

    shape = Shape(points=np.random.default_rng(0).normal(size=(50, 3)).astype(np.float32))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        save_panels([Panel(shape, title="椅子")], tmp_path / "out.png")
    assert not caught and (tmp_path / "out.png").is_file()
