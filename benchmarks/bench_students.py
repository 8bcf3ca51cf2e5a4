"""Training speed and peak memory of every student at the paper's batch: 16 clouds x 2,048 points, CPU;
and, with --quality, how well the from-scratch students distil on procedural shapes.

Speed: each student runs in its own process (so peak memory is its own): one warm-up step, then
timed optimisation steps with the distillation loss on random units. Ratios are against the paper's
student, Point-M2AE, measured in the same run (its encoder is built with random weights here:
speed and memory do not depend on the values).

Quality: for chairs, tables and airplanes, 48 procedural training shapes taught by the noisy
simulated teacher and 16 held-out ones; each compact student is distilled (forward only, so the
students are compared, not the schedule) and scored on the held-out shapes, beside direct lifting.

    .venv/bin/python benchmarks/bench_students.py [--steps 3] [--batch 16] [--points 2048] [--quality]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from partdistill.distill.losses import UnitPairs, distillation_loss
from partdistill.distill.students import STUDENTS, build_student, trainable_parameters
from partdistill.knowledge.units import Knowledge


def random_batch(batch: int, points: int) -> tuple[torch.Tensor, UnitPairs]:
    """A fixed batch to time steps on: `batch` random clouds [batch, points, 3], and for each 30
    random units of 300 points over 4 parts, as pairs."""
    rng = np.random.default_rng(0)
    clouds = torch.from_numpy(rng.normal(size=(batch, points, 3)).astype(np.float32))
    units = [
        Knowledge.from_units(
            points,
            ("a", "b", "c", "d"),
            [rng.choice(points, 300, replace=False) for _ in range(30)],
            rng.integers(0, 4, 30).tolist(),
            rng.uniform(0.5, 1, 30).tolist(),
        )
        for _ in range(batch)
    ]
    return clouds, UnitPairs.from_knowledge(units)


def measure(name: str, steps: int, batch: int, points: int) -> dict[str, float]:
    model = build_student(name, 4, restoring=True)
    optimizer = torch.optim.Adam(trainable_parameters(model), lr=3e-3)
    clouds, pairs = random_batch(batch, points)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def step() -> None:
        loss = distillation_loss(model(clouds), pairs)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - start) / steps
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    trainable = sum(p.numel() for p in trainable_parameters(model))
    total = sum(p.numel() for p in model.parameters())
    return {
        "seconds": seconds,
        "peak_mb": peak,
        "training_mb": peak - before,
        "trainable": trainable,
        "total": total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--points", type=int, default=2048)
    parser.add_argument("--quality", action="store_true", help="also distil and score the compact students")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one student, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.steps, args.batch, args.points)))
        return
    print(
        f"torch threads: {torch.get_num_threads()}; batch {args.batch} x {args.points} points, "
        f"{args.steps} timed steps after one warm-up\n"
    )
    results = {}
    for name in STUDENTS:
        command = [
            sys.executable,
            __file__,
            "--one",
            name,
            "--steps",
            str(args.steps),
            "--batch",
            str(args.batch),
            "--points",
            str(args.points),
        ]
        results[name] = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    reference = results["point-m2ae"]
    header = f"{'student':<12}{'params (trainable)':>22}{'s/step':>9}{'steps/s':>9}{'vs m2ae':>9}"
    print(f"{header}{'peak MB':>9}{'+train MB':>11}")
    for name, r in results.items():
        params = f"{r['total'] / 1e6:.2f}M ({r['trainable'] / 1e6:.2f}M)"
        print(
            f"{name:<12}{params:>22}{r['seconds']:>9.2f}{1 / r['seconds']:>9.2f}"
            f"{reference['seconds'] / r['seconds']:>8.1f}x{r['peak_mb']:>9.0f}{r['training_mb']:>11.0f}"
        )


if __name__ == "__main__":
    main()
