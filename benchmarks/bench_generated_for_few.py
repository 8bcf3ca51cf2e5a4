"""Generated shapes for a user's few: which labels of the user's shapes `pd distill --with` hands over.

A user has a few shapes of a category (the "few") and a collection of generated shapes of it (`pd
synth`), both taught by the same teacher. Candidates for the few's labels:

- lifting: direct lifting of the few's own units (the baseline; a point no unit covers is wrong);
- pre: the student distilled on the generated shapes alone, predicting the few (it never saw their
  units; one per category and seed, shared by the rows of that category and seed);
- ft<steps>: the pre student fine-tuned on the few's units for <steps> steps (ft50 is what `pd
  distill --mode tta --with` trains: `partdistill.distill.few.fine_tune_config`);
- mix-<share>: one student distilled on both from scratch, the few taking <share>% of the batches
  (`size`: by the sources' sizes, every shape equally often);
- tta: the student distilled on the few alone (`pd distill --mode tta` without --with).

"pd" is what `pd distill --with` hands over: `partdistill.distill.choose.compare_candidates`
between lifting (of the even views' units), pre (as it is) and the ft50 student's twin (fine-tuned
on the even views' units only), all scored against the odd views' units; lifting is handed over
with the ft50 student's labels where no unit covers a point, as the command does. "oracle" is the
best of those three by ground truth: how close the label-free choice comes.

Rows: the real sample (16 categories, 3 shapes each, taught by the noisy simulated teacher from
point renders, as bench_quality.py teaches it) per seed, and procedural stand-ins of 3 and 8 shapes
(chair, table, airplane; mesh renders). The generated shapes: 64 procedural shapes of the category
(seed 100 + the row's seed), taught by the same noisy teacher from mesh renders. Seeds set the
teacher's noise, the shapes and the students' initialisation.

Everything expensive is cached under --work (taught shapes, run folders, labels), so a rerun skips
what is done, and `--report` prints the table from the cache alone (the candidates cached).

    .venv/bin/python benchmarks/bench_generated_for_few.py [--work generated-for-few] [--seeds 0,1]
        [--sample-categories all] [--procedural chair,table,airplane] [--sizes 3,8] [--generated 64]
        [--points 256] [--candidates pre,tta,ft50,mix-size] [--twins ft50] [--report]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from bench_quality import SAMPLE, procedural_items, sample_items

from partdistill.distill.choose import GENERATED, LIFTING, STUDENT, compare_candidates, filled, split_views
from partdistill.distill.config import DistillConfig
from partdistill.distill.data import Item
from partdistill.distill.few import FINE_TUNE_LR, FINE_TUNE_STEPS
from partdistill.distill.train import STUDENT_WEIGHTS, Distillation
from partdistill.distill.trained import TrainedStudent
from partdistill.knowledge.units import Knowledge, vote
from partdistill.metrics import shapenetpart_shape_iou
from partdistill.prompts import find_category, shapenetpart_categories
from partdistill.shapes import Shape
from partdistill.threads import cpu_threads

SHIPPED = f"ft{FINE_TUNE_STEPS}"  # the fine-tune `pd distill --with` trains
FINE_TUNE = {SHIPPED: (FINE_TUNE_STEPS, FINE_TUNE_LR), "ft300": (300, 1.0)}  # steps, share of lr


# --- the cache ------------------------------------------------------------------------------------


def save_items(path: Path, items: list[Item]) -> None:
    """Taught shapes to an .npz (points, labels, units), written atomically."""
    arrays: dict[str, np.ndarray] = {"ids": np.array([item.id for item in items])}
    for k, item in enumerate(items):
        knowledge = item.knowledge
        arrays |= {
            f"i{k}_points": item.shape.points,
            f"i{k}_labels": item.shape.labels,
            f"i{k}_parts": knowledge.parts,
            f"i{k}_scores": knowledge.scores,
            f"i{k}_views": knowledge.views,
            f"i{k}_offsets": knowledge.offsets,
            f"i{k}_indices": knowledge.indices,
        }
    arrays["part_names"] = np.array(items[0].knowledge.part_names)
    arrays["category"] = np.array(items[0].shape.category)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npz")
    np.savez(partial, **arrays)
    partial.replace(path)


def load_items(path: Path) -> list[Item]:
    """The taught shapes `save_items` wrote."""
    with np.load(path) as data:
        names = tuple(str(n) for n in data["part_names"])
        category = str(data["category"])
        items = []
        for k, shape_id in enumerate(data["ids"]):
            knowledge = Knowledge(
                n_points=len(data[f"i{k}_points"]),
                part_names=names,
                parts=data[f"i{k}_parts"],
                scores=data[f"i{k}_scores"],
                views=data[f"i{k}_views"],
                offsets=data[f"i{k}_offsets"],
                indices=data[f"i{k}_indices"],
            )
            shape = Shape(
                points=data[f"i{k}_points"], labels=data[f"i{k}_labels"], part_names=names, category=category
            )
            items.append(Item(str(shape_id), shape, knowledge))
    return items


def cached_items(path: Path, make: Callable[[], list[Item]]) -> list[Item]:
    """The taught shapes in `path`, made by `make` first if they are not there."""
    if not path.exists():
        save_items(path, make())
    return load_items(path)


def trained(run_dir: Path, config: DistillConfig, items: list[Item], init: Path | None = None) -> Path:
    """The run folder of a student distilled with `config` on `items` (started from the weights
    of the run folder `init` if given), distilled here unless it is there already; resumed where
    it stopped."""
    if (run_dir / STUDENT_WEIGHTS).exists():
        return run_dir
    run = Distillation(config, items, run_dir)
    run.start(resume=(run_dir / "config.json").exists())
    if init is not None and run.state.epoch == 0:
        from safetensors.torch import load_file

        run.model.load_state_dict(load_file(init / STUDENT_WEIGHTS))
    for _ in run.run():
        pass
    run.finish()
    return run_dir


def labels_of(path: Path, run_dir: Callable[[], Path], items: list[Item]) -> list[np.ndarray]:
    """The labels the student of `run_dir()` gives `items`, cached in `path`."""
    if not path.exists():
        student = TrainedStudent.load(run_dir())
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, *[student.labels(item.shape) for item in items])
    return read_labels(path, len(items))


def read_labels(path: Path, count: int) -> list[np.ndarray]:
    with np.load(path) as data:
        return [data[f"arr_{k}"] for k in range(count)]


# --- one row --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Row:
    """One row.

    Attributes:
        name: "<group>/<category>", the group saying the data and seed (e.g. "sample-s0").
        items: the few, with their units and ground truth.
        labels: each candidate's labels of the few, [n_points] int64 per item, by candidate name.
        twins: for the candidates that have one, the labels of their twin (the same run on the even
            views' units only).
    """

    name: str
    items: list[Item]
    labels: dict[str, list[np.ndarray]]
    twins: dict[str, list[np.ndarray]]


def measure_row(
    work: Path,
    name: str,
    seed: int,
    few: list[Item],
    generated: Callable[[], list[Item]],
    points: int,
    candidates: tuple[str, ...],
    twins: tuple[str, ...],
    min_steps: int,
) -> Row:
    """Distil (or read from the cache) every candidate of one row, and its twin where asked."""
    category = name.split("/")[1]
    base = DistillConfig(
        category=find_category(category).key, seed=seed, n_points=points, mode="tta", min_steps=min_steps
    )
    pre_dir = work / "runs" / f"generated-s{seed}" / category / "pre"

    def pre() -> Path:
        return trained(pre_dir, dataclasses.replace(base, mode="pre"), generated())

    def alone(items: list[Item]) -> list[Item]:
        return items

    def both(items: list[Item]) -> list[Item]:
        return [dataclasses.replace(i, source=0) for i in items] + [
            dataclasses.replace(i, id=f"g/{i.id}", source=1) for i in generated()
        ]

    row = Row(name, few, {LIFTING: [vote(i.knowledge) for i in few]}, {})
    labels_dir, runs = work / "labels" / name, work / "runs" / name
    for candidate in candidates:
        if candidate == "pre":
            row.labels["pre"] = labels_of(labels_dir / "pre.npz", pre, few)
            continue
        if candidate == "tta":
            config, init, data = base, None, alone
        elif candidate in FINE_TUNE:
            steps, share = FINE_TUNE[candidate]
            config = dataclasses.replace(base, epochs=1, min_steps=steps, lr=base.lr * share, backward=False)
            init, data = pre_dir, alone
        elif candidate.startswith("mix-"):
            share = candidate.removeprefix("mix-")
            weights = None if share == "size" else (float(share), 100 - float(share))
            config, init, data = dataclasses.replace(base, weights=weights), None, both
        else:
            raise SystemExit(f"unknown candidate {candidate}")

        def run(items: list[Item], where: str, config=config, init=init, data=data) -> Callable[[], Path]:
            def go() -> Path:
                if init is not None:
                    pre()
                return trained(runs / where, config, data(items), init)

            return go

        row.labels[candidate] = labels_of(labels_dir / f"{candidate}.npz", run(few, candidate), few)
        if candidate in twins:
            even = [Item(i.id, i.shape, split_views(i.knowledge)[0], i.source) for i in few]
            twin = labels_of(labels_dir / f"{candidate}-twin.npz", run(even, f"{candidate}-twin"), few)
            row.twins[candidate] = twin
    return row


def cached_row(work: Path, name: str, few: list[Item]) -> Row:
    """A row as far as the cache holds it (nothing is distilled)."""
    row = Row(name, few, {LIFTING: [vote(i.knowledge) for i in few]}, {})
    for path in sorted((work / "labels" / name).glob("*.npz")):
        labels = read_labels(path, len(few))
        if path.stem.endswith("-twin"):
            row.twins[path.stem.removesuffix("-twin")] = labels
        elif not path.stem.endswith("-oddtwin"):  # a two-fold check an earlier version measured
            row.labels[path.stem] = labels
    return row


# --- scoring --------------------------------------------------------------------------------------


def miou(labels: list[np.ndarray], items: list[Item]) -> float:
    """The mean over the items of ShapeNetPart's shape IoU (the category's mIoU)."""
    parts = len(items[0].knowledge.part_names)
    ious = [shapenetpart_shape_iou(x, i.shape.labels, parts) for x, i in zip(labels, items, strict=True)]
    return float(np.mean(ious))


THREE = {LIFTING: LIFTING, STUDENT: SHIPPED, GENERATED: "pre"}  # pd's candidates: row's column
MIXED = "mix-50"  # measured as a fourth candidate, with its twin, where the row has it


def as_handed(row: Row, candidate: str) -> list[np.ndarray]:
    """A candidate's labels as `pd distill --with` would hand them over: lifting with the shipped
    fine-tune's label where no unit covers a point."""
    if candidate != LIFTING:
        return row.labels[candidate]
    return [filled(x, s) for x, s in zip(row.labels[LIFTING], row.labels[SHIPPED], strict=True)]


def handed_over(row: Row, mixed: bool = False) -> str | None:
    """Which of its candidates (a column) `pd distill --with` hands over, None where the row lacks
    pre, the shipped fine-tune or its twin; with `mixed`, the choice were `MIXED` (by its twin) a
    fourth candidate, None where the row lacks that twin."""
    if "pre" not in row.labels or SHIPPED not in row.twins or (mixed and MIXED not in row.twins):
        return None
    held = {STUDENT: row.twins[SHIPPED]} | ({MIXED: row.twins[MIXED]} if mixed else {})
    choice = compare_candidates(row.items, held | {GENERATED: row.labels["pre"]})
    return (THREE | {MIXED: MIXED})[choice.labels]


def report(rows: list[Row], candidates: tuple[str, ...]) -> None:
    """The table: each candidate's mIoU, what pd hands over (and which), and the oracle (the best
    of pd's three candidates, each as pd would hand it over); where rows have `MIXED`'s twin, the
    same with it as a fourth candidate ("pd4", "oracle4"); then, per group, the means and the
    issue's done-when counts."""
    columns = [LIFTING, *(c for c in candidates if any(c in row.labels for row in rows))]
    head = f"{'row':<26}" + "".join(f"{c:>9}" for c in columns) + f"{'pd':>9}  {'which':<8}{'oracle':>8}"
    if any(MIXED in row.twins for row in rows):
        head += f"{'pd4':>9}  {'which':<8}{'oracle4':>8}"
    print(head)
    groups: dict[str, list[dict[str, float]]] = {}
    for row in rows:
        values = {c: 100 * miou(row.labels[c], row.items) for c in columns if c in row.labels}
        cells = "".join(f"{values[c]:>9.1f}" if c in values else f"{'-':>9}" for c in columns)
        handed = handed_over(row)
        if handed is not None:
            three = {c: 100 * miou(as_handed(row, c), row.items) for c in THREE.values()}
            values["pd"], values["oracle"] = three[handed], max(three.values())
            cells += f"{values['pd']:>9.1f}  {handed:<8}{values['oracle']:>8.1f}"
        handed = handed_over(row, mixed=True)
        if handed is not None:
            four = three | {MIXED: 100 * miou(row.labels[MIXED], row.items)}
            values["pd4"], values["oracle4"] = four[handed], max(four.values())
            cells += f"{values['pd4']:>9.1f}  {handed:<8}{values['oracle4']:>8.1f}"
        print(f"{row.name:<26}{cells}", flush=True)
        groups.setdefault(row.name.split("/")[0], []).append(values)
    print("\nmeans; pd against lifting (+5 or more / below), the oracle (mean gap, rows it missed), and")
    print("the best of tta and lifting (rows below):")
    for group, table in groups.items():
        full = [v for v in table if "pd" in v]
        shown = [c for c in [*columns, "pd", "oracle"] if all(c in v for v in full)]
        means = "  ".join(f"{c} {np.mean([v[c] for v in full]):.1f}" for c in shown)
        pd, lifted = np.array([v["pd"] for v in full]), np.array([v[LIFTING] for v in full])
        gap = np.array([v["oracle"] - v["pd"] for v in full])
        line = f"{group} ({len(full)} rows): {means}; +5: {np.sum(pd >= lifted + 5)}"
        line += f", below: {np.sum(pd < lifted)}"
        line += f"; oracle gap {gap.mean():.1f}, missed {np.sum(gap > 0)}"
        if all("tta" in v for v in full):
            line += f"; below max(tta, lifting): {sum(v['pd'] < max(v['tta'], v[LIFTING]) for v in full)}"
        if all("pd4" in v for v in full):
            pd4 = np.array([v["pd4"] for v in full])
            line += f"; pd4 {pd4.mean():.1f}, oracle4 {np.mean([v['oracle4'] for v in full]):.1f}"
            line += f", +5: {np.sum(pd4 >= lifted + 5)}, below: {np.sum(pd4 < lifted)}"
            if all("tta" in v for v in full):
                below = sum(v["pd4"] < max(v["tta"], v[LIFTING]) for v in full)
                line += f", below max(tta, lifting): {below}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("generated-for-few"))
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--sample-categories", default="all", help="'all', a list, or 'none'.")
    parser.add_argument("--procedural", default="chair,table,airplane", help="A list, or 'none'.")
    parser.add_argument("--sizes", default="3,8")
    parser.add_argument("--generated", type=int, default=64, help="Generated shapes per category and seed.")
    parser.add_argument("--points", type=int, default=256, help="Points per cloud.")
    parser.add_argument("--min-steps", type=int, default=300, help="Steps of every student but ft's.")
    parser.add_argument("--candidates", default=f"pre,tta,{SHIPPED},mix-size")
    parser.add_argument("--twins", default=SHIPPED, help="Candidates that get a twin.")
    parser.add_argument("--report", action="store_true", help="Print the table from the cache only.")
    args = parser.parse_args()
    work, points = args.work, args.points
    candidates, twins = tuple(args.candidates.split(",")), tuple(args.twins.split(","))
    names = {"all": [c.name for c in shapenetpart_categories()], "none": []}.get(
        args.sample_categories, args.sample_categories.split(",")
    )

    def skipped(name: str) -> bool:
        return args.report and not (work / "labels" / name).is_dir()

    def row(name: str, seed: int, few: list[Item], generated: Callable[[], list[Item]]) -> Row:
        if args.report:
            return cached_row(work, name, few)
        start = time.perf_counter()
        measured = measure_row(work, name, seed, few, generated, points, candidates, twins, args.min_steps)
        print(f"{name}: {time.perf_counter() - start:.0f}s", flush=True)
        return measured

    rows = []
    with cpu_threads(1):
        for seed in (int(s) for s in args.seeds.split(",")):

            def generated(category: str, seed: int = seed) -> Callable[[], list[Item]]:
                path = work / "items" / f"generated-s{seed}" / f"{category}-{args.generated}.npz"
                return lambda: cached_items(
                    path, lambda: procedural_items(category, args.generated, 100 + seed, points, True)
                )

            if names and SAMPLE.is_dir():
                folder = work / "items" / f"sample-s{seed}"
                if not (folder / "done").exists():
                    for category, items in sample_items(seed, True).items():
                        save_items(folder / f"{category}.npz", items)
                    (folder / "done").touch()
                for category in names:
                    if skipped(f"sample-s{seed}/{category}"):
                        continue
                    few = load_items(folder / f"{category}.npz")
                    rows.append(row(f"sample-s{seed}/{category}", seed, few, generated(category)))
            for size in (int(s) for s in args.sizes.split(",")) if args.procedural != "none" else ():
                for category in args.procedural.split(","):
                    path = work / "items" / f"procedural-s{seed}" / f"{category}-{size}.npz"
                    if skipped(f"procedural{size}-s{seed}/{category}"):
                        continue
                    few = cached_items(
                        path, lambda c=category, n=size, s=seed: procedural_items(c, n, s, points, True)
                    )
                    rows.append(row(f"procedural{size}-s{seed}/{category}", seed, few, generated(category)))
    print()
    report(rows, candidates)


if __name__ == "__main__":
    main()
