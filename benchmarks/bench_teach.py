"""How fast the teacher stage renders and lifts, and how small its knowledge is.

For procedural chairs of 100k points, times 10 PartSLIP views at 800x800 with the point renderer
plus lifting the simulated teacher's boxes to units, against a straightforward numpy z-buffer
(`np.minimum.at` per splat offset, then a second pass for the owner) measured in the same run.
Then compares the sparse units with PartDistill's dense [points, units, parts] layout.

    .venv/bin/python benchmarks/bench_teach.py [--shapes 3] [--points 100000] [--size 800]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from partdistill.distill.cameras import Cameras, partslip_cameras
from partdistill.distill.knowledge import lift
from partdistill.distill.render import PointRenderer, _splat_offsets
from partdistill.distill.teachers import NOISE_PRESETS, SimulatedTeacher
from partdistill.prompts import find_category
from partdistill.shapes import Shape, normalize
from partdistill.synth.base import Request
from partdistill.synth.procedural import ProceduralGenerator


def baseline_zbuffer(shape: Shape, cameras: Cameras, radius: float) -> np.ndarray:
    """[K,H,W] nearest point per pixel, the straightforward numpy way (no images, just the index map)."""
    shape = normalize(shape)
    size = cameras.image_size
    screen, depth = cameras.project(shape.points)
    radius_px = radius * size / 2
    out = np.full((len(cameras), size * size), -1, dtype=np.int64)
    for k in range(len(cameras)):
        zbuffer = np.full(size * size, np.inf)
        candidates = []
        for dx, dy in _splat_offsets(radius_px):
            col = np.floor(screen[k, :, 0]).astype(np.int64) + dx
            row = np.floor(screen[k, :, 1]).astype(np.int64) + dy
            near = (col + 0.5 - screen[k, :, 0]) ** 2 + (row + 0.5 - screen[k, :, 1]) ** 2 <= radius_px**2
            keep = (near | ((dx == 0) & (dy == 0))) & (col >= 0) & (col < size) & (row >= 0) & (row < size)
            flat, index = row[keep] * size + col[keep], np.flatnonzero(keep)
            np.minimum.at(zbuffer, flat, depth[k, index])
            candidates.append((flat, index))
        for flat, index in candidates:
            winner = depth[k, index] == zbuffer[flat]
            out[k, flat[winner]] = index[winner]
    return out.reshape(len(cameras), size, size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=int, default=3)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=800)
    args = parser.parse_args()
    chair = find_category("chair")
    generator = ProceduralGenerator(n_points=args.points)
    cameras = partslip_cameras(args.size)
    renderer = PointRenderer()
    teacher = SimulatedTeacher("box", NOISE_PRESETS["noisy"])
    print(
        f"torch threads: {torch.get_num_threads()}; {args.shapes} chairs x {args.points:,} points, "
        f"{len(cameras)} views at {args.size}x{args.size}\n"
    )
    ours, base, teaching, lifting, sparse, dense, sparse_2048, dense_2048 = [], [], [], [], [], [], [], []
    for seed in range(args.shapes):
        shape = generator.generate(Request(chair, None, seed))
        start = time.perf_counter()
        views = renderer.render(shape, cameras)
        rendered = time.perf_counter()
        predictions = teacher.predict(views, chair, shape)
        taught = time.perf_counter()
        knowledge = lift(views, predictions, chair.part_names)
        lifted = time.perf_counter()
        ours.append(rendered - start + lifted - taught)
        teaching.append(taught - rendered)
        lifting.append(lifted - taught)

        start = time.perf_counter()
        index = baseline_zbuffer(shape, cameras, renderer.radius)
        base.append(time.perf_counter() - start + lifting[-1])
        assert (index == views.pixel_index).mean() > 0.999, "the baseline must draw the same picture"

        sparse.append(knowledge.nbytes)
        dense.append(knowledge.n_points * knowledge.n_units * len(chair.parts) * 4)
        sample = np.random.default_rng(seed).choice(knowledge.n_points, 2048, replace=False)
        sparse_2048.append(knowledge.restricted(sample).nbytes)
        dense_2048.append(2048 * knowledge.n_units * len(chair.parts) * 4)

    print(f"{'':<44}{'s/shape':>9}{'vs baseline':>13}")
    print(f"{'baseline: numpy minimum.at z-buffer + lift':<44}{np.mean(base):>9.3f}{1.0:>12.2f}x")
    speedup = np.mean(base) / np.mean(ours)
    print(f"{'pd: torch scatter-min z-buffer + lift':<44}{np.mean(ours):>9.3f}{speedup:>12.2f}x")
    print(f"{'  of which lifting':<44}{np.mean(lifting):>9.3f}")
    print(f"{'  (simulated teacher, not in the totals)':<44}{np.mean(teaching):>9.3f}\n")
    print("knowledge per shape")
    print(f"{'sparse units (pd)':<44}{np.mean(sparse) / 1e3:>9.1f} kB")
    print(
        f"{'dense [points, units, parts] float32':<44}{np.mean(dense) / 1e6:>9.1f} MB"
        f"  ({np.mean(dense) / np.mean(sparse):,.0f}x)"
    )
    print(f"{'sparse units at 2,048 points':<44}{np.mean(sparse_2048) / 1e3:>9.1f} kB")
    print(
        f"{'dense at 2,048 points (PartDistill h5)':<44}{np.mean(dense_2048) / 1e3:>9.1f} kB"
        f"  ({np.mean(dense_2048) / np.mean(sparse_2048):,.0f}x)"
    )


if __name__ == "__main__":
    main()
