"""Category catalogues and prompts, checked against the real dataset files where they are present."""

from __future__ import annotations

import json

import pytest
from shared_data import shared

from partdistill.errors import PdError
from partdistill.prompts import (
    Category,
    Part,
    PromptWords,
    find_category,
    part_prompt,
    partnete_categories,
    prompt_space,
    shapenetpart_categories,
    text_prompt,
)
from partdistill.prompts.catalog import template_slots


def test_shapenetpart_has_16_categories_and_global_ids_0_to_49_in_order() -> None:
    categories = shapenetpart_categories()
    assert len(categories) == 16
    ids = [part.global_id for category in categories for part in category.parts]
    assert ids == list(range(50))
    counts = [len(c.parts) for c in categories]
    assert counts == [4, 2, 2, 4, 4, 3, 3, 2, 4, 2, 6, 2, 3, 3, 3, 3]


def test_shapenetpart_synsets_match_the_release_file() -> None:
    lines = shared("shapenetpart_sample", "synsetoffset2category.txt").read_text().split("\n")
    release = dict(line.split("\t") for line in lines if line.strip())
    assert {c.title: c.synset for c in shapenetpart_categories()} == release


def test_partnete_matches_the_published_meta_file() -> None:
    meta = json.loads(shared("partnete", "PartNetE_meta.json").read_text())
    ours = {c.title: list(c.part_names) for c in partnete_categories()}
    assert ours == meta
    assert len(ours) == 45 and sum(len(p) for p in ours.values()) == 103


def test_part_prompts_use_partdistill_words() -> None:
    def prompts(name: str, query: str) -> list[str]:
        category = find_category(name)
        return [part_prompt(category, p, query) for p in range(len(category.parts))]

    assert prompts("chair", "part") == ["back", "seat pad", "leg", "armrest"]
    assert prompts("chair", "part-of-category")[1] == "seat pad of a chair"
    assert prompts("airplane", "part-of-category")[-1] == "engine or frame of an airplane"
    assert prompts("partnete/kettle", "part") == ["lid", "handle", "spout"]


def test_category_lookup_by_name_synset_and_vocabulary() -> None:
    assert find_category("Chair") is find_category("03001627")
    assert find_category("chair").dataset == "shapenetpart"
    assert find_category("partnete/Chair").part_names == ("arm", "back", "leg", "seat", "wheel")
    assert find_category("coffee machine").title == "CoffeeMachine"


def test_unknown_category_suggests_the_closest() -> None:
    with pytest.raises(PdError, match=r"Unknown category 'chiar'\. Did you mean 'chair'"):
        find_category("chiar")
    with pytest.raises(PdError, match="Unknown category vocabulary"):
        find_category("modelnet/chair")
    with pytest.raises(PdError) as refused:  # a benchmark's vocabulary holds no category of the user's
        find_category("partnete/kettel")
    said = str(refused.value)
    assert said.startswith(
        "Unknown category 'partnete/kettel'. Did you mean 'kettle'? partnete's categories: "
    )
    assert "define your own" not in said


def test_500_chair_prompts_are_500_different_sentences() -> None:
    chair = find_category("chair")
    prompts = [text_prompt(chair, i, seed=0) for i in range(500)]
    assert len(set(prompts)) == 500
    assert all(p.startswith(("a ", "an ")) and "  " not in p for p in prompts)
    assert not any(" a a" in p or "a antique" in p for p in prompts)


def test_prompts_are_seeded_and_stable_as_a_collection_grows() -> None:
    chair = find_category("chair")
    assert [text_prompt(chair, i, 1) for i in range(20)] == [text_prompt(chair, i, 1) for i in range(20)]
    assert [text_prompt(chair, i, 1) for i in range(20)] != [text_prompt(chair, i, 2) for i in range(20)]


@pytest.mark.parametrize(
    "category", [*shapenetpart_categories(), *partnete_categories()], ids=lambda c: c.name
)
def test_every_category_has_hundreds_of_prompts(category) -> None:
    space = prompt_space(category)
    assert len(space) >= 500 and len(set(space)) == len(space)


@pytest.mark.parametrize(
    "category", [*shapenetpart_categories(), *partnete_categories()], ids=lambda c: c.key
)
def test_every_category_comes_back_from_its_record(category: Category) -> None:
    assert Category.from_record(category.to_record()) == category


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": 123}, r"m\.json: 'name' must be a non-empty text"),
        ({"name": "../x"}, r"the category name '\.\./x' must be lower-case"),
        ({"dataset": "modelnet"}, r"'dataset' must be one of shapenetpart, partnete, user"),
        ({"noun": ["a"]}, r"'noun' must be a non-empty text"),
        ({"parts": {"a": 1}}, r"'parts' must be a list of 1 to 256 entries"),
        ({"parts": [{"name": "a", "teacher": 5}]}, r"m\.json: part 1: 'teacher' must be a non-empty text"),
        ({"parts": [{"name": "a", "id": "12"}]}, r"part 1: 'id' must be a whole number"),
        ({"parts": ["a", "a"]}, r"the part names repeat"),
        ({"words": {"templates": ["a {noun!r}"]}}, r"may use only \{noun\}.*each bare"),
        ({"words": {"colours": ["red"]}}, r"unknown keys \['colours'\]"),
        ({"words": {"styles": [str(i) for i in range(101)]}}, r"'styles' must be a list of at most 100"),
    ],
)
def test_a_wrong_category_record_is_one_sentence(change: dict, message: str) -> None:
    record = {**find_category("chair").to_record(), "dataset": "user", "name": "seat-thing", **change}
    with pytest.raises(PdError, match=message):
        Category.from_record(record, "m.json")


@pytest.mark.parametrize(
    "template",
    [
        "{noun:>100000000}",
        "{noun.__class__.__mro__}",
        "{noun[0]}",
        "{noun!r}",
        "{0}",
        "{}",
        "{colour}",
        "a {noun",
    ],
)
def test_a_template_fills_only_bare_slots(template: str) -> None:
    with pytest.raises(PdError, match="may use only"):
        template_slots(template, "t.toml")
    assert template_slots("{feature}: a {noun} of {{braces}} {style} {noun}") == ("noun", "style", "feature")


def test_prompts_are_the_ones_earlier_releases_made() -> None:
    """Filling each template only for the slots it uses keeps the prompts and their order, so a
    collection made before keeps growing with the same prompts."""
    chair = find_category("chair")
    teapot = Category(
        "teapot", "teapot", "user", None, "teapot", (Part("lid", "lid"), Part("spout", "spout"))
    )
    assert len(prompt_space(chair)) == 2112 and len(prompt_space(teapot)) == 864
    assert [text_prompt(chair, i, 0) for i in range(3)] == [
        "a 3D model of a lounge wooden chair",
        "an antique armchair on a swivel base",
        "a rocking fabric armchair with a tall back",
    ]
    assert [text_prompt(teapot, i, 0) for i in range(3)] == [
        "an industrial metal teapot with a lid",
        "a 3D model of a classic red teapot",
        "a minimalist wooden teapot with a lid",
    ]


def test_prompts_past_the_bound_are_refused_before_they_are_made() -> None:
    words = PromptWords(
        styles=tuple(f"s{i}" for i in range(100)), materials=tuple(f"m{i}" for i in range(100))
    )
    vast = Category("vast", "vast", "user", None, "vast", (Part("a", "a"),), words)
    with pytest.raises(
        PdError,
        match=r"The category 'vast': its prompt words make 101,800 text-to-3D prompts, more than the 25,000",
    ):
        prompt_space(vast)
