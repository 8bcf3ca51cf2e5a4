"""How `pd synth` and `pd teach` scale on Ray on this machine.

Shapes per second of the plain loop (one process, one thread) and of the Ray path with 1 and 2
workers (one thread each, as pd's workers run), on the procedural generator and the noisy
simulated teacher, measured in the same run on a local cluster. Start-up (the workers importing
their libraries and building their models, once per run) is timed apart from the steady rate
(shapes after the first one, per second). The overhead per shape of the Ray path is its steady
time per shape with one worker minus the plain loop's. With 2 workers on 2 cores the ideal
steady speed-up is 2x.

    .venv/bin/python benchmarks/bench_ray.py [--shapes 48] [--points 2048] [--size 400]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import ray

from partdistill.collection import Collection
from partdistill.knowledge.store import KnowledgeStore
from partdistill.prompts import find_category
from partdistill.scale import RayOptions, synthesize_on_ray, teach_on_ray
from partdistill.synth import SynthConfig, build_generator, prepare, synthesize
from partdistill.teach.config import TeachConfig, build_config_teacher
from partdistill.teach.run import teach
from partdistill.threads import cpu_threads

CHAIR = find_category("chair")


def timed(run: Callable[[], Iterator[object]]) -> tuple[float, float]:
    """(seconds to the first result, steady results per second after it)."""
    start = time.perf_counter()
    stamps = [time.perf_counter() for _ in run()]
    return stamps[0] - start, (len(stamps) - 1) / (stamps[-1] - stamps[0])


def measure(root: Path, config: SynthConfig, teaching: TeachConfig, workers: int) -> dict[str, tuple]:
    """Synth then teach a fresh collection at `root`, in this process (workers=0) or on Ray."""
    collection, todo = prepare(config, root)
    store = KnowledgeStore(root / "knowledge" / "simulated")
    if workers == 0:
        with cpu_threads(1):
            generator = build_generator(config)
            made = timed(lambda: synthesize(config, generator, collection, todo))
            teacher = build_config_teacher(teaching)
            taught = timed(lambda: teach(Collection.open(root), CHAIR, teacher, teaching, store, sheets=0))
        return {"synth": made, "teach": taught}
    options = RayOptions(workers=workers)
    made = timed(lambda: synthesize_on_ray(config, collection, todo, options))
    taught = timed(lambda: teach_on_ray(Collection.open(root), CHAIR, teaching, store, options, sheets=0))
    return {"synth": made, "teach": taught}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=int, default=48)
    parser.add_argument("--points", type=int, default=2048)
    parser.add_argument("--size", type=int, default=400, help="Render size for teaching.")
    args = parser.parse_args()
    config = SynthConfig(category="chair", n=args.shapes, n_points=args.points)
    teaching = TeachConfig(image_size=args.size)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    settings = {"plain loop, 1 thread": 0, "Ray, 1 worker": 1, "Ray, 2 workers": 2}
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for label, workers in settings.items():
            results[label] = measure(Path(folder) / str(workers), config, teaching, workers)
    ray.shutdown()
    print(f"{args.shapes} procedural chairs of {args.points:,} points; teach: 10 views at {args.size} px\n")
    for stage in ("synth", "teach"):
        plain = results["plain loop, 1 thread"][stage][1]
        print(f"{stage:<8}{'start-up s':>12}{'shapes/s':>10}{'vs plain':>10}")
        for label in settings:
            startup, rate = results[label][stage]
            print(f"  {label:<22}{startup:>8.2f}{rate:>10.1f}{rate / plain:>9.2f}x")
        overhead = 1 / results["Ray, 1 worker"][stage][1] - 1 / plain
        print(
            f"  overhead of the Ray path: {1000 * overhead:+.0f} ms per shape (1 worker against the loop)\n"
        )


if __name__ == "__main__":
    main()
