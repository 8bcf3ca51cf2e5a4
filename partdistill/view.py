"""Interactive 3D pages of shapes, knowledge and predictions: one self-contained HTML file each.

A page is a plotly figure in its offline mode: plotly's JavaScript comes from the plotly package
installed with partdistill and is embedded in the page, so it opens from disk with no network
(plotly rather than hand-written three.js: its WebGL scatter plots give orbit, zoom, a legend
that shows and hides parts, and pickers, with nothing of ours to maintain in JavaScript).

What a page shows is a list of `Entry`s, one picked at a time from a menu (a shape, a view of
its knowledge, a shape of an evaluation, worst first). An entry has one to three side-by-side
`Panel`s (ground truth beside predictions), each a cloud of points coloured by part, with the
part names in the legend. Clouds above `BUDGET` points are subsampled for display (the page says
so), which keeps a page of many large shapes responsive.
"""

from __future__ import annotations

import html
import itertools
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partdistill.files import write_bytes
from partdistill.knowledge.units import Knowledge, vote
from partdistill.palette import part_colors
from partdistill.shapes import Shape

BUDGET = 20_000  # points drawn per panel at most
NO_PART = "no part"


@dataclass(frozen=True)
class Panel:
    """One cloud in an entry.

    Attributes:
        title: its caption ("ground truth", "student").
        points: [N,3] float32 coordinates (ShapeNet's frame: +y up).
        labels: [N] int64 part of each point, -1 for none.
    """

    title: str
    points: np.ndarray
    labels: np.ndarray


@dataclass(frozen=True)
class Entry:
    """One choice of a page's menu: a caption and its panels (all entries have as many).

    Attributes:
        label: what the menu says ("chair-00003", "view 4", "02691156/1a04... 43.2").
        panels: the side-by-side clouds.
        part_names: what the panels' labels mean (part i is named part_names[i]).
        note: a line shown under the title when this entry is picked (e.g. about subsampling).
    """

    label: str
    panels: tuple[Panel, ...]
    part_names: tuple[str, ...]
    note: str = ""


def subsampled(
    points: np.ndarray, labels: np.ndarray, budget: int = BUDGET
) -> tuple[np.ndarray, np.ndarray, str]:
    """The points and labels to draw (a fixed random subset above `budget`) and a note saying so."""
    if len(points) <= budget:
        return points, labels, ""
    keep = np.sort(np.random.default_rng(0).choice(len(points), budget, replace=False))
    return points[keep], labels[keep], f"showing {budget:,} of {len(points):,} points"


def shape_entry(label: str, shape: Shape, budget: int = BUDGET) -> Entry:
    """A shape coloured by its labels (grey where it has none)."""
    labels = shape.labels if shape.labels is not None else np.full(shape.n_points, -1)
    points, labels, note = subsampled(shape.points, labels, budget)
    panel = Panel("parts" if shape.labels is not None else "no labels", points, labels)
    return Entry(label, (panel,), shape.part_names, note)


def knowledge_entries(label: str, shape: Shape, knowledge: Knowledge, budget: int = BUDGET) -> list[Entry]:
    """A shape's knowledge: the direct-lifting vote over all views, then each view's units alone
    (each point in the part of its most confident unit of that view; grey where none covers it)."""
    index = np.arange(shape.n_points)
    if shape.n_points > budget:
        index = np.sort(np.random.default_rng(0).choice(shape.n_points, budget, replace=False))
    note = f"showing {budget:,} of {shape.n_points:,} points" if len(index) < shape.n_points else ""
    points, names = shape.points[index], knowledge.part_names
    lifted = Panel("direct lifting", points, vote(knowledge)[index])
    entries = [Entry(f"{label}: direct lifting (all views)", (lifted,), names, note)]
    units = knowledge.unit_of_entry()
    scores, views = knowledge.entry_scores(), knowledge.views[units]
    for view in sorted(set(knowledge.views.tolist())):
        mine = np.flatnonzero(views == view)
        order = mine[np.lexsort((-scores[mine], knowledge.indices[mine]))]  # by point, best unit first
        first = np.ones(len(order), dtype=bool)
        first[1:] = knowledge.indices[order][1:] != knowledge.indices[order][:-1]
        parts = np.full(shape.n_points, -1)
        parts[knowledge.indices[order[first]]] = knowledge.parts[units[order[first]]]
        n_units = int((knowledge.views == view).sum())
        title = f"view {view}" if view >= 0 else "units of unknown views"
        panel = Panel(title, points, parts[index])
        entries.append(Entry(f"{label}: {title} ({n_units} units)", (panel,), names, note))
    return entries


def page_html(entries: Sequence[Entry], title: str) -> str:
    """The whole page: a figure with a menu over `entries` and a legend of their parts."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not entries:
        raise ValueError("a page needs at least one entry")
    n_panels = len(entries[0].panels)
    figure = make_subplots(
        rows=1,
        cols=n_panels,
        specs=[[{"type": "scene"}] * n_panels],
        subplot_titles=[_text(panel.title) for panel in entries[0].panels],
        horizontal_spacing=0.01,
    )
    most = max(len(entry.part_names) for entry in entries)
    colors = [f"rgb({r},{g},{b})" for r, g, b in part_colors(np.arange(most)).tolist()]
    owner: list[int] = []  # the entry of each trace
    for e, entry in enumerate(entries):
        for p, panel in enumerate(entry.panels):
            for part in sorted(set(panel.labels.tolist())):
                chosen = panel.labels == part
                name = entry.part_names[part] if 0 <= part < len(entry.part_names) else NO_PART
                figure.add_trace(
                    go.Scatter3d(
                        x=panel.points[chosen, 0],
                        y=panel.points[chosen, 2],  # plotly's z is up; ShapeNet's up is y
                        z=panel.points[chosen, 1],
                        mode="markers",
                        marker={
                            "size": 2 if part >= 0 else 1.5,
                            "color": colors[part] if part >= 0 else "rgb(200,200,200)",
                        },
                        name=_text(name),
                        legendgroup=name,
                        showlegend=p == 0,
                        visible=e == 0,
                        hovertemplate=f"{_text(name)}<extra></extra>",
                    ),
                    row=1,
                    col=p + 1,
                )
                owner.append(e)
    buttons = [
        {
            "label": _text(entry.label),
            "method": "update",
            "args": [
                {"visible": [o == e for o in owner]},
                {"title.text": _title(title, entry), **_panel_titles(entry)},
            ],
        }
        for e, entry in enumerate(entries)
    ]
    scene = {
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "zaxis": {"visible": False},
        "aspectmode": "data",
        "camera": {"eye": {"x": 1.6, "y": 1.6, "z": 1.0}},
    }
    figure.update_scenes(**scene)
    figure.update_layout(
        title={
            "text": _title(title, entries[0]),
            "x": 0.01,
            "y": 0.98,
            "yref": "container",
            "yanchor": "top",
        },
        height=720,
        margin={"l": 0, "r": 0, "t": 120, "b": 0},
        legend={"title": {"text": "parts"}, "itemsizing": "constant"},
        updatemenus=[
            {
                "buttons": buttons,
                "direction": "down",
                "x": 0.0,
                "xanchor": "left",
                "y": 1.06,
                "yanchor": "bottom",
                "showactive": True,
            }
        ],
    )
    # A fixed div id: plotly draws a random one, and the same inputs should give the same page.
    page = figure.to_html(
        include_plotlyjs=True, full_html=True, config={"displaylogo": False}, div_id="pd-view"
    )
    # plotly writes no <title>: the browser's tab and history would show the file name alone.
    return page.replace("<head>", f"<head><title>{html.escape(title)}</title>", 1)


def _text(text: str) -> str:
    """`text` as plotly shows it literally: its labels are a small HTML (<br>, <sup>, entities),
    so '&' and '<' are escaped; quotes are not, which plotly would show as &quot;."""
    return html.escape(text, quote=False)


def _title(title: str, entry: Entry) -> str:
    note = f"<br><sup>{_text(entry.note)}</sup>" if entry.note else ""
    return f"{_text(title)}: {_text(entry.label)}{note}"


def _panel_titles(entry: Entry) -> dict[str, str]:
    """Layout updates that caption each panel for `entry` (make_subplots put the captions in annotations)."""
    return {f"annotations[{p}].text": _text(panel.title) for p, panel in enumerate(entry.panels)}


def write_page(path: str | Path, page: Page) -> Path:
    """Write `page` to `path` (atomically); returns it."""
    write_bytes(path, page_html(page.entries, page.title).encode())
    return Path(path)


# --- what `pd view` can open -------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """Everything a page shows: its menu entries and its title."""

    entries: list[Entry]
    title: str


COMPARISON = "view-shapes.npz"  # what pd eval keeps of its worst shapes, for its page


def page_for(path: Path, limit: int = 30, budget: int = BUDGET) -> Page:
    """The page for a shape file, a collection, a knowledge folder, a `pd predict` output folder, a
    `pd distill` run (or its `--mode tta` predictions/ folder) or a `pd eval` report folder; at most
    `limit` shapes (menus of shapes) and `budget` points each."""
    from partdistill.errors import PdError

    page = _page_for(path, limit, budget)
    if not page.entries:
        raise PdError(f"{path} has no shapes to show yet.")
    return page


def _page_for(path: Path, limit: int, budget: int) -> Page:
    from partdistill.errors import PdError
    from partdistill.formats import READABLE_SUFFIXES, read_shape

    if path.is_file():
        if path.suffix.lower() not in READABLE_SUFFIXES:
            raise PdError(f"{path} is no shape file pd view can show ({', '.join(READABLE_SUFFIXES)}).")
        shape = read_shape(path)
        return Page([shape_entry(path.name, shape, budget)], shape.category or path.stem)
    if not path.is_dir():
        raise PdError(
            f"{path} is neither a file nor a folder." if path.exists() else f"{path} does not exist."
        )
    if (path / COMPARISON).is_file():
        from partdistill.files import inside

        return _comparison_page(inside(path, COMPARISON), limit, budget)
    if (path / "inputs.json").is_file():
        return _predictions_page(path, limit, budget)
    if (path / "config.json").is_file() and (path / "student.json").is_file():
        return _run_page(path, limit, budget)
    if path.name == "predictions" and (path.parent / "choice.json").is_file():  # TTA's labels
        return _run_page(path.parent, limit, budget)
    if (path / "teach_config.json").is_file():
        return _knowledge_page(path, limit, budget)
    if (path / "manifest.json").is_file():
        return _collection_page(path, limit, budget)
    from partdistill.distill.train import holds_run
    from partdistill.files import OutputFolder

    if holds_run(path):  # one without student.json: being trained, or stopped before its end
        OutputFolder(path).refuse_held(reading=True)
        raise PdError(
            f"{path} is a pd distill run that has not finished; pd view shows it once it has (pd distill "
            "--resume continues it)."
        )
    raise PdError(
        f"{path} is none of what pd view shows: a shape file, a collection, a knowledge folder "
        "(<collection>/knowledge/<name>), a pd predict output, a pd distill run (or its predictions/) "
        "or a pd eval report."
    )


def _collection_page(root: Path, limit: int, budget: int) -> Page:
    from partdistill.collection import Collection

    collection = Collection.open(root)
    records = collection.ok_records[:limit]
    entries = [shape_entry(record.id, collection.load(record), budget) for record in records]
    more = (
        f" (the first {limit} of {len(collection.ok_records)})" if len(collection.ok_records) > limit else ""
    )
    return Page(entries, f"{root.name}{more}")


def _knowledge_page(store_root: Path, limit: int, budget: int) -> Page:
    from partdistill.collection import Collection
    from partdistill.knowledge.store import KnowledgeStore

    store = KnowledgeStore(store_root)
    collection = Collection.open(store.collection_root)
    entries: list[Entry] = []
    taught = (record for record in collection.ok_records if store.current(record, collection))
    shown = list(itertools.islice(taught, limit))
    for record in shown:
        shape, knowledge = collection.load(record), store.load(record.id)
        knowledge.require_points(shape.n_points, record.id)
        entries += knowledge_entries(record.id, shape, knowledge, budget)
    return Page(entries, f"knowledge {store_root.name} of {collection.root.name}")


def _predictions_page(folder: Path, limit: int, budget: int) -> Page:
    """A pd predict folder: each input's prediction, beside its own labels where pd predict kept
    them. Only files inside `folder` are read, never the inputs that inputs.json names."""
    from partdistill.errors import PdError
    from partdistill.files import inside, read_json
    from partdistill.folders import INPUTS_FILE
    from partdistill.formats import read_shape
    from partdistill.metrics import shapenetpart_shape_iou
    from partdistill.records import Fields
    from partdistill.shapes import Frame, ShapeError, whole_numbers

    listing = inside(folder, INPUTS_FILE)
    inputs = read_json(listing, "the inputs of a pd predict run")
    rows = []
    for name in list(inputs)[:limit]:
        result = inside(folder, f"{name}.json", str(listing))
        record = read_json(result, "a pd predict result")
        predicted = read_shape(inside(folder, f"{name}.ply", str(listing)))
        part_names = Fields(record, str(result), "a pd predict result").texts("part_names")
        try:
            labels = whole_numbers(record["labels"], "its labels")
            if labels.ndim != 1:
                raise ValueError(f"labels of shape {labels.shape}, not one per point")
            truth = record.get("input_labels")
            truth = None if truth is None else whole_numbers(truth, "its input labels")
            _check_row(predicted.points, [] if truth is None else [truth], [labels], len(part_names))
            points = predicted.points
            if "frame" in record:  # the input's own frame: shown turned upright
                points = Frame.from_dict(record["frame"], f"{result}: 'frame'").to_catalogue(points)
        except (KeyError, TypeError, ValueError, OverflowError, ShapeError) as error:
            raise PdError(f"{result} is not a pd predict result ({error}).") from error
        score = None if truth is None else shapenetpart_shape_iou(labels, truth, len(part_names))
        rows.append((name, points, truth, {"prediction": labels}, score, part_names))
    return Page(_comparison_entries(rows, budget, folder), f"predictions in {folder}")


def _run_page(run: Path, limit: int, budget: int) -> Page:
    """A pd distill run's labels of the shapes it distilled on, worst first where they carry labels:
    in TTA mode those it handed over beside the student's and direct lifting's (-1, grey: no unit
    covers the point), with the choice and its reason in the title; otherwise the student's."""
    from partdistill.distill.choose import CHOICE_FILE
    from partdistill.distill.few import FROM_GENERATED
    from partdistill.distill.trained import TrainedStudent, distilled_shapes, load_labels
    from partdistill.files import inside, read_json
    from partdistill.metrics import shapenetpart_shape_iou
    from partdistill.records import Fields

    part_names, shapes = distilled_shapes(run, limit)
    tta = inside(run, CHOICE_FILE).is_file()
    if tta:
        choice = inside(run, CHOICE_FILE)
        record = Fields(read_json(choice, "the choice of a TTA run"), str(choice))
        handed, reason = record.text("labels"), record.text("reason", "")
        whose = {"student": "the student's", "lifting": "direct lifting's"}.get(
            handed, "the generated shapes' student's"
        )
        title = f"labels of {run}: {whose} handed over ({reason})" if reason else f"labels of {run}"
    else:
        student = TrainedStudent.load(run)
        title = f"the student of {run} on the shapes it distilled on"
        if read_json(inside(run, "config.json"), "a pd distill run's settings").get("mode") == "tta":
            title += " (its labels are not handed over yet: pd distill --resume finishes the run)"
    rows = []
    for shape_id, shape in shapes:
        if tta:
            methods = {
                f"handed over ({handed})": load_labels(run, "predictions", shape_id, shape.n_points),
                "student": load_labels(run, "student", shape_id, shape.n_points),
                "direct lifting": load_labels(run, "lifted", shape_id, shape.n_points),
            }
            if inside(run, FROM_GENERATED).is_dir():  # pd distill --with
                methods["generated shapes' student"] = load_labels(
                    run, FROM_GENERATED, shape_id, shape.n_points
                )
        else:
            methods = {"student": student.labels(shape)}
        truth = shape.labels if shape.part_names == part_names else None
        first = next(iter(methods.values()))
        score = None if truth is None else shapenetpart_shape_iou(first, truth, len(part_names))
        rows.append((shape_id, shape.points, truth, methods, score, part_names))
    return Page(_comparison_entries(rows, budget, run), title)


def _comparison_page(path: Path, limit: int, budget: int) -> Page:
    """A pd eval report's worst shapes, ground truth beside each method, worst first."""
    from partdistill.errors import PdError

    try:
        with np.load(path, allow_pickle=False) as data:
            methods = [str(m) for m in data["methods"]]
            rows = []
            for i, shape_id in enumerate(data["ids"][:limit]):
                predictions = {m: data[f"s{i}_{k}"] for k, m in enumerate(methods)}
                names = tuple(str(p) for p in data[f"s{i}_parts"])
                score = float(data["scores"][i])
                points, truth = data[f"s{i}_points"], data[f"s{i}_truth"]
                rows.append((str(shape_id), points, truth, predictions, score, names))
    except (
        KeyError,
        ValueError,
        TypeError,
        IndexError,
        EOFError,
        MemoryError,
        zipfile.BadZipFile,
        zlib.error,
    ) as error:
        raise PdError(f"{path} is not what pd eval keeps for its page ({error}).") from error
    return Page(_comparison_entries(rows, budget, path), f"worst shapes of {path.parent.name}")


def _comparison_entries(rows: list[tuple], budget: int, source: Path) -> list[Entry]:
    """Entries of (id, points, truth or None, {method: labels}, shape mIoU or None, part names),
    worst first; one PdError naming `source` where a row's labels do not fit its points."""
    from partdistill.errors import PdError

    for shape_id, points, truth, predictions, _, part_names in rows:
        try:
            _check_row(points, [] if truth is None else [truth], list(predictions.values()), len(part_names))
        except ValueError as error:
            raise PdError(f"{source}: the labels of {shape_id} do not fit its points ({error}).") from error
    rows = sorted(rows, key=lambda row: (row[4] is None, row[4] if row[4] is not None else 0.0))
    entries = []
    for shape_id, points, truth, predictions, score, part_names in rows:
        index = np.arange(len(points))
        if len(points) > budget:
            index = np.sort(np.random.default_rng(0).choice(len(points), budget, replace=False))
        note = f"showing {budget:,} of {len(points):,} points" if len(index) < len(points) else ""
        panels = [] if truth is None else [Panel("ground truth", points[index], truth[index])]
        panels += [Panel(method, points[index], labels[index]) for method, labels in predictions.items()]
        label = shape_id if score is None else f"{shape_id}  (mIoU {100 * score:.1f})"
        entries.append(Entry(label, tuple(panels), part_names, note))
    return entries


def _check_row(points: np.ndarray, truths: list, predictions: list, n_parts: int) -> None:
    """ValueError unless `points` is [N,3] numbers and every labelling is [N] integers in [-1, n_parts)."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 3 or not np.issubdtype(points.dtype, np.number):
        raise ValueError(f"points of shape {points.shape}, not [N,3]")
    for labels in (*truths, *predictions):
        labels = np.asarray(labels)
        if labels.shape != (len(points),) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"labels of shape {labels.shape} and type {labels.dtype} for {len(points)} points"
            )
        if len(labels) and not -1 <= labels.min() <= labels.max() < n_parts:
            raise ValueError(f"labels outside -1..{n_parts - 1}")


def save_comparison(path: Path, rows: list[tuple]) -> None:
    """Keep an evaluation's shapes for its page: rows of (id, points, truth, {method: labels},
    score, part names)."""
    from partdistill.files import atomic_path

    methods = list(rows[0][3]) if rows else []
    arrays: dict[str, np.ndarray] = {
        "ids": np.array([row[0] for row in rows]),
        "methods": np.array(methods),
        "scores": np.array([row[4] for row in rows], dtype=np.float64),
    }
    for i, (_, points, truth, predictions, _, part_names) in enumerate(rows):
        arrays[f"s{i}_points"], arrays[f"s{i}_truth"] = points.astype(np.float32), truth
        arrays[f"s{i}_parts"] = np.array(list(part_names))
        for k, method in enumerate(methods):
            arrays[f"s{i}_{k}"] = predictions[method]
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.savez_compressed(handle, **arrays)
