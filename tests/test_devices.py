"""Every stage keeps its tensors on the device of its model, proven on PyTorch's `meta` device.

On a GPU, a tensor created on the CPU and mixed with the model's raises "not on the expected
device", and `.numpy()` of a device tensor raises; `meta` raises the same (see tests/devices.py).
These runs compute nothing meaningful: they prove that distillation with backward distillation,
resuming, prediction, evaluation, the losses, the Point-M2AE student, the point renderer and every
real teacher move their data to the model's device and back. benchmarks/gpu_check.py runs the
same chain on a real GPU.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from devices import META, host_reads, on_device
from tiny_models import tiny_clipseg, tiny_grounding_dino, tiny_open_clip, tiny_owlv2

from partdistill.collection import Collection
from partdistill.datasets.readers import LabelledCollection
from partdistill.distill.config import DistillConfig
from partdistill.distill.data import Item
from partdistill.distill.losses import UnitPairs, distillation_loss
from partdistill.distill.students.m2ae import PointM2AEStudent, farthest_points
from partdistill.distill.train import Distillation
from partdistill.distill.trained import TrainedStudent
from partdistill.eval.evaluate import EvalResult, StudentPredictor, evaluate
from partdistill.prompts import find_category
from partdistill.render.cameras import Cameras, partslip_cameras
from partdistill.render.renderers import MeshRenderer, PointRenderer
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

TABLE = find_category("table")
CHAIR = find_category("chair")
# Loading host weights into meta parameters is a no-op, which PyTorch warns about.
pytestmark = pytest.mark.filterwarnings("ignore:.*to a meta parameter.*:UserWarning")


@pytest.fixture(scope="module")
def items() -> list[Item]:
    generator = ProceduralGenerator(n_points=500)
    teacher = SimulatedTeacher("box", NOISE_PRESETS["noisy"])
    cameras = partslip_cameras(96)
    out = []
    for seed in range(4):
        shape = generator.generate(Request(TABLE, None, seed))
        views = MeshRenderer().render(shape, cameras)
        out.append(
            Item(f"t{seed}", shape, lift(views, teacher.predict(views, TABLE, shape), TABLE.part_names))
        )
    return out


def _config(**changes) -> DistillConfig:
    # The trigger fires from epoch 2, and backward distillation starts there (see test_train).
    base = dict(
        category="table",
        epochs=4,
        min_steps=0,
        batch_size=2,
        n_points=128,
        trigger_window=2,
        trigger_delta=10.0,
        switch_min_steps=0,
        silent=0.0,
    )
    return DistillConfig(**(base | changes))


@pytest.mark.parametrize("student", ["pointnet", "edgeconv"])
def test_distillation_with_backward_runs_on_the_model_device(items, tmp_path: Path, student: str) -> None:
    with host_reads():
        run = Distillation(_config(student=student), items, tmp_path, device=META)
        assert {p.device for p in run.model.parameters()} == {META}
        run.start(resume=False)
        for _ in run.run():
            pass
        run.finish()
    assert run.state.switch_epoch == 2 and run.rescored is not None


def test_a_run_resumes_on_the_model_device(items, tmp_path: Path) -> None:
    with host_reads():
        first = Distillation(_config(), items, tmp_path, device=META)
        first.start(resume=False)
        for report in first.run():
            if getattr(report, "epoch", 0) == 3 and not hasattr(report, "batch"):
                break  # killed after epoch 3, past the switch
        again = Distillation(_config(), items, tmp_path, device=META)
        again.start(resume=True)
        assert again.state.epoch == 3 and again.rescored is not None
        for _ in again.run():
            pass
    assert {p.device for p in again.model.parameters()} == {META}


def test_prediction_and_evaluation_run_on_the_model_device(items, tmp_path: Path) -> None:
    run_dir, collection_dir = tmp_path / "run", tmp_path / "shapes"
    collection = Collection.create(collection_dir)
    for item in items:
        collection.add(item.id, item.shape.replace(category="table"))
    with host_reads():
        run = Distillation(_config(epochs=1, backward=False), items, run_dir, device=META)
        run.start(resume=False)
        for _ in run.run():
            pass
        run.finish()
        trained = TrainedStudent.load(run_dir, device=META)
        assert next(trained.model.parameters()).device == META
        labels = trained.labels(items[0].shape)
        steps = list(evaluate(LabelledCollection(collection_dir), [StudentPredictor(trained)], points=256))
    assert labels.shape == (items[0].shape.n_points,)
    assert isinstance(steps[-1], EvalResult) and steps[-1].counts == {"table": 4}


def test_losses_run_on_the_device_of_the_logits(items) -> None:
    pairs = UnitPairs.from_knowledge([item.knowledge for item in items[:2]]).to(META)
    logits = torch.zeros(2, items[0].knowledge.n_points, 3, device=META, requires_grad=True)
    loss = distillation_loss(logits, pairs)
    loss.backward()
    assert loss.device == META and logits.grad.device == META


def test_point_m2ae_runs_on_the_model_device() -> None:
    points = torch.zeros(2, 2048, 3, device=META)
    assert farthest_points(points, 512).device == META
    student = PointM2AEStudent(4).to(META)
    assert student(points).shape == (2, 2048, 4)


def test_the_point_renderer_runs_on_its_device() -> None:
    shape = ProceduralGenerator(n_points=1000).generate(Request(CHAIR, None, 0))
    with host_reads():
        views = PointRenderer(0.02, device=META).render(shape, partslip_cameras(64))
    assert views.pixel_index.shape == (10, 64, 64)


@pytest.mark.parametrize(
    "make",
    [
        lambda tmp: GroundingDinoTeacher(*on_device(*tiny_grounding_dino()), threshold=0.0, device=META),
        lambda tmp: Owlv2Teacher(*on_device(*tiny_owlv2()), threshold=0.0, device=META),
        lambda tmp: ClipSegTeacher(*on_device(*tiny_clipseg()), threshold=0.5, device=META),
        lambda tmp: ClipDenseTeacher(*tiny_open_clip(tmp), device=META),
    ],
    ids=["grounding-dino", "owlv2", "clipseg", "clip"],
)
def test_each_real_teacher_feeds_and_reads_its_model_on_its_device(make, tmp_path: Path) -> None:
    shape = ProceduralGenerator(n_points=1000).generate(Request(CHAIR, None, 0))
    views = PointRenderer(0.02).render(shape, Cameras(np.array([10.0]), np.array([30.0]), image_size=96))
    with host_reads():
        predictions = make(tmp_path).predict(views, CHAIR, shape)
    assert all(0 <= p.part < 4 for p in predictions)


def test_running_out_of_memory_is_one_sentence_with_what_to_make_smaller() -> None:
    from partdistill.devices import enough_memory
    from partdistill.errors import PdError

    cpu = r"^Out of memory \(9313\.2 GiB asked for at once\); lower --points\.$"
    with pytest.raises(PdError, match=cpu), enough_memory(lambda: "lower --points."):
        torch.empty(10**13 // 4, dtype=torch.float32)  # refused by the CPU allocator at once
    said = r"^Out of memory \(20\.00 MiB asked for at once\); lower it\.$"
    gpu = torch.cuda.OutOfMemoryError(
        "CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 7.79 GiB total)"
    )
    with pytest.raises(PdError, match=said), enough_memory(lambda: "lower it."):
        raise gpu
    with pytest.raises(PdError, match=r"^Out of memory; lower it\.$"), enough_memory(lambda: "lower it."):
        raise MemoryError  # numpy's
    with pytest.raises(RuntimeError, match="a bug"), enough_memory(lambda: "lower it."):  # not memory
        raise RuntimeError("a bug")


def test_the_next_batch_is_made_before_a_step_is_read_back(items, tmp_path: Path, monkeypatch) -> None:
    """On a GPU the host queues a step and goes on until it reads a result back (the average's
    copy of the logits, the loss): making the next batch before that read lets the two overlap."""
    events: list[str] = []
    make = Distillation._batch
    monkeypatch.setattr(Distillation, "_batch", lambda run, *a: (events.append("batch"), make(run, *a))[1])
    with host_reads(events):
        run = Distillation(_config(batch_size=1), items, tmp_path, device=META)
        run.start(resume=False)
        events.clear()
        for report in run.run():
            events.append(type(report).__name__)
    assert run.state.switch_epoch == 2  # two epochs averaged, two of backward distillation
    merged = [event for i, event in enumerate(events) if event != "read" or events[i - 1] != "read"]
    steps = len(items)  # batches of one
    epoch = [
        "batch",
        *["batch", "read", "BatchReport"] * (steps - 1),
        "read",
        "BatchReport",
        "read",
        "EpochReport",
    ]
    assert merged == epoch * 4  # reads in a row merged
