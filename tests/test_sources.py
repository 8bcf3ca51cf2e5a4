"""Distilling from several sources at once: their shares of the batches, the run's record, resuming."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import partdistill.distill.train as train_module
from partdistill.cli import app
from partdistill.collection import Collection
from partdistill.distill.config import DistillConfig
from partdistill.distill.data import Item, shared_batches
from partdistill.distill.sources import items_from_store, plan_sources
from partdistill.distill.train import BatchReport, Distillation
from partdistill.errors import PdError
from partdistill.knowledge.h5 import write_partdistill_h5
from partdistill.knowledge.store import KnowledgeStore
from partdistill.knowledge.units import Knowledge
from partdistill.prompts import find_category
from partdistill.teach.config import TeachConfig

runner = CliRunner()
QUICK = [
    "--epochs",
    "2",
    "--min-steps",
    "0",
    "--points",
    "128",
    "--batch-size",
    "4",
    "--image-size",
    "96",
    "--device",
    "cpu",
]


def test_shared_batches_give_each_source_its_share() -> None:
    sources = np.array([0] * 4 + [1] * 8 + [2] * 4)
    for seed in range(5):
        plan = shared_batches(sources, [1.0, 3.0, 0.5], batch_size=4, rng=np.random.default_rng(seed))
        assert len(plan) == 4 and all(len(batch) == 4 for batch in plan)
        counts = np.bincount(sources[np.concatenate(plan)], minlength=3)
        # 16 slots in shares 1 : 3 : 0.5 = 3.56 / 10.67 / 1.78: floors 3 / 10 / 1, and the two slots
        # left go to the largest remainders (0.78, 0.67).
        assert counts.tolist() == [3, 11, 2]
        source_1 = np.concatenate(plan)[sources[np.concatenate(plan)] == 1]
        assert sorted(np.bincount(source_1 - 4).tolist()) == [1, 1, 1, 1, 1, 2, 2, 2]  # all before repeats


@pytest.fixture(scope="module")
def two_collections(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("two")
    for name, seed, n in (("train", "0", "4"), ("generated", "7", "8")):
        args = ["synth", "--category", "chair", "--n", n, "--points", "400", "--seed", seed]
        assert runner.invoke(app, [*args, "--out", str(root / name)]).exit_code == 0
        assert (
            runner.invoke(
                app, ["teach", "--shapes", str(root / name), "--image-size", "96", "--sheets", "0"]
            ).exit_code
            == 0
        )
    return root / "train", root / "generated"


def test_distill_from_two_collections_in_the_stated_shares(
    two_collections: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real = train_module.make_sample

    def spy(item, n_points, rng, augmented, *rest):
        if augmented:  # a training sample (the display-only fit samples are not augmented)
            seen.append(item.id)
        return real(item, n_points, rng, augmented, *rest)

    monkeypatch.setattr(train_module, "make_sample", spy)
    train, generated = two_collections
    args = [
        "distill",
        "--shapes",
        str(train),
        "--shapes",
        str(generated),
        "--weights",
        "1,1",
        "--out",
        str(tmp_path),
    ]
    result = runner.invoke(app, [*args, *QUICK])
    assert result.exit_code == 0, result.output
    assert "sources" in result.stdout and "50%" in result.stdout
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["weights"] == [1.0, 1.0] and len(config["sources"]) == 2
    assert config["sources"][0].endswith("train/knowledge/simulated-noisy-box")
    # 12 shapes in batches of 4: 12 slots an epoch, 6 to each source although one holds twice as many.
    by_source = Counter(shape_id.split("/")[0] for shape_id in seen)
    assert by_source == {"source1": 12, "source2": 12}
    assert {shape_id.split("/", 1)[1] for shape_id in seen if shape_id.startswith("source1/")} == {
        f"chair-{i:05d}" for i in range(4)
    }


def test_without_weights_every_shape_counts_once(two_collections: tuple[Path, Path], tmp_path: Path) -> None:
    train, generated = two_collections
    args = ["distill", "--shapes", str(train), "--shapes", str(generated), "--out", str(tmp_path), *QUICK]
    assert runner.invoke(app, args).exit_code == 0
    assert "33%" in runner.invoke(app, [*args, "--resume"]).stdout  # 4 of 12 shapes


def test_a_collection_and_partdistill_h5_files_together(
    two_collections: tuple[Path, Path], tmp_path: Path
) -> None:
    train, generated = two_collections
    chair = find_category("chair")
    store = KnowledgeStore(train / "knowledge" / "simulated-noisy-box")
    for item in items_from_store(Collection.open(train), store):
        write_partdistill_h5(
            tmp_path / "h5" / "03001627" / item.id / "extracted" / "preprocess.h5",
            item.shape,
            item.knowledge,
            chair,
        )
    args = [
        "distill",
        "--knowledge",
        str(tmp_path / "h5"),
        "--shapes",
        str(generated),
        "--out",
        str(tmp_path / "run"),
    ]
    result = runner.invoke(app, [*args, *QUICK])
    assert result.exit_code == 0, result.output
    sources = json.loads((tmp_path / "run" / "config.json").read_text())["sources"]
    assert sources[0].endswith("generated/knowledge/simulated-noisy-box") and sources[1] == str(
        tmp_path / "h5"
    )


def test_knowledge_folders_are_sources_in_the_order_given(
    two_collections: tuple[Path, Path], tmp_path: Path
) -> None:
    """h5 files and a teach folder come as given (--weights follow that order), and two teach
    folders of one collection are two sources; a folder named twice is refused."""
    train, generated = two_collections
    chair = find_category("chair")
    store = KnowledgeStore(train / "knowledge" / "simulated-noisy-box")
    for item in items_from_store(Collection.open(train), store):
        path = tmp_path / "h5" / "03001627" / item.id / "extracted" / "preprocess.h5"
        write_partdistill_h5(path, item.shape, item.knowledge, chair)
    teach_folder = generated / "knowledge" / "simulated-noisy-box"
    copy = tmp_path / "g" / "knowledge" / "again"
    shutil.copytree(generated, tmp_path / "g")
    shutil.copytree(teach_folder, copy)  # a second knowledge folder of the same collection
    teach = TeachConfig()
    _, sources = plan_sources([], [tmp_path / "h5", teach_folder], None, teach)
    assert [s.label for s in sources] == [str(tmp_path / "h5"), str(teach_folder)]
    _, sources = plan_sources([], [teach_folder, tmp_path / "h5"], None, teach)
    assert [s.label for s in sources] == [str(teach_folder), str(tmp_path / "h5")]
    own = tmp_path / "g" / "knowledge" / "simulated-noisy-box"
    _, sources = plan_sources([tmp_path / "g"], [own, copy], None, teach)
    assert [s.label for s in sources] == [str(own), str(copy)]
    with pytest.raises(PdError, match=r"`knowledge` names .* twice; give each knowledge folder once"):
        plan_sources([], [teach_folder, teach_folder], None, teach)
    (tmp_path / "link").symlink_to(tmp_path / "g")
    for spelt in (tmp_path / "g" / ".." / "g", tmp_path / "link"):
        with pytest.raises(PdError, match=r"`shapes` names .* twice; give each collection once"):
            plan_sources([tmp_path / "g", spelt], [], None, teach)


def test_two_sources_resume_after_a_kill_to_the_same_weights(
    two_collections: tuple[Path, Path], tmp_path: Path
) -> None:
    items = []
    for k, folder in enumerate(two_collections):
        store = KnowledgeStore(folder / "knowledge" / "simulated-noisy-box")
        items += [
            Item(f"source{k + 1}/{i.id}", i.shape, i.knowledge, source=k)
            for i in items_from_store(Collection.open(folder), store)
        ]
    config = DistillConfig(
        category="chair",
        min_steps=0,
        epochs=3,
        batch_size=4,
        n_points=128,
        sources=("a", "b"),
        weights=(1.0, 2.0),
    )
    whole = Distillation(config, items, tmp_path / "whole")
    whole.start(resume=False)
    list(whole.run())
    killed = Distillation(config, items, tmp_path / "killed")
    killed.start(resume=False)
    for report in killed.run():
        if isinstance(report, BatchReport) and report.epoch == 2 and report.batch == 2:
            break
    resumed = Distillation(config, items, tmp_path / "killed")
    resumed.start(resume=True)
    list(resumed.run())
    for key, value in whole.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)


def test_a_weighted_source_without_units_is_one_sentence(
    two_collections: tuple[Path, Path], tmp_path: Path
) -> None:
    first, second = (
        items_from_store(
            Collection.open(folder), KnowledgeStore(folder / "knowledge" / "simulated-noisy-box")
        )
        for folder in two_collections
    )
    nothing = [Knowledge.from_units(i.shape.n_points, i.knowledge.part_names, [], [], []) for i in second]
    bare = [Item(i.id, i.shape, k, source=1) for i, k in zip(second, nothing, strict=True)]
    config = DistillConfig(
        category="chair", min_steps=0, epochs=1, n_points=64, sources=("a", "b"), weights=(1.0, 1.0)
    )
    with pytest.raises(PdError, match="None of the shapes of b has a knowledge unit"):
        Distillation(config, [*first, *bare], tmp_path / "run")
    # A share too small for one place in an epoch's batches is refused before anything is written.
    second = [Item(i.id, i.shape, i.knowledge, source=1) for i in second]
    tiny = dataclasses.replace(config, weights=(1000.0, 1.0), batch_size=2)
    with pytest.raises(PdError, match="`weights` gives b too small a share for one of the"):
        Distillation(tiny, [*first, *second], tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_stored_teach_settings_are_trusted_only_with_units(
    two_collections: tuple[Path, Path], tmp_path: Path
) -> None:
    """Finished knowledge is used as it was made, whatever today's option bounds; a folder whose run
    failed before its first unit is taught again with the settings asked for."""
    train, _ = two_collections
    finished, failed = tmp_path / "finished", tmp_path / "failed"
    shutil.copytree(train, finished)
    shutil.copytree(train, failed)
    config = finished / "knowledge" / "simulated-noisy-box" / "teach_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "image_size": 5000}))
    at = QUICK.index("--image-size")
    unsized = QUICK[:at] + QUICK[at + 2 :]  # --image-size 96 would refuse knowledge made at 5000
    result = runner.invoke(
        app, ["distill", "--shapes", str(finished), "--out", str(tmp_path / "a"), *unsized]
    )
    assert result.exit_code == 0, result.output
    store = failed / "knowledge" / "simulated-noisy-box"
    shutil.rmtree(store / "units")
    (store / "teach_config.json").write_text(json.dumps({"teacher": "simulated", "image_size": 5000}))
    result = runner.invoke(app, ["distill", "--shapes", str(failed), "--out", str(tmp_path / "b"), *QUICK])
    assert result.exit_code == 0, result.output
    assert json.loads((store / "teach_config.json").read_text())["image_size"] == 96


def test_weights_must_match_the_sources(two_collections: tuple[Path, Path], tmp_path: Path) -> None:
    train, generated = two_collections
    args = [
        "distill",
        "--shapes",
        str(train),
        "--shapes",
        str(generated),
        "--weights",
        "1,2,3",
        "--out",
        str(tmp_path / "r"),
    ]
    result = runner.invoke(app, [*args, *QUICK])
    assert result.exit_code == 1 and "3 shares for 2 sources" in result.stderr


def test_one_run_per_category_in_turn(two_collections: tuple[Path, Path], tmp_path: Path) -> None:
    train, _ = two_collections
    (tmp_path / "chair").symlink_to(train)
    args = [
        "distill",
        "--categories",
        "chair",
        "--shapes",
        str(tmp_path / "{category}"),
        "--out",
        str(tmp_path / "runs/{category}"),
    ]
    result = runner.invoke(app, [*args, *QUICK])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "runs" / "chair" / "student.json").is_file() and "1 category" in result.stdout


def test_item_ids_name_their_source_with_several_and_read_back() -> None:
    from partdistill.distill.data import item_id, source_of

    assert item_id(0, "chair-00003", 1) == "chair-00003" and source_of("chair-00003", 1) == (0, "chair-00003")
    assert item_id(1, "02691156/x", 2) == "source2/02691156/x"
    assert source_of("source2/02691156/x", 2) == (1, "02691156/x")
    for unknown in ("source3/a", "source0/a", "sourcex/a", "chair-00003"):
        assert source_of(unknown, 2) is None
