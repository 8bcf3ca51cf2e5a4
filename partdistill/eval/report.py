"""Evaluation reports: JSON and CSV files, published numbers to compare with, and a picture gallery.

A report folder may hold the user's own files too: pd eval claims the files it writes
(`report_files`, `files.CommandFiles`) and replaces only those an earlier pd eval wrote.
"""

from __future__ import annotations

import csv
import io
import json
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from partdistill.eval.evaluate import EvalResult
from partdistill.files import inside, write_bytes, write_json
from partdistill.folders import REPORT
from partdistill.metrics import shapenetpart_shape_iou
from partdistill.viz import Panel, save_panels


@cache
def _published() -> dict:
    return json.loads(resources.files("partdistill.eval").joinpath("published.json").read_text())


def published(protocol: str) -> dict[str, dict[str, float]]:
    """Published mIoUs per method and category name (with "overall") for a benchmark, where known."""
    return _published().get(protocol, {}).get("methods", {})


def protocol_description(protocol: str) -> str:
    return _published()[protocol]["protocol"]


# A collection of one's own is scored with ShapeNetPart's per-shape protocol; it has no paper's numbers.
_OWN_SHAPES = (
    "per-shape mIoU over the category's parts (absent from both = 1), averaged over the category's "
    "shapes; class mIoU = mean of the categories scored"
)


def report_record(
    result: EvalResult, settings: dict[str, object], benchmark: bool = True
) -> dict[str, object]:
    """The JSON report: settings, shape counts, and per method each category's mIoU under its name;
    for a `benchmark` split, its protocol's description and the published numbers."""
    methods = {}
    for method, scores in result.scores.items():
        entry: dict[str, object] = {
            "categories": {c.name: round(scores[c.name], 2) for c in result.categories},
            "class_miou": round(scores["class"], 2),
        }
        if "instance" in scores:
            entry["instance_miou"] = round(scores["instance"], 2)
        if method in result.part_ious:
            entry["part_ious"] = {
                c.name: dict(
                    zip(
                        c.part_names,
                        [None if np.isnan(v) else round(v, 2) for v in result.part_ious[method][c.name]],
                        strict=True,
                    )
                )
                for c in result.categories
            }
        methods[method] = entry
    return {
        **settings,
        "protocol": result.protocol,
        "protocol_description": protocol_description(result.protocol) if benchmark else _OWN_SHAPES,
        "shapes": {c.name: result.counts[c.name] for c in result.categories},
        "methods": methods,
        "published": {
            method: {k: v for k, v in values.items() if k in result.counts or k == "overall"}
            for method, values in (published(result.protocol) if benchmark else {}).items()
        },
    }


def report_files(gallery: bool) -> list[str]:
    """The files `write_reports` writes: report.json, report.csv, and with shapes to draw in it
    (`gallery`; --gallery 0 asks for none) gallery.png."""
    return [REPORT, "report.csv", *(["gallery.png"] if gallery else [])]


def write_reports(
    result: EvalResult, out: Path, settings: dict[str, object], benchmark: bool = True
) -> list[Path]:
    """Write `report_files` into `out` (gallery.png where `result` keeps examples); returns their paths."""
    paths = [inside(out, name) for name in report_files(bool(result.examples))]
    write_json(paths[0], report_record(result, settings, benchmark))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    methods = list(result.scores)
    writer.writerow(["category", "shapes", *methods])
    for category in result.categories:
        writer.writerow(
            [
                category.name,
                result.counts[category.name],
                *(f"{result.scores[m][category.name]:.2f}" for m in methods),
            ]
        )
    writer.writerow(
        ["class mIoU", sum(result.counts.values()), *(f"{result.scores[m]['class']:.2f}" for m in methods)]
    )
    if result.protocol == "shapenetpart":
        writer.writerow(
            [
                "instance mIoU",
                sum(result.counts.values()),
                *(f"{result.scores[m]['instance']:.2f}" for m in methods),
            ]
        )
    write_bytes(paths[1], buffer.getvalue().encode())
    if result.examples:
        _gallery(result, paths[2])
    return paths


def _gallery(result: EvalResult, path: Path) -> None:
    """Ground truth next to each method's prediction for the shapes the first method did worst on,
    worst first."""
    panels = []
    names = {c.name: c for c in result.categories}
    for shape_id, shape, predicted in result.examples:
        category = names[shape.category] if shape.category in names else result.categories[0]
        shown = shape_id if len(shape_id) <= 24 else f"…{shape_id[-23:]}"  # the end of a long id tells it
        panels.append(Panel(shape, f"{shown}\nground truth"))
        for method, labels in predicted.items():
            iou = shapenetpart_shape_iou(labels, shape.labels, len(category.parts))
            panels.append(Panel(shape, f"{method} (IoU {100 * iou:.0f})", labels=labels))
    single = len(result.categories) == 1
    save_panels(
        panels,
        path,
        columns=1 + len(result.scores),
        part_names=result.categories[0].part_names if single else (),
        title=f"the {len(result.examples)} shapes the {next(iter(result.scores))} did worst on, worst first: "
        "ground truth | " + " | ".join(result.scores),
    )
