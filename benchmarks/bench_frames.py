"""What a wrong frame costs a student, and what helps a user who does not know their shapes' frame.

A student is distilled on procedural shapes in the catalogue's frame (+y up, front +x), taught by
the noisy simulated box teacher, and labels held-out shapes of the same category (another seed)
as a user's files would hold them: in the catalogue's frame, turned 90 or 180 degrees about the up
axis (a front at +z or -x), and z-up (read as if it were y-up: the shape lies on its back). The
columns are mIoU on the held-out shapes (ShapeNetPart's shape IoU, averaged).

Levers, one row each:
- `rotate`: the student distilled with a random rotation about +y added to the augmentation
  (`pd distill --rotate`);
- `check`: the student's own confidence (mean top softmax probability) on the shape in each of the
  24 axis-aligned frames; the shape is labelled in the frame it is most confident in. The row's
  second line is the share of shapes whose best frame is not the one given by more than
  `--margin` (what a predict-time warning would flag), and its third the share where the best
  frame is the shape's true one (or one the category cannot tell apart: the same IoU).

    .venv/bin/python benchmarks/bench_frames.py [--categories chair,table,airplane] [--train 24]
        [--held-out 12] [--points 512] [--min-steps 300] [--seed 0] [--margin 0.05]
        [--levers none,rotate]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import procedural_items

from partdistill.distill.config import DistillConfig
from partdistill.distill.train import Distillation
from partdistill.distill.trained import TrainedStudent
from partdistill.metrics import shapenetpart_shape_iou
from partdistill.prompts import find_category
from partdistill.shapes import AXES, Frame, Shape, normalize_points
from partdistill.synth.base import Request
from partdistill.synth.procedural import ProceduralGenerator
from partdistill.synth.run import item_seed

# How a held-out shape is held in the file: the file's frame (read without --up/--front).
WRONG = {
    "as learnt": Frame(),
    "turned 90": Frame(up="y", front="z"),
    "turned 180": Frame(up="y", front="-x"),
    "z-up": Frame(up="z", front="x"),
}
CANDIDATES = [Frame(up, front) for up in AXES for front in AXES if up.lstrip("-") != front.lstrip("-")]


def held_out(name: str, count: int, seed: int, points: int) -> list[Shape]:
    category = find_category(name)
    generator = ProceduralGenerator(n_points=points)
    return [generator.generate(Request(category, None, item_seed(seed + 1000, i))) for i in range(count)]


def distil(name: str, train: list, config: DistillConfig) -> TrainedStudent:
    run = Distillation(config, train, tempfile.mkdtemp())
    run.start(resume=False)
    for _ in run.run():
        pass
    run.finish()
    return TrainedStudent.load(run.run_dir)


@torch.no_grad()
def confidence(student: TrainedStudent, points: np.ndarray) -> float:
    """Mean top softmax probability of the student on a fixed subsample of `points`."""
    index = np.random.default_rng(0).permutation(len(points))[: student.n_points]
    cloud = torch.from_numpy(normalize_points(points[index], "bbox"))[None]
    return float(torch.softmax(student.model(cloud), dim=-1).max(dim=-1).values.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--categories", default="chair,table,airplane")
    parser.add_argument("--train", type=int, default=24)
    parser.add_argument("--held-out", type=int, default=12)
    parser.add_argument("--points", type=int, default=512, help="Points per training cloud.")
    parser.add_argument("--min-steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--margin", type=float, default=0.05)
    parser.add_argument("--levers", default="none,rotate", help="Rows to measure: none, rotate.")
    args = parser.parse_args()
    print(f"{'':<26}" + "".join(f"{name:>12}" for name in WRONG) + "   seconds")
    for name in args.categories.split(","):
        start = time.perf_counter()
        train = procedural_items(name, args.train, args.seed, args.points, True)
        shapes = held_out(name, args.held_out, args.seed, 2 * args.points)
        parts = len(find_category(name).parts)
        base = DistillConfig(category=name, n_points=args.points, min_steps=args.min_steps, seed=args.seed)
        for lever in args.levers.split(","):
            student = distil(name, train, dataclasses.replace(base, rotate=lever == "rotate"))
            plain, checked, flagged, found = [], [], [], []
            for wrong in WRONG.values():
                ious, auto, flags, right = [], [], [], []
                for shape in shapes:
                    held = wrong.from_catalogue(shape.points)  # the file
                    labels = student.labels(Shape(points=held))
                    iou = shapenetpart_shape_iou(labels, shape.labels, parts)
                    ious.append(iou)
                    scores = [confidence(student, frame.to_catalogue(held)) for frame in CANDIDATES]
                    best = CANDIDATES[int(np.argmax(scores))]
                    given = scores[CANDIDATES.index(Frame())]
                    flags.append(max(scores) - given > args.margin)
                    picked = student.labels(Shape(points=best.to_catalogue(held)))
                    auto.append(shapenetpart_shape_iou(picked, shape.labels, parts))
                    right.append(
                        best == wrong
                        or abs(
                            auto[-1]
                            - shapenetpart_shape_iou(
                                student.labels(Shape(points=shape.points)), shape.labels, parts
                            )
                        )
                        < 1e-9
                    )
                plain.append(np.mean(ious))
                checked.append(np.mean(auto))
                flagged.append(np.mean(flags))
                found.append(np.mean(right))
            seconds = time.perf_counter() - start
            print(
                f"{name + ' ' + lever:<26}" + "".join(f"{100 * v:>12.1f}" for v in plain) + f"{seconds:>9.0f}"
            )
            print(f"{'  + check: mIoU':<26}" + "".join(f"{100 * v:>12.1f}" for v in checked))
            print(f"{'  + check: flagged %':<26}" + "".join(f"{100 * v:>12.0f}" for v in flagged))
            print(
                f"{'  + check: right frame %':<26}" + "".join(f"{100 * v:>12.0f}" for v in found), flush=True
            )


if __name__ == "__main__":
    main()
