"""The whole chain on a GPU with tiny random models: does every stage run on CUDA?

For contributors with a GPU (`make gpu-check`). Each stage runs the package's real code with its
models and tensors on `--device` (default cuda): procedural and tiny Shap-E synthesis, the point
renderer, every real teacher (tiny random Grounding DINO, OWLv2, CLIPSeg, open_clip) and the
simulated one, distillation with backward distillation for the PointNet and EdgeConv students and
the Point-M2AE student (loaded from a random-weights checkpoint in the official key layout),
resuming, prediction and evaluation. The models are random: this checks that everything runs on
the device and how long it takes, never quality. It also prints the real teachers' throughput in
(view, part) pairs per second against their batch size, to pick a batch for a real run.

One line per stage (ok / FAILED and why) and its time; exits non-zero if any stage failed.

    .venv/bin/python benchmarks/gpu_check.py [--device cuda] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_teach import TEACHERS, teacher_throughput
from tiny_models import tiny_shap_e_pipeline

from partdistill.datasets.readers import LabelledCollection
from partdistill.distill.config import DistillConfig
from partdistill.distill.data import Item, make_sample
from partdistill.distill.losses import UnitPairs, distillation_loss
from partdistill.distill.sources import items_from_store
from partdistill.distill.students.m2ae import PointM2AEStudent
from partdistill.distill.train import BatchReport, Distillation
from partdistill.distill.trained import TrainedStudent
from partdistill.eval.evaluate import EvalResult, StudentPredictor, evaluate
from partdistill.knowledge.store import KnowledgeStore
from partdistill.prompts import find_category
from partdistill.render.cameras import partslip_cameras
from partdistill.render.renderers import PointRenderer
from partdistill.shapes import normalize_points
from partdistill.synth import SynthConfig, build_generator, prepare, synthesize
from partdistill.synth.base import Request
from partdistill.synth.shap_e import ShapEGenerator
from partdistill.teach.config import TeachConfig
from partdistill.teach.lift import lift
from partdistill.teach.run import teach
from partdistill.teach.teachers import NOISE_PRESETS, SimulatedTeacher

CHAIR = find_category("chair")


class Check:
    """Runs stages, prints one line each, remembers failures."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def stage(self, name: str, run: Callable[[], str]) -> None:
        start = time.perf_counter()
        try:
            detail = run()
            status = "ok"
        except Exception as error:  # a failing stage is the finding; report it and go on
            detail = f"{type(error).__name__}: {error}".splitlines()[0][:200]
            status = "FAILED"
            self.failed.append(name)
            traceback.print_exc(file=sys.stderr)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        print(f"{status:<7}{name:<46}{time.perf_counter() - start:7.1f} s  {detail}", flush=True)


def random_m2ae_checkpoint(path: Path) -> Path:
    """Random encoder weights in Point-M2AE's pre-train.pth layout (variances kept positive)."""
    torch.manual_seed(0)
    state = {}
    for key, value in PointM2AEStudent(2).h_encoder.state_dict().items():
        if not value.is_floating_point():
            state[f"h_encoder.{key}"] = value
        elif key.endswith("running_var"):
            state[f"h_encoder.{key}"] = torch.rand_like(value) + 0.5
        else:
            state[f"h_encoder.{key}"] = 0.05 * torch.randn_like(value)
    torch.save({"base_model": state, "epoch": 300}, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--keep", type=Path, help="Write the runs here instead of a temporary folder.")
    args = parser.parse_args()
    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("No CUDA device: run on a machine with a GPU, or pass --device cpu to try the script.")
    root = args.keep or Path(tempfile.mkdtemp(prefix="pd-gpu-check-"))
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else device
    print(f"torch {torch.__version__}, device {device} ({name}), outputs in {root}\n")
    check = Check()
    state: dict[str, object] = {}

    def synth_procedural() -> str:
        config = SynthConfig(category="chair", n=8, n_points=2048)
        collection, todo = prepare(config, root / "chairs")
        records = list(synthesize(config, build_generator(config, device), collection, todo))
        state["collection"] = collection
        return f"{sum(r.ok for r in records)} chairs"

    def synth_shap_e() -> str:
        generator = ShapEGenerator(
            tiny_shap_e_pipeline(), n_points=2048, grid_size=32, steps=4, device=device
        )
        shape = generator.generate(Request(CHAIR, "a wooden chair", seed=0))
        return f"{shape.n_points} points from a {len(shape.mesh.faces)}-face mesh"

    def render() -> str:
        collection = state["collection"]
        shape = collection.load(collection.ok_records[0])
        renderer = PointRenderer(device=device)
        views = renderer.render(shape, partslip_cameras(800))
        on_cpu = PointRenderer().render(shape, partslip_cameras(800))  # the compiled CPU loop
        differ = int((views.pixel_index != on_cpu.pixel_index).sum())
        if differ:
            raise RuntimeError(f"{differ} pixels differ between the {device} z-buffer and the CPU one")
        state["shape"], state["views"] = (
            shape,
            PointRenderer(device=device).render(shape, partslip_cameras(224)),
        )
        radius = renderer.radius_for(normalize_points(shape.points), views.cameras)
        return f"10 views at 800 px, radius {radius:.4f}, the same pixel maps as the CPU's"

    def real_teacher(name: str) -> Callable[[], str]:
        def run() -> str:
            shape, views = state["shape"], state["views"]
            make, batches = TEACHERS[name]
            predictions = make(device, batches[0]).predict(views, CHAIR, shape)
            knowledge = lift(views, predictions, CHAIR.part_names)
            speed = teacher_throughput(name, device, shape)
            return f"{len(predictions)} predictions, {knowledge.n_units} units; pairs/s by batch {speed}"

        return run

    def teach_simulated() -> str:
        collection = state["collection"]
        config = TeachConfig(renderer="points", image_size=400)
        store = KnowledgeStore(collection.root / "knowledge" / "simulated")
        results = list(
            teach(collection, CHAIR, SimulatedTeacher("box", NOISE_PRESETS["noisy"]), config, store)
        )
        state["items"] = items_from_store(collection, store)
        return f"{len(results)} shapes, {np.mean([r.knowledge.n_units for r in results]):.1f} units each"

    def distill(student: str, checkpoint: Path | None = None) -> Callable[[], str]:
        def run() -> str:
            items: list[Item] = state["items"]
            config = DistillConfig(
                category="chair",
                student=student,
                epochs=4,
                min_steps=0,
                batch_size=4,
                n_points=2048,
                trigger_window=2,
                trigger_delta=10.0,
                switch_min_steps=0,
                silent=0.0,
                checkpoint=None if checkpoint is None else str(checkpoint),
            )
            run_dir = root / f"run-{student}"
            first = Distillation(config, items, run_dir, device=device)
            first.start(resume=False)
            for report in first.run():
                if getattr(report, "epoch", 0) == 3 and not hasattr(report, "batch"):
                    break  # as if killed after epoch 3
            again = Distillation(config, items, run_dir, device=device)
            again.start(resume=True)
            reports = [r for r in again.run() if not hasattr(r, "batch")]
            again.finish()
            state["run"] = run_dir
            switch, loss = again.state.switch_epoch, reports[-1].loss
            return f"backward from epoch {switch}, resumed after epoch 3, final loss {loss:.3f}"

        return run

    def overlap() -> str:
        """A distillation step in the loop, from one step's report to the next (the next batch drawn
        within), against the steps alone on batches drawn beforehand and the drawing alone."""
        items: list[Item] = state["items"]
        config = DistillConfig(category="chair", epochs=12, min_steps=0, batch_size=2, backward=False)
        run = Distillation(config, items, root / "run-overlap", device=device)
        run.start(resume=False)
        loop, last, steps_per_epoch = [], None, run.steps_per_epoch
        for report in run.run():
            now = time.perf_counter()
            # From the report before: the step and the drawing of the batch after it, which an
            # epoch's first interval (the epoch's start) and last step (nothing after) lack.
            if isinstance(report, BatchReport) and 1 < report.batch < steps_per_epoch:
                loop.append(now - last)
            last = now
        if not loop:
            raise RuntimeError(f"{len(items)} shapes in batches of 2 make too few steps an epoch to time")
        run.model.train()  # the run's last fit left it in eval mode
        rng, steps, drawing = np.random.default_rng(0), [], []
        for _ in range(len(loop)):
            start = time.perf_counter()
            chosen = items[: config.batch_size]
            samples = [make_sample(item, config.n_points, rng, config.augment) for item in chosen]
            pairs = UnitPairs.from_knowledge([sample.knowledge for sample in samples]).to(device)
            points = torch.from_numpy(np.stack([sample.points for sample in samples])).to(device)
            drawing.append(time.perf_counter() - start)
            start = time.perf_counter()
            loss = distillation_loss(run.model(points), pairs)
            run.optimizer.zero_grad()
            loss.backward()
            run.optimizer.step()
            loss.item()
            steps.append(time.perf_counter() - start)
        loop_ms, steps_ms, drawing_ms = (1000 * np.median(t) for t in (loop, steps, drawing))
        hidden = (steps_ms + drawing_ms - loop_ms) / drawing_ms
        return (
            f"{loop_ms:.1f} ms a step in the loop, {steps_ms:.1f} alone, drawing a batch"
            f" {drawing_ms:.1f} (medians of {len(loop)}): the loop hides {100 * hidden:.0f}% of the drawing"
            " (none where the steps run on the host)"
        )

    def predict() -> str:
        trained = TrainedStudent.load(state["run"], device)
        labels = trained.labels(state["shape"])
        return f"{len(labels)} labels, parts {np.bincount(labels, minlength=4).tolist()}"

    def evaluation() -> str:
        trained = TrainedStudent.load(state["run"], device)
        data = LabelledCollection(state["collection"].root)
        *_, result = evaluate(data, [StudentPredictor(trained)], points=2048)
        assert isinstance(result, EvalResult)
        return f"student {result.scores['student']['class']:.1f} mIoU on {sum(result.counts.values())} shapes"

    check.stage("synth: procedural chairs", synth_procedural)
    check.stage("synth: tiny Shap-E", synth_shap_e)
    check.stage("render: points on the device", render)
    for name in TEACHERS:
        check.stage(f"teach: tiny {name}", real_teacher(name))
    check.stage("teach: simulated, 8 chairs", teach_simulated)
    check.stage("distill: pointnet + backward, resume", distill("pointnet"))
    check.stage("distill: edgeconv + backward, resume", distill("edgeconv"))
    check.stage("distill: the next batch drawn during a step", overlap)
    checkpoint = random_m2ae_checkpoint(root / "pre-train.pth")
    check.stage("distill: point-m2ae (random checkpoint)", distill("point-m2ae", checkpoint))
    check.stage("predict", predict)
    check.stage("eval: labelled collection", evaluation)
    print(f"\n{len(check.failed)} of the stages failed" if check.failed else "\nevery stage ran")
    sys.exit(1 if check.failed else 0)


if __name__ == "__main__":
    main()
