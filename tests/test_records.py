"""Typed record fields: each field is what it should be, or one sentence naming the file and the field."""

from __future__ import annotations

import pytest

from partdistill.errors import PdError
from partdistill.records import Fields


def test_fields_read_what_they_should() -> None:
    fields = Fields(
        {
            "id": "chair-1",
            "n": 3,
            "x": 0.5,
            "on": True,
            "names": ["a", "b"],
            "counts": [1, 2],
            "sub": {"k": "v"},
            "parts": ["a", {"name": "b"}],
            "subs": [{"k": "a"}, {"k": "b"}],
        },
        "m.json",
    )
    assert fields.text("id") == "chair-1" and fields.whole("n", at_least=0) == 3
    assert fields.number("x", at_most=1) == 0.5 and fields.flag("on") is True
    assert fields.texts("names", unique=True) == ("a", "b") and fields.wholes("counts") == (1, 2)
    assert fields.record("sub").text("k") == "v"
    assert fields.entries("parts", min_items=1) == ("a", {"name": "b"})
    assert [sub.text("k") for sub in fields.records("subs")] == ["a", "b"]
    assert fields.text("absent", None) is None and fields.wholes("absent", ()) == ()


@pytest.mark.parametrize(
    ("data", "read", "message"),
    [
        ({"file": 5}, lambda f: f.text("file"), r"m.json: 'file' must be a non-empty text"),
        ({"n": float("inf")}, lambda f: f.whole("n"), r"'n' must be a whole number, not inf"),
        ({"n": -5}, lambda f: f.whole("n", at_least=0), r"'n' must be a whole number of at least 0"),
        ({"n": True}, lambda f: f.whole("n"), r"'n' must be a whole number, not True"),
        ({"n": 2.0}, lambda f: f.whole("n"), r"'n' must be a whole number, not 2.0"),
        ({"error": False}, lambda f: f.text("error", None), r"'error' must be a non-empty text"),
        ({"names": ["a", "a"]}, lambda f: f.texts("names", unique=True), r"distinct"),
        ({"names": [1, 2]}, lambda f: f.texts("names"), r"'names' must be a list of at most"),
        ({"names": ["a"] * 20_001}, lambda f: f.texts("names"), r"'names' must be a list of at most 10,000"),
        ({"counts": [1, "2"]}, lambda f: f.wholes("counts"), r"'counts' must be a list"),
        ({"x": float("nan")}, lambda f: f.number("x"), r"'x' must be a finite number"),
        ({}, lambda f: f.text("id"), r"m.json has no 'id'"),
        ({"sub": 3}, lambda f: f.record("sub"), r"m.json: 'sub' is not an object"),
        ({"parts": []}, lambda f: f.entries("parts", min_items=1), r"'parts' must be a list of 1 to 10,000"),
        ({"parts": "ab"}, lambda f: f.entries("parts"), r"'parts' must be a list of 0 to 10,000 entries"),
        ({"subs": {"k": 1}}, lambda f: f.records("subs"), r"'subs' must be a list of 0 to 10,000 entries"),
        ({"subs": [{}, 3]}, lambda f: f.records("subs"), r"m.json: 'subs' entry 1 is not an object"),
        ({"x": 1, "y": 2}, lambda f: f.only({"x"}), r"unknown keys \['y'\]"),
    ],
)
def test_a_wrong_field_is_one_sentence_naming_it(data: dict, read, message: str) -> None:
    with pytest.raises(PdError, match=message):
        read(Fields(data, "m.json"))


def test_a_record_must_be_an_object() -> None:
    with pytest.raises(PdError, match=r"m.json is not a manifest entry \(a JSON object\): it holds a list"):
        Fields([1], "m.json", "a manifest entry")
