"""The training run: schedule, reproducibility, resuming after a kill, and its refusals."""

from __future__ import annotations

import dataclasses
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from partdistill.distill import train
from partdistill.distill.config import DistillConfig
from partdistill.distill.data import Item, batches, make_sample
from partdistill.distill.snapshot import PredictionAverage
from partdistill.distill.train import BatchReport, Distillation, EpochReport
from partdistill.errors import PdError
from partdistill.knowledge.units import Knowledge
from partdistill.prompts import find_category
from partdistill.render.cameras import partslip_cameras
from partdistill.render.renderers import MeshRenderer
from partdistill.synth.base import Request
from partdistill.synth.procedural import ProceduralGenerator
from partdistill.teach.lift import lift
from partdistill.teach.teachers import NOISE_PRESETS, SimulatedTeacher

TABLE = find_category("table")


@pytest.fixture(scope="module")
def items() -> list[Item]:
    generator = ProceduralGenerator(n_points=600)
    teacher = SimulatedTeacher("box", NOISE_PRESETS["noisy"])
    cameras = partslip_cameras(96)
    out = []
    for seed in range(6):
        shape = generator.generate(Request(TABLE, None, seed))
        views = MeshRenderer().render(shape, cameras)
        out.append(
            Item(f"t{seed}", shape, lift(views, teacher.predict(views, TABLE, shape), TABLE.part_names))
        )
    return out


def _config(**changes) -> DistillConfig:
    # trigger_delta is large so that the trigger fires from epoch 2 on in these short runs, and
    # backward distillation starts there (epoch 2 = int(5 * 0.5), the earliest switch);
    # silent=0 switches even if the young student does not predict every part yet.
    base = dict(
        category="table",
        student="pointnet",
        epochs=5,
        min_steps=0,
        batch_size=3,
        n_points=256,
        trigger_window=2,
        trigger_delta=10.0,
        switch_not_before=0.5,
        switch_min_steps=0,
        silent=0.0,
        seed=3,
    )
    return DistillConfig(**(base | changes))


def _weights(run: Distillation) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in run.model.state_dict().items()}


def test_cosine_schedule_matches_cosine_annealing() -> None:
    config = _config(epochs=4, lr=1.0, lr_floor=0.01)
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4, eta_min=0.01)
    for epoch in range(1, 5):
        assert config.lr_at(epoch) == pytest.approx(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()


def test_samples_are_normalised_and_keep_their_units(items: list[Item]) -> None:
    sample = make_sample(items[0], 256, np.random.default_rng(0), augmented=False)
    assert np.linalg.norm(sample.points, axis=1).max() == pytest.approx(1.0, abs=1e-5)
    assert sample.knowledge.n_points == 256 and sample.knowledge.n_units == items[0].knowledge.n_units
    # The unit membership of each sampled point is its original point's membership.
    for u in range(sample.knowledge.n_units):
        originals = set(items[0].knowledge.members(u).tolist())
        assert all(int(sample.index[i]) in originals for i in sample.knowledge.members(u))


def test_batches_drop_the_last_partial_batch() -> None:
    rng = np.random.default_rng(0)
    assert [len(b) for b in batches(7, 3, rng)] == [3, 3]
    assert [len(b) for b in batches(2, 16, rng)] == [2]


@pytest.mark.parametrize("killed_in", [2, 4])
@pytest.mark.parametrize("batch_size", [3, 4])
def test_same_seed_same_weights_and_a_killed_run_resumes_to_them(
    items: list[Item], tmp_path: Path, killed_in: int, batch_size: int
) -> None:
    # In batches of 4, an epoch's one batch leaves 2 of the 6 shapes out: the checkpoint of epoch 1
    # holds an average of 4 shapes only.
    whole = Distillation(_config(batch_size=batch_size), items, tmp_path / "whole")
    whole.start(resume=False)
    reports = list(whole.run())
    epochs = [r for r in reports if isinstance(r, EpochReport)]
    assert [r.phase for r in epochs] == ["forward", "forward", "backward", "backward", "backward"]
    assert epochs[1].switched

    killed = Distillation(_config(batch_size=batch_size), items, tmp_path / "killed")
    killed.start(resume=False)
    # Stop in the middle of an epoch, as if the process died: in epoch 2 the averaged predictions
    # are all the checkpoint knows of backward distillation; in epoch 4 it has the re-scores.
    for report in killed.run():
        if isinstance(report, BatchReport) and report.epoch == killed_in:
            break
    resumed = Distillation(_config(batch_size=batch_size), items, tmp_path / "killed")
    resumed.start(resume=True)
    assert resumed.state.epoch == killed_in - 1
    assert (resumed.rescored is not None) == (killed_in > 2)
    assert bool(resumed.average.probabilities) == (killed_in == 2)
    list(resumed.run())
    for key, value in _weights(whole).items():
        torch.testing.assert_close(_weights(resumed)[key], value, rtol=0, atol=0)
    assert resumed.state.losses == whole.state.losses


def test_a_resume_deletes_only_checkpoint_folders_pd_wrote(items: list[Item], tmp_path: Path) -> None:
    killed = Distillation(_config(), items, tmp_path / "run")
    killed.start(resume=False)
    for report in killed.run():
        if isinstance(report, BatchReport) and report.epoch == 3:
            break
    checkpoint = tmp_path / "run" / "checkpoint"
    (checkpoint / "epoch-0099").mkdir()
    (checkpoint / "epoch-0099" / "notes.txt").write_text("mine")
    (checkpoint / "epoch-0098").mkdir()
    (checkpoint / "epoch-0098" / "state.json").write_text("{}")  # what a killed checkpoint write left
    resumed = Distillation(_config(), items, tmp_path / "run")
    resumed.start(resume=True)
    assert (checkpoint / "epoch-0099" / "notes.txt").read_text() == "mine"
    assert not (checkpoint / "epoch-0098").exists()
    (checkpoint / "epoch-0003").mkdir()
    (checkpoint / "epoch-0003" / "notes.txt").write_text("mine")  # where the next checkpoint goes
    with pytest.raises(PdError, match=r"epoch-0003 holds files pd did not write there"):
        list(resumed.run())
    assert (checkpoint / "epoch-0003" / "notes.txt").read_text() == "mine"


def test_forward_only_never_switches(items: list[Item], tmp_path: Path) -> None:
    run = Distillation(_config(backward=False), items, tmp_path)
    run.start(resume=False)
    assert all(r.phase == "forward" for r in run.run() if isinstance(r, EpochReport))


@pytest.mark.parametrize(
    ("share", "steps", "switch"),
    [(0.6, 0, 3), (0.0, 5, 3), (0.0, 10, None)],
)
def test_backward_distillation_waits_for_a_share_of_the_epochs_and_a_number_of_steps(
    items: list[Item], tmp_path: Path, share: float, steps: int, switch: int | None
) -> None:
    # The trigger fires from epoch 2 on and an epoch is 2 steps (6 shapes in batches of 3): 0.6 of
    # 5 epochs, or 5 steps, hold the switch back to epoch 3; 10 steps would leave no epoch after it.
    run = Distillation(_config(switch_not_before=share, switch_min_steps=steps), items, tmp_path)
    run.start(resume=False)
    epochs = [r for r in run.run() if isinstance(r, EpochReport)]
    assert [r.epoch for r in epochs if r.switched] == ([] if switch is None else [switch])
    assert run.state.switch_epoch == switch
    assert bool(run.forward_only_reason) == (switch is None)
    if switch is None:
        assert "6 shapes in batches of 3 make 10 steps in 5 epochs" in run.forward_only_reason
        assert not run.average.probabilities  # nothing averaged for a switch that cannot come
    else:  # the record says what the units were re-scored by
        run.finish()
        start = run.average.start_epoch(run.first_switch_epoch)
        expected = f"average of the student's predictions over epochs {start}-{switch} (decay 0.7)"
        assert json.loads((tmp_path / "student.json").read_text())["backward_snapshot"] == expected


def test_the_units_are_rescored_by_the_averaged_predictions(items: list[Item], tmp_path: Path) -> None:
    # Stop at the end of epoch 1, before the switch: re-scoring by the average must be exactly the
    # ratio of each unit's points that the average's most probable part gives the unit's part. The
    # shapes have 600 points and the student predicts 256 of them: each other point takes the part
    # of its nearest sampled point.
    run = Distillation(_config(), items, tmp_path)
    run.start(resume=False)
    next(r for r in run.run() if isinstance(r, EpochReport))
    rescored = run._rescore()
    for position, item in enumerate(run.items):
        sampled = run.average.sampled(position, item)
        assert len(sampled) == 256 and item.shape.n_points == 600
        points = item.shape.points
        nearest = np.argmin(((points[:, None] - points[sampled][None]) ** 2).sum(-1), axis=1)
        parts = run.average.probabilities[item.id].argmax(-1)[nearest]
        knowledge = item.knowledge
        for unit in range(knowledge.n_units):
            members = knowledge.members(unit)
            share = np.mean(parts[members] == knowledge.parts[unit]) if len(members) else 0.0
            assert rescored[item.id][unit] == pytest.approx(share)


def test_the_average_is_what_the_steps_of_its_epochs_predicted(items: list[Item], tmp_path: Path) -> None:
    # Without augmentation, with a student that does not move (no optimiser step) and clouds larger
    # than the shapes (every point in every cloud, so its own nearest point), the predictions the
    # steps fold in are a separate prediction pass after the epoch.
    run = Distillation(_config(augment=False, n_points=1024), items, tmp_path)
    run.optimizer.step = lambda: None
    run.start(resume=False)
    next(r for r in run.run() if isinstance(r, EpochReport))
    assert run._averages_after(1)
    separate = PredictionAverage(run.average.decay, run.average.n_points, run.average.seed)
    separate.complete(run.model.eval(), run.items)
    for item in run.items:
        np.testing.assert_allclose(
            run.average.probabilities[item.id], separate.probabilities[item.id], atol=1e-5
        )


def test_the_switch_waits_while_the_snapshot_would_silence_a_part(items: list[Item], tmp_path: Path) -> None:
    # No part's mean re-score can reach 1.01: the trigger fires from epoch 2 on and the switch always waits,
    # naming every part that has units.
    run = Distillation(_config(silent=1.01), items, tmp_path)
    run.start(resume=False)
    epochs = [r for r in run.run() if isinstance(r, EpochReport)]
    named = tuple(sorted({TABLE.part_names[p] for item in items for p in item.knowledge.parts}))
    assert [r.phase for r in epochs] == ["forward"] * 5 and not any(r.switched for r in epochs)
    assert [tuple(sorted(r.waiting_for)) for r in epochs] == [(), named, named, named, ()]
    assert run.rescored is None and "backward distillation waits: no " in (tmp_path / "log.txt").read_text()


def test_run_folder_holds_student_config_log_and_curve(items: list[Item], tmp_path: Path) -> None:
    import matplotlib

    before = matplotlib.get_backend()
    matplotlib.use("svg")  # a caller's own backend (a notebook's inline one), left as it was
    try:
        run = Distillation(_config(epochs=2), items, tmp_path)
        run.start(resume=False)
        list(run.run())
        run.finish()
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    for name in ("config.json", "log.txt", "curve.png", "student.safetensors", "student.json"):
        assert (tmp_path / name).is_file(), name
    assert len((tmp_path / "log.txt").read_text().splitlines()) == 2
    assert "display only" in (tmp_path / "log.txt").read_text()  # the fit to labels is marked as such


def test_a_run_folder_is_not_overwritten_and_resume_checks_settings(
    items: list[Item], tmp_path: Path
) -> None:
    _run_to_the_end(Distillation(_config(epochs=1), items, tmp_path), resume=False)
    with pytest.raises(PdError, match="already holds a run; pass `resume`"):
        Distillation(_config(epochs=1), items, tmp_path).start(resume=False)
    with pytest.raises(PdError, match=r"other settings \(epochs\)"):
        Distillation(_config(epochs=9), items, tmp_path).start(resume=True)


def test_a_run_stopped_before_its_first_checkpoint_takes_a_new_run(items: list[Item], tmp_path: Path) -> None:
    # Killed (or out of memory) before any checkpoint: nothing learnt, so other settings are taken,
    # with --resume or without, and the folder ends as an uninterrupted run of them does.
    whole = _run_to_the_end(Distillation(_config(epochs=2), items, tmp_path / "whole"), resume=False)
    for resume in (False, True):
        folder = tmp_path / f"stopped-{resume}"
        Distillation(_config(epochs=1, n_points=128), items, folder).start(resume=False)
        (folder / "checkpoint" / "epoch-0001").mkdir(parents=True)  # begun, never completed
        taken = _run_to_the_end(Distillation(_config(epochs=2), items, folder), resume=resume)
        for key, value in _weights(whole).items():
            torch.testing.assert_close(_weights(taken)[key], value, rtol=0, atol=0)
        assert json.loads((folder / "config.json").read_text())["n_points"] == 256
        assert sorted(p.name for p in (folder / "checkpoint").iterdir()) == ["current.json", "epoch-0002"]


def test_a_resume_is_judged_by_what_its_inputs_hold_not_where_they_are(
    items: list[Item], tmp_path: Path
) -> None:
    config = _config(epochs=1, sources=(str(tmp_path / "c" / "knowledge" / "k"),))
    _run_to_the_end(Distillation(config, items, tmp_path / "run"), resume=False)
    first = items[0]
    retaught = dataclasses.replace(first.knowledge, scores=first.knowledge.scores * 0.5)
    again = [Item(first.id, first.shape, retaught), *items[1:]]  # same ids, paths and settings
    changed = "started on shapes or units other than those given now"
    with pytest.raises(PdError, match=changed):
        Distillation(config, again, tmp_path / "run").start(resume=True)
    moved = first.shape.replace(points=first.shape.points + np.float32(0.01))
    with pytest.raises(PdError, match=changed):
        Distillation(config, [Item(first.id, moved, first.knowledge), *items[1:]], tmp_path / "run").start(
            resume=True
        )
    with pytest.raises(PdError, match=r"other settings \(epochs\)"):  # settings are named first
        Distillation(dataclasses.replace(config, epochs=3), again, tmp_path / "run").start(resume=True)
    # The same inputs at another path (a project moved with its runs, or typed from elsewhere).
    elsewhere = _config(epochs=1, sources=("../somewhere/else/knowledge/k",))
    Distillation(elsewhere, items, tmp_path / "run").start(resume=True)


def test_a_finished_run_is_kept_whatever_it_lost(items: list[Item], tmp_path: Path) -> None:
    # Its checkpoint deleted (it is only for --resume), a finished run is still a run.
    _run_to_the_end(Distillation(_config(epochs=1), items, tmp_path), resume=False)
    shutil.rmtree(tmp_path / "checkpoint")
    with pytest.raises(PdError, match="already holds a run; pass `resume`"):
        Distillation(_config(epochs=2), items, tmp_path).start(resume=False)


def test_a_run_recorded_before_its_inputs_digest_still_resumes(
    items: list[Item], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Runs before 2026-12-07 recorded sources as typed, relative to where pd ran, and no digest.
    monkeypatch.chdir(tmp_path)
    config = _config(epochs=1, sources=(str(tmp_path / "c" / "knowledge" / "k"),))
    _run_to_the_end(Distillation(config, items, tmp_path / "run"), resume=False)
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    record["sources"] = ["c/knowledge/k"]
    del record["data"]["inputs"]
    (tmp_path / "run" / "config.json").write_text(json.dumps(record))
    Distillation(config, items, tmp_path / "run").start(resume=True)
    elsewhere = _config(epochs=1, sources=(str(tmp_path / "d" / "knowledge" / "k"),))
    with pytest.raises(PdError, match=r"other settings \(sources\)"):
        Distillation(elsewhere, items, tmp_path / "run").start(resume=True)


def test_a_run_started_before_generated_sources_were_recorded_still_resumes(
    items: list[Item], tmp_path: Path
) -> None:
    _run_to_the_end(Distillation(_config(epochs=1), items, tmp_path), resume=False)
    record = json.loads((tmp_path / "config.json").read_text())
    del record["generated"]  # as an earlier version wrote it
    (tmp_path / "config.json").write_text(json.dumps(record))
    Distillation(_config(epochs=1), items, tmp_path).start(resume=True)
    with pytest.raises(PdError, match=r"other settings \(generated\): generated was None, now 1"):
        Distillation(_config(epochs=1, generated=("g/",)), items, tmp_path).start(resume=True)


def test_shapes_without_units_are_left_out_and_none_at_all_is_refused(
    items: list[Item], tmp_path: Path
) -> None:
    empty = Knowledge.from_units(600, TABLE.part_names, [], [], [])
    bare = [Item(item.id, item.shape, empty) for item in items]
    run = Distillation(_config(), [*items[:3], *bare[3:]], tmp_path)
    assert len(run.items) == 3
    left_out = len(items) - 3
    assert run.plan_note.startswith(
        f"{left_out} of the {len(items)} shapes have no knowledge unit to learn from"
    )
    with pytest.raises(PdError, match="None of the shapes has a knowledge unit"):
        Distillation(_config(), bare, tmp_path)


def test_steps_follow_each_other_deterministically(items: list[Item], tmp_path: Path) -> None:
    first = Distillation(_config(epochs=1), items, tmp_path / "a")
    second = Distillation(_config(epochs=1), items, tmp_path / "b")
    first.start(resume=False)
    second.start(resume=False)
    losses = [
        [r.loss for r in itertools.islice(run.run(), 2) if isinstance(r, BatchReport)]
        for run in (first, second)
    ]
    assert losses[0] == losses[1]


class _Killed(Exception):
    """Stands for the process dying at this point."""


def _run_to_the_end(run: Distillation, resume: bool) -> Distillation:
    run.start(resume=resume)
    for _ in run.run():
        pass
    run.finish()
    return run


def test_a_kill_between_any_two_writes_resumes_to_the_same_weights(
    items: list[Item], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    import safetensors.torch

    config = _config(epochs=4)
    whole = _run_to_the_end(Distillation(config, items, tmp_path / "whole"), resume=False)
    real_replace, real_save = os.replace, safetensors.torch.save_file
    writes = {"count": 0, "kill_at": None}

    def counted(real):
        def write(*args, **kwargs):
            writes["count"] += 1
            if writes["count"] == writes["kill_at"]:
                raise _Killed
            return real(*args, **kwargs)

        return write

    monkeypatch.setattr(os, "replace", counted(real_replace))
    monkeypatch.setattr(safetensors.torch, "save_file", counted(real_save))
    _run_to_the_end(Distillation(config, items, tmp_path / "counting"), resume=False)
    total = writes["count"]
    assert total > 20  # config, then per epoch: model, optimizer, arrays, state, pointer, log; the result
    for kill_at in range(1, total + 1):
        folder = tmp_path / f"killed-at-{kill_at}"
        writes.update(count=0, kill_at=kill_at)
        with pytest.raises(_Killed):
            _run_to_the_end(Distillation(config, items, folder), resume=False)
        writes.update(count=0, kill_at=None)
        resumed = _run_to_the_end(
            Distillation(config, items, folder), resume=(folder / "config.json").exists()
        )
        for key, value in _weights(whole).items():
            torch.testing.assert_close(
                _weights(resumed)[key], value, rtol=0, atol=0, msg=f"killed at {kill_at}"
            )
        assert (folder / "log.txt").read_text().count("\n") == 4, f"killed at write {kill_at}"
        assert [p.name for p in (folder / "checkpoint").glob("epoch-*")] == ["epoch-0004"]


def test_a_run_can_start_from_another_runs_student(items: list[Item], tmp_path: Path) -> None:
    first = Distillation(_config(epochs=1, backward=False), items, tmp_path / "first")
    first.start(resume=False)
    list(first.run())
    first.finish()
    again = Distillation(_config(seed=4, start_from=str(tmp_path / "first")), items, tmp_path / "again")
    for key, value in _weights(first).items():
        torch.testing.assert_close(_weights(again)[key], value, rtol=0, atol=0)
    fresh = Distillation(_config(seed=4), items, tmp_path / "fresh")
    assert any(not torch.equal(_weights(fresh)[k], v) for k, v in _weights(first).items())
    with pytest.raises(PdError, match="holds no trained student of this kind to start from"):
        Distillation(_config(start_from=str(tmp_path / "fresh")), items, tmp_path / "third")


@pytest.mark.parametrize(
    ("killed_in", "seconds", "resumes_after"), [(3, 0.0, 0), (5, 0.0, 3), (5, float("inf"), 0)]
)
def test_a_checkpoint_every_k_epochs_resumes_to_the_same_weights(
    items: list[Item],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    killed_in: int,
    seconds: float,
    resumes_after: int,
) -> None:
    # At most 2 checkpoints in 5 epochs: after epochs 3 and 5 (the last); the log comes with them,
    # and at most 2 display-only fits come on the same epochs. A run killed in epoch 5 runs epochs 4
    # and 5 again from the checkpoint of epoch 3 (after the switch at epoch 2); one killed before
    # that starts over, as does one whose epoch 3 came too soon after its start for a checkpoint.
    monkeypatch.setattr(train, "CHECKPOINTS", 2)
    monkeypatch.setattr(train, "CHECKPOINT_SECONDS", seconds)
    monkeypatch.setattr(train, "FITS", 2)
    whole = Distillation(_config(), items, tmp_path / "whole")
    whole.start(resume=False)
    list(whole.run())
    assert whole.checkpoint_every == 3 and whole.state.switch_epoch == 2
    assert [fit is not None for fit in whole.state.fits] == [False, False, True, False, True]

    killed = Distillation(_config(), items, tmp_path / "killed")
    killed.start(resume=False)
    for report in killed.run():
        if isinstance(report, BatchReport) and report.epoch == killed_in:
            break
    log = tmp_path / "killed" / "log.txt"
    assert (log.read_text().count("\n") if log.exists() else 0) == resumes_after
    resumed = Distillation(_config(), items, tmp_path / "killed")
    resumed.start(resume=True)
    assert resumed.state.epoch == resumes_after
    list(resumed.run())
    for key, value in _weights(whole).items():
        torch.testing.assert_close(_weights(resumed)[key], value, rtol=0, atol=0)
    assert resumed.state.losses == whole.state.losses and resumed.state.fits == whole.state.fits
    assert log.read_text().count("\n") == 5
