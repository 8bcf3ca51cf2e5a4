"""`pd distill` against its optimisation steps alone, and the PointNet step against plain PointNets.

1. For collections of 3, 12, 48 and 192 procedural chairs (`pd synth` and `pd teach` at their
   defaults, made once in --work and kept), each in its own process, interleaved and repeated:
   - `pd distill` at its defaults (pre mode), and with `--mode tta`, whose held-out check distils
     a second student (the twin) where the run distils forward only: the command as a user runs
     it, timed by this script from its start to its exit;
   - the optimisation steps alone: the same student from the same initialisation on the same
     batches (the run's samples, augmentation and units), forward, loss, backward and Adam step
     timed, the batches made off the clock, with the host allocator's settings `pd` takes
     (partdistill.allocator).
   It prints the ratio of the two (the median over repeats of a run's wall over the steps alone
   of the same repeat; TTA's twin counted as the second student it is: 2 x 1.3 is the target where
   it runs), the same over a student's steps inside the run ("in run", which no drift of the
   machine between processes moves), and where the rest goes, timed inside the command: start-up
   and imports, loading the shapes and units, setting the run up, making the batches, the
   display-only fit, the running average of predictions for backward distillation, checkpoints
   and log, the steps inside the run (what the training loop spends outside the other headings:
   the steps and a loss read and a report each), the curve and final weights, labelling the
   shapes, the twin (all of it; then a table of its parts under the same headings), other.
   With --baseline DIR, the same runs with the package of DIR (an export of an earlier commit)
   interleave with this tree's, in the same session.
2. The PointNet student's optimisation step at 16 clouds x 2,048 points against two plain
   PyTorch PointNet segmentation networks of the same widths written here (the classic layout:
   1x1 convolutions, batch norm, ReLU, channels first; and the student's layer types written
   plainly, both max-pooled as the student is), interleaved in one process with `pd`'s allocator
   settings, each going first in turn; then the student's step with 1 and 2 torch threads, and at
   the float32 matmul precisions torch offers (`pd` keeps the highest).

    .venv/bin/python benchmarks/bench_distill.py [--work bench-distill] [--sizes 3,12,48,192]
        [--modes pre,tta] [--repeats 3] [--epochs 25] [--min-steps 300] [--baseline DIR]
        [--student-steps 5] [--skip collections,students]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

START = time.perf_counter()
HERE = Path(__file__).resolve()
TREE = HERE.parents[1]
STEPS = "steps alone"
INSIDE = "steps in run"  # the training loop's own time: the steps, a loss read and a report each
RESULT = "\nmeasured: "  # what a child prints before its figures (after the command's own output)
PARTS = {  # where the rest of a run goes: the command's functions timed under each heading
    "loading": [("partdistill.distill.job", "DistillJob.plan"), ("partdistill.distill.job", "gather")],
    "setup": [
        ("partdistill.distill.train", "Distillation.__init__"),
        ("partdistill.distill.train", "Distillation.start"),
    ],
    "batches": [
        ("partdistill.distill.train", "make_sample"),
        ("partdistill.distill.train", "UnitPairs.from_knowledge"),
        ("partdistill.distill.train", "Distillation._batch"),
    ],
    "fit": [("partdistill.distill.train", "Distillation._fit")],
    "average": [
        ("partdistill.distill.snapshot", "PredictionAverage.update"),  # before the steps gave it
        ("partdistill.distill.snapshot", "PredictionAverage.observe"),
        ("partdistill.distill.snapshot", "PredictionAverage.complete"),
        ("partdistill.distill.train", "Distillation._rescore"),
    ],
    "checkpoints": [
        ("partdistill.distill.train", "Distillation._save_checkpoint"),
        ("partdistill.distill.train", "Distillation._write_log"),
    ],
    INSIDE: [("partdistill.distill.train", "Distillation.run")],
    "finish": [("partdistill.distill.train", "Distillation.finish")],
    "labelling": [
        ("partdistill.distill.job", "label_distilled"),
        ("partdistill.distill.trained", "TrainedStudent.labels_of"),
    ],
    "twin": [("partdistill.distill.job", "choose_labels")],
}
COLUMNS = ["start-up", *PARTS, "other"]
TWIN = "twin"  # the held-out check's parts are timed under "twin/<heading>"; its other time under "twin"


# --- timing inside a child process -------------------------------------------------------------


class Clock:
    """Exclusive wall time per heading: time spent in a timed function nested in another counts
    for the inner one only. Inside the held-out check a heading is the twin's: "twin/<heading>"."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.stack: list[list] = []

    def enter(self, heading: str) -> None:
        if any(entry[0] == TWIN for entry in self.stack):
            heading = f"{TWIN}/{heading}"
        self.stack.append([heading, time.perf_counter(), 0.0])

    def leave(self) -> None:
        heading, start, inner = self.stack.pop()
        elapsed = time.perf_counter() - start
        self.totals[heading] += elapsed - inner
        if self.stack:
            self.stack[-1][2] += elapsed


def _timed(clock: Clock, heading: str, function: Callable) -> Callable:
    import functools
    import inspect

    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def generator(*args, **kwargs) -> Iterator:
            inner = function(*args, **kwargs)
            while True:
                clock.enter(heading)
                try:
                    value = next(inner)
                except StopIteration:
                    return
                finally:
                    clock.leave()
                yield value

        return generator

    @functools.wraps(function)
    def timed(*args, **kwargs):
        clock.enter(heading)
        try:
            return function(*args, **kwargs)
        finally:
            clock.leave()

    return timed


def _instrument(clock: Clock) -> None:
    """Time the functions of `PARTS` that the package measured has (an older tree lacks some; they
    are named on stderr, so that a renamed function is not taken for one that costs nothing)."""
    import importlib

    for heading, targets in PARTS.items():
        for module_name, dotted in targets:
            owner = importlib.import_module(module_name)
            *path, name = dotted.split(".")
            for step in path:
                owner = getattr(owner, step, None)
            if owner is None or name not in vars(owner):
                print(f"not in this tree, not timed: {module_name}.{dotted}", file=sys.stderr)
                continue
            raw = vars(owner)[name]
            if isinstance(raw, classmethod):
                setattr(owner, name, classmethod(_timed(clock, heading, raw.__func__)))
            else:
                setattr(owner, name, _timed(clock, heading, raw))


def child_command(arguments: list[str]) -> dict[str, float]:
    """Run `pd <arguments>` in this process with its parts timed; the times by heading."""
    import torch  # noqa: F401  (imported here, so that the imports count as start-up)

    import partdistill.cli
    import partdistill.distill.job
    import partdistill.distill.train

    clock = Clock()
    clock.totals["start-up"] = time.perf_counter() - START
    _instrument(clock)
    sys.argv = ["pd", *arguments]
    try:
        partdistill.cli.main()
    except SystemExit as end:
        if end.code:
            raise
    clock.totals["other"] = time.perf_counter() - START - sum(clock.totals.values())
    return dict(clock.totals)


def same_allocator() -> None:
    """Take the host allocator's settings that `pd` of the tree measured takes (none in a tree from
    before partdistill.allocator), so that the steps alone and the command run alike."""
    try:
        from partdistill.allocator import keep_freed_memory
    except ImportError:
        return
    keep_freed_memory()


def child_steps(collection: Path, epochs: int, min_steps: int) -> dict[str, float]:
    """Seconds of the optimisation steps alone of `pd distill --shapes collection --epochs epochs
    --min-steps min_steps`, at its defaults otherwise."""
    same_allocator()
    import numpy as np
    import torch

    from partdistill.distill.data import batches, make_sample
    from partdistill.distill.job import DistillJob, gather
    from partdistill.distill.losses import UnitPairs, distillation_loss
    from partdistill.distill.train import Distillation
    from partdistill.teach.config import TeachConfig

    job = DistillJob(
        shapes=(collection,),
        knowledge=(),
        category=None,
        teach=TeachConfig(),
        training={"epochs": epochs, "min_steps": min_steps},
    )
    planned = job.plan()
    with tempfile.TemporaryDirectory() as folder:
        run = Distillation(planned.config, gather(planned.sources), folder)
    config, model, optimizer, seconds = run.config, run.model, run.optimizer, 0.0
    model.train()
    for epoch in range(1, run.epochs + 1):
        rng = np.random.default_rng([config.seed, 2, epoch])
        optimizer.lr = config.lr_at(epoch, run.epochs)
        for chosen in batches(len(run.items), config.batch_size, rng):
            samples = [make_sample(run.items[i], config.n_points, rng, config.augment) for i in chosen]
            pairs = UnitPairs.from_knowledge([s.knowledge for s in samples])
            points = torch.from_numpy(np.stack([s.points for s in samples]))
            start = time.perf_counter()
            loss = distillation_loss(model(points), pairs)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            seconds += time.perf_counter() - start
    return {STEPS: seconds}


# --- the parent ---------------------------------------------------------------------------------


def run_child(tree: Path, arguments: list[str]) -> tuple[float, dict[str, float]]:
    """Wall time of this script as a child with the package of `tree`, and what the child printed."""
    environment = os.environ | {"PYTHONPATH": str(tree)}
    command = [sys.executable, str(HERE), "--child", json.dumps(arguments)]
    start = time.perf_counter()
    done = subprocess.run(command, env=environment, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"{' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
    return wall, json.loads(done.stdout.rsplit(RESULT, 1)[1])


def byte_compiled(tree: Path) -> None:
    """Write the byte code of `tree`'s package, as a user's first `pd` leaves it: Python writes it
    on import unless PYTHONDONTWRITEBYTECODE is set, as this project's sandbox sets it, where each
    timed child would otherwise compile `pd`'s sources again (about 0.15 s), which no user pays twice.
    compileall writes whatever that variable says; the children then read what it wrote."""
    compileall.compile_dir(tree / "partdistill", quiet=1)


def make_collection(work: Path, size: int) -> Path:
    """`size` procedural chairs with their knowledge (pd synth, pd teach, defaults), made once."""
    folder = work / f"chair-{size}"
    if not (folder / "ready").exists():
        for arguments in (
            ["synth", "--category", "chair", "--n", str(size), "--out", str(folder), "--device", "cpu"],
            ["teach", "--shapes", str(folder), "--device", "cpu", "--sheets", "0"],
        ):
            subprocess.run(
                [sys.executable, "-m", "partdistill.cli", *arguments], check=True, capture_output=True
            )
        (folder / "ready").touch()
    return folder


def measure(tree: Path, kind: str, collection: Path, work: Path, length: list[int]) -> dict[str, float]:
    """One measurement: "steps", or the whole command in mode `kind`, with its parts; `length`:
    the run's epochs and min_steps."""
    if kind == "steps":
        return run_child(tree, ["steps", str(collection), *map(str, length)])[1]
    out = Path(tempfile.mkdtemp(dir=work)) / "run"
    try:
        arguments = ["distill", "--shapes", str(collection), "--out", str(out), "--device", "cpu"]
        arguments += ["--epochs", str(length[0]), "--min-steps", str(length[1])]
        wall, parts = run_child(tree, ["pd", *arguments, "--mode", kind])
    finally:
        shutil.rmtree(out.parent)
    parts["start-up"] += wall - sum(parts.values())  # the interpreter's start and exit
    twin = [heading for heading in parts if heading.startswith(f"{TWIN}/")]
    return parts | {
        "wall": wall,
        f"{TWIN}/other": parts.get(TWIN, 0.0),
        TWIN: parts.get(TWIN, 0.0) + sum(parts[h] for h in twin),
    }


def distill_table(args: argparse.Namespace) -> None:
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    trees = {"this tree": TREE} | ({"baseline": Path(args.baseline).resolve()} if args.baseline else {})
    kinds = ["steps", *args.modes.split(",")]
    for tree in trees.values():
        byte_compiled(tree)
    collections = {size: make_collection(work, size) for size in sizes}
    results: dict[tuple, list[dict[str, float]]] = defaultdict(list)
    for repeat in range(args.repeats):
        for size in sizes:
            turn = repeat % len(kinds)  # which runs first turns with the repeat, as the trees' order does
            for kind in kinds[turn:] + kinds[:turn]:
                order = list(trees.items()) if repeat % 2 == 0 else list(trees.items())[::-1]
                for name, tree in order:
                    results[name, size, kind].append(
                        measure(tree, kind, collections[size], work, [args.epochs, args.min_steps])
                    )
                    print(f"  repeat {repeat + 1}, {size} shapes, {kind}, {name}: done", file=sys.stderr)

    def median(name: str, size: int, kind: str, column: str) -> float:
        return statistics.median(r.get(column, 0.0) for r in results[name, size, kind])

    def ratios(name: str, size: int, kind: str) -> list[float]:
        """Each repeat's wall over the steps alone measured in the same repeat: a drift of the
        machine between repeats moves both alike."""
        alone = results[name, size, "steps"]
        return [r["wall"] / a[STEPS] for r, a in zip(results[name, size, kind], alone, strict=True)]

    def inside(name: str, size: int, kind: str) -> list[float]:
        """Each repeat's wall over a student's steps inside the same run (TTA's twin is the second
        student: the mean of the two), which no drift between processes moves; those steps include
        a loss read and a report each, so this errs low by that much."""
        values = []
        for r in results[name, size, kind]:
            students = [seconds for seconds in (r[INSIDE], r.get(f"{TWIN}/{INSIDE}", 0.0)) if seconds]
            values.append(r["wall"] / statistics.mean(students))
        return values

    print(
        f"pd distill on procedural chairs, --epochs {args.epochs} --min-steps {args.min_steps}, defaults"
        f" otherwise, CPU ({os.cpu_count()} cores); seconds, median of {args.repeats}; ratio = the median"
        " of each repeat's wall / the steps alone of the same repeat (the twin makes TTA's target 2.6);"
        " in run = the same over a student's steps inside the run\n"
    )
    header = f"{'tree':<10}{'shapes':>7}{'mode':>5}{STEPS:>12}{'wall':>8}{'ratio':>7}{'in run':>7}"
    print(header + "".join(f"{c:>{max(len(c) + 1, 8)}}" for c in COLUMNS))
    for size in sizes:
        for name in trees:
            steps = median(name, size, "steps", STEPS)
            for kind in kinds[1:]:
                wall, ratio = median(name, size, kind, "wall"), statistics.median(ratios(name, size, kind))
                own = statistics.median(inside(name, size, kind))
                line = f"{name:<10}{size:>7}{kind:>5}{steps:>12.1f}{wall:>8.1f}{ratio:>7.2f}{own:>7.2f}"
                print(
                    line + "".join(f"{median(name, size, kind, c):>{max(len(c) + 1, 8)}.1f}" for c in COLUMNS)
                )
    twins = [(name, size, kind) for (name, size, kind) in results if median(name, size, kind, TWIN)]
    if twins:
        parts = sorted({h for key in twins for r in results[key] for h in r if h.startswith(f"{TWIN}/")})
        print("\nThe twin's parts (seconds, medians):")
        print(f"{'tree':<10}{'shapes':>7}{'mode':>5}" + "".join(f"{p:>{len(p) + 1}}" for p in parts))
        for name, size, kind in twins:
            line = f"{name:<10}{size:>7}{kind:>5}"
            print(line + "".join(f"{median(name, size, kind, p):>{len(p) + 1}.1f}" for p in parts))
    if args.repeats > 1:
        print("\nThe ratio of each repeat (its wall / the steps alone measured in the same repeat):")
        for name, size, kind in results:
            if kind != "steps":
                print(
                    f"  {name}, {size} shapes, {kind}: "
                    + ", ".join(f"{r:.2f}" for r in ratios(name, size, kind))
                )


# --- 2. the PointNet step -----------------------------------------------------------------------


def plain_pointnets(n_parts: int, width: int = 128) -> dict[str, object]:
    """Two PointNet segmentation networks of the student's widths (3-64-width local features, a
    2 x width global feature max-pooled over the cloud, a width-width-n_parts head on both)."""
    import torch
    from torch import nn

    class Classic(nn.Module):
        """PointNet's own layout: 1x1 convolutions, batch norm and ReLU on [B, C, N]."""

        def __init__(self) -> None:
            super().__init__()

            def block(a: int, b: int) -> list[nn.Module]:
                return [nn.Conv1d(a, b, 1), nn.BatchNorm1d(b), nn.ReLU()]

            self.local = nn.Sequential(*block(3, 64), *block(64, width))
            self.globalize = nn.Sequential(*block(width, 2 * width))
            self.head = nn.Sequential(
                *block(3 * width, width), *block(width, width), nn.Conv1d(width, n_parts, 1)
            )

        def forward(self, points: torch.Tensor) -> torch.Tensor:
            x = points.transpose(1, 2)
            local = self.local(x)
            pooled = self.globalize(local).max(dim=2, keepdim=True).values.expand(-1, -1, x.shape[2])
            return self.head(torch.cat([local, pooled], dim=1)).transpose(1, 2)

    class Plain(nn.Module):
        """The student's layer types (linear, layer norm, GELU on [B, N, C]), written plainly."""

        def __init__(self) -> None:
            super().__init__()

            def block(a: int, b: int) -> list[nn.Module]:
                return [nn.Linear(a, b), nn.LayerNorm(b), nn.GELU()]

            self.local = nn.Sequential(*block(3, 64), *block(64, width))
            self.globalize = nn.Sequential(*block(width, 2 * width))
            self.head = nn.Sequential(
                *block(3 * width, width), *block(width, width), nn.Linear(width, n_parts)
            )

        def forward(self, points: torch.Tensor) -> torch.Tensor:
            local = self.local(points)
            pooled = self.globalize(local).max(dim=1, keepdim=True).values.expand(-1, points.shape[1], -1)
            return self.head(torch.cat([local, pooled], dim=-1))

    return {"conv+bn+relu": Classic(), "linear+ln+gelu": Plain()}


def student_table(args: argparse.Namespace) -> None:
    import torch
    from bench_students import random_batch

    from partdistill.distill.losses import distillation_loss
    from partdistill.distill.optim import Adam
    from partdistill.distill.students import build_student

    same_allocator()
    batch, points, parts = 16, 2048, 4
    clouds, pairs = random_batch(batch, points)
    torch.manual_seed(0)
    models = {"pointnet student": build_student("pointnet", parts)} | plain_pointnets(parts)

    def stepper(model: torch.nn.Module) -> Callable[[], None]:
        optimizer = Adam(list(model.parameters()), lr=3e-3)

        def step() -> None:
            loss = distillation_loss(model(clouds), pairs)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        step()  # warm-up
        return step

    steps = {name: stepper(model) for name, model in models.items()}
    times: dict[str, list[float]] = defaultdict(list)
    for repeat in range(args.student_steps):
        names = (
            list(steps)[repeat % len(steps) :] + list(steps)[: repeat % len(steps)]
        )  # each goes first in turn
        for name in names:
            step = steps[name]
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    threads = torch.get_num_threads()
    repeats = args.student_steps
    print(f"\nOptimisation step, {batch} x {points} points, {threads} torch threads, median of {repeats}:")
    student = statistics.median(times["pointnet student"])
    for name, values in times.items():
        seconds = statistics.median(values)
        print(f"  {name:<18}{seconds:>7.3f} s   student / it: {student / seconds:.2f}")

    def student_step() -> float:
        values = []
        for _ in range(args.student_steps):
            start = time.perf_counter()
            steps["pointnet student"]()
            values.append(time.perf_counter() - start)
        return statistics.median(values)

    for count in (1, 2):
        torch.set_num_threads(count)
        print(f"  student, {count} torch thread(s): {student_step():.3f} s")
    torch.set_num_threads(threads)
    # float32 matmuls at lower internal precision ("medium" lets oneDNN use bfloat16 where the CPU
    # has it); `pd` keeps "highest", so these change the maths and are measured only.
    probe = models["pointnet student"]
    for precision in ("highest", "high", "medium"):
        with torch.no_grad():
            torch.set_float32_matmul_precision("highest")
            exact = probe(clouds)
            torch.set_float32_matmul_precision(precision)
            moved = float((probe(clouds) - exact).abs().max())
        print(
            f"  student, float32 matmul precision {precision!r}: {student_step():.3f} s"
            f" (logits moved {moved:.1e})"
        )
    torch.set_float32_matmul_precision("highest")


def main() -> None:
    from partdistill.distill.config import MIN_STEPS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="bench-distill", help="Where the collections are made and kept.")
    parser.add_argument("--sizes", default="3,12,48,192")
    parser.add_argument("--modes", default="pre,tta")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline", help="A source tree of an earlier commit to measure beside this one.")
    parser.add_argument("--epochs", type=int, default=25, help="pd distill's --epochs.")
    parser.add_argument(
        "--min-steps",
        type=int,
        default=MIN_STEPS,
        help="pd distill's --min-steps; fewer (or --epochs) make a shorter run: fixed costs weigh more.",
    )
    parser.add_argument("--student-steps", type=int, default=5)
    parser.add_argument("--skip", default="", help="collections (section 1), students (section 2)")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # internal: one measurement, printed as JSON
    args = parser.parse_args()
    if args.child:
        kind, *rest = json.loads(args.child)
        print(
            RESULT
            + json.dumps(
                child_steps(Path(rest[0]), int(rest[1]), int(rest[2]))
                if kind == "steps"
                else child_command(rest)
            )
        )
        return
    skip = set(args.skip.split(","))
    if "collections" not in skip:
        distill_table(args)
    if "students" not in skip:
        student_table(args)


if __name__ == "__main__":
    main()
