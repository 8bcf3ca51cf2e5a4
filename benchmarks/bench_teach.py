"""How fast the teacher stage renders, lifts and asks, how well point splats cover a shape, and
how small its knowledge is.

1. Point renderer: 10 PartSLIP views at 800x800 of 100k-point procedural chairs (radius 0.005),
   CPU seconds per shape with 1 and 2 threads, idle and beside a second busy process, against two
   independent numpy z-buffers written from PyTorch3D's rule, measured in the same run: the
   baseline, vectorised (its own splat window, float32 NDC test, `np.minimum.at` on depth, then
   the nearest point's index), and the tests' reference (every candidate pixel in a window,
   sorted by pixel and depth). Neither draws images; pd's figure includes them. Beside them, the
   torch scatter-min passes pd runs on a GPU, timed on the CPU, where the compiled loop replaced
   them.
2. Splat coverage: the share of a shape's silhouette (its mesh ray-cast) that point splats cover,
   at 2,048 / 10,000 / 100,000 points, with the radius the renderer chooses from the cloud's
   density and with PartSLIP's 0.005.
3. Mesh renderer: 10 views at 800x800, CPU seconds per shape against the first renderer's ray
   queries through trimesh (tests/reference_renderers.py; maps only, no images), and how many
   pixels and visibility flags agree.
4. Teachers: (view, part) pairs per second of every real teacher's code path with tiny random
   models against its batch size, on this machine's CPU (`make gpu-check` prints the same on a
   GPU). Tiny models measure the pipeline around the network, not the network.
5. `pd teach` as a user runs it (simulated teacher, default settings) on procedural chairs: CPU
   seconds per shape, the command's own and its children's.
6. Knowledge size: sparse units against PartDistill's dense [points, units, parts] layout.

    .venv/bin/python benchmarks/bench_teach.py [--shapes 3] [--points 100000] [--size 800]
        [--teach-shapes 32] [--skip teach,teachers]
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from reference_renderers import pytorch3d_rule_zbuffer, trimesh_mesh_maps
from tiny_models import tiny_clipseg, tiny_grounding_dino, tiny_open_clip, tiny_owlv2

from partdistill.prompts import find_category
from partdistill.render import renderers
from partdistill.render.cameras import Cameras, partslip_cameras
from partdistill.render.renderers import PARTSLIP_RADIUS, MeshRenderer, PointRenderer
from partdistill.render.zbuffer import nearest_points_torch
from partdistill.shapes import Shape, normalize_points, subsample
from partdistill.synth.base import Request
from partdistill.synth.procedural import ProceduralGenerator
from partdistill.teach.lift import lift
from partdistill.teach.teachers import NOISE_PRESETS, SimulatedTeacher
from partdistill.teach.teachers.vlm import (
    ClipDenseTeacher,
    ClipSegTeacher,
    GroundingDinoTeacher,
    Owlv2Teacher,
)
from partdistill.threads import cpu_threads

CHAIR = find_category("chair")


def numpy_zbuffer(shape: Shape, cameras: Cameras, radius: float) -> np.ndarray:
    """[K,H,W] nearest point per pixel by PyTorch3D's rule, the straightforward numpy way."""
    size = cameras.image_size
    screen, depth = cameras.project(normalize_points(shape.points))
    reach = int(np.ceil(radius * size / 2))
    f32 = np.float32
    out = np.full((len(cameras), size * size), -1, dtype=np.int64)
    for k in range(len(cameras)):
        x, y = screen[k, :, 0], screen[k, :, 1]
        x_ndc, y_ndc = x * f32(2 / size) - f32(1), y * f32(2 / size) - f32(1)
        zbuffer = np.full(size * size, np.inf, dtype=np.float32)
        candidates = []
        for dy in range(-reach, reach + 1):
            for dx in range(-reach, reach + 1):
                col, row = np.floor(x).astype(np.int64) + dx, np.floor(y).astype(np.int64) + dy
                gap_x = x_ndc - ((2 * col + 1).astype(f32) / f32(size) - f32(1))
                gap_y = y_ndc - ((2 * row + 1).astype(f32) / f32(size) - f32(1))
                keep = (gap_x * gap_x + gap_y * gap_y < f32(radius) * f32(radius)) & (
                    depth[k] > cameras.znear
                )
                keep &= (col >= 0) & (col < size) & (row >= 0) & (row < size)
                flat, index = row[keep] * size + col[keep], np.flatnonzero(keep)
                np.minimum.at(zbuffer, flat, depth[k, index])
                candidates.append((flat, index))
        owner = np.full(size * size, np.iinfo(np.int64).max)
        for flat, index in candidates:
            nearest = depth[k, index] == zbuffer[flat]
            np.minimum.at(owner, flat[nearest], index[nearest])
        out[k] = np.where(np.isfinite(zbuffer), owner, -1)
    return out.reshape(len(cameras), size, size)


def sorted_zbuffer(shape: Shape, cameras: Cameras, radius: float) -> np.ndarray:
    """[K,H*W] the tests' reference z-buffer (tests/reference_renderers.py) on every view."""
    size = cameras.image_size
    screen, depth = cameras.project(normalize_points(shape.points))
    ndc = screen.astype(np.float32) * np.float32(2.0 / size) - np.float32(1.0)
    return np.stack(
        [pytorch3d_rule_zbuffer(ndc[k], depth[k], size, radius, cameras.znear) for k in range(len(cameras))]
    )


def torch_zbuffer(shape: Shape, cameras: Cameras, radius: float) -> np.ndarray:
    """[K,H,W] the z-buffer pd computes on a GPU (torch scatter-min passes), run on the CPU: what
    the compiled CPU loop replaced there. Maps only, no images."""
    screen, depth = cameras.project(normalize_points(shape.points))
    return nearest_points_torch(
        screen, depth, cameras.image_size, np.float32(radius), cameras.znear, torch.device("cpu")
    )


def cpu_seconds(run: Callable[[], object], repeats: int = 3) -> float:
    """The smallest CPU time (this process, all threads) of `run` over `repeats`."""
    best = np.inf
    for _ in range(repeats):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best


def _busy(stop) -> None:
    """A second process keeping a core busy (numpy on one thread) until `stop` is set."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        block = np.random.default_rng(0).random((400, 400))
        while not stop.is_set():
            block = np.tanh(block @ block)


def point_renderer(shapes: list[Shape], cameras: Cameras) -> None:
    print("1. point renderer: 10 views at 800x800 of 100k points, radius 0.005 (PartSLIP)")
    renderer = PointRenderer(PARTSLIP_RADIUS)
    rows: dict[str, list[float]] = {}
    same = []
    for shape in shapes:
        for threads in (1, 2):
            renderers.RENDER_THREADS = threads  # the renderer's own thread policy, overridden to compare
            with cpu_threads(threads):
                renderer.render(shape, cameras)  # warm-up
                rows.setdefault(f"pd, {threads} thread(s), idle", []).append(
                    cpu_seconds(lambda: renderer.render(shape, cameras))  # noqa: B023
                )
        stop = multiprocessing.Event()
        other = multiprocessing.Process(target=_busy, args=(stop,))
        other.start()
        try:
            for threads in (1, 2):
                renderers.RENDER_THREADS = threads
                with cpu_threads(threads):
                    start = time.perf_counter()
                    cpu = cpu_seconds(lambda: renderer.render(shape, cameras), repeats=2)  # noqa: B023
                    rows.setdefault(f"pd, {threads} thread(s), beside a busy process", []).append(cpu)
                    rows.setdefault(f"  wall time, {threads} thread(s), beside it", []).append(
                        (time.perf_counter() - start) / 2
                    )
        finally:
            stop.set()
            other.join()
        renderers.RENDER_THREADS = 1
        with cpu_threads(1):
            baseline = numpy_zbuffer(shape, cameras, PARTSLIP_RADIUS)
            rows.setdefault("baseline: numpy, vectorised (minimum.at), 1 thread", []).append(
                cpu_seconds(lambda: numpy_zbuffer(shape, cameras, PARTSLIP_RADIUS), repeats=1)  # noqa: B023
            )
            rows.setdefault("numpy, sorted candidates (tests' reference), 1 thread", []).append(
                cpu_seconds(lambda: sorted_zbuffer(shape, cameras, PARTSLIP_RADIUS), repeats=1)  # noqa: B023
            )
            rows.setdefault("pd's torch scatter-min passes (GPU code), 1 thread", []).append(
                cpu_seconds(lambda: torch_zbuffer(shape, cameras, PARTSLIP_RADIUS), repeats=1)  # noqa: B023
            )
            same.append((renderer.render(shape, cameras).pixel_index == baseline).mean())
    base = np.mean(rows["baseline: numpy, vectorised (minimum.at), 1 thread"])
    print(f"{'':<56}{'s/shape':>9}{'vs baseline':>13}")
    for label, values in rows.items():
        ratio = "" if label.startswith("  ") else f"{base / np.mean(values):>12.2f}x"
        print(f"{label:<56}{np.mean(values):>9.3f}{ratio}")
    print(f"pixels where pd and the baseline agree: {100 * np.mean(same):.4f}%\n")


def coverage(shapes: list[Shape], cameras: Cameras) -> None:
    print("2. splat coverage of the mesh's silhouette (chairs, 10 views)")
    print(f"{'points':>8}{'default radius':>16}{'coverage':>10}{'outline growth':>16}{'at 0.005':>10}")
    silhouettes = [MeshRenderer().render(shape, cameras).pixel_index >= 0 for shape in shapes]
    for n in (2048, 10_000, 100_000):
        radii, covered, grown, partslip = [], [], [], []
        for shape, truth in zip(shapes, silhouettes, strict=True):
            cloud = subsample(shape, n, np.random.default_rng(n))
            renderer = PointRenderer()
            radii.append(renderer.radius_for(normalize_points(cloud.points), cameras))
            drawn = renderer.render(cloud, cameras).pixel_index >= 0
            covered.append((drawn & truth).sum() / truth.sum())
            grown.append((drawn & ~truth).sum() / truth.sum())
            small = PointRenderer(PARTSLIP_RADIUS).render(cloud, cameras).pixel_index >= 0
            partslip.append((small & truth).sum() / truth.sum())
        print(
            f"{n:>8,}{np.mean(radii):>16.4f}{100 * np.mean(covered):>9.1f}%"
            f"{100 * np.mean(grown):>15.1f}%{100 * np.mean(partslip):>9.1f}%"
        )
    print()


def mesh_renderer(shapes: list[Shape], cameras: Cameras) -> None:
    print("3. mesh renderer: 10 views at 800x800 (Embree)")
    ours, first, pixels, flags = [], [], [], []
    renderer = MeshRenderer()
    with cpu_threads(1):
        for shape in shapes:
            renderer.render(shape, cameras)
            ours.append(cpu_seconds(lambda: renderer.render(shape, cameras)))  # noqa: B023
            first.append(cpu_seconds(lambda: trimesh_mesh_maps(shape, cameras), repeats=1))  # noqa: B023
            views = renderer.render(shape, cameras)
            faces, visible = trimesh_mesh_maps(shape, cameras)
            pixels.append((views.pixel_index == faces).mean())
            flags.append((views.visible == visible).mean())
    print(f"{'trimesh ray queries (maps only), 1 thread':<46}{np.mean(first):>9.3f} s/shape")
    print(
        f"{'pd: Embree in float32, with images, 1 thread':<46}{np.mean(ours):>9.3f} s/shape"
        f"  ({np.mean(first) / np.mean(ours):.2f}x)"
    )
    print(
        f"same face on {100 * np.mean(pixels):.4f}% of pixels, same visibility for "
        f"{100 * np.mean(flags):.4f}% of points\n"
    )


TEACHERS: dict[str, tuple[Callable[[str, int], object], tuple[int, ...]]] = {
    # The detectors batch (view, part) pairs or views; CLIPSeg takes a view's parts at once and
    # dense CLIP all views at once, so their batch is fixed.
    "grounding-dino": (
        lambda device, b: GroundingDinoTeacher(
            *tiny_grounding_dino(), threshold=0.0, device=device, batch_size=b
        ),
        (1, 4, 8, 16, 40),
    ),
    "owlv2": (
        lambda device, b: Owlv2Teacher(*tiny_owlv2(), threshold=0.0, device=device, batch_size=b),
        (1, 2, 5, 10),
    ),
    "clipseg": (lambda device, b: ClipSegTeacher(*tiny_clipseg(), threshold=0.5, device=device), (4,)),
    "clip": (
        lambda device, b: ClipDenseTeacher(*tiny_open_clip(Path(tempfile.mkdtemp())), device=device),
        (40,),
    ),
}


def teacher_throughput(name: str, device: str, shape: Shape, size: int = 224) -> str:
    """(view, part) pairs per second of one teacher with tiny random weights, by batch size."""
    make, batches = TEACHERS[name]
    views = PointRenderer(0.02).render(shape, partslip_cameras(size))
    pairs = views.n_views * len(CHAIR.parts)
    rates = []
    for batch in batches:
        teacher = make(device, batch)
        teacher.predict(views, CHAIR, shape)  # warm-up
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        teacher.predict(views, CHAIR, shape)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        rates.append(f"{batch}: {pairs / (time.perf_counter() - start):.0f}")
    return ", ".join(rates)


def teachers(shape: Shape) -> None:
    print(
        "4. real teachers' code paths, tiny random models, CPU, 224 px views: (view, part) pairs/s by batch"
    )
    for name in TEACHERS:
        print(f"{name:<16}{teacher_throughput(name, 'cpu', shape)}")
    print()


def teach_command(count: int) -> None:
    print(f"5. pd teach on {count} procedural chairs (simulated noisy boxes, default settings)")
    with tempfile.TemporaryDirectory() as folder:
        shapes = Path(folder) / "chairs"
        pd = str(Path(sys.executable).with_name("pd"))
        subprocess.run(
            [pd, "synth", "--category", "chair", "--n", str(count), "--out", str(shapes)],
            check=True,
            capture_output=True,
        )
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([pd, "teach", "--shapes", str(shapes)], check=True, capture_output=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"CPU {cpu / count:.2f} s per shape, wall {wall / count:.2f} s per shape (start-up included)\n")


def knowledge_size(shapes: list[Shape], cameras: Cameras) -> None:
    print("6. knowledge per shape (simulated noisy boxes on 100k points)")
    teacher = SimulatedTeacher("box", NOISE_PRESETS["noisy"])
    sparse, dense, sparse_2048, dense_2048 = [], [], [], []
    for seed, shape in enumerate(shapes):
        views = MeshRenderer().render(shape, cameras)
        knowledge = lift(views, teacher.predict(views, CHAIR, shape), CHAIR.part_names)
        sparse.append(knowledge.nbytes)
        dense.append(knowledge.n_points * knowledge.n_units * len(CHAIR.parts) * 4)
        sample = np.random.default_rng(seed).choice(knowledge.n_points, 2048, replace=False)
        sparse_2048.append(knowledge.restricted(sample).nbytes)
        dense_2048.append(2048 * knowledge.n_units * len(CHAIR.parts) * 4)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", type=int, default=3)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=800)
    parser.add_argument("--teach-shapes", type=int, default=32)
    parser.add_argument(
        "--skip", default="", help="Comma-separated sections to skip (points, coverage, ...)."
    )
    args = parser.parse_args()
    skip = set(args.skip.split(",")) - {""}
    generator = ProceduralGenerator(n_points=args.points)
    shapes = [generator.generate(Request(CHAIR, None, seed)) for seed in range(args.shapes)]
    cameras = partslip_cameras(args.size)
    print(
        f"{args.shapes} chairs x {args.points:,} points, {len(cameras)} views at {args.size}x{args.size}; "
        f"{torch.get_num_threads()} cores\n"
    )
    sections: dict[str, Callable[[], None]] = {
        "points": lambda: point_renderer(shapes, cameras),
        "coverage": lambda: coverage(shapes, partslip_cameras(400)),
        "mesh": lambda: mesh_renderer(shapes, cameras),
        "teachers": lambda: teachers(subsample(shapes[0], 4096, np.random.default_rng(0))),
        "teach": lambda: teach_command(args.teach_shapes),
        "size": lambda: knowledge_size(shapes, partslip_cameras(400)),
    }
    for name, run in sections.items():
        if name not in skip:
            run()


if __name__ == "__main__":
    main()
