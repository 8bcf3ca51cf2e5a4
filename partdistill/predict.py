"""Using a trained student: load a run, label shapes, and write what users look at.

`pd predict` writes, per input file: `<name>.ply` (points coloured by part, labels kept in a
`label` property), `<name>.json` (one label per input point in input order, as the run's part
ids, with the part names; for meshes also one label per face) and `<name>.png` (a picture).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from partdistill.distill.data import predict_logits
from partdistill.distill.students import build_student
from partdistill.distill.train import STUDENT_CONFIG, STUDENT_WEIGHTS
from partdistill.errors import PdError
from partdistill.files import atomic_path, check_id, read_json, write_json
from partdistill.formats import write_ply
from partdistill.prompts import Category, register_category
from partdistill.shapes import MAX_POINTS, Shape
from partdistill.viz import Panel, save_panels

OUTPUT_SUFFIXES = (".ply", ".json", ".png")  # what pd predict writes per input
INPUTS_FILE = "inputs.json"  # where pd predict maps its output names to its inputs


@dataclass
class TrainedStudent:
    """A student restored from a run folder.

    Attributes:
        model: the network, in eval mode.
        student: its name in the registry.
        category: the category it segments.
        part_names: what its outputs mean, in order.
        n_points: the cloud size it was trained on (prediction uses chunks of it).
        run: the run folder.
    """

    model: torch.nn.Module
    student: str
    category: str
    part_names: tuple[str, ...]
    n_points: int
    run: Path

    @classmethod
    def load(cls, run: str | Path, device: str = "cpu") -> TrainedStudent:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        run = Path(run)
        config_path, weights = run / STUDENT_CONFIG, run / STUDENT_WEIGHTS
        if not config_path.is_file() or not weights.is_file():
            raise PdError(
                f"{run} holds no trained student ({STUDENT_CONFIG} and {STUDENT_WEIGHTS}); run `pd distill`."
            )
        config = read_json(config_path, "the record of a trained student")
        try:
            if "catalogue" in config:  # the run brings its category along, user categories included
                register_category(Category.from_record(config["catalogue"]))
            part_names = tuple(str(name) for name in config["part_names"])
            model = build_student(str(config["student"]), len(part_names), restoring=True)
            category, n_points = str(config["category"]), int(config["n_points"])
            if not 1 <= n_points <= MAX_POINTS:
                raise ValueError(f"n_points {n_points}")
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise PdError(
                f"{config_path} is not a complete student record (missing or bad {error})."
            ) from error
        try:
            model.load_state_dict(load_file(weights))
        except (SafetensorError, RuntimeError, OSError) as error:
            raise PdError(
                f"{weights} does not hold the weights of this {config['student']} student "
                f"({type(error).__name__}); distil it again."
            ) from error
        return cls(
            model=model.to(device).eval(),
            student=str(config["student"]),
            category=category,
            part_names=part_names,
            n_points=n_points,
            run=run,
        )

    def probabilities(self, shape: Shape, seed: int = 0) -> np.ndarray:
        """[N, C] float32 the student's part probabilities for every point of `shape`."""
        logits = predict_logits(self.model, shape, self.n_points, np.random.default_rng(seed))
        logits -= logits.max(axis=-1, keepdims=True)
        weights = np.exp(logits)
        return weights / weights.sum(axis=-1, keepdims=True)

    def labels(self, shape: Shape, seed: int = 0) -> np.ndarray:
        """[N] int64 part of every point of `shape`."""
        rng = np.random.default_rng(seed)
        logits = predict_logits(self.model, shape, self.n_points, rng)
        return logits.argmax(axis=-1).astype(np.int64)


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


def check_outputs(out: Path, names: list[str]) -> None:
    """Refuse (PdError) to write `<name>.ply/.json/.png` over a file in `out` that no earlier
    `pd predict` wrote there (the user's own shapes, a run's or a collection's records): only the
    names its INPUTS_FILE lists are its own. The name of INPUTS_FILE itself is taken."""
    taken = Path(INPUTS_FILE).stem
    if taken in names:
        raise PdError(f"An input named {taken}.* would collide with {INPUTS_FILE}; rename it.")
    listed = out / INPUTS_FILE
    earlier = read_json(listed, "the inputs of an earlier pd predict") if listed.is_file() else {}
    for name in names:
        for suffix in OUTPUT_SUFFIXES:
            path = out / f"{name}{suffix}"
            if path.exists() and name not in earlier:
                raise PdError(f"{path} exists and pd predict did not write it; choose another --out.")


def save_labels(labels: np.ndarray, folder: Path, shape_id: str) -> Path:
    """Write one shape's labels as `<folder>/<id>.npy` (a "/" in the id becomes a sub-folder), atomically."""
    path = folder / f"{check_id(shape_id, 'the shape to label')}.npy"
    with atomic_path(path) as tmp:
        np.save(tmp, labels)
    return path


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
    shape: Shape, labels: np.ndarray, student: TrainedStudent, out: Path, name: str, source: Path
) -> list[Path]:
    """Write `<name>.ply`, `<name>.json` and `<name>.png` into `out` for the shape read from
    `source`; returns their paths."""
    labelled = shape.replace(labels=labels, part_names=student.part_names, category=student.category)
    paths = [out / f"{name}{suffix}" for suffix in OUTPUT_SUFFIXES]
    write_ply(labelled, paths[0], color_by="parts")
    record: dict[str, object] = {
        "input": str(source),
        "run": str(student.run),
        "category": student.category,
        "part_names": list(student.part_names),
        "n_points": int(shape.n_points),
        "labels": labels.tolist(),
    }
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
    save_panels([Panel(labelled, name)], paths[2], columns=1, part_names=student.part_names, title=title)
    return paths
