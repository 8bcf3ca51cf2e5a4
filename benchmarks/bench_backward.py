"""Does backward distillation help? Forward-only against forward + backward, on procedural shapes.

For each category and seed: procedural training and held-out shapes, knowledge from the noisy
simulated teacher (boxes, or masks), one student distilled forward only and one with backward
distillation as `pd distill` runs it (the reference trigger, not before --switch-not-before of the
epochs and --switch-min-steps optimisation steps, re-scoring by the student's predictions averaged
with --snapshot-decay, waiting while that would silence a part; all four 0 is the reference's
switch with the student at the trigger), both scored on the held-out shapes beside direct lifting.
--confusion adds shapes the teacher consistently misreads.
Also prints how well the re-scores separate right units from wrong ones (the teacher's truth is
known here): the mechanism backward distillation relies on.

    .venv/bin/python benchmarks/bench_backward.py [--categories chair,table] [--seeds 0,1,2]
        [--shapes 48] [--points 1024] [--epochs 25] [--batch 16] [--student pointnet]
        [--kind box|mask] [--boxes instance|part] [--confusion 0.0] [--switch-not-before 0.5]
        [--switch-min-steps 144] [--snapshot-decay 0.7] [--silent 0.05]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time

import numpy as np

from partdistill.distill.config import DistillConfig
from partdistill.distill.data import Item, predict_logits
from partdistill.distill.train import Distillation, EpochReport
from partdistill.knowledge.units import vote
from partdistill.metrics import shapenetpart_shape_iou
from partdistill.prompts import find_category
from partdistill.render.cameras import partslip_cameras
from partdistill.render.renderers import MeshRenderer
from partdistill.synth.base import Request
from partdistill.synth.procedural import ProceduralGenerator
from partdistill.synth.run import item_seed
from partdistill.teach.lift import lift
from partdistill.teach.teachers import NOISE_PRESETS, SimulatedTeacher


def rescore_separation(run: Distillation) -> tuple[float, float]:
    """Mean re-score of units whose part is the true majority of their points, and of the others."""
    right, wrong = [], []
    for item in run.items:
        scores, knowledge = run.rescored[item.id], item.knowledge
        for unit in range(knowledge.n_units):
            truth = np.bincount(item.shape.labels[knowledge.members(unit)]).argmax()
            (right if truth == knowledge.parts[unit] else wrong).append(scores[unit])
    return float(np.mean(right)), float(np.mean(wrong))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--categories", default="chair,table")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--shapes", type=int, default=48)
    parser.add_argument("--points", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--student", default="pointnet")
    parser.add_argument("--kind", default="box", choices=["box", "mask"])
    parser.add_argument("--confusion", type=float, default=0.0)
    parser.add_argument(
        "--boxes",
        default="instance",
        choices=["instance", "part"],
        help="A box per connected piece of a part (the default), or one per part (the first box model).",
    )
    parser.add_argument("--switch-not-before", type=float, default=DistillConfig.switch_not_before)
    parser.add_argument("--switch-min-steps", type=int, default=DistillConfig.switch_min_steps)
    parser.add_argument("--snapshot-decay", type=float, default=DistillConfig.snapshot_decay)
    parser.add_argument("--silent", type=float, default=DistillConfig.silent)
    args = parser.parse_args()
    noise = dataclasses.replace(NOISE_PRESETS["noisy"], confusion=args.confusion)
    generator, cameras = ProceduralGenerator(n_points=2 * args.points), partslip_cameras(160)
    setting = f"{args.student}, {args.shapes} training / 16 held-out shapes, {args.points} points"
    teaching = f"noisy simulated {args.kind} teacher ({args.boxes} boxes), confusion {args.confusion}"
    switching = (
        f"switch not before {args.switch_not_before} and {args.switch_min_steps} steps,"
        f" snapshot decay {args.snapshot_decay},"
        f" silent {args.silent}"
    )
    print(
        f"{setting}, batch {args.batch}, {args.epochs} epochs, {teaching}, {switching}; held-out mIoU (%)\n"
    )
    print(
        f"{'category':<10}{'seed':>5}{'lifting':>9}{'forward':>9}{'+backward':>11}{'switch':>8}"
        f"{'q right':>9}{'q wrong':>9}{'s':>6}"
    )
    for name in args.categories.split(","):
        category = find_category(name)
        for seed in (int(s) for s in args.seeds.split(",")):
            start = time.perf_counter()
            teacher = SimulatedTeacher(args.kind, noise, seed=seed, per_instance=args.boxes == "instance")

            def item(shape_seed: int, category=category, teacher=teacher) -> Item:
                shape = generator.generate(Request(category, None, shape_seed))
                views = MeshRenderer().render(shape, cameras)
                return Item(
                    str(shape_seed),
                    shape,
                    lift(views, teacher.predict(views, category, shape), category.part_names),
                )

            train = [item(item_seed(seed, i)) for i in range(args.shapes)]
            test = [item(item_seed(1000 + seed, i)) for i in range(16)]
            parts = len(category.parts)
            lifting = np.mean(
                [shapenetpart_shape_iou(vote(t.knowledge), t.shape.labels, parts) for t in test]
            )
            scores, switch, separation = {}, None, (np.nan, np.nan)
            for backward in (False, True):
                config = DistillConfig(
                    category=name,
                    student=args.student,
                    epochs=args.epochs,
                    backward=backward,
                    n_points=args.points,
                    batch_size=args.batch,
                    switch_not_before=args.switch_not_before,
                    switch_min_steps=args.switch_min_steps,
                    snapshot_decay=args.snapshot_decay,
                    silent=args.silent,
                    seed=seed,
                )
                run = Distillation(config, train, tempfile.mkdtemp())
                run.start(resume=False)
                for report in run.run():
                    if isinstance(report, EpochReport) and report.switched:
                        switch, separation = report.epoch, rescore_separation(run)
                run.model.eval()
                rng = np.random.default_rng(0)
                scores[backward] = np.mean(
                    [
                        shapenetpart_shape_iou(
                            predict_logits(run.model, t.shape, args.points, rng).argmax(-1),
                            t.shape.labels,
                            parts,
                        )
                        for t in test
                    ]
                )
            results = f"{100 * lifting:>9.1f}{100 * scores[False]:>9.1f}{100 * scores[True]:>11.1f}"
            rescores = f"{switch or '-':>8}{separation[0]:>9.2f}{separation[1]:>9.2f}"
            print(f"{name:<10}{seed:>5}{results}{rescores}{time.perf_counter() - start:>6.0f}", flush=True)


if __name__ == "__main__":
    main()
