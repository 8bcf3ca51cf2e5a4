"""`pd predict`'s outputs: a trained student's labels of the user's shape files, written for people.

`pd predict` writes, per input file: `<name>.ply` (points coloured by part, labels kept in a
`label` property), `<name>.json` (one label per input point in input order, as the run's part
ids, with the part names; for meshes also one label per face; the input's own labels where it has
them under the run's part names) and `<name>.png` (a picture); then `inputs.json` (each name's
input, those of earlier runs into the same folder kept; written every few seconds and at a stop,
so that it lists every finished output) and `view.html`. It writes only files
that are new in the output folder or that an earlier pd predict wrote there (`files.CommandFiles`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from partdistill.datasets.importing import labelled_as
from partdistill.distill.trained import TrainedStudent
from partdistill.errors import MAX_SEED, PdError, check_number, first_few, option
from partdistill.files import PAGE, CommandFiles, inside, read_json, write_json
from partdistill.folders import INPUTS_FILE, refuse_others
from partdistill.formats import read_labelled, write_ply
from partdistill.progress import Progress, tracked
from partdistill.prompts import find_category, same_category
from partdistill.shapes import CATALOGUE_FRAME, MAX_POINTS, Frame, Shape
from partdistill.viz import Panel, save_panels

OUTPUT_SUFFIXES = (".ply", ".json", ".png")  # what pd predict writes per input


@dataclass(frozen=True)
class Predicted:
    """One input labelled.

    Attributes:
        input: the file read.
        name: the name its outputs were written under (`<name>.ply`, `.json`, `.png`).
        labels: [N] int64 the part of each of its points (for a mesh: of the points sampled on it).
    """

    input: Path
    name: str
    labels: np.ndarray


SEAL_EVERY = 5.0  # seconds between records of the files written so far (`seal_outputs`)


def label_files(
    inputs: list[Path],
    trained: TrainedStudent,
    out: Path,
    points: int,
    seed: int,
    force_category: bool,
    page: bool,
    progress: Progress,
    frame: Frame = CATALOGUE_FRAME,
) -> list[Predicted]:
    """Label every input with `trained` and write its outputs into `out` (with INPUTS_FILE; the
    page, if `page`, is the caller's to write). Every input is read, and every output checked
    (`claim_outputs`), before anything is written; an input of another category than the student's
    is refused unless `force_category`. The student sees each input turned from `frame` into the
    catalogue's; the outputs keep the input's frame. Call it holding `out`'s `OutputFolder`."""
    check_number(points, "points", at_least=1, at_most=MAX_POINTS, whole=True)
    check_number(seed, "seed", at_least=0, at_most=MAX_SEED, whole=True)
    refuse_others(out, "a pd predict folder", read_from=tuple(path.parent for path in inputs))
    read = [read_labelled(path, n_points=points, seed=seed) for path in inputs]
    segments = find_category(trained.category)  # registered by the run's own record
    for path, (shape, _) in zip(inputs, read, strict=True):
        if shape.category and not same_category(shape.category, segments) and not force_category:
            raise PdError(
                f"{path} is a {shape.category} and the run segments {trained.category}; "
                f"pass {option('force_category')} to label it anyway."
            )
    # The labels an input carries, matched to the run's parts as pd import matches them: the truth
    # pd view shows beside the prediction.
    labelled = [labelled_as(shape, found, segments) for shape, found in read]
    by_note: dict[str, list[str]] = {}  # what became of the files' own labels, as pd import says it
    for path, (_, found), (_, note) in zip(inputs, read, labelled, strict=True):
        if found is not None:
            by_note.setdefault(note, []).append(path.name)
    for note, names in by_note.items():
        progress.note(f"{first_few(names, 3)}: {note}.")
    shapes = [shape for shape, _ in labelled]
    names = output_names(inputs)
    check_names(names)
    claim_outputs(out, names, page)
    earlier, done, unsealed = _earlier(out), [], []

    def record() -> None:  # the outputs written so far, listed and sealed
        redone = {item.name: str(item.input) for item in done}
        write_json(inside(out, INPUTS_FILE), {n: s for n, s in earlier.items() if n not in redone} | redone)
        seal_outputs(out, [*unsealed, INPUTS_FILE])
        unsealed.clear()

    sealed_at = time.monotonic()
    try:
        with tracked(progress, "labelling", len(shapes)) as bar:
            for path, shape, name in zip(inputs, shapes, names, strict=True):
                labels = trained.labels(shape.rotated(frame), seed=seed)
                written = write_prediction(shape, labels, trained, out, name, path, frame)
                unsealed += [each.name for each in written]
                done.append(Predicted(path, name, labels))
                # Recorded every few seconds, not after each input: each seal rewrites the whole
                # record (3,000 inputs sealed one by one took 40 s here).
                if time.monotonic() - sealed_at > SEAL_EVERY:
                    record()
                    sealed_at = time.monotonic()
                bar.advance()
    except BaseException:  # a stop or a failure: what was written is listed as it is (and raised)
        if done:
            record()
        raise
    record()
    return done


def _earlier(out: Path) -> dict[str, str]:
    """What an earlier pd predict into `out` listed in INPUTS_FILE and the user has not deleted
    (its `<name>.json`, which the page reads, is there): the outputs this one does not replace stay
    in the folder, so they stay in its list (and on its page)."""
    listing = inside(out, INPUTS_FILE)
    if not listing.exists():
        return {}
    earlier = read_json(listing, "the inputs of the predictions in this folder")
    return {
        name: source
        for name, source in earlier.items()
        if isinstance(source, str) and inside(out, f"{name}.json").is_file()
    }


def output_names(inputs: list[Path]) -> list[str]:
    """A file name (without suffix) per input: its stem, or where stems repeat (a/x.ply, b/x.ply),
    the stem numbered in input order (x-1, x-2), so that no output overwrites another."""
    stems = [path.stem for path in inputs]
    repeated = {stem for stem in stems if stems.count(stem) > 1}
    seen: dict[str, int] = {}
    names = []
    for stem in stems:
        if stem in repeated:
            seen[stem] = seen.get(stem, 0) + 1
            names.append(f"{stem}-{seen[stem]}")
        else:
            names.append(stem)
    if len(set(names)) < len(names):  # a numbered name met another input's stem ("x-1.ply")
        names = [f"{i:04d}-{stem}" for i, stem in enumerate(stems, start=1)]
    return names


def check_names(names: list[str]) -> None:
    """Refuse (PdError) an output name that would collide with INPUTS_FILE, or make hidden files,
    where pd keeps its records of the folder (`.pd-written.json`, `.pd-owner`)."""
    taken = Path(INPUTS_FILE).stem
    if taken in names:
        raise PdError(f"An input named {taken}.* would collide with {INPUTS_FILE}; rename it.")
    hidden = next((name for name in names if name.startswith(".")), None)
    if hidden is not None:
        raise PdError(
            f"An input named {hidden}.* would give hidden outputs, where pd keeps its records of the folder; "
            "rename it."
        )


def _outputs(out: Path) -> CommandFiles:
    return CommandFiles(out, "pd predict", shares=("pd view",))  # pd view writes only pages


def claim_outputs(out: Path, names: list[str], page: bool) -> None:
    """Make the files pd predict writes for inputs called `names` (and the page, if `page`) its own
    in `out`: refused (PdError) where one exists that no earlier pd predict wrote, or one did and
    it has changed since, such as the user's own shapes or page, or a run's records. Call it
    holding the folder's `OutputFolder`."""
    files = [f"{name}{suffix}" for name in names for suffix in OUTPUT_SUFFIXES]
    _outputs(out).claim([*files, INPUTS_FILE, *([PAGE] if page else [])])


def seal_outputs(out: Path, files: list[str]) -> None:
    """Record `files`, which `claim_outputs` claimed, as they are now that they are written."""
    _outputs(out).seal(files)


def face_labels(shape: Shape, labels: np.ndarray) -> np.ndarray:
    """[F] a label per mesh face: the most common label of the points sampled on it, or, for a face
    no point landed on, the label of the point nearest its centre."""
    if shape.mesh is None or shape.point_faces is None:
        raise ValueError("face labels need a shape sampled from a mesh")
    n_faces, n_parts = len(shape.mesh.faces), int(labels.max()) + 1
    votes = np.zeros((n_faces, n_parts), dtype=np.int64)
    np.add.at(votes, (shape.point_faces, labels), 1)
    result = votes.argmax(axis=1)
    empty = votes.sum(axis=1) == 0
    if empty.any():
        from scipy.spatial import cKDTree

        centres = shape.mesh.vertices[shape.mesh.faces[empty]].mean(axis=1)
        result[empty] = labels[cKDTree(shape.points).query(centres)[1]]
    return result


def write_prediction(
    shape: Shape,
    labels: np.ndarray,
    student: TrainedStudent,
    out: Path,
    name: str,
    source: Path,
    frame: Frame = CATALOGUE_FRAME,
) -> list[Path]:
    """Write `<name>.ply`, `<name>.json` and `<name>.png` into `out` for the shape read from
    `source` (in its own `frame`; the picture shows it turned into the catalogue's, upright);
    returns their paths."""
    labelled = shape.replace(labels=labels, part_names=student.part_names, category=student.category)
    paths = [inside(out, f"{name}{suffix}") for suffix in OUTPUT_SUFFIXES]
    write_ply(labelled, paths[0], color_by="parts")
    record: dict[str, object] = {
        "input": str(source),
        "run": str(student.run),
        "category": student.category,
        "part_names": list(student.part_names),
        "n_points": int(shape.n_points),
        "labels": labels.tolist(),
        "frame": frame.to_dict(),
    }
    if shape.provenance.offset is not None:  # the points were moved near the origin to be read
        record["offset"] = list(shape.provenance.offset)
    if shape.labels is not None and shape.part_names == student.part_names:
        record["input_labels"] = shape.labels.tolist()  # what pd view shows as the truth
    if shape.mesh is not None and shape.point_faces is not None:
        record["face_labels"] = face_labels(shape, labels).tolist()
        record["note"] = (
            "the input is a mesh: `labels` are for points sampled on it, `face_labels` for its faces"
        )
    write_json(paths[1], record)
    counts = np.bincount(labels, minlength=len(student.part_names))
    title = ", ".join(
        f"{p} {100 * c / len(labels):.0f}%" for p, c in zip(student.part_names, counts, strict=True)
    )
    upright = labelled.rotated(frame)
    save_panels([Panel(upright, name)], paths[2], columns=1, part_names=student.part_names, title=title)
    return paths
