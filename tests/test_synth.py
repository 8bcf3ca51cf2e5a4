"""The `pd synth` run: labelled output, resuming after a kill, reproducibility, failures."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from partdistill.collection import Collection
from partdistill.errors import PdError
from partdistill.prompts import find_category
from partdistill.shapes import Shape
from partdistill.synth import SynthConfig, build_generator, prepare, synthesize
from partdistill.synth.base import Request
from partdistill.synth.run import CONFIG_FILE, item_seed, quality_problem


def _run(config: SynthConfig, out: Path, limit: int | None = None) -> Collection:
    collection, todo = prepare(config, out)
    records = synthesize(config, build_generator(config), collection, todo)
    list(itertools.islice(records, limit))
    return collection


def test_twenty_labelled_chairs(tmp_path: Path) -> None:
    config = SynthConfig(category="chair", n=20, n_points=1000)
    _run(config, tmp_path / "chairs")
    collection = Collection.open(tmp_path / "chairs")
    assert len(collection.ok_records) == 20
    chair = find_category("chair")
    for _, shape in collection.shapes():
        assert shape.part_names == chair.part_names and shape.category == "chair"
        assert shape.n_points == 1000 and (shape.labels >= 0).all()
    written = json.loads((tmp_path / "chairs" / CONFIG_FILE).read_text())
    assert written["category"] == "chair" and written["seed"] == 0 and written["n"] == 20


def test_killed_run_resumes_without_duplicates_and_matches_an_uninterrupted_one(tmp_path: Path) -> None:
    config = SynthConfig(category="table", n=12, n_points=500)
    _run(config, tmp_path / "killed", limit=5)  # the generator stops after 5 shapes, as if killed
    collection, todo = prepare(config, tmp_path / "killed")
    assert len(collection) == 5 and todo == list(range(5, 12))
    _run(config, tmp_path / "killed")
    _run(config, tmp_path / "whole")
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    assert sorted(p.name for p in (killed / "shapes").iterdir()) == [f"table-{i:05d}.npz" for i in range(12)]
    for name in ("manifest.json", CONFIG_FILE):
        assert (killed / name).read_bytes() == (whole / name).read_bytes()
    for file in (whole / "shapes").iterdir():
        assert (killed / "shapes" / file.name).read_bytes() == file.read_bytes()


def test_growing_n_extends_the_same_sequence(tmp_path: Path) -> None:
    small = _run(SynthConfig(category="chair", n=3, n_points=300), tmp_path / "c")
    first = small.load("chair-00001").points
    grown = _run(SynthConfig(category="chair", n=6, n_points=300), tmp_path / "c")
    assert len(grown) == 6
    np.testing.assert_array_equal(grown.load("chair-00001").points, first)


def test_other_settings_in_the_same_folder_are_refused(tmp_path: Path) -> None:
    _run(SynthConfig(category="chair", n=2, n_points=300), tmp_path / "c")
    with pytest.raises(PdError, match="seed was 0, now 1"):
        prepare(SynthConfig(category="chair", n=2, n_points=300, seed=1), tmp_path / "c")


def test_different_seeds_give_different_shapes() -> None:
    assert item_seed(0, 1) != item_seed(1, 1) and item_seed(0, 1) != item_seed(0, 2)
    assert item_seed(0, 1) == item_seed(0, 1)


class _FailsOnce:
    """A real procedural generator that raises for one request, as a model can for one prompt."""

    name = "procedural"
    uses_prompts = False

    def __init__(self, bad_seed: int, error: Exception) -> None:
        self.inner = build_generator(SynthConfig(category="chair", n=1, n_points=300))
        self.bad_seed, self.error = bad_seed, error

    def generate(self, request: Request) -> Shape:
        if request.seed == self.bad_seed:
            raise self.error
        return self.inner.generate(request)


def test_a_failed_generation_is_recorded_and_the_others_kept(tmp_path: Path) -> None:
    config = SynthConfig(category="chair", n=4, n_points=300)
    collection, todo = prepare(config, tmp_path / "c")
    failing = _FailsOnce(item_seed(0, 2), ValueError("the decoded mesh has no faces"))
    records = list(synthesize(config, failing, collection, todo))
    assert [r.ok for r in records] == [True, True, False, True]
    reopened = Collection.open(tmp_path / "c")
    assert reopened["chair-00002"].error == "ValueError: the decoded mesh has no faces"
    assert len(reopened.ok_records) == 3
    _, todo = prepare(config, tmp_path / "c")
    assert todo == []  # a recorded failure is not retried by a resumed run


@pytest.mark.parametrize(
    "error", [MemoryError(), torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")]
)
def test_running_out_of_memory_stops_the_run_and_is_not_the_shapes_failure(
    tmp_path: Path, error: Exception
) -> None:
    """The machine's memory, not the shape: recorded as the shape's failure, it was never retried."""
    config = SynthConfig(category="chair", n=4, n_points=300)
    collection, todo = prepare(config, tmp_path / "c")
    with pytest.raises(type(error)):
        list(synthesize(config, _FailsOnce(item_seed(0, 2), error), collection, todo))
    assert [record.id for record in Collection.open(tmp_path / "c")] == ["chair-00000", "chair-00001"]
    _, todo = prepare(config, tmp_path / "c")
    assert todo == [2, 3]


@pytest.mark.parametrize(
    ("points", "problem"),
    [
        (np.zeros((100, 3)), "all points coincide"),
        (np.column_stack([np.linspace(0, 1, 100), np.zeros(100), np.zeros(100)]), "a line"),
        (np.tile([[0.0, 0, 0], [1, 1, 1], [0, 1, 0]], (40, 1)), "almost no distinct points"),
    ],
)
def test_quality_filter_names_degenerate_shapes(points: np.ndarray, problem: str) -> None:
    assert problem in quality_problem(Shape(points=points))


def test_quality_filter_passes_a_real_shape(two_part_shape: Shape) -> None:
    assert quality_problem(two_part_shape) is None


def test_procedural_refuses_categories_without_a_recipe_before_starting() -> None:
    with pytest.raises(PdError, match="not 'partnete/kettle'"):
        build_generator(SynthConfig(category="kettle", n=1))


def test_seeds_other_than_0_give_ids_of_their_own(tmp_path: Path) -> None:
    zero = _run(SynthConfig(category="chair", n=2, n_points=300), tmp_path / "zero")
    one = _run(SynthConfig(category="chair", n=2, n_points=300, seed=1), tmp_path / "one")
    assert [r.id for r in zero.ok_records] == ["chair-00000", "chair-00001"]  # as they always were
    assert [r.id for r in one.ok_records] == ["chair-s1-00000", "chair-s1-00001"]


def test_a_run_begun_before_seed_ids_resumes_without_making_its_shapes_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import partdistill.synth.run as run_module

    config = SynthConfig(category="chair", n=2, n_points=300, seed=1)
    monkeypatch.setattr(
        run_module, "shape_id", lambda category, index, seed=0: f"{category.name}-{index:05d}"
    )
    _run(config, tmp_path / "c")  # as runs with seed 1 named their shapes before
    monkeypatch.undo()
    more = _run(SynthConfig(category="chair", n=3, n_points=300, seed=1), tmp_path / "c")
    assert [r.id for r in more.ok_records] == ["chair-00000", "chair-00001", "chair-s1-00002"]


def test_the_command_says_how_many_shapes_it_made_and_what_to_lower_out_of_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from partdistill.cli import app
    from partdistill.synth.procedural import ProceduralGenerator

    generate = ProceduralGenerator.generate
    argv = ["synth", "--category", "chair", "--n", "3", "--points", "300", "--out", str(tmp_path / "c")]

    def fails(error: Exception):
        def generate_or_fail(self, request: Request) -> Shape:
            if request.seed == item_seed(0, 1):
                raise error
            return generate(self, request)

        return generate_or_fail

    monkeypatch.setattr(
        ProceduralGenerator,
        "generate",
        fails(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")),
    )
    result = CliRunner().invoke(app, argv)
    assert (
        result.exit_code == 1
        and "Out of memory (2.00 GiB asked for at once); free memory and run the same command again to go on "
        "from there, or start another --out with a lower --points (now 300)."
        in (" ".join(result.stderr.split()))
    )
    monkeypatch.setattr(ProceduralGenerator, "generate", fails(ValueError("no faces")))
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 0 and "Made 1 of 2 shapes (1 failed)" in result.stdout


def test_a_collection_recording_a_setting_its_generator_ignores_still_extends(tmp_path: Path) -> None:
    """Made before such settings were refused (pd synth --model-id foo, procedural): extending it
    without them is taken, since they changed nothing."""
    from partdistill import api

    api.synth("chair", n=1, points=300, out=tmp_path / "c")
    record = json.loads((tmp_path / "c" / CONFIG_FILE).read_text())
    (tmp_path / "c" / CONFIG_FILE).write_text(json.dumps(record | {"model_id": "foo", "steps": 3}))
    assert len(api.synth("chair", n=2, points=300, out=tmp_path / "c")) == 2


@pytest.mark.parametrize("generator", ["procedural", "shap-e", "point-e"])
def test_each_generator_reads_the_model_settings_it_is_said_to_take(
    generator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry loop of TAKES: what a factory hands its generator of the model settings is
    exactly what TAKES says it takes (the others are refused by `refuse_unused`, not ignored)."""
    from partdistill.synth import GENERATORS
    from partdistill.synth.point_e import PointEGenerator
    from partdistill.synth.procedural import ProceduralGenerator
    from partdistill.synth.run import MODEL_SETTINGS, TAKES
    from partdistill.synth.shap_e import ShapEGenerator

    given = {"model_id": "some/model", "grid_size": 9, "steps": 7, "guidance": 1.5}
    handed: list[object] = []

    def capture(*args, **kwargs):
        handed.extend([*args, *kwargs.values()])

    monkeypatch.setattr(ShapEGenerator, "from_pretrained", capture)
    monkeypatch.setattr(PointEGenerator, "from_pretrained", capture)
    monkeypatch.setattr(ProceduralGenerator, "__init__", lambda self, **kwargs: capture(**kwargs))
    GENERATORS[generator](SynthConfig(category="chair", n=1, generator=generator, **given), "cpu")
    assert {name for name in MODEL_SETTINGS if given[name] in handed} == set(TAKES[generator])
