"""`pd eval` end to end on the real ShapeNetPart sample: a trained student, or predictions made elsewhere."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from shared_data import shared
from test_distill_cli import QUICK
from test_eval import _naive_shape_iou
from typer.testing import CliRunner, Result

from partdistill.cli import app
from partdistill.datasets.readers import open_dataset
from partdistill.distill.trained import TrainedStudent
from partdistill.eval.evaluate import point_subset
from partdistill.prompts import find_category, shapenetpart_categories

runner = CliRunner()


@pytest.fixture(scope="module")
def sample() -> Path:
    return shared("shapenetpart_sample")


def _global(item, labels: np.ndarray) -> list[int]:
    return (labels + item.category.parts[0].global_id).tolist()


def _scoring(sample: Path, tmp_path: Path, predictions: dict[str, list[int]]) -> list[str]:
    """`pd eval`'s arguments that score `predictions` (written to tmp_path/p.json) on the sample."""
    (tmp_path / "p.json").write_text(json.dumps(predictions))
    return [
        "eval",
        "--dataset",
        "shapenetpart",
        "--root",
        str(sample),
        "--predictions",
        str(tmp_path / "p.json"),
    ]


def test_perfect_predictions_score_100_and_every_report_is_written(sample: Path, tmp_path: Path) -> None:
    truth = {
        item.id: _global(item, item.shape.labels) for item in open_dataset("shapenetpart", sample).shapes()
    }
    result = runner.invoke(app, [*_scoring(sample, tmp_path, truth), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    scores = report["methods"]["predictions"]
    assert list(scores["categories"]) == [
        c.name for c in shapenetpart_categories()
    ]  # named, in catalogue order
    assert all(v == 100.0 for v in scores["categories"].values())
    assert scores["class_miou"] == 100.0 and scores["instance_miou"] == 100.0
    assert report["shapes"]["table"] == 4 and report["points"] == 2048
    assert report["published"]["PartDistill GLIP Pre"]["chair"] == 86.5
    rows = list(csv.reader((tmp_path / "report" / "report.csv").open()))
    assert rows[0] == ["category", "shapes", "predictions"] and rows[1][0] == "airplane"
    assert (tmp_path / "report" / "gallery.png").stat().st_size > 0


def test_gallery_0_draws_none_and_a_second_eval_replaces_its_own_reports(
    sample: Path, tmp_path: Path
) -> None:
    mugs = [find_category("mug")]
    truth = {
        item.id: _global(item, item.shape.labels)
        for item in open_dataset("shapenetpart", sample).shapes(mugs)
    }
    argv = [*_scoring(sample, tmp_path, truth), "--categories", "mug", "--out", str(tmp_path / "r")]
    result = runner.invoke(app, [*argv, "--gallery", "0"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "r").iterdir() if not p.name.startswith(".")) == [
        "report.csv",
        "report.json",
        "view-shapes.npz",
        "view.html",
    ]
    again = runner.invoke(app, argv)  # into the same folder: pd eval's own files are replaced
    assert again.exit_code == 0, again.output
    assert (tmp_path / "r" / "gallery.png").stat().st_size > 0
    assert "not scored here" not in again.stdout
    _scoring(sample, tmp_path, truth | {"03797390/not-in-the-sample": [36]})  # argv's file, one more
    extra = runner.invoke(app, argv)  # a prediction for a shape not scored is said, not hidden
    assert extra.exit_code == 0 and "1 of the predictions are for shapes not scored here" in extra.stdout
    # A run that draws no gallery and no page takes away the earlier run's, which would show its results.
    bare = runner.invoke(app, [*argv, "--gallery", "0", "--no-view"])
    assert bare.exit_code == 0, bare.output
    assert sorted(p.name for p in (tmp_path / "r").iterdir() if not p.name.startswith(".")) == [
        "report.csv",
        "report.json",
    ]


def test_eval_into_another_commands_folder_or_the_dataset_is_refused_before_scoring(
    sample: Path, tmp_path: Path
) -> None:
    (tmp_path / "collection").mkdir()
    (tmp_path / "collection" / "manifest.json").write_text("{}")
    (tmp_path / "predictions").mkdir()
    (tmp_path / "predictions" / "inputs.json").write_text("{}")
    (tmp_path / "file").write_text("mine")
    argv = ["eval", "--dataset", "shapenetpart", "--root", str(sample), "--predictions", str(tmp_path / "p")]
    for out, message in (
        ("collection", "is a shape collection; give --out a folder of its own"),
        ("predictions", "is a pd predict folder; give --out a folder of its own"),
        ("file", "is a file; the output needs a folder there"),
    ):
        result = runner.invoke(app, [*argv, "--out", str(tmp_path / out)])
        assert result.exit_code == 1 and message in " ".join(result.stderr.split()), result.output
    at_root = runner.invoke(app, [*argv, "--out", str(sample)])
    assert at_root.exit_code == 1 and "is a folder this command reads" in " ".join(at_root.stderr.split())


def test_folder_of_npy_predictions_matches_an_independent_computation(sample: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    expected: dict[str, list[float]] = {}
    sizes = []
    for item in open_dataset("shapenetpart", sample).shapes([find_category("mug"), find_category("lamp")]):
        sizes.append(item.shape.n_points)
        parts = len(item.category.parts)
        guess = np.where(
            rng.random(item.shape.n_points) < 0.4,
            rng.integers(0, parts, item.shape.n_points),
            item.shape.labels,
        )
        path = tmp_path / "pred" / f"{item.id}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.array(_global(item, guess)))
        index = point_subset(item, 2048, seed=0)  # the reference protocol's fixed 2,048-point subset
        expected.setdefault(item.category.name, []).append(
            _naive_shape_iou(guess[index], item.shape.labels[index], parts)
        )
    result = runner.invoke(
        app,
        [
            "eval",
            "--dataset",
            "shapenetpart",
            "--root",
            str(sample),
            "--predictions",
            str(tmp_path / "pred"),
            "--categories",
            "mug,lamp",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "shapenetpart protocol, 2,048 points a shape" in result.stdout  # the table says what it scored
    short = [size for size in sizes if size < 2048]
    assert short and (
        f"{len(short)} of the {len(sizes)} shapes have fewer than 2,048 points: each of their points is "
        "scored once" in " ".join(result.stdout.split())
    )  # the sample's shapes are cut to ~240 points (its README)
    scores = json.loads((tmp_path / "r" / "report.json").read_text())["methods"]["predictions"]["categories"]
    for name, ious in expected.items():
        assert scores[name] == pytest.approx(100 * np.mean(ious), abs=0.01)


def test_all_points_protocol_uses_every_point(sample: Path, tmp_path: Path) -> None:
    predictions = {}
    for item in open_dataset("shapenetpart", sample).shapes([find_category("table")]):
        wrong = item.shape.labels.copy()
        wrong[: len(wrong) // 2] = 1 - wrong[: len(wrong) // 2]  # table parts 0/1: flip the first half
        predictions[item.id] = _global(item, wrong)
    argv = _scoring(sample, tmp_path, predictions)
    result = runner.invoke(
        app, [*argv, "--categories", "table", "--points", "all", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert "shapenetpart protocol, all points" in result.stdout
    assert report["points"] == "all" and 0 < report["methods"]["predictions"]["categories"]["table"] < 100


def test_a_trained_student_is_scored_on_the_real_sample(sample: Path, tmp_path: Path) -> None:
    shapes = tmp_path / "mugs"
    assert (
        runner.invoke(
            app, ["synth", "--category", "mug", "--n", "4", "--points", "800", "--out", str(shapes)]
        ).exit_code
        == 0
    )
    run = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "distill",
            "--shapes",
            str(shapes),
            "--out",
            str(run),
            *QUICK,
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        [
            "eval",
            "--dataset",
            "shapenetpart",
            "--root",
            str(sample),
            "--run",
            str(run),
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert list(report["shapes"]) == ["mug"] and report["shapes"]["mug"] == 3
    # The number printed is the student's own: recompute it from the run.
    trained = TrainedStudent.load(run)
    ious = []
    for item in open_dataset("shapenetpart", sample).shapes([find_category("mug")]):
        index = point_subset(item, 2048, seed=0)
        labels = trained.labels(item.shape.select(index))
        ious.append(_naive_shape_iou(labels, item.shape.labels[index], 2))
    assert report["methods"]["student"]["categories"]["mug"] == pytest.approx(100 * np.mean(ious), abs=0.01)
    # Categories asked for that the run does not segment are said to be left out.
    args = ["eval", "--dataset", "shapenetpart", "--root", str(sample), "--run", str(run), "--no-view"]
    result = runner.invoke(app, [*args, "--categories", "mug,table", "--out", str(tmp_path / "r2")])
    assert result.exit_code == 0 and "the run segments mug alone; table not scored" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--root", "nowhere", "--predictions", "x.json"],
            "nowhere does not exist: expected a ShapeNetPart release",
        ),
        ([], "Give either --run"),
        (["--predictions", "missing.json"], "missing.json does not exist"),
    ],
)
def test_eval_errors_are_one_sentence(sample: Path, args: list[str], message: str, tmp_path: Path) -> None:
    base = ["eval", "--dataset", "shapenetpart", "--out", str(tmp_path / "r")]
    if "--root" not in args:
        base += ["--root", str(sample)]
    result = runner.invoke(app, [*base, *args])
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_predictions_missing_a_shape_are_reported(sample: Path, tmp_path: Path) -> None:
    argv = _scoring(sample, tmp_path, {"03797390/nothing": [36]})
    result = runner.invoke(app, [*argv, "--categories", "mug", "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "has no prediction for 03797390/" in result.stderr
    assert "--categories" not in result.stderr  # named already
    every = runner.invoke(app, [*argv, "--out", str(tmp_path / "r")])  # every category is scored
    assert every.exit_code == 1 and (
        "; to score only the categories it predicts, name them with --categories."
        in " ".join(every.stderr.split())
    )


def test_partnete_predictions_are_scored_with_partslip_protocol(tmp_path: Path) -> None:
    from test_eval import _partnete_shape

    root = tmp_path / "PartNetE"
    _partnete_shape(root / "data" / "test" / "Kettle" / "1", 40, np.repeat([-1, 0, 1, 2], 10))
    predictions = {"Kettle/1": np.repeat([0, 0, 1, 2], 10).tolist()}  # the unlabelled points called lid
    (tmp_path / "p.json").write_text(json.dumps(predictions))
    result = runner.invoke(
        app,
        [
            "eval",
            "--dataset",
            "partnete",
            "--root",
            str(root),
            "--predictions",
            str(tmp_path / "p.json"),
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["points"] == "all"  # PartSLIP's evaluator scores every point: the default here
    # lid: 10 / 20, handle 1, spout 1 -> (0.5 + 1 + 1) / 3.
    assert report["methods"]["predictions"]["categories"]["kettle"] == pytest.approx(100 * 2.5 / 3, abs=0.01)
    assert report["methods"]["predictions"]["part_ious"]["kettle"] == {
        "lid": 50.0,
        "handle": 100.0,
        "spout": 100.0,
    }


def test_import_keeps_dataset_ids_so_runs_and_knowledge_line_up(sample: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "import",
            "--dataset",
            "shapenetpart",
            "--root",
            str(sample),
            "--categories",
            "knife,mug",
            "--out",
            str(tmp_path / "c"),
        ],
    )
    assert result.exit_code == 0, result.output
    from partdistill.collection import Collection

    collection = Collection.open(tmp_path / "c")
    assert len(collection) == 6 and "03624134/5663637633c938d1395331ebe4786cd" in collection
    assert {r.category for r in collection} == {"knife", "mug"}
    said = " ".join(result.stdout.split())
    assert "holds shapes of 2 categories: pd teach and pd distill take one category a collection" in said
    teach = runner.invoke(app, ["teach", "--shapes", str(tmp_path / "c"), "--image-size", "64"])
    assert teach.exit_code == 1 and "holds shapes of 2 categories (knife, mug), and each shape" in " ".join(
        teach.stderr.split()
    )  # not "say which with --category", which the next refusal contradicted
    again = runner.invoke(
        app,
        [
            "import",
            "--dataset",
            "shapenetpart",
            "--root",
            str(sample),
            "--categories",
            "knife,mug",
            "--out",
            str(tmp_path / "c"),
        ],
    )
    assert again.exit_code == 0 and len(Collection.open(tmp_path / "c")) == 6  # nothing imported twice


def test_import_partnete_and_files(tmp_path: Path) -> None:
    from test_eval import _partnete_shape

    from partdistill.collection import Collection
    from partdistill.formats import write_ply
    from partdistill.shapes import Shape

    _partnete_shape(tmp_path / "PartNetE" / "data" / "test" / "Kettle" / "7", 30, np.repeat([-1, 0, 2], 10))
    result = runner.invoke(
        app,
        [
            "import",
            "--dataset",
            "partnete",
            "--root",
            str(tmp_path / "PartNetE"),
            "--out",
            str(tmp_path / "k"),
        ],
    )
    assert result.exit_code == 0, result.output
    [record] = list(Collection.open(tmp_path / "k"))
    assert (
        record.id == "Kettle/7" and record.category == "partnete/kettle" and record.part_counts == (10, 0, 10)
    )

    (tmp_path / "mine").mkdir()
    write_ply(Shape(points=np.random.default_rng(0).normal(size=(50, 3))), tmp_path / "mine" / "scan.ply")
    result = runner.invoke(
        app,
        [
            "import",
            "--dataset",
            "files",
            "--root",
            str(tmp_path / "mine"),
            "--categories",
            "chair",
            "--out",
            str(tmp_path / "f"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert Collection.open(tmp_path / "f")["scan"].category == "chair"
    bad = runner.invoke(
        app, ["import", "--dataset", "files", "--root", str(tmp_path / "mine"), "--out", str(tmp_path / "g")]
    )
    assert bad.exit_code == 1 and "needs the one category" in bad.stderr


def _score_mugs(sample: Path, tmp_path: Path, predictions: dict[str, list[int]]) -> Result:
    """`pd eval` of `predictions` on the sample's mugs, every point scored, into tmp_path/r."""
    argv = _scoring(sample, tmp_path, predictions)
    return runner.invoke(app, [*argv, "--categories", "mug", "--points", "all", "--out", str(tmp_path / "r")])


def test_labels_outside_the_category_count_as_wrong_and_are_counted(sample: Path, tmp_path: Path) -> None:
    mugs = list(open_dataset("shapenetpart", sample).shapes([find_category("mug")]))
    predictions = {item.id: _global(item, item.shape.labels) for item in mugs}
    first = mugs[0].id
    predictions[first][:3] = [999, -7, 12]  # nothing, nothing, a chair's back
    result = _score_mugs(sample, tmp_path, predictions)
    assert result.exit_code == 0, result.output
    assert f"3 labels in 1 shapes are not parts of their shape's category (e.g. {first})" in result.stdout
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["labels outside their category"] == {first: 3}
    assert report["methods"]["predictions"]["categories"]["mug"] < 100.0  # they count as wrong


def test_predictions_in_a_categorys_own_ids_are_refused_on_shapenetpart(sample: Path, tmp_path: Path) -> None:
    mugs = list(open_dataset("shapenetpart", sample).shapes([find_category("mug")]))
    result = _score_mugs(sample, tmp_path, {item.id: item.shape.labels.tolist() for item in mugs})  # 0, 1
    assert result.exit_code == 1 and not (tmp_path / "r").exists()
    said = " ".join(result.stderr.split())
    assert f"The prediction for {mugs[0].id} gives no point a part of mug (36 to 37): ShapeNetPart" in said
    assert "are scored on the collection it labelled, with --dataset collection." in said
