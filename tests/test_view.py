"""pd view's pages, opened in a real headless browser with no network: drawn, named, offline."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest
from browser import dom, pixels_near, screenshot
from typer.testing import CliRunner

from partdistill.cli import app
from partdistill.files import OutputFolder
from partdistill.formats import read_shape
from partdistill.palette import part_colors

runner = CliRunner()
QUICK = [
    "--epochs",
    "2",
    "--min-steps",
    "0",
    "--points",
    "256",
    "--batch-size",
    "4",
    "--image-size",
    "96",
    "--device",
    "cpu",
]


@pytest.fixture(scope="module")
def chairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("view")
    assert (
        runner.invoke(
            app, ["synth", "--category", "chair", "--n", "4", "--points", "3000", "--out", str(root / "c")]
        ).exit_code
        == 0
    )
    assert (
        runner.invoke(
            app, ["distill", "--shapes", str(root / "c"), "--out", str(root / "run"), *QUICK]
        ).exit_code
        == 0
    )
    return root


def _parts(chairs: Path, shape: str = "chair-00000") -> tuple[str, ...]:
    """The parts a shape has (a chair may have no armrests)."""
    labelled = read_shape(chairs / "c" / "shapes" / f"{shape}.npz")
    return tuple(labelled.part_names[p] for p in sorted(set(labelled.labels.tolist())))


def _check(page: Path, tmp_path: Path, parts: tuple[str, ...]) -> None:
    """The page draws the shape in the parts' colours, names the parts in its legend, and fetches
    nothing from the network."""
    text = page.read_text()
    assert not re.search(r"<script[^>]+src=[\"']https?:", text), (
        "the page must not load scripts from the network"
    )
    image = screenshot(page, tmp_path)
    colors = part_colors(list(range(4)))
    drawn = [pixels_near(image, tuple(int(c) for c in color)) for color in colors]
    assert sum(n > 30 for n in drawn) >= 2, f"too few pixels in the part colours: {drawn}"
    document = dom(page, tmp_path)
    assert "legendtext" in document and all(f">{part}<" in document for part in parts)


def test_a_shape_file(chairs: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["view", str(chairs / "c" / "shapes" / "chair-00000.npz"), "--out", str(tmp_path / "one.html")]
    )
    assert result.exit_code == 0, result.output
    _check(tmp_path / "one.html", tmp_path, _parts(chairs))
    first = (tmp_path / "one.html").read_bytes()
    runner.invoke(
        app, ["view", str(chairs / "c" / "shapes" / "chair-00000.npz"), "--out", str(tmp_path / "one.html")]
    )
    assert (tmp_path / "one.html").read_bytes() == first  # same inputs, same page
    # A copy of a page pd wrote, where no record says pd wrote it there, is the user's: they may
    # have edited it (the page is HTML, the copy kept pd's marks).
    shape = str(chairs / "c" / "shapes" / "chair-00000.npz")
    copy = tmp_path / "copies" / "one.html"
    copy.parent.mkdir()
    copy.write_bytes(first.replace(b"<title>", b"<title>my notes: "))
    refused = runner.invoke(app, ["view", shape, "--out", str(copy)])
    assert refused.exit_code == 1 and "one.html exists and pd view did not write it" in refused.stderr
    assert copy.read_bytes() == first.replace(b"<title>", b"<title>my notes: ")
    # Nor is the user's file that took the place of a page pd wrote.
    (tmp_path / "one.html").write_text("<p>mine</p>")
    refused = runner.invoke(app, ["view", shape, "--out", str(tmp_path / "one.html")])
    assert refused.exit_code == 1 and "one.html has changed since pd wrote it" in refused.stderr
    assert (tmp_path / "one.html").read_text() == "<p>mine</p>"


def test_a_collection_with_a_shape_picker(chairs: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["view", str(chairs / "c"), "--out", str(tmp_path / "all.html"), "--points", "1000"]
    )
    assert result.exit_code == 0 and "4 menu entries" in result.stdout
    text = (tmp_path / "all.html").read_text()
    assert all(f"chair-0000{i}" in text for i in range(4)) and "showing 1,000 of 3,000 points" in text
    _check(tmp_path / "all.html", tmp_path, _parts(chairs))


def test_a_knowledge_folder_by_view_and_lifted(chairs: Path, tmp_path: Path) -> None:
    store = chairs / "c" / "knowledge" / "simulated-noisy-box"
    result = runner.invoke(app, ["view", str(store), "--out", str(tmp_path / "k.html"), "--limit", "1"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "k.html").read_text()
    assert "direct lifting (all views)" in text and "view 9" in text
    _check(tmp_path / "k.html", tmp_path, ("back", "seat", "leg"))


def test_predictions_beside_the_truth(chairs: Path, tmp_path: Path) -> None:
    inputs = [str(chairs / "c" / "shapes" / f"chair-0000{i}.npz") for i in (0, 1)]
    result = runner.invoke(
        app, ["predict", *inputs, "--run", str(chairs / "run"), "--out", str(tmp_path / "p")]
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / "p" / "view.html").read_text()
    assert "ground truth" in text and "(mIoU " in text
    _check(tmp_path / "p" / "view.html", tmp_path, ("back", "seat", "leg"))
    again = runner.invoke(app, ["view", str(tmp_path / "p")])  # pd view may replace pd predict's page
    assert again.exit_code == 0 and (tmp_path / "p" / "view.html").read_text() == text


def test_an_evaluation_worst_first(chairs: Path, tmp_path: Path) -> None:
    args = ["eval", "--dataset", "collection", "--root", str(chairs / "c"), "--run", str(chairs / "run")]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "e")])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "e" / "report.json").read_text())  # one's own shapes: no paper's numbers
    assert (
        record["published"] == {} and record["split"] is None and "16" not in record["protocol_description"]
    )
    page = tmp_path / "e" / "view.html"
    scores = [float(s) for s in re.findall(r"\(mIoU (\d+\.\d)\)", page.read_text())]
    assert len(set(scores)) <= 4 and scores[0] == min(scores)  # the menu opens on the worst shape
    _check(page, tmp_path, ("back", "seat", "leg"))
    again = runner.invoke(app, ["view", str(tmp_path / "e"), "--out", str(tmp_path / "again.html")])
    assert again.exit_code == 0 and (tmp_path / "again.html").stat().st_size > 0


def test_a_tta_run_and_its_predictions_folder(chairs: Path, tmp_path: Path) -> None:
    run = tmp_path / "tta"
    argv = ["distill", "--shapes", str(chairs / "c"), "--out", str(run), "--mode", "tta", *QUICK]
    assert runner.invoke(app, argv).exit_code == 0
    choice = json.loads((run / "choice.json").read_text())
    for folder in (run, run / "predictions"):
        result = runner.invoke(app, ["view", str(folder)])
        assert result.exit_code == 0 and "4 menu entries" in result.stdout, result.output
        text = (folder / "view.html").read_text()
        assert f"handed over ({choice['labels']})" in text and "direct lifting" in text and "student" in text
        assert "ground truth" in text and "(mIoU " in text  # procedural chairs carry their labels
        assert html.escape(choice["reason"], quote=False) in text  # the choice and why, in the title
        assert f"<title>labels of {html.escape(str(run))}" in text
    student = runner.invoke(app, ["view", str(chairs / "run"), "--out", str(tmp_path / "pre.html")])
    assert student.exit_code == 0 and "the student of" in (tmp_path / "pre.html").read_text()
    assert "not handed over yet" not in (tmp_path / "pre.html").read_text()
    _check(run / "view.html", tmp_path, ("back", "seat", "leg"))
    # Stopped during its held-out check: a student, no labels handed over yet; the page says so.
    (run / "choice.json").unlink()
    assert runner.invoke(app, ["view", str(run), "--out", str(tmp_path / "stopped.html")]).exit_code == 0
    assert (
        "its labels are not handed over yet: pd distill --resume finishes the run"
        in (tmp_path / "stopped.html").read_text()
    )


def test_pages_can_be_turned_off_and_bad_paths_are_one_sentence(chairs: Path, tmp_path: Path) -> None:
    args = [
        "eval",
        "--dataset",
        "collection",
        "--root",
        str(chairs / "c"),
        "--run",
        str(chairs / "run"),
        "--no-view",
    ]
    assert runner.invoke(app, [*args, "--out", str(tmp_path / "e")]).exit_code == 0
    assert not (tmp_path / "e" / "view.html").exists()
    result = runner.invoke(app, ["view", str(tmp_path)])
    assert result.exit_code == 1 and "none of what pd view shows" in result.stderr
    unfinished = tmp_path / "unfinished"  # a run killed before its end: config.json, no student.json
    unfinished.mkdir()
    shutil.copy(chairs / "run" / "config.json", unfinished / "config.json")
    result = runner.invoke(app, ["view", str(unfinished)])
    assert result.exit_code == 1 and "is a pd distill run that has not finished" in result.stderr
    with OutputFolder(unfinished):  # as the pd distill training it holds it
        result = runner.invoke(app, ["view", str(unfinished)])
    assert result.exit_code == 1 and "is being written by another pd process" in result.stderr


def test_names_with_quotes_and_markup_show_as_written(tmp_path: Path) -> None:
    # plotly's labels are a small HTML: '&' and '<' must be escaped, quotes must not (they showed
    # as &quot;), and a part named like markup shows as text.
    import numpy as np

    from partdistill.view import Entry, Panel, page_html

    points = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)
    panel = Panel('"cap" & <b>', points, np.arange(60) % 2)
    entry = Entry('it\'s "mine"', (panel,), ("a&amp;b</script>", "seat"))
    (tmp_path / "page.html").write_text(page_html([entry], 'scan "7" & co'))
    document = dom(tmp_path / "page.html", tmp_path)
    assert 'scan "7" &amp; co: it\'s "mine"' in document and "&amp;quot;" not in document
    assert '"cap" &amp; &lt;b&gt;' in document and ">a&amp;amp;b&lt;/script&gt;<" in document
    # The menu's label too: a name like <b>x</b> showed in bold there.
    entries = [Entry("<b>bold</b> & co", (panel,), ("a", "b")), Entry("two", (panel,), ("a", "b"))]
    (tmp_path / "menu.html").write_text(page_html(entries, "t"))
    menu = re.findall(r"updatemenu-item-text[^>]*>(.*?)</text>", dom(tmp_path / "menu.html", tmp_path))
    assert menu[:1] == ["&lt;b&gt;bold&lt;/b&gt; &amp; co"]
