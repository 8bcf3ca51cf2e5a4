"""`pd distill` and `pd predict` through the CLI, on small procedural collections."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from typer.testing import CliRunner

from partdistill import api
from partdistill.cli import app
from partdistill.collection import Collection
from partdistill.distill.config import REFERENCE_SWITCH
from partdistill.distill.trained import TrainedStudent
from partdistill.errors import PdError
from partdistill.files import OutputFolder
from partdistill.formats import read_shape, write_ply
from partdistill.knowledge.h5 import write_partdistill_h5
from partdistill.knowledge.store import KnowledgeStore
from partdistill.knowledge.units import Knowledge, vote
from partdistill.prompts import find_category

runner = CliRunner()
QUICK = [
    "--student",
    "pointnet",
    "--epochs",
    "2",
    "--min-steps",
    "0",
    "--points",
    "256",
    "--batch-size",
    "2",
    "--image-size",
    "96",
]
H5_QUICK = QUICK[:-2]  # h5 knowledge was made elsewhere: teacher settings would be ignored, and are refused


@pytest.fixture(scope="module")
def knives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("knives")
    assert (
        runner.invoke(
            app, ["synth", "--category", "knife", "--n", "4", "--points", "800", "--out", str(out)]
        ).exit_code
        == 0
    )
    return out


@pytest.fixture(scope="module")
def run(knives: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    result = runner.invoke(app, ["distill", "--shapes", str(knives), "--out", str(out), *QUICK])
    assert result.exit_code == 0, result.output
    return out


def test_distill_teaches_first_then_trains(knives: Path, run: Path) -> None:
    assert KnowledgeStore(knives / "knowledge" / "simulated-noisy-box").has("knife-00003")
    for name in ("student.safetensors", "student.json", "config.json", "log.txt", "curve.png"):
        assert (run / name).is_file()
    record = json.loads((run / "student.json").read_text())
    assert record["category"] == "knife" and record["part_names"] == ["blade", "handle"]
    assert "no labels" in record["selection"]


def test_resume_of_a_finished_run_adds_nothing(knives: Path, run: Path) -> None:
    before = (run / "student.safetensors").read_bytes()
    result = runner.invoke(app, ["distill", "--shapes", str(knives), "--out", str(run), "--resume", *QUICK])
    assert result.exit_code == 0 and "Resuming" in result.stdout
    assert (run / "student.safetensors").read_bytes() == before


def test_a_run_too_short_for_backward_distillation_says_so(knives: Path, run: Path) -> None:
    # 4 shapes in batches of 2 for 2 epochs: 4 optimisation steps, far from the 144 it waits for.
    result = runner.invoke(app, ["distill", "--shapes", str(knives), "--out", str(run), "--resume", *QUICK])
    said = " ".join(result.stdout.split())
    assert "4 shapes in batches of 2 make 4: this run distils forward only" in said
    assert json.loads((run / "student.json").read_text())["backward_from_epoch"] is None


def test_the_reference_switch_is_one_option(knives: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["distill", "--shapes", str(knives), "--out", str(tmp_path), "--switch", "reference", *QUICK]
    )
    assert result.exit_code == 0 and "forward only" not in result.stdout
    config = json.loads((tmp_path / "config.json").read_text())
    assert {k: config[k] for k in REFERENCE_SWITCH} == REFERENCE_SWITCH
    # In TTA mode a run that could have switched but did not (2 epochs, the trigger's window is 5)
    # distilled forward only, and is checked as such.
    tta = tmp_path / "tta"
    argv = ["distill", "--shapes", str(knives), "--out", str(tta), "--switch", "reference", "--mode", "tta"]
    result = runner.invoke(app, [*argv, *QUICK])
    assert result.exit_code == 0, result.output
    assert json.loads((tta / "student.json").read_text())["backward_from_epoch"] is None
    assert "Held-out check" in result.stdout and (tta / "held-out-check" / "student.safetensors").is_file()


def test_tta_mode_labels_the_distilled_shapes(knives: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["distill", "--shapes", str(knives), "--out", str(tmp_path), "--mode", "tta", *QUICK]
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    student = np.load(tmp_path / "student" / "knife-00001.npy")
    assert student.shape == (800,) and set(student.tolist()) <= {0, 1}
    lifted = np.load(tmp_path / "lifted" / "knife-00001.npy")
    knowledge = KnowledgeStore(knives / "knowledge" / "simulated-noisy-box").load("knife-00001")
    np.testing.assert_array_equal(lifted, vote(knowledge))
    # 4 shapes are too few for backward distillation: a twin on the even views decided what to hand over.
    choice = json.loads((tmp_path / "choice.json").read_text())
    assert (tmp_path / "held-out-check" / "student.safetensors").is_file()
    figures = rf"student {100 * choice['student']:.1f} \(± \d+\.\d\), lifting {100 * choice['lifting']:.1f}"
    assert re.search(figures, said), said
    same = covered = 0
    for path in (tmp_path / "lifted").iterdir():
        lift, mine = np.load(path), np.load(tmp_path / "student" / path.name)
        handed = np.load(tmp_path / "predictions" / path.name)
        expected = mine if choice["labels"] == "student" else np.where(lift >= 0, lift, mine)
        np.testing.assert_array_equal(handed, expected)
        same, covered = same + np.sum((mine == lift) & (lift >= 0)), covered + np.sum(lift >= 0)
    assert f"agree on {100 * same / covered:.1f}% of the" in said


def test_a_tta_run_killed_in_its_held_out_check_resumes_to_the_same_labels(
    knives: Path, tmp_path: Path
) -> None:
    argv = ["distill", "--shapes", str(knives), "--out", str(tmp_path), "--mode", "tta", *QUICK]
    assert runner.invoke(app, argv).exit_code == 0
    choice = (tmp_path / "choice.json").read_text()
    handed = {p.name: np.load(p) for p in (tmp_path / "predictions").iterdir()}
    # Killed after the twin's last epoch, before its weights and the labels were written.
    (tmp_path / "held-out-check" / "student.safetensors").unlink()
    (tmp_path / "choice.json").unlink()
    shutil.rmtree(tmp_path / "predictions")
    result = runner.invoke(app, [*argv, "--resume"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "choice.json").read_text() == choice
    for name, labels in handed.items():
        np.testing.assert_array_equal(np.load(tmp_path / "predictions" / name), labels)


def test_a_job_per_category_makes_the_same_tta_choice_and_reports_it(knives: Path, tmp_path: Path) -> None:
    """The quiet path (one job per category, as Ray workers run it) labels as `pd distill` does."""
    alone, per_category = tmp_path / "alone", tmp_path / "per-category"
    for out, extra in ((alone, []), (per_category, ["--categories", "knife"])):
        argv = ["distill", "--shapes", str(knives), "--out", str(out), "--mode", "tta", *QUICK, *extra]
        result = runner.invoke(app, argv)
        assert result.exit_code == 0, result.output
    choice = json.loads((alone / "choice.json").read_text())
    assert json.loads((per_category / "choice.json").read_text()) == choice
    assert f"│ {choice['labels']}" in result.stdout  # the table's "labels handed over" column
    for path in (alone / "predictions").iterdir():
        np.testing.assert_array_equal(np.load(path), np.load(per_category / "predictions" / path.name))


def test_a_category_that_fails_on_its_input_stops_none_of_the_others(knives: Path, tmp_path: Path) -> None:
    """With --categories, a category whose shape file is broken (found only when its run reads it)
    is said at once and again at the end; the one after it still runs, and is shown."""
    mugs = tmp_path / "mug"
    assert (
        runner.invoke(
            app, ["synth", "--category", "mug", "--n", "2", "--points", "300", "--out", str(mugs)]
        ).exit_code
        == 0
    )
    next(mugs.glob("shapes/*.npz")).write_bytes(b"not a zip archive")
    shutil.copytree(knives, tmp_path / "knife", ignore=shutil.ignore_patterns("knowledge"))
    argv = ["distill", "--categories", "mug,knife", "--shapes", str(tmp_path / "{category}")]
    result = runner.invoke(app, [*argv, "--out", str(tmp_path / "runs" / "{category}"), *QUICK])
    said = " ".join(result.stderr.split())
    assert result.exit_code == 1
    assert (
        said.startswith("Error: 1 of 2 categories failed. mug: ")
        and "is not a readable partdistill shape" in said
    )
    assert said.endswith(
        "Run it again with --categories mug and --resume; the finished runs stay as they are."
    )
    assert "mug failed: " in result.stdout and "Going on with the other categories." in result.stdout
    assert "│ knife " in result.stdout  # the finished run's row
    assert (tmp_path / "runs" / "knife" / "student.safetensors").is_file()
    assert not (tmp_path / "runs" / "mug").exists()
    with pytest.raises(api.CategoriesFailed) as failed:  # from Python: the finished runs come with it
        api.distill_categories(
            ["mug", "knife"], tmp_path / "{category}", out=tmp_path / "runs" / "{category}", resume=True,
            epochs=2, min_steps=0, points=256, batch_size=2, image_size=96,
        )  # fmt: skip
    assert [f.category for f in failed.value.failed] == ["mug"]
    assert [done.category for done in failed.value.finished] == ["knife"]
    copied = pickle.loads(pickle.dumps(failed.value))  # as a process pool hands it back
    assert str(copied) == str(failed.value) and copied.finished == failed.value.finished


def test_categories_whose_filled_in_folders_meet_are_refused_before_any_run(
    knives: Path, tmp_path: Path
) -> None:
    for name in ("mug", "knife"):  # collections there: knives, taken as mugs
        shutil.copytree(knives, tmp_path / name, ignore=shutil.ignore_patterns("knowledge"))
    for out in ("r/{category}/../x", "r/{category}/../{category}/../x"):
        argv = ["distill", "--categories", "mug,knife", "--shapes", str(tmp_path / "{category}")]
        result = runner.invoke(app, [*argv, "--out", str(tmp_path / out), "--force-category", *QUICK])
        assert result.exit_code == 1
        assert (
            "puts the runs of mug and knife in" in result.stderr and "one inside the other" in result.stderr
        )
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("ending", ["missing", "stopped"])
def test_what_the_machine_lacks_or_a_stop_ends_every_category(
    knives: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    """Unlike a category's own input, a missing package (or model weights) is missing for every
    category, and an error met while a stop unwinds is the stop's: neither goes on to the next."""
    from partdistill.distill.job import DistillJob
    from partdistill.errors import MissingDependencyError
    from partdistill.stops import Stops

    ran = []

    def run(job: DistillJob, progress: object = None) -> None:
        ran.append(job.category.key)
        if ending == "stopped":
            monkeypatch.setattr(Stops, "received", 2)
            raise PdError("a clean-up the stop broke off")
        raise MissingDependencyError("pointm2ae", "point-m2ae", "pip install it")

    monkeypatch.setattr(DistillJob, "run", run)
    shutil.copytree(knives, tmp_path / "knife", ignore=shutil.ignore_patterns("knowledge"))
    api.synth("mug", n=2, points=300, out=tmp_path / "mug")
    with pytest.raises(PdError) as raised:
        api.distill_categories("knife,mug", tmp_path / "{category}", out=tmp_path / "runs" / "{category}")
    assert not isinstance(raised.value, api.CategoriesFailed) and ran == ["knife"]


def test_a_full_disk_during_distill_is_one_sentence_and_leaves_no_broken_checkpoint(
    knives: Path, run: Path, tmp_path: Path
) -> None:
    """Files above 64 KiB cannot be written (RLIMIT_FSIZE, with SIGXFSZ ignored so that writes fail
    with EFBIG as on a full disk): config.json fits, the first checkpoint's weights do not."""
    limit = 64 * 1024
    script = (
        "import resource, signal, sys\n"
        "from partdistill.cli import app\n"
        "import partdistill.distill.train as train\n"
        "train.CHECKPOINT_SECONDS = 0.0\n"  # as the fixture sets it in this process
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "app(sys.argv[1:])\n"
    )
    out = tmp_path / "run"
    argv = ["distill", "--shapes", str(knives), "--out", str(out), "--device", "cpu", *QUICK]
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 1, done.stdout + done.stderr
    message = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(message) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "Cannot write the checkpoint of epoch 1" in message[0] and "File too large" in message[0]
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]  # whole, for --resume; no checkpoint/
    resumed = runner.invoke(app, [*argv, "--resume"])  # with room again, the run goes on
    assert resumed.exit_code == 0, resumed.output
    assert TrainedStudent.load(out).part_names == ("blade", "handle")


def test_distill_from_partdistill_h5_files(knives: Path, tmp_path: Path) -> None:
    knife = find_category("knife")
    collection, store = Collection.open(knives), KnowledgeStore(knives / "knowledge" / "simulated-noisy-box")
    for record, shape in collection.shapes():
        path = tmp_path / "h5" / "03624134" / record.id / "extracted" / "preprocess.h5"
        write_partdistill_h5(path, shape, store.load(record.id), knife)
    result = runner.invoke(
        app, ["distill", "--knowledge", str(tmp_path / "h5"), "--out", str(tmp_path / "r"), *H5_QUICK]
    )
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["category"] == "knife" and len(config["data"]["shapes"]) == 4
    assert config["data"]["shapes"][0].startswith("03624134/")


def test_predict_writes_ply_json_png_with_one_label_per_input_point(
    run: Path, knives: Path, tmp_path: Path
) -> None:
    shape = read_shape(knives / "shapes" / "knife-00002.npz")
    write_ply(shape.replace(labels=None, part_names=(), colors=None), tmp_path / "in.ply")
    box = trimesh.creation.box(extents=(0.1, 1.0, 0.05))
    box.export(tmp_path / "bar.obj")
    result = runner.invoke(
        app,
        [
            "predict",
            str(tmp_path / "in.ply"),
            str(tmp_path / "bar.obj"),
            "--run",
            str(run),
            "--out",
            str(tmp_path / "out"),
            "--points",
            "500",
        ],
    )
    assert result.exit_code == 0, result.output
    for name in ("in", "bar"):
        for suffix in (".ply", ".json", ".png"):
            assert (tmp_path / "out" / f"{name}{suffix}").is_file()
    record = json.loads((tmp_path / "out" / "in.json").read_text())
    assert record["part_names"] == ["blade", "handle"] and len(record["labels"]) == shape.n_points
    expected = TrainedStudent.load(run).labels(read_shape(tmp_path / "in.ply"))
    assert record["labels"] == expected.tolist()  # in the input file's point order
    back = read_shape(tmp_path / "out" / "in.ply")
    np.testing.assert_array_equal(back.labels, expected)
    mesh_record = json.loads((tmp_path / "out" / "bar.json").read_text())
    assert len(mesh_record["labels"]) == 500 and len(mesh_record["face_labels"]) == 12
    # A second run into the same folder keeps the first one's outputs listed (and on the page).
    again = runner.invoke(
        app, ["predict", str(tmp_path / "in.ply"), "--run", str(run), "--out", str(tmp_path / "out")]
    )
    assert again.exit_code == 0, again.output
    listed = json.loads((tmp_path / "out" / "inputs.json").read_text())
    assert listed == {"bar": str(tmp_path / "bar.obj"), "in": str(tmp_path / "in.ply")}
    for path in (tmp_path / "out").glob("bar.*"):  # outputs the user deleted leave the list
        path.unlink()
    again = runner.invoke(
        app, ["predict", str(tmp_path / "in.ply"), "--run", str(run), "--out", str(tmp_path / "out")]
    )
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "out" / "inputs.json").read_text()) == {"in": str(tmp_path / "in.ply")}


def test_predict_checks_every_input_before_writing(run: Path, knives: Path, tmp_path: Path) -> None:
    write_ply(read_shape(knives / "shapes" / "knife-00000.npz"), tmp_path / "good.ply")
    (tmp_path / "bad.ply").write_text(
        "ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nend_header\n1\n"
    )
    result = runner.invoke(
        app,
        [
            "predict",
            str(tmp_path / "good.ply"),
            str(tmp_path / "bad.ply"),
            "--run",
            str(run),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 1 and "bad.ply is not a readable PLY file" in result.stderr
    assert not (tmp_path / "out").exists()


def test_predict_takes_a_collections_folder_for_its_shape_files(
    knives: Path, run: Path, tmp_path: Path
) -> None:
    files = sorted(str(path) for path in (knives / "shapes").glob("*.npz"))
    for out, inputs in ((tmp_path / "folder", [str(knives)]), (tmp_path / "files", files)):
        result = runner.invoke(app, ["predict", *inputs, "--run", str(run), "--out", str(out), "--no-view"])
        assert result.exit_code == 0, result.output
    assert len(files) == 4 and sorted(p.name for p in (tmp_path / "folder").iterdir()) == sorted(
        p.name for p in (tmp_path / "files").iterdir()
    )
    for path in (tmp_path / "files").glob("*.json"):
        assert json.loads(path.read_text()) == json.loads((tmp_path / "folder" / path.name).read_text())


def test_predict_needs_a_run(run: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["predict", str(tmp_path / "x.ply"), "--run", str(tmp_path)])
    assert result.exit_code == 1 and "holds no trained student" in result.stderr
    unfinished = tmp_path / "unfinished"  # a run begun (its config.json), its student not yet written
    unfinished.mkdir()
    shutil.copy(run / "config.json", unfinished / "config.json")
    argv = ["predict", str(tmp_path / "x.ply"), "--run", str(unfinished)]
    with OutputFolder(unfinished):  # as the pd distill training it holds it
        result = runner.invoke(app, argv)
    said = " ".join(result.stderr.split())
    assert (
        result.exit_code == 1
        and f"unfinished is being written by another pd process (pid {os.getpid()}); wait for it to finish."
        in said
    )
    result = runner.invoke(app, argv)  # stopped
    said = " ".join(result.stderr.split())
    assert (
        "unfinished is a distillation run that has not finished; distilling again with --resume continues it."
        in said
    )


def test_point_m2ae_without_checkpoint_is_one_sentence(knives: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["distill", "--shapes", str(knives), "--out", str(tmp_path), "--student", "point-m2ae"]
    )
    assert result.exit_code == 1 and "needs Point-M2AE's pre-training checkpoint" in result.stderr


def test_inputs_with_the_same_name_get_outputs_of_their_own(run: Path, knives: Path, tmp_path: Path) -> None:
    for folder, shape_id in (("a", "knife-00000"), ("b", "knife-00001")):
        (tmp_path / folder).mkdir()
        write_ply(read_shape(knives / "shapes" / f"{shape_id}.npz"), tmp_path / folder / "x.ply")
    out = tmp_path / "out"
    args = ["predict", str(tmp_path / "a" / "x.ply"), str(tmp_path / "b" / "x.ply"), "--run", str(run)]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "inputs.json").read_text()) == {
        "x-1": str(tmp_path / "a" / "x.ply"),
        "x-2": str(tmp_path / "b" / "x.ply"),
    }
    first, second = (json.loads((out / f"x-{i}.json").read_text()) for i in (1, 2))
    assert first["input"].endswith("a/x.ply") and second["input"].endswith("b/x.ply")


def test_predict_refuses_a_shape_of_another_category_unless_told(run: Path, tmp_path: Path) -> None:
    chairs = tmp_path / "chairs"
    runner.invoke(app, ["synth", "--category", "chair", "--n", "1", "--points", "300", "--out", str(chairs)])
    chair = str(chairs / "shapes" / "chair-00000.npz")
    result = runner.invoke(app, ["predict", chair, "--run", str(run), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "is a chair and the run segments knife" in result.stderr
    forced = [chair, "--run", str(run), "--out", str(tmp_path / "out"), "--force-category"]
    assert runner.invoke(app, ["predict", *forced]).exit_code == 0


def test_predict_keeps_the_inputs_labels_and_its_page_reads_nothing_else(
    run: Path, knives: Path, tmp_path: Path
) -> None:
    from partdistill.view import page_for

    (tmp_path / "in").mkdir()
    shutil.copy(knives / "shapes" / "knife-00000.npz", tmp_path / "in" / "knife.npz")
    out = tmp_path / "out"
    argv = ["predict", str(tmp_path / "in" / "knife.npz"), "--run", str(run), "--out", str(out)]
    assert runner.invoke(app, argv).exit_code == 0
    truth = read_shape(knives / "shapes" / "knife-00000.npz").labels
    assert json.loads((out / "knife.json").read_text())["input_labels"] == truth.tolist()
    # The input is gone and inputs.json now names another labelled knife: the page's truth is
    # still the one pd predict kept; the file inputs.json names is not read.
    (tmp_path / "in" / "knife.npz").unlink()
    (out / "inputs.json").write_text(json.dumps({"knife": str(knives / "shapes" / "knife-00001.npz")}))
    [entry] = page_for(out).entries
    assert [panel.title for panel in entry.panels] == ["ground truth", "prediction"]
    np.testing.assert_array_equal(entry.panels[0].labels, truth)
    again = ["predict", str(knives / "shapes" / "knife-00000.npz"), "--run", str(run), "--out", str(out)]
    refused = runner.invoke(app, again)  # inputs.json is no longer the one pd wrote: it stays
    assert refused.exit_code == 1 and "inputs.json has changed since pd wrote it" in refused.stderr
    (out / "inputs.json").unlink()
    assert runner.invoke(app, again).exit_code == 0  # its own files, replaced


@pytest.mark.parametrize("every", [0.0, 3600.0])  # after each input; once, at the end
def test_predict_records_the_digest_of_every_file_it_wrote(
    run: Path, knives: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: float
) -> None:
    import hashlib

    from partdistill import predict

    monkeypatch.setattr(predict, "SEAL_EVERY", every)
    inputs = [str(knives / "shapes" / f"knife-0000{i}.npz") for i in range(2)]
    out = tmp_path / "out"
    assert runner.invoke(app, ["predict", *inputs, "--run", str(run), "--out", str(out)]).exit_code == 0
    record = json.loads((out / ".pd-written.json").read_text())["pd predict"]
    files = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert sorted(record) == files and len(files) == 2 * 3 + 2  # ply, json, png each; inputs.json, view.html
    assert all(record[name] == hashlib.sha256((out / name).read_bytes()).hexdigest() for name in files)


def test_tta_progress_is_a_bar_per_stage_a_line_per_phase_and_the_lifting_figure(tmp_path: Path) -> None:
    """5 chairs in batches of 4 over 4 epochs, taught first: what the user reads (issue 26, item 5)."""
    synth = ["synth", "--category", "chair", "--n", "5", "--points", "400", "--out", str(tmp_path / "c")]
    assert runner.invoke(app, synth).exit_code == 0
    quick = ["--epochs", "2", "--min-steps", "4", "--points", "128", "--batch-size", "4"]
    quick += ["--image-size", "64"]
    argv = ["distill", "--shapes", str(tmp_path / "c"), "--out", str(tmp_path / "run"), "--mode", "tta"]
    result = runner.invoke(app, [*argv, *quick, "--device", "cpu"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    # Knowledge made on the way: the figure pd teach prints.
    assert (
        "Direct lifting of the units scores" in said
        and "on the 5 labelled shapes taught, on all of their points" in said
    )
    # One note on the plan: steps per epoch, who sits out, epochs and steps in all, and backward or not.
    assert said.count("optimisation step(s) per epoch") == 1
    assert "5 shapes in batches of 4 make 1 optimisation step(s) per epoch (each epoch the last 1 of" in said
    assert "training 4 epochs rather than the 2 asked for, to take at least 4 (--min-steps): 4 steps" in said
    assert "make 2 (the epochs --min-steps adds do not count: it is the collection that is too" in said
    assert "this run distils forward only" in said
    # No line per epoch on the terminal (they are in log.txt), and the held-out check has its bar.
    assert not re.search(r"^\s*epoch \d+", result.stdout, re.MULTILINE)
    assert len((tmp_path / "run" / "log.txt").read_text().splitlines()) >= 4
    assert "distilling chair" in result.stdout and "held-out check" in result.stdout
    assert "Held-out check: distilling a twin" in said


@pytest.fixture(scope="module")
def generated_knives(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated-knives")
    argv = ["synth", "--category", "knife", "--n", "6", "--points", "600", "--seed", "7", "--out", str(out)]
    assert runner.invoke(app, argv).exit_code == 0
    return out


def test_tta_with_generated_shapes_hands_over_one_of_three_candidates(
    knives: Path, generated_knives: Path, tmp_path: Path
) -> None:
    argv = ["distill", "--shapes", str(knives), "--with", str(generated_knives), "--mode", "tta"]
    result = runner.invoke(app, [*argv, "--out", str(tmp_path), *QUICK])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stdout.split())
    # The generated shapes were taught first, their student distilled in generated/, fine-tuned on
    # the user's units (from its weights) and checked by a twin fine-tuned on the even views.
    assert KnowledgeStore(generated_knives / "knowledge" / "simulated-noisy-box").has("knife-s7-00005")
    generated = TrainedStudent.load(tmp_path / "generated")
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["start_from"] == str(tmp_path / "generated") and config["backward"] is False
    assert config["generated"] == [str(generated_knives / "knowledge" / "simulated-noisy-box")]
    assert json.loads((tmp_path / "generated" / "config.json").read_text())["mode"] == "pre"
    assert (tmp_path / "held-out-check" / "student.safetensors").is_file()
    choice = json.loads((tmp_path / "choice.json").read_text())
    assert choice["labels"] in ("student", "generated", "lifting")
    figures = f"{100 * choice['student']:.1f}", f"{100 * choice['generated']:.1f}"
    assert re.search(r"student {} \(± [\d.]+\), generated {} ".format(*figures), said), said
    # The fine-tune's note gives its own steps, not the user's --epochs overruled by --min-steps.
    assert re.search(
        r"training \d+ epochs, to take the fine-tune's 50: \d+ steps\. A fine-tune distils", said
    )
    for path in (tmp_path / "lifted").iterdir():
        lift, mine = np.load(path), np.load(tmp_path / "student" / path.name)
        theirs = np.load(tmp_path / "from-generated" / path.name)
        shape = read_shape(knives / "shapes" / path.name.replace(".npy", ".npz"))
        np.testing.assert_array_equal(theirs, generated.labels(shape))
        expected = {"student": mine, "generated": theirs, "lifting": np.where(lift >= 0, lift, mine)}
        handed = np.load(tmp_path / "predictions" / path.name)
        np.testing.assert_array_equal(handed, expected[choice["labels"]])
    # pd view shows the generated shapes' student beside the others, and whose labels were handed over.
    assert runner.invoke(app, ["view", str(tmp_path)]).exit_code == 0
    page = (tmp_path / "view.html").read_text()
    assert "generated shapes&#x27; student" in page or "generated shapes' student" in page
    assert f"handed over ({choice['labels']})" in page


def test_tta_with_generated_shapes_hands_over_lifting_where_the_users_units_are_right(
    knives: Path, generated_knives: Path, tmp_path: Path
) -> None:
    # The user's shapes come as h5 files whose four views each hold one unit per part, exactly
    # that part's points: lifting the even views gives every point its part, which the odd views
    # confirm everywhere (agreement 1), so no student can do better and the tie goes to lifting.
    knife = find_category("knife")
    truth = {}
    for record, shape in Collection.open(knives).shapes():
        present = np.unique(shape.labels)
        members = [np.flatnonzero(shape.labels == p) for p in present] * 4
        views = np.repeat(np.arange(4), len(present))
        units = Knowledge.from_units(
            shape.n_points, knife.part_names, members, [*present] * 4, [1.0] * len(members), views.tolist()
        )
        path = tmp_path / "h5" / "03624134" / record.id / "extracted" / "preprocess.h5"
        write_partdistill_h5(path, shape, units, knife)
        truth[record.id] = shape.labels
    argv = ["distill", "--knowledge", str(tmp_path / "h5"), "--with", str(generated_knives), "--mode", "tta"]
    result = runner.invoke(app, [*argv, "--out", str(tmp_path / "r"), *QUICK])
    assert result.exit_code == 0, result.output
    choice = json.loads((tmp_path / "r" / "choice.json").read_text())
    assert choice["labels"] == "lifting" and choice["lifting"] == pytest.approx(1.0)
    assert ", lifting 100.0;" in choice["reason"] and choice["margin"] == 0.0  # view 0 alone covers all
    for shape_id, labels in truth.items():
        handed = np.load(tmp_path / "r" / "predictions" / "03624134" / f"{shape_id}.npy")
        np.testing.assert_array_equal(handed, labels)
        assert (tmp_path / "r" / "from-generated" / "03624134" / f"{shape_id}.npy").is_file()


def test_python_calls_on_a_run_leave_the_callers_random_numbers_and_refuse_bad_inputs(
    run: Path, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    api.load_run(run, device="cpu")  # builds a student, whose initial weights draw random numbers
    assert torch.equal(torch.rand(3), expected)
    with pytest.raises(PdError, match=r"missing\.ply does not exist\."):
        api.predict(tmp_path / "missing.ply", run=run, out=tmp_path / "a", device="cpu")
    with pytest.raises(PdError, match="No shape files to label"):
        api.predict([], run=run, out=tmp_path / "b", device="cpu")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_a_stopped_predict_lists_the_outputs_it_wrote(
    run: Path, knives: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop at the third input leaves the first two listed in inputs.json, sealed, beside what an
    earlier predict listed; a run to the end lists them all."""
    from partdistill.distill.trained import TrainedStudent

    inputs = sorted(Collection.open(knives).path(r.file) for r in Collection.open(knives).ok_records)
    out = tmp_path / "p"
    api.predict(inputs[3:], run=run, out=out, device="cpu", view=False)
    labels, calls = TrainedStudent.labels, []

    def stopped_at_the_third(self, shape, **options):
        calls.append(shape)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return labels(self, shape, **options)

    monkeypatch.setattr(TrainedStudent, "labels", stopped_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        api.predict(inputs[:3], run=run, out=out, device="cpu", view=False)
    listed = json.loads((out / "inputs.json").read_text())
    assert listed == {path.stem: str(path) for path in [*inputs[:2], *inputs[3:]]}
    assert not (out / f"{inputs[2].stem}.json").exists()
    monkeypatch.setattr(TrainedStudent, "labels", labels)
    api.predict(inputs[:3], run=run, out=out, device="cpu", view=False)  # the record took the first two
    assert json.loads((out / "inputs.json").read_text()) == {path.stem: str(path) for path in inputs}


def test_python_predict_takes_a_collection_for_its_shapes(run: Path, knives: Path, tmp_path: Path) -> None:
    collection = Collection.open(knives)
    done = api.predict(collection, run=run, out=tmp_path / "p", device="cpu", view=False)
    assert [item.name for item in done] == [record.id for record in collection.ok_records]
    # Inputs named like a run's records: their outputs (config.json, student.json) are pd predict's,
    # and the folder stays one pd predict writes into.
    (tmp_path / "in").mkdir()
    for name in ("config", "student"):
        shutil.copy(collection.path(collection.ok_records[0].file), tmp_path / "in" / f"{name}.npz")
    inputs = sorted((tmp_path / "in").iterdir())
    for _ in range(2):
        api.predict(inputs, run=run, out=tmp_path / "q", device="cpu", view=False)
