"""An offline machine: one sentence per missing model (its id, the cache, the command that fetches
it, what works without it), no stray log lines, no folder left by a failed command, and `pd info`
printing paths and commands whole."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from partdistill.cli import app
from partdistill.collection import Collection
from partdistill.errors import PdError
from partdistill.files import OutputFolder
from partdistill.prompts.user import resolve_category
from partdistill.shapes import Provenance, Shape

runner = CliRunner()
TEAPOT = 'name = "teapot"\nparts = ["lid", "spout", "handle", {name = "body", teacher = "pot body"}]\n'


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HF_HUB_OFFLINE and an empty Hugging Face cache in tmp_path: nothing can load, nothing downloads."""
    from huggingface_hub import constants

    cache = tmp_path / "hf" / "hub"
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    return cache


def test_a_missing_teacher_names_its_id_cache_command_and_what_works_offline(offline: Path) -> None:
    from partdistill.teach.teachers import TEACHERS, build_teacher
    from partdistill.teach.teachers.vlm import CLIPSEG, GROUNDING_DINO, OWLV2

    assert [TEACHERS[n].weights for n in ("grounding-dino", "owlv2", "clipseg")] == [
        GROUNDING_DINO,
        OWLV2,
        CLIPSEG,
    ]
    with pytest.raises(PdError) as caught:
        build_teacher("owlv2")
    message = str(caught.value)
    assert f"'{OWLV2}': it is not in the Hugging Face cache ({offline})" in message
    assert "HF_HUB_OFFLINE is set" in message and f"`hf download {OWLV2}`" in message
    assert "`teacher` simulated teaches shapes that carry part labels" in message
    assert "no real teacher's weights are cached here" in message
    snapshot = offline / "models--CIDAS--clipseg-rd64-refined" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")  # a download cut short: no weights yet
    (snapshot / "model.safetensors").symlink_to("../../blobs/unfinished")
    with pytest.raises(PdError, match="no real teacher's weights are cached here"):
        build_teacher("owlv2")
    (snapshot / "model.safetensors").unlink()
    (snapshot / "model.safetensors").write_bytes(b"weights")
    with pytest.raises(PdError, match="the weights of clipseg are cached here"):
        build_teacher("owlv2")


def test_clip_offline_is_one_sentence_without_a_stray_log_line(
    offline: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from partdistill.teach.teachers import build_teacher

    with caplog.at_level(logging.DEBUG), pytest.raises(PdError) as caught:
        build_teacher("clip")
    assert "`hf download timm/vit_base_patch16_clip_224.openai`" in str(caught.value)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert logging.root.manager.disable == logging.NOTSET  # logging is back as it was


def test_a_missing_generator_says_what_makes_shapes_of_the_category_offline(
    offline: Path, tmp_path: Path
) -> None:
    from partdistill.synth import SynthConfig, build_generator

    (tmp_path / "teapot.toml").write_text(TEAPOT)
    resolve_category(str(tmp_path / "teapot.toml"))
    with pytest.raises(PdError, match=r"`hf download openai/shap-e`.*`pd import --dataset files`"):
        build_generator(SynthConfig(category="teapot", n=1, generator="shap-e"))
    with pytest.raises(PdError, match="`generator` procedural makes chair shapes offline"):
        build_generator(SynthConfig(category="chair", n=1, generator="shap-e"))


def test_a_failed_teach_leaves_no_knowledge_folder(tmp_path: Path) -> None:
    collection = Collection.create(tmp_path / "c")
    collection.add(
        "x",
        Shape(
            points=np.random.default_rng(0).normal(size=(300, 3)),
            category="chair",
            provenance=Provenance("file"),
        ),
    )
    result = runner.invoke(app, ["teach", "--shapes", str(tmp_path / "c"), "--image-size", "64"])
    assert result.exit_code == 1 and "reads ground-truth part labels" in result.stderr
    assert not (tmp_path / "c" / "knowledge").exists()


def test_an_output_folder_removes_the_empty_parents_it_made(tmp_path: Path) -> None:
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError), OutputFolder(tmp_path / "kept" / "a" / "b"):
        raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"] and not any((tmp_path / "kept").iterdir())
    with pytest.raises(RuntimeError), OutputFolder(tmp_path / "kept" / "a" / "b"):
        (tmp_path / "kept" / "a" / "other").touch()  # something else lands in a parent it made
        raise RuntimeError
    assert (tmp_path / "kept" / "a" / "other").exists() and not (tmp_path / "kept" / "a" / "b").exists()


def test_info_prints_cache_paths_and_fetch_commands_whole(
    offline: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    long = offline.parent / ("a-long-folder-name-" * 4) / "hub"
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(long))
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0
    assert f"hugging face hub: {long}" in result.stdout
    assert "--teacher owlv2: google/owlv2-base-patch16-ensemble  (not cached: hf download" in result.stdout


def test_without_network_a_download_is_refused_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """huggingface_hub would retry each file for about 25 s; a Hub whose host takes no connection
    is refused before it tries, and one that does (or a proxy in the way) is left to the download."""
    import socket

    from huggingface_hub import constants

    from partdistill.weights import MissingWeights, refuse_unreachable

    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
        refuse_unreachable("the OWLv2 model", "google/owlv2-base-patch16-ensemble")  # it answers
    with pytest.raises(
        MissingWeights, match=r"'google/owlv2-base-patch16-ensemble': it is not in the Hugging"
    ):
        refuse_unreachable("the OWLv2 model", "google/owlv2-base-patch16-ensemble")  # nothing listens now
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    refuse_unreachable("the OWLv2 model", "google/owlv2-base-patch16-ensemble")  # the proxy may reach it


def test_damaged_model_files_are_one_sentence(tmp_path: Path) -> None:
    """A download cut short leaves a model whose weights file is truncated: safetensors' own error
    came through as a traceback."""
    from tiny_models import tiny_owlv2

    from partdistill.teach.teachers.vlm import Owlv2Teacher

    model, processor = tiny_owlv2()
    model.save_pretrained(tmp_path / "owlv2")
    processor.save_pretrained(tmp_path / "owlv2")
    weights = tmp_path / "owlv2" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(
        PdError, match=r"owlv2': its files in \S*owlv2 are damaged or incomplete \(SafetensorError"
    ):
        Owlv2Teacher.from_pretrained(str(tmp_path / "owlv2"))


def test_info_finds_point_e_files_under_the_names_point_e_saves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from partdistill.info import models

    monkeypatch.setenv("PD_POINT_E_CACHE", str(tmp_path))
    for name in ("base_40m_textvec.pt", "upsample_40m.pt", "ViT-L-14.pt"):  # Point-E's URLs', CLIP's
        (tmp_path / name).write_bytes(b"weights")
    rows = [row for row in models() if row.name == "--generator point-e"]
    assert [row.value for row in rows] == ["base40M-textvec", "upsample", "CLIP ViT-L/14"]
    assert all(row.note == "cached" for row in rows)


def test_another_models_files_are_refused_rather_than_left_at_random_weights(tmp_path: Path) -> None:
    """transformers loads a CLIPSeg folder as OWLv2, every tensor left random, and only logs it; and
    an OWLv2 folder whose weights file is another model's loads the same way."""
    from tiny_models import tiny_clipseg, tiny_owlv2

    from partdistill.teach.teachers.vlm import Owlv2Teacher

    for name, (model, processor) in {"clipseg": tiny_clipseg(), "owlv2": tiny_owlv2()}.items():
        model.save_pretrained(tmp_path / name)
        processor.save_pretrained(tmp_path / name)
    with pytest.raises(PdError, match=r"clipseg is a 'clipseg' model where the OWLv2 teacher needs 'owlv2'"):
        Owlv2Teacher.from_pretrained(str(tmp_path / "clipseg"))
    (tmp_path / "clipseg" / "model.safetensors").replace(tmp_path / "owlv2" / "model.safetensors")
    with pytest.raises(
        PdError, match=r"owlv2 holds no weights of the OWLv2 model \(\d+ of its \d+ tensors are missing"
    ):
        Owlv2Teacher.from_pretrained(str(tmp_path / "owlv2"))


def test_an_mm_grounding_dino_folder_is_a_grounding_dino_teacher(tmp_path: Path) -> None:
    """transformers' zero-shot detector mapping takes MM Grounding DINO, with the same processor."""
    from tiny_models import tiny_grounding_dino

    from partdistill.teach.teachers.vlm import GroundingDinoTeacher

    model, processor = tiny_grounding_dino()
    model.save_pretrained(tmp_path / "mm")
    processor.save_pretrained(tmp_path / "mm")
    config = json.loads((tmp_path / "mm" / "config.json").read_text())
    config |= {"model_type": "mm-grounding-dino", "architectures": ["MMGroundingDinoForObjectDetection"]}
    (tmp_path / "mm" / "config.json").write_text(json.dumps(config))
    teacher = GroundingDinoTeacher.from_pretrained(str(tmp_path / "mm"))
    assert type(teacher.model).__name__ == "MMGroundingDinoForObjectDetection"


def test_an_id_that_is_neither_a_folder_nor_a_hub_id_is_said_to_be_so(offline: Path) -> None:
    from partdistill.weights import MissingWeights

    for given in ("/no/such/folder", "not a valid id!!"):
        said = str(MissingWeights("the OWLv2 model", given))
        assert f"from '{given}': it is neither a folder here nor a Hugging Face model id" in said
        assert "hf download" not in said
    assert "`hf download google/owlv2-base-patch16-ensemble`" in str(
        MissingWeights("the OWLv2 model", "google/owlv2-base-patch16-ensemble")
    )


def test_clip_ids_open_clip_does_not_know_are_said_to_be_so(offline: Path, tmp_path: Path) -> None:
    from partdistill.teach.teachers import build_teacher

    cases = {
        "ViT-B-16:nosuchtag": r"open_clip has no weights 'nosuchtag' for ViT-B-16 \(its tags: openai, ",
        "NoSuchArch:openai": r"open_clip has no model 'NoSuchArch'; give `model_id` as ARCH:TAG",
        f"ViT-B-16:{tmp_path / 'junk.pt'}": r"junk\.pt\): the file is no open_clip checkpoint of ViT-B-16",
        "hf-hub:org/clip": r"open_clip model hf-hub:org/clip 'org/clip': it is not in the Hugging Face cache",
    }
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    for model_id, said in cases.items():
        with pytest.raises(PdError, match=said):
            build_teacher("clip", model_id=model_id)


def test_clip_names_are_read_as_open_clip_reads_them(offline: Path) -> None:
    """ViT-B/16, OpenAI and laion2b-s34b-b88k are open_clip's names for ViT-B-16, openai and
    laion2b_s34b_b88k: they get as far as the weights, which are not cached here."""
    from partdistill.teach.teachers import build_teacher

    for model_id in ("ViT-B/16:OpenAI", "ViT-B-16:laion2b-s34b-b88k"):
        with pytest.raises(PdError, match=r"it is not in the Hugging Face cache"):
            build_teacher("clip", model_id=model_id)
