"""A user's own shapes as they come: every way a file carries part labels (docs/your-shapes.md), the
frame they are in (--up, --front), and what an offline machine says about missing weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from plyfile import PlyData, PlyElement
from typer.testing import CliRunner

import partdistill.api as api
from partdistill.cli import app
from partdistill.collection import Collection
from partdistill.errors import PdError
from partdistill.formats import read_labelled, write_npz, write_ply
from partdistill.prompts import catalog, find_category
from partdistill.prompts.user import resolve_category
from partdistill.shapes import AXES, Frame, Provenance

runner = CliRunner()
TEAPOT_PARTS = ("lid", "spout", "handle", "body")
TEAPOT = 'name = "teapot"\nparts = ["lid", "spout", "handle", {name = "body", teacher = "pot body"}]\n'


def _teapot(folder: Path) -> str:
    """The teapot category file, in `folder` (one teapot per process: its body taught as "pot body")."""
    (folder / "teapot.toml").write_text(TEAPOT)
    return str(folder / "teapot.toml")


def _cloud(n: int = 120) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)


def _numbered_ply(
    path: Path, labels: np.ndarray, prop: str = "label", comments: tuple[str, ...] = ()
) -> None:
    """A PLY point cloud with an integer per-point property `prop` holding `labels`."""
    points = _cloud(len(labels))
    vertex = np.empty(len(labels), dtype=[("x", "f4"), ("y", "f4"), ("z", "f4"), (prop, "i4")])
    vertex["x"], vertex["y"], vertex["z"] = points.T
    vertex[prop] = labels
    PlyData([PlyElement.describe(vertex, "vertex")], comments=list(comments)).write(str(path))


def _import(root: Path, out: Path, *options: str) -> tuple[Collection, str]:
    result = runner.invoke(
        app, ["import", "--dataset", "files", "--root", str(root), "--out", str(out), *options]
    )
    assert result.exit_code == 0, result.output
    return Collection.open(out), " ".join(result.stdout.split())


# --- labels ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("prop", ["label", "part", "part_id", "semantic_seg"])
def test_numbered_ply_labels_are_taken_in_the_order_of_parts(tmp_path: Path, prop: str) -> None:
    (tmp_path / "in").mkdir()
    labels = np.arange(120) % 2
    _numbered_ply(tmp_path / "in" / "d1.ply", labels, prop)
    collection, said = _import(
        tmp_path / "in", tmp_path / "c", "--categories", "dumbbell", "--parts", "bar,weight"
    )
    shape = collection.load("d1")
    assert shape.part_names == ("bar", "weight") and shape.category == "dumbbell"
    np.testing.assert_array_equal(shape.labels, labels)
    assert (
        f"Labels of d1: labels 0-1 of its '{prop}' property taken as bar, weight (the parts in order)" in said
    )


def test_numbered_labels_without_a_0_are_taken_with_a_word_about_counting_from_1(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    _numbered_ply(tmp_path / "in" / "d1.ply", 1 + np.arange(120) % 2, "label")  # 1, 2: bar missing
    collection, said = _import(
        tmp_path / "in", tmp_path / "c", "--categories", "barbell", "--parts", "bar,weight,hook"
    )
    np.testing.assert_array_equal(collection.load("d1").labels, 1 + np.arange(120) % 2)
    assert "taken as bar, weight, hook (the parts in order); no point has label 0, so bar is missing" in said


def test_a_category_file_gives_the_order_and_more_labels_than_parts_are_refused_per_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "in").mkdir()
    _numbered_ply(tmp_path / "in" / "good.ply", np.arange(120) % 4)
    _numbered_ply(tmp_path / "in" / "one-based.ply", np.arange(120) % 4 + 1)  # labels 1..4
    collection, said = _import(tmp_path / "in", tmp_path / "c", "--categories", _teapot(tmp_path))
    np.testing.assert_array_equal(collection.load("good").labels, np.arange(120) % 4)
    assert collection.load("good").part_names == TEAPOT_PARTS
    assert collection.load("one-based").labels is None  # imported, unlabelled, and said why
    assert "Labels of one-based: its 'label' property numbers 5 parts and teapot has 4" in said
    assert "no labels taken (no point has label 0: if the file counts from 1, renumber it from 0)" in said


def test_files_imported_into_a_collection_take_its_category_by_default_or_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for folder in ("in", "more", "again"):
        (tmp_path / folder).mkdir()
    _numbered_ply(tmp_path / "in" / "first.ply", np.arange(120) % 4)
    _numbered_ply(tmp_path / "more" / "second.ply", np.arange(120) % 4)
    _numbered_ply(tmp_path / "again" / "third.ply", np.arange(120) % 4)
    _import(tmp_path / "in", tmp_path / "c", "--categories", _teapot(tmp_path))
    monkeypatch.setattr(catalog, "_USER", {})  # as in a new process: only the collection knows teapot
    _import(tmp_path / "more", tmp_path / "c")  # the collection's own category, a user category
    monkeypatch.setattr(catalog, "_USER", {})
    collection, _ = _import(tmp_path / "again", tmp_path / "c", "--categories", "teapot")  # by its name
    for shape_id in ("first", "second", "third"):
        assert collection[shape_id].category == "teapot"
        assert collection.load(shape_id).part_names == TEAPOT_PARTS
    refused = runner.invoke(
        app, ["import", "--dataset", "files", "--root", str(tmp_path / "in"), "--out", str(tmp_path / "d")]
    )
    assert (
        refused.exit_code == 1
        and "Importing files needs the one category they show, named with --categories" in refused.stderr
    )


def test_python_takes_a_category_file_as_a_path(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    _numbered_ply(tmp_path / "in" / "good.ply", np.arange(120) % 4)
    teapot = Path(_teapot(tmp_path))
    collection = api.import_shapes("files", tmp_path / "in", out=tmp_path / "c", categories=teapot)
    assert collection.load("good").part_names == TEAPOT_PARTS
    summary = api.teach(collection, category=teapot, image_size=64, sheets=0, device="cpu")
    assert len(summary.units) == 1


def test_named_ply_labels_are_matched_by_name(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    meta = {"part_names": ["Spout", "pot_body", "steam"]}  # case, teacher words, and a stranger
    _numbered_ply(
        tmp_path / "in" / "t.ply", np.arange(120) % 3, comments=(f"partdistill {json.dumps(meta)}",)
    )
    collection, said = _import(tmp_path / "in", tmp_path / "c", "--categories", _teapot(tmp_path))
    labels = collection.load("t").labels
    np.testing.assert_array_equal(labels, np.array([1, 3, -1])[np.arange(120) % 3])
    assert "Spout as spout, pot_body as body from its 'label' property" in said
    assert "not taken, as no part of teapot is named so: steam (40 points)" in said


def test_shape_files_and_their_meshes_are_matched_by_name(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    box = trimesh.creation.box()
    from partdistill.formats import shape_from_mesh

    shape = shape_from_mesh(
        box,
        n_points=200,
        seed=0,
        provenance=Provenance("test"),
        face_labels=np.arange(12) % 2,
        part_names=("body", "lid"),  # the other order than the category's
    )
    write_npz(shape, tmp_path / "in" / "s.npz")
    collection, _ = _import(tmp_path / "in", tmp_path / "c", "--categories", _teapot(tmp_path))
    back = collection.load("s")
    np.testing.assert_array_equal(back.labels, np.array([3, 0])[shape.labels])
    np.testing.assert_array_equal(back.mesh.face_labels, np.array([3, 0])[np.arange(12) % 2])


def _teapot_glb(path: Path) -> None:
    """Nodes named after parts (by teacher words, under a parent, with numbers) and one that is none."""
    scene = trimesh.Scene()
    body = trimesh.creation.box((1, 1, 1))
    lid = trimesh.creation.icosphere(radius=0.4)
    lid.apply_translation([0, 0.8, 0])
    knob = trimesh.creation.box((0.1, 0.1, 0.1))
    knob.apply_translation([0, 1.25, 0])
    stand = trimesh.creation.box((1.2, 0.05, 1.2))
    stand.apply_translation([0, -0.55, 0])
    scene.add_geometry(body, node_name="Pot Body", geom_name="Cube.001")
    scene.add_geometry(lid, node_name="Lid.001", geom_name="Sphere")
    scene.add_geometry(knob, node_name="Cube.004", geom_name="Cube.004", parent_node_name="Lid.001")
    scene.add_geometry(stand, node_name="Plane", geom_name="Plane")
    scene.export(str(path))


def test_glb_node_and_mesh_names_label_the_pieces(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    _teapot_glb(tmp_path / "in" / "pot.glb")
    shape, found = read_labelled(tmp_path / "in" / "pot.glb")
    assert found is not None and found.where == "its node and mesh names"
    collection, said = _import(tmp_path / "in", tmp_path / "c", "--categories", _teapot(tmp_path))
    back = collection.load("pot")
    np.testing.assert_array_equal(back.points, shape.points)  # the same points as an unlabelled read
    y = back.points[:, 1]
    assert set(back.labels[y > 1.2].tolist()) == {0}  # the knob under the lid node is lid
    assert set(back.labels[(y > -0.45) & (y < 0.35)].tolist()) == {3}  # the body, taught as "pot body"
    assert set(back.labels[y < -0.52].tolist()) == {-1}  # the stand names no part
    assert "Lid.001 as lid" in said and "Pot Body as body" in said and "Plane (" in said
    assert back.mesh.face_labels is not None and set(back.mesh.face_labels.tolist()) == {-1, 0, 3}


def test_files_without_labels_and_names_that_match_nothing_are_said_so(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    trimesh.creation.box().export(tmp_path / "in" / "plain.stl")
    _teapot_glb(tmp_path / "in" / "pot.glb")
    collection, said = _import(
        tmp_path / "in", tmp_path / "c", "--categories", "dumbbell", "--parts", "bar,weight"
    )
    assert collection.load("pot").labels is None and collection.load("plain").labels is None
    assert "Labels of plain: no labels." in said
    assert "Labels of pot: its node and mesh names (" in said and "name none of dumbbell's parts" in said


def test_part_names_match_case_separators_numbers_plurals_and_teacher_words(tmp_path: Path) -> None:
    chair = find_category("chair")
    teapot = resolve_category(_teapot(tmp_path))
    for name, part in [("Leg.001", "leg"), ("legs", "leg"), ("chair_leg_front", "leg"), ("SeatPad", "seat")]:
        assert chair.part_names[chair.part_named([name])] == part
    assert chair.part_named(["back seat"]) is None  # two parts: neither
    assert chair.part_named(["Cube.002", "leg"]) == 2  # the first name that matches
    assert teapot.part_named(["teapot_lid"]) == 0


# --- the frame --------------------------------------------------------------------------------------


def test_frames_rotate_into_the_catalogues_and_back() -> None:
    points = _cloud(50)
    for up in AXES:
        for front in AXES:
            if up.lstrip("-") == front.lstrip("-"):
                with pytest.raises(PdError, match="front"):
                    Frame(up, front)
                continue
            frame = Frame(up, front)
            rotation = frame.rotation()
            assert np.isclose(np.linalg.det(rotation), 1.0)  # a rotation, never a mirror
            np.testing.assert_array_equal(rotation @ _axis(up), [0, 1, 0])
            np.testing.assert_array_equal(rotation @ _axis(front), [1, 0, 0])
            np.testing.assert_array_equal(frame.from_catalogue(frame.to_catalogue(points)), points)
    with pytest.raises(PdError, match="up"):
        Frame("w", "x")
    assert Frame("+z", "x") == Frame("z", "x")


def _axis(name: str) -> np.ndarray:
    from partdistill.shapes import axis_vector

    return axis_vector(name)


ZUP = Frame(up="z", front="-y")


@pytest.fixture(scope="module")
def chairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three procedural chairs, a one-epoch student of them, and z-up/ a z-up copy of the chairs as
    PLY files (their normals and labels with them)."""
    root = tmp_path_factory.mktemp("frames")
    synth = ["synth", "--category", "chair", "--n", "3", "--points", "400", "--out", str(root / "c")]
    assert runner.invoke(app, synth).exit_code == 0
    quick = ["--epochs", "1", "--min-steps", "0", "--points", "128", "--batch-size", "3"]
    quick += ["--image-size", "64", "--device", "cpu"]
    result = runner.invoke(app, ["distill", "--shapes", str(root / "c"), "--out", str(root / "run"), *quick])
    assert result.exit_code == 0, result.output
    (root / "z-up").mkdir()
    for record, shape in Collection.open(root / "c").shapes():
        turned = shape.replace(
            points=ZUP.from_catalogue(shape.points),
            normals=ZUP.from_catalogue(shape.normals),
            mesh=None,
            point_faces=None,
        )
        write_ply(turned, root / "z-up" / f"{record.id}.ply")
    return root


def test_import_up_z_gives_the_same_shapes_as_the_y_up_original(chairs: Path, tmp_path: Path) -> None:
    imported, said = _import(
        chairs / "z-up", tmp_path / "c", "--categories", "chair", "--up", "z", "--front", "-y"
    )
    assert "Turned the shapes from their frame (up z, front -y)" in said
    original = Collection.open(chairs / "c")
    for record, shape in original.shapes():
        back = imported.load(record.id)
        np.testing.assert_array_equal(back.points, shape.points)
        np.testing.assert_array_equal(back.normals, shape.normals)
        np.testing.assert_array_equal(back.labels, shape.labels)
        assert back.provenance.frame == ZUP  # recorded, so it can be undone
        np.testing.assert_array_equal(
            back.provenance.frame.from_catalogue(back.points), ZUP.from_catalogue(shape.points)
        )
    assert imported[record.id].provenance.frame == ZUP  # the manifest reads it back too


def test_predict_up_z_gives_the_same_labels_and_writes_the_inputs_frame(chairs: Path, tmp_path: Path) -> None:
    original = [str(chairs / "c" / "shapes" / f"chair-0000{i}.npz") for i in range(3)]
    turned = [str(chairs / "z-up" / f"chair-0000{i}.ply") for i in range(3)]
    args = ["--run", str(chairs / "run"), "--device", "cpu"]
    assert runner.invoke(app, ["predict", *original, *args, "--out", str(tmp_path / "y")]).exit_code == 0
    result = runner.invoke(
        app, ["predict", *turned, *args, "--out", str(tmp_path / "z"), "--up", "z", "--front", "-y"]
    )
    assert result.exit_code == 0, result.output
    for i in range(3):
        y = json.loads((tmp_path / "y" / f"chair-0000{i}.json").read_text())
        z = json.loads((tmp_path / "z" / f"chair-0000{i}.json").read_text())
        assert y["labels"] == z["labels"] and z["frame"] == {"up": "z", "front": "-y"}
        assert z["input_labels"] == y["input_labels"]  # the file's labels, matched by name
        written = PlyData.read(str(tmp_path / "z" / f"chair-0000{i}.ply"))["vertex"]
        source = PlyData.read(turned[i])["vertex"]
        np.testing.assert_array_equal(written["z"], source["z"])  # the input's own frame
    page = (tmp_path / "z" / "view.html").read_text()
    assert "ground truth" in page


def test_import_refuses_a_frame_for_a_benchmark_and_a_front_along_up(tmp_path: Path) -> None:
    from partdistill import api

    with pytest.raises(PdError, match="`up` and `front` are for your own files"):
        api.import_shapes("shapenetpart", tmp_path, out=tmp_path / "c", up="z")
    with pytest.raises(PdError, match="`front` z lies along `up` -z"):
        api.import_shapes("files", tmp_path, out=tmp_path / "c", categories="chair", up="-z", front="z")
    assert not (tmp_path / "c").exists()


def test_rotation_augmentation_turns_about_the_up_axis_and_is_off_by_default(
    chairs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import partdistill.distill.train as train_module
    from partdistill.distill.config import DistillConfig
    from partdistill.distill.data import augment

    points = _cloud(64)
    plain = augment(points, np.random.default_rng(3))
    assert np.array_equal(augment(points, np.random.default_rng(3), rotate=False), plain)
    rng = np.random.default_rng(3)
    angle = rng.uniform(0.0, 2 * np.pi)
    turned = points @ np.array(
        [[np.cos(angle), 0, -np.sin(angle)], [0, 1, 0], [np.sin(angle), 0, np.cos(angle)]]
    )
    np.testing.assert_allclose(turned[:, 1], points[:, 1])  # about +y: heights stay
    np.testing.assert_allclose(augment(points, np.random.default_rng(3), rotate=True), augment(turned, rng))
    assert DistillConfig(category="chair").rotate is False
    assert json.loads((chairs / "run" / "config.json").read_text())["rotate"] is False
    quick = ["--epochs", "1", "--min-steps", "0", "--points", "64", "--batch-size", "3", "--device", "cpu"]
    argv = ["distill", "--shapes", str(chairs / "c"), "--out", str(tmp_path / "r"), "--rotate", *quick]
    turned_in_training: list[bool] = []  # each training sample's rotate argument
    real = train_module.make_sample

    def spy(item, n_points, rng, augmented, rotate=False):
        if augmented:
            turned_in_training.append(rotate)
        return real(item, n_points, rng, augmented, rotate)

    monkeypatch.setattr(train_module, "make_sample", spy)
    assert runner.invoke(app, argv).exit_code == 0
    assert json.loads((tmp_path / "r" / "config.json").read_text())["rotate"] is True
    assert turned_in_training and all(turned_in_training)


def test_many_names_of_one_part_are_said_together(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    scene = trimesh.Scene()
    for i in range(5):
        leg = trimesh.creation.box((0.1, 1, 0.1))
        leg.apply_translation([i, 0, 0])
        scene.add_geometry(leg, node_name=f"Leg.00{i}", geom_name=f"Cube.00{i}")
    scene.add_geometry(trimesh.creation.box((5, 0.1, 1)), node_name="seat", geom_name="Plane")
    scene.export(str(tmp_path / "in" / "bench.glb"))
    collection, said = _import(tmp_path / "in", tmp_path / "c", "--categories", "chair")
    assert "seat, Leg.000, Leg.001, Leg.002 and 2 more as leg from its node and mesh names" in said
    assert set(collection.load("bench").labels.tolist()) == {1, 2}


def test_file_names_that_are_no_safe_ids_give_ids_made_from_them(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for name in ("my chair.ply", "stühl 2.ply", "-scan.ply", "plain.ply", "стул.ply", "стол.ply"):
        _numbered_ply(tmp_path / "in" / name, np.zeros(120, dtype=np.int64))
    collection, said = _import(tmp_path / "in", tmp_path / "c", "--categories", "chair")
    ids = sorted(record.id for record in collection)
    assert ids[:4] == ["my_chair", "plain", "scan", "shape-09721b"] and ids[4:] == ["shape-b7723c", "stuhl_2"]
    assert collection.load("stuhl_2").provenance.source.endswith("stühl 2.ply")
    assert (
        "Ids made from file names that are not safe ids: -scan.ply as scan, my chair.ply as my_chair, "
        "stühl 2.ply as stuhl_2, стол.ply as shape-09721b, стул.ply as shape-b7723c." in said
    )
    (tmp_path / "in" / "my_chair.ply").write_bytes((tmp_path / "in" / "plain.ply").read_bytes())
    result = runner.invoke(
        app,
        ["import", "--dataset", "files", "--root", str(tmp_path / "in"), "--out", str(tmp_path / "d")]
        + ["--categories", "chair"],
    )
    assert result.exit_code == 1
    assert "holds 2 files that would be shape my_chair (my chair.ply, my_chair.ply)" in " ".join(
        result.output.split()
    )


def test_a_run_scored_on_a_collection_of_another_category_is_one_sentence(
    chairs: Path, tmp_path: Path
) -> None:
    mugs = ["synth", "--category", "mug", "--n", "1", "--points", "200", "--out", str(tmp_path / "mugs")]
    assert runner.invoke(app, mugs).exit_code == 0
    argv = ["eval", "--dataset", "collection", "--root", str(tmp_path / "mugs"), "--run", str(chairs / "run")]
    result = runner.invoke(app, [*argv, "--out", str(tmp_path / "e")])
    said = " ".join(result.stderr.split())
    assert result.exit_code == 1 and said.endswith(
        "holds no chair shapes to score the run on (it segments chair)."
    )


def test_a_run_scored_on_a_benchmark_without_its_category_says_whose_category_it_is(
    chairs: Path, tmp_path: Path
) -> None:
    from test_eval import _partnete_shape

    _partnete_shape(tmp_path / "PartNetE" / "data" / "test" / "Kettle" / "1", 40, np.repeat([0, 1, 2, 0], 10))
    argv = [
        "eval",
        "--dataset",
        "partnete",
        "--root",
        str(tmp_path / "PartNetE"),
        "--run",
        str(chairs / "run"),
    ]
    result = runner.invoke(app, [*argv, "--out", str(tmp_path / "e")])
    said = " ".join(result.stderr.split())
    assert result.exit_code == 1 and said.endswith(
        "(it segments chair): chair is a shapenetpart category; score the run on shapenetpart, or distil a "
        "partnete one."
    )  # not "check --split": no split of PartNetE holds it
