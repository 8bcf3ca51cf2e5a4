"""How fast `pd synth` makes shapes on this machine.

Prints procedural shapes per second for every category; the rate of a whole `pd synth` run (the
generator, shape files and manifest) over its first 200 shapes and over its last 200 of 2,000 in
the same collection, which must stay level as the collection grows; and the time to turn a tiny
random Shap-E latent into a shape at several grid sizes, against diffusers' own
`output_type="mesh"` path (always grid 128) measured in the same run. The tiny Shap-E has
real-sized marching cubes but toy networks, so its numbers measure decoding and meshing, not the
real model's networks.

    .venv/bin/python benchmarks/bench_synth.py [--shapes 20] [--points 10000] [--collection 2000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from tiny_models import tiny_shap_e_pipeline

from partdistill.collection import Collection
from partdistill.prompts import find_category
from partdistill.shapes import Provenance
from partdistill.synth import SynthConfig, build_generator, prepare, synthesize
from partdistill.synth.base import Request
from partdistill.synth.procedural import RECIPES, ProceduralGenerator
from partdistill.synth.shap_e import shape_from_shap_e_mesh


def best_of(repeats: int, run) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def procedural(shapes: int, points: int) -> None:
    generator = ProceduralGenerator(n_points=points)
    print(f"procedural generator, {points:,} points per shape, {shapes} shapes per category")
    print(f"{'category':<12}{'shapes/s':>10}{'ms/shape':>10}")
    total = 0.0
    for name in sorted(RECIPES):
        category = find_category(name)
        start = time.perf_counter()
        for seed in range(shapes):
            generator.generate(Request(category, None, seed))
        elapsed = time.perf_counter() - start
        total += elapsed
        print(f"{name:<12}{shapes / elapsed:>10.1f}{1000 * elapsed / shapes:>10.1f}")
    made = shapes * len(RECIPES)
    print(f"{'all':<12}{made / total:>10.1f}{1000 * total / made:>10.1f}\n")


def collection_growth(count: int, points: int = 512, window: int = 200) -> None:
    """Shapes per CPU second of a `pd synth` run over its first and its last `window` shapes.

    CPU time, not wall time: on a shared machine a window of a second or two of wall time swings
    by a third with the neighbours' load.
    """
    config = SynthConfig(category="chair", n=count, n_points=points)
    with tempfile.TemporaryDirectory() as folder:
        collection, todo = prepare(config, Path(folder) / "chairs")
        generator = build_generator(config)
        stamps = [time.process_time()]
        for _ in synthesize(config, generator, collection, todo):
            stamps.append(time.process_time())
        window = min(window, count // 2)
        early = window / (stamps[window] - stamps[0])
        late = window / (stamps[-1] - stamps[-1 - window])
        start = time.perf_counter()
        Collection.open(Path(folder) / "chairs")
        opening = time.perf_counter() - start
    print(f"pd synth into one collection, chairs of {points} points")
    print(f"{'shapes':<20}{'shapes per CPU s':>18}")
    print(f"{f'1-{window}':<20}{early:>18.1f}")
    print(f"{f'{count - window + 1}-{count}':<20}{late:>18.1f}   ({late / early:.2f}x the first)")
    print(f"opening the {count:,}-shape collection: {1000 * opening:.0f} ms\n")


def shap_e(points: int) -> None:
    pipeline = tiny_shap_e_pipeline()
    pipeline.set_progress_bar_config(disable=True)
    generator = torch.Generator().manual_seed(0)
    latents = pipeline("a chair", generator=generator, num_inference_steps=2, output_type="latent").images
    renderer = pipeline.shap_e_renderer

    def decode(grid: int) -> None:
        mesh = renderer.decode_to_mesh(latents[:1], "cpu", grid_size=grid)
        provenance = Provenance("shap-e")
        shape_from_shap_e_mesh(
            mesh.verts, mesh.faces, mesh.vertex_channels, n_points=points, seed=0, provenance=provenance
        )

    with torch.no_grad():
        # What output_type="mesh" runs: decode_to_mesh at its default grid of 128.
        baseline = best_of(2, lambda: renderer.decode_to_mesh(latents[:1], "cpu"))
        print("tiny Shap-E: latent -> mesh -> points (best of 3)")
        print(f"{'path':<44}{'seconds':>9}{'vs baseline':>13}")
        print(f"{'baseline: diffusers decode_to_mesh, grid 128':<44}{baseline:>9.3f}{1.0:>12.2f}x")
        for grid in (32, 64, 128):
            seconds = best_of(3, lambda grid=grid: decode(grid))
            path = f"pd: decode grid {grid} + sample {points:,} points"
            print(f"{path:<44}{seconds:>9.3f}{baseline / seconds:>12.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=int, default=20)
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--collection", type=int, default=2000)
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}\n")
    procedural(args.shapes, args.points)
    collection_growth(args.collection)
    shap_e(args.points)


if __name__ == "__main__":
    main()
