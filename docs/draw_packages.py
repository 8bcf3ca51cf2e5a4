"""Draw the package map: one box per unit (top-level module or subpackage) in its layer, one arrow
per unit that imports another, read from the code itself.

    .venv/bin/python docs/draw_packages.py            # writes docs/images/packages.png

The layers and the import walk are tests/test_architecture.py's (the test fails on any import
against them); an arrow that ran upwards or sideways would be drawn red.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from test_architecture import LAYERS, RANK, _imports, _modules, _unit  # noqa: E402


def edges() -> set[tuple[str, str]]:
    """(importer, imported) for every pair of distinct units with an import between them."""
    found = set()
    for path, name in _modules():
        own = _unit(name)
        if own == "__init__":
            continue
        for _, target in _imports(path):
            other = _unit(target)
            if other is not None and other != own:
                found.add((own, other))
    return found


def main(out: Path) -> None:
    positions = {}
    for rank, units in enumerate(LAYERS):
        ordered = sorted(units)
        for i, unit in enumerate(ordered):
            positions[unit] = ((i + 1) / (len(ordered) + 1), rank)
    figure, axis = plt.subplots(figsize=(11, 8))
    for importer, imported in sorted(edges()):
        (x1, y1), (x2, y2) = positions[importer], positions[imported]
        wrong = RANK[imported] >= RANK[importer]
        axis.annotate(
            "",
            xy=(x2, y2 + 0.18),
            xytext=(x1, y1 - 0.18),
            arrowprops={"arrowstyle": "->", "color": "red" if wrong else "0.6", "lw": 0.7},
        )
    for unit, (x, y) in positions.items():
        axis.text(
            x, y, unit, ha="center", va="center", fontsize=9,
            bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.3"},
        )  # fmt: skip
    axis.set_yticks(range(len(LAYERS)), [f"layer {rank}" for rank in range(len(LAYERS))])
    axis.set_xticks([])
    axis.set_ylim(-0.6, len(LAYERS) - 0.4)
    axis.set_title("partdistill: each arrow an import, all of them running down the layers")
    for side in ("top", "right", "bottom"):
        axis.spines[side].set_visible(False)
    figure.tight_layout()
    figure.savefig(out, dpi=90)
    plt.close(figure)
    with Image.open(out) as image:  # grey lines and black text: 16 colours keep the file small
        image.convert("RGB").quantize(colors=16).save(out, optimize=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(HERE / "images" / "packages.png")
