"""The shape record every stage shares, and the geometry operations on it.

A `Shape` is a point cloud with optional normals, colours, part labels and source mesh. Arrays are
numpy at rest; every stage (synth, render, teach, distill, eval) reads and writes this one record.
File formats live in `partdistill.formats`, collections of shapes in `partdistill.collection`.

Coordinate convention (the catalogue's frame): +y is up, as in ShapeNet and ShapeNetPart, and a
shape's front faces +x (vehicles' noses, a chair's seat edge, a laptop's keyboard). Generators that
produce other conventions (Shap-E and Point-E are z-up) convert on the way in, and a file in
another frame is turned into this one by a `Frame` (`pd import --up z --front -y`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from partdistill.errors import MAX_SEED, PdError, first_few, option
from partdistill.records import Fields

MAX_POINTS = 10_000_000  # the most points an option or a file header may ask a shape to hold
# The most parts a shape, a file or a category may declare: ShapeNetPart has at most 6 per
# category, PartNetE 103 in all; a label or a list of names past it is a broken file, not a shape.
MAX_PARTS = 256
_MAX_PROVENANCE_TEXT = 4_096  # a source may be a long path


class ShapeError(PdError):
    """A shape's arrays are inconsistent or hold values no stage can use."""


AXES = ("x", "y", "z", "-x", "-y", "-z")  # what --up and --front take ("+x" is read as "x")
_UNIT = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}


def axis_vector(axis: str) -> np.ndarray:
    """[3] the unit vector an axis name ("z", "-y", "+x") points along."""
    sign = -1.0 if axis.startswith("-") else 1.0
    return sign * np.array(_UNIT[axis.lstrip("+-")])


@dataclass(frozen=True)
class Frame:
    """Which axes of a shape file point up and to the front: the file's frame, turned into the
    catalogue's (+y up, front +x) by a rotation (never a mirror).

    Attributes:
        up: the file's axis that points up ("y", "z", "-z", ...).
        front: the file's horizontal axis that points to the shape's front.
    """

    up: str = "y"
    front: str = "x"

    def __post_init__(self) -> None:
        for setting in ("up", "front"):
            value = getattr(self, setting)
            axis = value.strip().lower().removeprefix("+") if isinstance(value, str) else value
            if axis not in AXES:
                raise PdError(f"{option(setting)} must be one of {', '.join(AXES)}, not {value!r}.")
            object.__setattr__(self, setting, axis)
        if self.up.lstrip("-") == self.front.lstrip("-"):
            raise PdError(
                f"{option('front')} {self.front} lies along {option('up')} {self.up}: the front is a "
                f"horizontal axis; give {option('front')} one of the other two axes."
            )

    @property
    def is_catalogue(self) -> bool:
        """Whether this is the catalogue's own frame (no rotation)."""
        return (self.up, self.front) == ("y", "x")

    def rotation(self) -> np.ndarray:
        """[3,3] R with R @ up = +y and R @ front = +x: file coordinates p -> R @ p. Its entries
        are 0 and +-1, so rotating is exact in floating point and `from_catalogue` undoes it."""
        front, up = axis_vector(self.front), axis_vector(self.up)
        return np.stack([front, up, np.cross(front, up)])

    def to_catalogue(self, points: np.ndarray) -> np.ndarray:
        """[N,3] file coordinates in the catalogue's frame."""
        return (np.asarray(points, dtype=np.float64) @ self.rotation().T).astype(np.float32)

    def from_catalogue(self, points: np.ndarray) -> np.ndarray:
        """[N,3] catalogue coordinates back in the file's frame."""
        return (np.asarray(points, dtype=np.float64) @ self.rotation()).astype(np.float32)

    def describe(self) -> str:
        return f"up {self.up}, front {self.front}"

    def to_dict(self) -> dict[str, str]:
        return {"up": self.up, "front": self.front}

    @classmethod
    def from_dict(cls, data: object, source: str = "a frame record") -> Frame:
        fields = Fields(data, source, "a frame (up and front axes)")
        fields.only({"up", "front"})
        try:
            return cls(fields.text("up", max_length=3), fields.text("front", max_length=3))
        except PdError as error:
            raise PdError(f"{source}: {error.render(lambda name: name)}") from error


CATALOGUE_FRAME = Frame()


@dataclass(frozen=True)
class Provenance:
    """Where a shape came from.

    Attributes:
        generator: what made or supplied it: "procedural", "shap-e", "point-e", "file", a dataset name.
        prompt: the text it was generated from, if any.
        seed: the seed that reproduces it, if any.
        model_id: the model weights used, if any (e.g. "openai/shap-e").
        source: the file or dataset id it was read from, if any.
        description: a short human description (the procedural generator describes its variant).
        frame: the frame of the file it was read from, where that was not the catalogue's (the
            shape was rotated into the catalogue's frame; `frame.from_catalogue` undoes it).
        offset: (x, y, z) where the file's coordinates put the origin of the shape's, for a file
            whose coordinates lie too far out for 32-bit floats (a scan in surveyed coordinates):
            the file's are `frame.from_catalogue(points) + offset`, in float64 (`recentred`).
    """

    generator: str
    prompt: str | None = None
    seed: int | None = None
    model_id: str | None = None
    source: str | None = None
    description: str | None = None
    frame: Frame | None = None
    offset: tuple[float, float, float] | None = None

    def to_dict(self) -> dict[str, object]:
        record = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        if self.frame is not None:
            record["frame"] = self.frame.to_dict()
        if self.offset is not None:
            record["offset"] = list(self.offset)
        return record

    @classmethod
    def from_dict(cls, data: object, source: str = "a provenance record") -> Provenance:
        """The provenance `to_dict` wrote; one PdError naming `source` for a field that is unknown,
        missing or of the wrong type (a seed must be a whole number, the rest texts or absent)."""
        fields = Fields(data, source, "a provenance record")
        fields.only({f.name for f in dataclasses.fields(cls)})

        def text(key: str) -> str | None:
            return fields.text(key, None, max_length=_MAX_PROVENANCE_TEXT)

        return cls(
            generator=fields.text("generator", max_length=_MAX_PROVENANCE_TEXT),
            prompt=text("prompt"),
            seed=fields.whole("seed", None, at_least=0, at_most=MAX_SEED),
            model_id=text("model_id"),
            source=text("source"),
            description=text("description"),
            frame=Frame.from_dict(fields.data["frame"], f"{source}: frame") if "frame" in fields else None,
            offset=_offset(fields),
        )


def _offset(fields: Fields) -> tuple[float, float, float] | None:
    """A provenance record's offset: three finite numbers, or None where it has none."""
    if "offset" not in fields:
        return None
    value = fields.data["offset"]
    if not isinstance(value, list) or len(value) != 3:
        raise PdError(f"{fields.source}: 'offset' must be a list of 3 numbers, not {value!r}.")
    coords = Fields(dict(zip("xyz", value, strict=True)), f"{fields.source}: 'offset'")
    return (coords.number("x"), coords.number("y"), coords.number("z"))


@dataclass(frozen=True)
class Mesh:
    """A triangle mesh.

    Attributes:
        vertices: [V,3] float32.
        faces: [F,3] int64 indices into `vertices`.
        face_labels: [F] int64 part index per face (-1 = no part), or None.
        vertex_colors: [V,3] float32 RGB in [0,1], or None.
    """

    vertices: np.ndarray
    faces: np.ndarray
    face_labels: np.ndarray | None = None
    vertex_colors: np.ndarray | None = None

    def __post_init__(self) -> None:
        _set(self, "vertices", _coords(self.vertices, "mesh vertices"))
        faces = np.ascontiguousarray(whole_numbers(self.faces, "mesh faces"))
        if faces.ndim != 2 or faces.shape[1] != 3:
            raise ShapeError(f"mesh faces must have shape [F,3], not {list(faces.shape)}")
        if faces.size and (faces.min() < 0 or faces.max() >= len(self.vertices)):
            raise ShapeError("mesh faces refer to vertices that do not exist")
        _set(self, "faces", faces)
        if self.face_labels is not None:
            labels = _per_row(self.face_labels, len(faces), "face labels", np.int64, of="faces")
            _set(self, "face_labels", labels)
        if self.vertex_colors is not None:
            colors = _colors(self.vertex_colors, len(self.vertices), "vertex colours", of="vertices")
            _set(self, "vertex_colors", colors)

    def __repr__(self) -> str:  # sizes, not arrays (a notebook shows a repr whole)
        held = [name for name in ("face_labels", "vertex_colors") if getattr(self, name) is not None]
        return (
            f"Mesh({len(self.vertices)} vertices, {len(self.faces)} faces{''.join(', ' + h for h in held)})"
        )


@dataclass(frozen=True)
class Shape:
    """One 3D shape as a point cloud.

    Attributes:
        points: [N,3] float32, N >= 1, all finite.
        normals: [N,3] float32 (not necessarily unit length), or None.
        colors: [N,3] float32 RGB in [0,1], or None.
        labels: [N] int64 index into `part_names` (-1 = no part), or None when unlabelled.
        part_names: the names of the parts `labels` index; empty when unlabelled.
        category: the catalogue name of its category (e.g. "chair"), or None.
        mesh: the surface the points were sampled from, or None.
        point_faces: [N] int64 index of the mesh face each point lies on, or None (needs `mesh`).
        provenance: where the shape came from.
    """

    points: np.ndarray
    normals: np.ndarray | None = None
    colors: np.ndarray | None = None
    labels: np.ndarray | None = None
    part_names: tuple[str, ...] = ()
    category: str | None = None
    mesh: Mesh | None = None
    point_faces: np.ndarray | None = None
    provenance: Provenance = field(default_factory=lambda: Provenance("unknown"))

    def __post_init__(self) -> None:
        points = _coords(self.points, "points")
        if len(points) == 0:
            raise ShapeError("the point cloud is empty")
        _set(self, "points", points)
        n = len(points)
        if self.normals is not None:
            normals = _per_row(self.normals, n, "normals", np.float32, width=3)
            if not np.isfinite(normals).all():
                raise ShapeError("normals hold NaN or infinite values")
            _set(self, "normals", normals)
        if self.colors is not None:
            _set(self, "colors", _colors(self.colors, n, "colours"))
        _set(self, "part_names", _part_names(self.part_names))
        if self.category is not None and not isinstance(self.category, str):
            raise ShapeError(f"the category must be a name, not {self.category!r}")
        if self.labels is not None:
            labels = _per_row(self.labels, n, "labels", np.int64)
            if not self.part_names:
                raise ShapeError("the shape has labels but no part names")
            bad = (labels < -1) | (labels >= len(self.part_names))
            if bad.any():
                raise ShapeError(
                    f"{int(bad.sum())} labels are outside -1..{len(self.part_names) - 1} "
                    f"(the shape has {len(self.part_names)} parts)"
                )
            _set(self, "labels", labels)
        if self.point_faces is not None:
            if self.mesh is None:
                raise ShapeError("point_faces needs the mesh the points were sampled from")
            faces = _per_row(self.point_faces, n, "point faces", np.int64)
            if faces.min() < 0 or faces.max() >= len(self.mesh.faces):
                raise ShapeError("point_faces refer to mesh faces that do not exist")
            _set(self, "point_faces", faces)

    def __repr__(self) -> str:  # sizes and names, not arrays (a notebook shows a repr whole)
        held = [f"{self.n_points} points", f"category={self.category!r}"]
        held += [name for name in ("normals", "colors") if getattr(self, name) is not None]
        if self.labels is not None:
            held.append(f"labels of {len(self.part_names)} parts ({first_few(list(self.part_names), 8)})")
        if self.mesh is not None:
            held.append(repr(self.mesh) + (" with point_faces" if self.point_faces is not None else ""))
        return f"Shape({', '.join(held)}, provenance={self.provenance!r})"

    @property
    def n_points(self) -> int:
        return len(self.points)

    @property
    def is_labelled(self) -> bool:
        return self.labels is not None

    def replace(self, **changes: object) -> Shape:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def rotated(self, frame: Frame) -> Shape:
        """The shape, read in `frame`, in the catalogue's frame (points, normals and mesh rotated;
        the frame recorded in its provenance). The catalogue's own frame changes nothing."""
        if frame.is_catalogue:
            return self
        mesh = self.mesh
        if mesh is not None:
            mesh = dataclasses.replace(mesh, vertices=frame.to_catalogue(mesh.vertices))
        return self.replace(
            points=frame.to_catalogue(self.points),
            normals=None if self.normals is None else frame.to_catalogue(self.normals),
            mesh=mesh,
            provenance=dataclasses.replace(self.provenance, frame=frame),
        )

    def select(self, index: np.ndarray) -> Shape:
        """The points at `index` (an int array; repeats allowed), with their per-point attributes."""

        def take(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[index]

        return self.replace(
            points=self.points[index],
            normals=take(self.normals),
            colors=take(self.colors),
            labels=take(self.labels),
            point_faces=take(self.point_faces),
        )


Centre = Literal["mean", "bbox"]


def normalization(points: np.ndarray, center: Centre = "mean") -> tuple[np.ndarray, float]:
    """The (offset [3], scale) that move `points` into the unit sphere: p' = (p - offset) / scale.

    `center="mean"` subtracts the centroid (PartSLIP's renderer); `"bbox"` the bounding-box centre
    (PartDistill's student). Either way the farthest point then lies on the unit sphere.
    """
    # Worked on a [3, N] copy, one contiguous row per axis: numpy's reductions down the columns of
    # an [N, 3] array are several times slower, and training normalises every cloud of every step.
    # The result is the same to the bit as the plain [N, 3] forms: min and max are exact; x² + y²
    # + z² adds in the order np.linalg.norm adds it; the square root is monotonic and correctly
    # rounded, so the root of the largest sum is the largest norm.
    pts = points.astype(np.float64)
    columns = np.ascontiguousarray(pts.T)
    offset = pts.mean(axis=0) if center == "mean" else (columns.min(axis=1) + columns.max(axis=1)) / 2
    x, y, z = columns - offset[:, None]
    scale = float(np.sqrt((x * x + y * y + z * z).max()))
    if scale == 0.0:
        scale = 1.0  # a single point, or all points equal: nothing to scale
    return offset, scale


def normalize_points(points: np.ndarray, center: Centre = "mean") -> np.ndarray:
    """[N,3] float32 `points` centred and scaled into the unit sphere, as `normalize` moves a shape's."""
    return _moved(points, *normalization(points, center))


def normalize(shape: Shape, center: Centre = "mean") -> Shape:
    """The shape centred and scaled into the unit sphere (its mesh moved with it)."""
    offset, scale = normalization(shape.points, center)
    mesh = shape.mesh
    if mesh is not None:
        mesh = dataclasses.replace(mesh, vertices=_moved(mesh.vertices, offset, scale))
    return shape.replace(points=_moved(shape.points, offset, scale), mesh=mesh)


def _moved(coords: np.ndarray, offset: np.ndarray, scale: float) -> np.ndarray:
    return ((coords - offset) / scale).astype(np.float32)


SampleMethod = Literal["random", "fps"]


def sample_indices(
    points: np.ndarray, n: int, rng: np.random.Generator, method: SampleMethod = "random"
) -> np.ndarray:
    """Indices of `n` points of `points` [N,3].

    With n <= N: "random" draws without replacement; "fps" runs farthest point sampling from a
    random start. With n > N every point is kept once and the rest are random repeats (as the
    ShapeNetPart loaders do), in a random order.
    """
    total = len(points)
    if n <= 0:
        raise ValueError("n must be positive")
    if n > total:
        extra = rng.choice(total, size=n - total, replace=True)
        return rng.permutation(np.concatenate([np.arange(total), extra]))
    if method == "random":
        return rng.choice(total, size=n, replace=False)
    if method == "fps":
        return farthest_point_sample(points, n, start=int(rng.integers(total)))
    raise ValueError(f"unknown sampling method {method!r}")


def farthest_point_sample(points: np.ndarray, n: int, start: int = 0) -> np.ndarray:
    """Indices of `n` points chosen by exact farthest point sampling, beginning at `start`.

    fpsample's KD-tree bucket variant is exact and about 4x faster than its plain loop, but always
    begins at index 0, so the points are rolled to put `start` first.
    """
    import fpsample

    rolled = np.roll(points, -start, axis=0)
    picked = fpsample.bucket_fps_kdtree_sampling(np.ascontiguousarray(rolled, dtype=np.float32), n)
    return ((np.asarray(picked, dtype=np.int64) + start) % len(points)).astype(np.int64)


def subsample(shape: Shape, n: int, rng: np.random.Generator, method: SampleMethod = "random") -> Shape:
    """`n` points of the shape (see `sample_indices`)."""
    return shape.select(sample_indices(shape.points, n, rng, method))


# --- validation helpers -------------------------------------------------------------------------


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


_KINDS = {"b": "true/false values", "c": "complex numbers", "O": "objects", "U": "text", "S": "text"}


def real_numbers(array: object, what: str) -> np.ndarray:
    """`array` as a numpy array of real numbers (ints or floats, any precision), else a ShapeError:
    numpy would turn text into numbers, drop imaginary parts and stumble over objects unasked."""
    try:
        values = np.asarray(array)
    except ValueError as error:  # ragged nested lists
        raise ShapeError(f"{what} must be an array of numbers ({error})") from error
    if values.dtype.kind not in "iuf":
        raise ShapeError(f"{what} must be real numbers, not {dtype_words(values.dtype)}")
    return values


def dtype_words(dtype: np.dtype) -> str:
    """What values of `dtype` are, in words ("complex numbers", "text"), for messages."""
    return _KINDS.get(dtype.kind, f"{dtype} values")


def whole_numbers(array: object, what: str) -> np.ndarray:
    """`array` as int64, else a ShapeError: it must hold real numbers that are whole and fit in 64
    bits (a float 0.5 would be truncated, a uint64 2**64-1 would wrap round to -1)."""
    values = real_numbers(array, what)
    if values.dtype.kind == "f":
        if not (np.isfinite(values).all() and (values == np.round(values)).all()):
            raise ShapeError(f"{what} must be whole numbers")
        if values.size and np.abs(values).max() >= 2.0**63:
            raise ShapeError(f"{what} hold numbers too large for 64 bits")
    elif values.dtype.kind == "u" and values.size and values.max() > np.iinfo(np.int64).max:
        raise ShapeError(f"{what} hold numbers too large for 64 bits")
    return values.astype(np.int64, copy=False)


def _part_names(names: object) -> tuple[str, ...]:
    """`names` as a tuple of at most MAX_PARTS distinct, non-empty texts, else a ShapeError."""
    names = tuple(names)  # type: ignore[arg-type]
    if len(names) > MAX_PARTS:
        raise ShapeError(f"the shape names {len(names):,} parts, more than the {MAX_PARTS} a shape may have")
    if not all(isinstance(name, str) and name.strip() for name in names):
        raise ShapeError(f"part names must be non-empty texts, not {list(names)[:5]}")
    if len(set(names)) < len(names):
        raise ShapeError(f"the part names repeat: {list(names)[:10]}")
    return names


# How far 32-bit rounding may move a coordinate, as a share of the shape's extent: a twentieth of
# the spacing of 2,048 points on a shape of unit size (about 0.02).
_ROUNDING = 1e-3


def _coords(array: np.ndarray, what: str) -> np.ndarray:
    values = real_numbers(array, what)
    if values.ndim != 2 or values.shape[1] != 3:
        raise ShapeError(f"{what} must have shape [N,3], not {list(values.shape)}")
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        raise ShapeError(f"{int((~finite).sum())} of {len(values)} {what} have NaN or infinite coordinates")
    with np.errstate(over="ignore"):
        coords = np.ascontiguousarray(values, dtype=np.float32)
    if not np.isfinite(coords).all():
        raise ShapeError(f"{what} reach {float(np.abs(values).max()):.3g}, beyond what 32-bit floats hold")
    if coords.dtype != values.dtype and _too_far(values):
        largest, extent = float(np.abs(values).max()), _extent(values)
        raise ShapeError(
            f"{what} lie up to {largest:,.0f} from the origin, for a shape {extent:.3g} across: as the "
            f"32-bit floats shapes are kept in they would be rounded to steps of {_step(largest):.3g}; "
            "move the shape near the origin first (subtract its centre)"
        )
    return coords


def _extent(values: np.ndarray) -> float:
    return float((values.max(axis=0) - values.min(axis=0)).max())


def _step(largest: float) -> float:
    """The step between 32-bit floats at `largest`."""
    return float(np.spacing(np.float32(largest)))


def _too_far(values: np.ndarray) -> bool:
    """Whether coordinates `values` [N,3] lie so far from the origin for their extent that 32-bit
    floats, stepping by more than `_ROUNDING` of it out there, cannot keep the shape (a scan in
    surveyed coordinates: a metre-sized shape 5,000 km out, where float32 steps by half a metre).
    Judged by where the values lie, not by how they happen to round: a mesh's vertices may be
    exact in float32 where the points sampled between them are not."""
    extent = _extent(values) if len(values) else 0.0
    return extent > 0 and _step(float(np.abs(values).max())) / 2 > _ROUNDING * extent


def recentred(coords: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float] | None]:
    """`coords` [N,3] (read from a file) and None where 32-bit floats hold them well enough;
    else moved so that their bounding box is centred on the origin, with where that centre lay
    (`Provenance.offset`). Only a shape's own size matters to labelling it, and the move keeps the
    precision its file had (the file readers call it; a `Shape` made of such coordinates is
    refused)."""
    values = np.asarray(coords, dtype=np.float64)
    if values.ndim != 2 or not np.isfinite(values).all() or not _too_far(values):
        return coords, None  # nothing to move; `Shape` explains what is wrong, if anything
    centre = (values.min(axis=0) + values.max(axis=0)) / 2
    return values - centre, (float(centre[0]), float(centre[1]), float(centre[2]))


def _per_row(
    array: np.ndarray, n: int, what: str, dtype: type, width: int | None = None, of: str = "points"
) -> np.ndarray:
    whole = np.issubdtype(dtype, np.integer)
    values = whole_numbers(array, what) if whole else real_numbers(array, what)
    values = np.ascontiguousarray(values, dtype=dtype)
    expected = (n,) if width is None else (n, width)
    if values.shape != expected:
        if values.ndim == len(expected) and values.shape[1:] == expected[1:]:
            raise ShapeError(f"there are {len(values)} {what} for {n} {of}")
        raise ShapeError(f"{what} must have shape {list(expected)}, not {list(values.shape)}")
    return values


def _colors(array: np.ndarray, n: int, what: str, of: str = "points") -> np.ndarray:
    colors = _per_row(array, n, what, np.float32, width=3, of=of)
    if not np.isfinite(colors).all() or colors.min() < 0.0 or colors.max() > 1.0:
        raise ShapeError(f"{what} must be RGB values in [0,1]")
    return colors
