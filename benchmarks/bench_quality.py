"""Does the student beat direct lifting? On the real ShapeNetPart sample and on procedural collections.

Test-time alignment everywhere, as a user with a handful of shapes runs it: the student is
distilled on a collection and scored on the same shapes (ShapeNetPart protocol, class mIoU over
the categories of a row). The knowledge comes from the noisy simulated box teacher (per-instance
boxes, the default; `--boxes part` for one box per part, the first box model).

Rows: the real sample (../shared/data/shapenetpart_sample: 16 categories, 3 shapes each, 4
tables, mostly cut to ~240 points; `pd import` of it, point renders) per seed; and procedural
collections of each size, category and seed (mesh renders). Columns: direct lifting of the units;
the student forward only; the student with backward distillation on the same schedule (allowed
however small the collection); the final labels `pd distill --mode tta` hands over with its
defaults (with backward distillation where the collection can take --switch-min-steps steps in
the epochs asked for; otherwise the forward student or direct lifting, whichever agreed better
with held-out teacher views, `partdistill.distill.choose`); and on what share of the row's runs
that check handed over lifting. Seeds set the teacher's noise, the shapes
(procedural) and the student's initialisation. `--shape-points 240 --renders points` makes the
procedural shapes as sparse as the sample's and teaches them from point renders, as the sample is
taught. With `--companions K`, the sample's rows gain a column: the forward-only student distilled
on each category's sample shapes together with K procedural shapes of the category taught by the
same teacher (label-free: `pd synth` then `pd teach`), scored on the sample shapes only. With
`--perfect-units`, the sample's rows gain the ceiling: the forward-only student distilled on
perfect units (one per ground-truth part of each shape, score 1) instead of the teacher's.

    .venv/bin/python benchmarks/bench_quality.py [--sample-seeds 0,1,2] [--categories chair,table,airplane]
        [--sizes 8,16,48] [--seeds 0,1] [--points 1024] [--min-steps 300] [--skip-sample] [--skip-procedural]
        [--sample-points 2048] [--companions 0] [--perfect-units] [--shape-points 0] [--renders mesh]
        [--skip-backward] [--only-backward]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from partdistill.datasets.readers import open_dataset
from partdistill.distill.choose import compare, filled, split_views
from partdistill.distill.config import MIN_STEPS, DistillConfig
from partdistill.distill.data import Item
from partdistill.distill.train import Distillation
from partdistill.distill.trained import TrainedStudent
from partdistill.knowledge.units import Knowledge, vote
from partdistill.metrics import shapenetpart_shape_iou
from partdistill.prompts import find_category
from partdistill.render.cameras import partslip_cameras
from partdistill.render.renderers import MeshRenderer, PointRenderer
from partdistill.synth.base import Request
from partdistill.synth.procedural import ProceduralGenerator
from partdistill.synth.run import item_seed
from partdistill.teach.lift import lift
from partdistill.teach.teachers import NOISE_PRESETS, SimulatedTeacher
from partdistill.threads import cpu_threads

SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "shapenetpart_sample"
LIFTING_HANDED = "% lifting"  # share of the row's runs whose held-out check handed over lifting
COLUMNS = ("lifting", "forward", "+backward", "final", LIFTING_HANDED)
COMPANIONS = "companions"
PERFECT = "perfect"  # the student on perfect units


def sample_items(seed: int, per_instance: bool) -> dict[str, list[Item]]:
    """The real sample's shapes by category, taught by the noisy simulated teacher (point renders)."""
    teacher = SimulatedTeacher("box", NOISE_PRESETS["noisy"], seed=seed, per_instance=per_instance)
    cameras = partslip_cameras(800)
    items: dict[str, list[Item]] = {}
    for entry in open_dataset("shapenetpart", SAMPLE).shapes():
        shape = entry.shape.replace(category=entry.category.key)
        views = PointRenderer().render(shape, cameras)
        knowledge = lift(views, teacher.predict(views, entry.category, shape), entry.category.part_names)
        items.setdefault(entry.category.name, []).append(Item(entry.id, shape, knowledge))
    return items


def procedural_items(
    name: str,
    size: int,
    seed: int,
    points: int,
    per_instance: bool,
    shape_points: int = 0,
    renders: str = "mesh",
) -> list[Item]:
    """`size` procedural shapes of `name` with `shape_points` points (0: twice `points`), taught by
    the noisy teacher from mesh renders at 400 px or, as the sample is, point renders at 800 px."""
    category = find_category(name)
    generator = ProceduralGenerator(n_points=shape_points or 2 * points)
    cameras = partslip_cameras(400 if renders == "mesh" else 800)
    renderer = MeshRenderer() if renders == "mesh" else PointRenderer()
    teacher = SimulatedTeacher("box", NOISE_PRESETS["noisy"], seed=seed, per_instance=per_instance)
    items = []
    for i in range(size):
        shape = generator.generate(Request(category, None, item_seed(seed, i)))
        views = renderer.render(shape, cameras)
        items.append(
            Item(str(i), shape, lift(views, teacher.predict(views, category, shape), category.part_names))
        )
    return items


def distil(items: list[Item], config: DistillConfig) -> list[np.ndarray]:
    """The labels a run of `config` gives the shapes it was distilled on."""
    run = Distillation(config, items, tempfile.mkdtemp())
    run.start(resume=False)
    for _ in run.run():
        pass
    run.finish()
    trained = TrainedStudent.load(run.run_dir)
    return [trained.labels(item.shape) for item in items]


def perfect_units(item: Item) -> Item:
    """`item` with the ground truth as its knowledge: one unit per part present, score 1."""
    labels, names = item.shape.labels, item.knowledge.part_names
    present = [p for p in range(len(names)) if (labels == p).any()]
    members = [np.flatnonzero(labels == p) for p in present]
    knowledge = Knowledge.from_units(item.shape.n_points, names, members, present, [1.0] * len(present))
    return Item(item.id, item.shape, knowledge)


def scores(
    items: list[Item],
    category: str,
    seed: int,
    points: int,
    min_steps: int,
    companions: Sequence[Item] = (),
    perfect: bool = False,
    with_backward: bool = True,
    only_backward: bool = False,
) -> dict[str, float]:
    """mIoU of every column on `items` (distilled on and scored on the same shapes); of the forward
    student distilled on `items` with `companions` where there are any; and of the forward
    student distilled on the items' perfect units if `perfect`. With `only_backward`, lifting's
    and the +backward column's only (the others NaN)."""
    parts = len(items[0].knowledge.part_names)

    def miou(labels: list[np.ndarray]) -> float:
        pairs = zip(labels, items, strict=True)
        return float(np.mean([shapenetpart_shape_iou(x, i.shape.labels, parts) for x, i in pairs]))

    default = DistillConfig(category=category, seed=seed, n_points=points, min_steps=min_steps, mode="tta")
    lifting = miou([vote(item.knowledge) for item in items])
    # Backward distillation on the same schedule, allowed however small the collection (pd's
    # default keeps collections that cannot take its steps in the epochs asked for forward only).
    planned = Distillation(default, items, tempfile.mkdtemp())
    backward = (
        distil(items, dataclasses.replace(default, epochs=planned.epochs, min_steps=0))
        if with_backward
        else None
    )
    if only_backward:
        nan = float("nan")
        after = nan if backward is None else miou(backward)
        return {"lifting": lifting, "forward": nan, "+backward": after, "final": nan, LIFTING_HANDED: nan}
    forward_config = dataclasses.replace(default, backward=False)
    forward = distil(items, forward_config)
    if planned.forward_only:  # pd hands over the forward student or lifting, checked
        twin = distil([Item(i.id, i.shape, split_views(i.knowledge)[0]) for i in items], default)
        choice = compare(items, twin)
        final = forward
        if choice.labels == "lifting":
            final = [
                filled(vote(item.knowledge), labels) for item, labels in zip(items, forward, strict=True)
            ]
    else:
        choice, final = None, backward if backward is not None else distil(items, default)
    values = {
        "lifting": lifting,
        "forward": miou(forward),
        "+backward": float("nan") if backward is None else miou(backward),
        "final": miou(final),
        LIFTING_HANDED: float(choice is not None and choice.labels == "lifting"),
    }
    if companions:
        together = distil([*items, *companions], forward_config)
        values[COMPANIONS] = miou(together[: len(items)])
    if perfect:
        values[PERFECT] = miou(distil([perfect_units(item) for item in items], forward_config))
    return values


def row(label: str, values: dict[str, float], seconds: float) -> str:
    return f"{label:<34}" + "".join(f"{100 * v:>11.1f}" for v in values.values()) + f"{seconds:>7.0f}s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample-seeds", default="0,1,2")
    parser.add_argument("--categories", default="chair,table,airplane")
    parser.add_argument("--sizes", default="8,16,48")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--points", type=int, default=1024, help="Points per cloud for procedural rows.")
    parser.add_argument("--min-steps", type=int, default=MIN_STEPS)
    parser.add_argument("--boxes", default="instance", choices=["instance", "part"])
    parser.add_argument("--skip-sample", action="store_true")
    parser.add_argument("--skip-procedural", action="store_true")
    parser.add_argument("--sample-points", type=int, default=2048, help="Points per sample shape per step.")
    parser.add_argument(
        "--companions", type=int, default=0, help="Procedural shapes added to each sample category's run."
    )
    parser.add_argument(
        "--perfect-units",
        action="store_true",
        help="Sample rows: also the student distilled on the ground-truth parts (a ceiling).",
    )
    parser.add_argument(
        "--shape-points", type=int, default=0, help="Points per procedural shape (0: twice --points)."
    )
    parser.add_argument(
        "--renders", default="mesh", choices=["mesh", "points"], help="How procedural shapes are taught."
    )
    parser.add_argument(
        "--skip-backward",
        action="store_true",
        help="Leave the +backward column out (nan): forward-only rows' final labels do not use it.",
    )
    parser.add_argument(
        "--only-backward",
        action="store_true",
        help="Only the lifting and +backward columns (the others nan): a change to backward distillation.",
    )
    args = parser.parse_args()
    per_instance = args.boxes == "instance"
    print(
        f"TTA, noisy simulated boxes ({args.boxes}), pointnet student, min steps {args.min_steps}; mIoU (%)\n"
    )
    extra = [COMPANIONS] * bool(args.companions) + [PERFECT] * args.perfect_units
    columns = (*COLUMNS, *extra) if not args.skip_sample else COLUMNS
    print(f"{'setting':<34}" + "".join(f"{c:>11}" for c in columns))
    with cpu_threads(1):
        if not args.skip_sample and SAMPLE.is_dir():
            for seed in (int(s) for s in args.sample_seeds.split(",")):
                start = time.perf_counter()
                per_category = [
                    scores(
                        items,
                        find_category(name).key,
                        seed,
                        args.sample_points,
                        args.min_steps,
                        procedural_items(name, args.companions, 100 + seed, 256, per_instance),
                        args.perfect_units,
                        not args.skip_backward,
                        args.only_backward,
                    )
                    for name, items in sample_items(seed, per_instance).items()
                ]
                mean = {c: float(np.mean([s[c] for s in per_category])) for c in per_category[0]}
                print(
                    row(f"real sample, 16 categories, seed {seed}", mean, time.perf_counter() - start),
                    flush=True,
                )
        if not args.skip_procedural:
            for size in (int(s) for s in args.sizes.split(",")):
                for name in args.categories.split(","):
                    for seed in (int(s) for s in args.seeds.split(",")):
                        start = time.perf_counter()
                        items = procedural_items(
                            name, size, seed, args.points, per_instance, args.shape_points, args.renders
                        )
                        values = scores(
                            items,
                            name,
                            seed,
                            args.points,
                            args.min_steps,
                            with_backward=not args.skip_backward,
                            only_backward=args.only_backward,
                        )
                        print(
                            row(
                                f"procedural {name}, {size} shapes, seed {seed}",
                                values,
                                time.perf_counter() - start,
                            ),
                            flush=True,
                        )


if __name__ == "__main__":
    main()
