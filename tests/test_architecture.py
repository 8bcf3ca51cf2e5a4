"""The package's imports run one way: from the command line down to the core (docs/architecture.md).

Every `partdistill` import in every module, the ones inside functions included, is checked against
the layers below; a module may import its own unit (package or module) and any unit of a lower
layer, never one of its own layer or above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import partdistill

PACKAGE = Path(partdistill.__file__).parent

# Lowest first. A unit is a top-level module or subpackage of partdistill.
LAYERS: list[set[str]] = [
    {"errors", "palette", "logs"},
    {"records"},
    {"files", "shapes", "threads", "devices", "allocator", "metrics", "progress", "stops", "weights"},
    {"prompts", "formats", "viz"},
    {"collection"},
    {"render", "knowledge", "synth", "datasets"},
    {"teach"},
    {"distill"},
    {"folders"},
    {"predict", "eval", "scale", "info"},
    {"view"},
    {"api"},
    {"cli"},
    {"program"},
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def _unit(module: str) -> str | None:
    """The unit of a dotted module name inside partdistill ("partdistill.teach.run" -> "teach")."""
    parts = module.split(".")
    return parts[1] if parts[0] == "partdistill" and len(parts) > 1 else None


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every partdistill import in a source file; of the names a bare
    `from partdistill import x` brings, the modules and packages count."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "partdistill":
                found += [
                    (node.lineno, f"partdistill.{alias.name}")
                    for alias in node.names
                    if (PACKAGE / alias.name).is_dir() or (PACKAGE / f"{alias.name}.py").is_file()
                ]
            else:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.startswith("partdistill.")]


def _modules() -> list[tuple[Path, str]]:
    return [
        (path, ".".join(("partdistill", *path.relative_to(PACKAGE).with_suffix("").parts)))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def test_every_unit_has_a_layer() -> None:
    units = {_unit(name) for _, name in _modules()} - {"__init__"}
    assert units <= set(RANK), f"units without a layer: {sorted(units - set(RANK))}"


def test_imports_run_down_the_layers() -> None:
    wrong = []
    for path, name in _modules():
        own = _unit(name)
        if own == "__init__":
            continue  # the package's front door lends names lazily (partdistill/__init__.py)
        for line, target in _imports(path):
            other = _unit(target)
            if other is not None and other != own and RANK[other] >= RANK[own]:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)
