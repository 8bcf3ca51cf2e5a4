"""Shap-E and Point-E: the real code paths with a tiny random Shap-E, and real Point-E outputs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from shared_data import shared
from tiny_models import marching_cubes_table, sphere_field, tiny_shap_e_pipeline

import partdistill.api as api
from partdistill.errors import MissingDependencyError, PdError
from partdistill.formats import read_shape
from partdistill.progress import Quiet
from partdistill.prompts import find_category
from partdistill.shapes import Frame, Provenance
from partdistill.synth.base import Request
from partdistill.synth.point_e import PointEGenerator, shape_from_point_e
from partdistill.synth.shap_e import ShapEGenerator, shape_from_shap_e_mesh


@pytest.fixture(scope="module")
def shap_e() -> ShapEGenerator:
    return ShapEGenerator(tiny_shap_e_pipeline(), n_points=1500, grid_size=24, steps=2)


def test_marching_cubes_table_makes_a_closed_sphere() -> None:
    """The table the tiny pipeline needs is a real one: a sphere comes out closed, outward, right-sized."""
    from diffusers.pipelines.shap_e.renderer import MeshDecoder

    decoder = MeshDecoder()
    decoder.cases.copy_(marching_cubes_table()[0])
    decoder.masks.copy_(marching_cubes_table()[1])
    field = torch.tensor(sphere_field(40, 0.6), dtype=torch.float32)
    out = decoder(field, torch.tensor([-1.0, -1.0, -1.0]), torch.tensor([2.0, 2.0, 2.0]))
    mesh = trimesh.Trimesh(out.verts.numpy(), out.faces.numpy())
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume == pytest.approx(4 / 3 * np.pi * 0.6**3, rel=0.02)  # positive: normals point out


def test_tiny_shap_e_generates_a_coloured_shape_end_to_end(shap_e: ShapEGenerator) -> None:
    chair = find_category("chair")
    shape = shap_e.generate(Request(chair, "a red chair", seed=3))
    assert shape.n_points == 1500 and shape.mesh is not None and len(shape.mesh.faces) > 0
    assert shape.colors is not None and shape.normals is not None and shape.labels is None
    assert shape.provenance == Provenance("shap-e", prompt="a red chair", seed=3, model_id="openai/shap-e")
    again = shap_e.generate(Request(chair, "a red chair", seed=3))
    np.testing.assert_array_equal(shape.points, again.points)
    other = shap_e.generate(Request(chair, "a red chair", seed=4))
    assert not np.array_equal(shape.points, other.points)


def test_shap_e_mesh_is_turned_y_up_with_its_colours() -> None:
    # A triangle in the z-up frame standing along +z, red at the top vertex.
    verts = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    faces = torch.tensor([[0, 1, 2]])
    channels = {"R": torch.tensor([0.0, 0.0, 1.0]), "G": torch.zeros(3), "B": torch.zeros(3)}
    shape = shape_from_shap_e_mesh(
        verts, faces, channels, n_points=500, seed=0, provenance=Provenance("shap-e")
    )
    np.testing.assert_allclose(shape.mesh.vertices, [[0, 0, 0], [1, 0, 0], [0, 2, 0]], atol=1e-6)
    top = shape.points[:, 1] > 1.8
    assert shape.colors[top, 0].min() > 0.85 and shape.colors[shape.points[:, 1] < 0.2, 0].max() < 0.15


def test_empty_shap_e_mesh_is_a_clear_failure() -> None:
    with pytest.raises(PdError, match="empty mesh"):
        shape_from_shap_e_mesh(
            torch.zeros(0, 3),
            torch.zeros(0, 3, dtype=torch.long),
            None,
            n_points=10,
            seed=0,
            provenance=Provenance("x"),
        )


def _run_pd(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = os.environ | {
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
        "PD_POINT_E_CACHE": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "-m", "partdistill.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )


@pytest.mark.parametrize("model", [None, "someone/not-a-model"])
def test_shap_e_without_weights_ends_with_one_sentence(tmp_path: Path, model: str | None) -> None:
    args = ["synth", "--category", "chair", "--n", "2", "--generator", "shap-e", "--out", "x"]
    result = _run_pd([*args, *(["--model-id", model] if model else [])], tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: Could not load the Shap-E model")
    assert (
        "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 3
    )  # one wrapped sentence


def test_point_e_adapter_on_real_point_e_output() -> None:
    data = np.load(shared("point_e_samples", "pc_corgi.npz"))
    channels = {c: data[c] for c in "RGB"}
    shape = shape_from_point_e(data["coords"], channels, provenance=Provenance("point-e"), category="corgi")
    assert shape.n_points == 4096 and shape.labels is None
    np.testing.assert_allclose(shape.colors, np.stack([data[c] for c in "RGB"], axis=1), atol=1e-6)
    # Point-E is z-up: the corgi's height (its z) becomes y, its length (y) runs along z.
    np.testing.assert_allclose(shape.points[:, 1], data["coords"][:, 2], atol=1e-6)
    np.testing.assert_allclose(shape.points[:, 2], -data["coords"][:, 1], atol=1e-6)


def test_a_real_point_e_file_is_read_as_a_shape_file_upright_with_up_z() -> None:
    path = shared("point_e_samples", "pc_corgi.npz")
    data = np.load(path)
    adapted = shape_from_point_e(
        data["coords"], {c: data[c] for c in "RGB"}, provenance=Provenance("point-e")
    )
    shape = read_shape(path).rotated(Frame(up="z"))  # what pd predict/import --up z read
    np.testing.assert_allclose(shape.points, adapted.points, atol=1e-6)
    np.testing.assert_array_equal(shape.colors, adapted.colors)


def test_point_e_adapter_needs_colour_channels() -> None:
    with pytest.raises(PdError, match="no B channel"):
        shape_from_point_e(
            np.zeros((4, 3)), {"R": np.zeros(4), "G": np.zeros(4)}, provenance=Provenance("point-e")
        )


def test_point_e_without_its_package_says_how_to_install() -> None:
    try:
        import point_e  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("point_e is installed here")
    with pytest.raises(MissingDependencyError, match=r"pip install -e '\.\[point-e\]'"):
        PointEGenerator.from_pretrained()


def test_importing_point_e_clouds_without_their_up_says_so(tmp_path: Path) -> None:
    class Notes(Quiet):
        def __init__(self) -> None:
            self.said: list[str] = []

        def note(self, text: str) -> None:
            self.said.append(text)

    samples = shared("point_e_samples")
    for up, warned in (("y", True), ("z", False)):
        notes = Notes()
        out = tmp_path / f"up-{up}"
        api.import_shapes(
            "files", samples, out=out, categories="dog", parts="head,body,leg,tail", up=up, progress=notes
        )
        said = [text for text in notes.said if "clouds Point-E saved, which are z-up" in text]
        assert bool(said) == warned, notes.said
    assert said == [] and notes.said[-1].startswith("Turned the shapes from their frame (up z")
