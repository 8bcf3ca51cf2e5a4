"""Reading and writing shapes.

Read: PLY point clouds (plyfile; optional normals, colours, a per-point label property), meshes in
PLY/OBJ/GLB/GLTF/OFF/STL (trimesh; sampled to points with normals and colours, area-weighted and
seeded), the project's own `.npz` format and Point-E's saved clouds (`PointCloud.save`: an `.npz` of
coords and R, G, B, read in their own frame, +z up). `read_labelled` also says how a file labels its
parts (`FileLabels`: a PLY's label property, named or numbered; a shape file's labels; the names
of a GLB/GLTF file's nodes and meshes), for `pd import` to match them to a category's parts.
Write: the project's `.npz` and a PLY whose colours show the parts (MeshLab, CloudCompare and
Open3D read it; its `label` property keeps the labels).

Every reader turns a bad file into one `PdError` sentence that names the file.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from partdistill.errors import PdError
from partdistill.files import atomic_path, parse_json, write_bytes
from partdistill.logs import held_back
from partdistill.palette import part_colors
from partdistill.records import Fields
from partdistill.shapes import (
    MAX_PARTS,
    MAX_POINTS,
    Mesh,
    Provenance,
    Shape,
    ShapeError,
    dtype_words,
    recentred,
    whole_numbers,
)

if TYPE_CHECKING:
    import trimesh
    from plyfile import PlyData

SHAPE_SUFFIX = ".npz"
MESH_SUFFIXES = (".obj", ".glb", ".gltf", ".off", ".stl")
POINT_SUFFIXES = (".ply", SHAPE_SUFFIX)
READABLE_SUFFIXES = POINT_SUFFIXES + MESH_SUFFIXES
DEFAULT_MESH_POINTS = 10_000
MAX_FACES = 50_000_000  # faces (or other elements) a PLY may declare; a detailed scan has a few million
_PLY_HEADER_BYTES = 1 << 20  # where a PLY header must have ended (one holds a few hundred bytes)
_PLY_MAX_BYTES = 1 << 32  # rows of fixed size a PLY may declare: 10M points of 50 doubles each
# Per-point label properties understood in foreign PLY files, most specific first.
LABEL_PROPERTIES = ("label", "part", "part_id", "semantic_seg", "scalar_label")  # the last: CloudCompare's
_FORMAT = "partdistill.shape"
_VERSION = 1
_MAX_META_BYTES = 1 << 20  # a shape file's JSON metadata; part names and provenance take a few KB
# The arrays a shape file may hold: the most rows each may declare, and its width (None: one value
# per row). A compressed file of a few kilobytes can declare gigabytes, so headers are read first.
_ARRAYS: dict[str, tuple[int, int | None]] = {
    "meta": (_MAX_META_BYTES, None),
    "points": (MAX_POINTS, 3),
    "normals": (MAX_POINTS, 3),
    "colors": (MAX_POINTS, 3),
    "labels": (MAX_POINTS, None),
    "point_faces": (MAX_POINTS, None),
    "mesh_vertices": (MAX_POINTS, 3),
    "mesh_faces": (MAX_FACES, 3),
    "mesh_face_labels": (MAX_FACES, None),
    "mesh_vertex_colors": (MAX_POINTS, 3),
}
# Point-E's `PointCloud.save`: coords [N,3] and a [N] array per channel (R, G, B in [0,1]).
_POINT_E: dict[str, tuple[int, int | None]] = {
    "coords": (MAX_POINTS, 3),
    "R": (MAX_POINTS, None),
    "G": (MAX_POINTS, None),
    "B": (MAX_POINTS, None),
}


@dataclass(frozen=True)
class FileLabels:
    """The part labels a file carries, before they are matched to a category's parts.

    Attributes:
        where: where the file keeps them, in words ("its 'label' property").
        groups: [N] int64 per point, the file's label (an index into `names`), -1 for none.
        names: per label, the names the file gives it, most specific first (a GLB node's own name,
            its parents', its mesh's); an empty tuple where the file numbers labels without names.
        face_groups: [F] int64 the label of each face of the shape's mesh, where the file labels faces.
    """

    where: str
    groups: np.ndarray
    names: tuple[tuple[str, ...], ...]
    face_groups: np.ndarray | None = None

    @property
    def numbered(self) -> bool:
        """Whether the file gives its labels no names (they are taken in the category's part order)."""
        return not any(self.names)


def read_labelled(
    path: str | Path, *, n_points: int = DEFAULT_MESH_POINTS, seed: int = 0
) -> tuple[Shape, FileLabels | None]:
    """`read_shape`, with how the file labels its parts (None where it carries no labels): the labels
    a PLY property or a shape file holds, or the pieces of a GLB/GLTF file named by its nodes and
    meshes (the shape itself then has no labels until they are matched to a category)."""
    path = _existing(path)
    suffix = path.suffix.lower()
    if suffix in (".glb", ".gltf"):
        return _read_scene(path, n_points=n_points, seed=seed)
    if suffix == ".ply":
        return _read_ply(path, n_points=n_points, seed=seed)
    shape = read_shape(path, n_points=n_points, seed=seed)
    if shape.labels is None:
        return shape, None
    faces = None if shape.mesh is None else shape.mesh.face_labels
    return shape, FileLabels("its labels", shape.labels, tuple((name,) for name in shape.part_names), faces)


def read_shape(
    path: str | Path,
    *,
    n_points: int = DEFAULT_MESH_POINTS,
    seed: int = 0,
    part_names: tuple[str, ...] = (),
) -> Shape:
    """Read a shape file of any supported kind.

    Args:
        path: a `.npz` shape, a `.ply` point cloud or mesh, or an OBJ/GLB/GLTF/OFF/STL mesh.
        n_points: how many points to sample from a mesh (point clouds keep all their points).
        seed: the seed of that sampling.
        part_names: names for the labels of a PLY whose header does not name them.
    """
    path = _existing(path)
    suffix = path.suffix.lower()
    if suffix == SHAPE_SUFFIX:
        return read_npz(path)
    if suffix == ".ply":
        return read_ply(path, n_points=n_points, seed=seed, part_names=part_names)
    if suffix in MESH_SUFFIXES:
        return read_mesh(path, n_points=n_points, seed=seed)
    raise PdError(
        f"{path} has an unsupported suffix '{path.suffix}': use one of {', '.join(READABLE_SUFFIXES)}."
    )


def _existing(path: str | Path) -> Path:
    """`path` as a Path, refused (PdError) where it is no file."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        raise PdError(f"{path} is a folder: give the shape files in it ({path / '*.ply'}, ...).")
    raise PdError(f"{path} is not a file." if path.exists() else f"{path} does not exist.")


# --- the project's own format ------------------------------------------------------------------


def write_npz(shape: Shape, path: str | Path) -> None:
    """Write `shape` to `path` in the project's format, atomically and byte-for-byte reproducibly.

    np.savez stamps the current time into each zip entry, so the same shape written twice would
    give different bytes; the archive is assembled here with a fixed timestamp instead.
    """
    meta = {
        "format": _FORMAT,
        "version": _VERSION,
        "category": shape.category,
        "part_names": list(shape.part_names),
        "provenance": shape.provenance.to_dict(),
    }
    arrays: dict[str, np.ndarray | None] = {
        "meta": np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8),
        "points": shape.points,
        "normals": shape.normals,
        "colors": shape.colors,
        "labels": shape.labels,
        "point_faces": shape.point_faces,
    }
    if shape.mesh is not None:
        arrays |= {
            "mesh_vertices": shape.mesh.vertices,
            "mesh_faces": shape.mesh.faces,
            "mesh_face_labels": shape.mesh.face_labels,
            "mesh_vertex_colors": shape.mesh.vertex_colors,
        }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            if array is None:
                continue
            entry = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(entry, "w") as handle:
                np.lib.format.write_array(handle, np.ascontiguousarray(array), allow_pickle=False)
    write_bytes(path, buffer.getvalue())


def read_npz(path: str | Path, data: bytes | None = None) -> Shape:
    """Read a shape written by `write_npz`, or a cloud Point-E saved (`_point_e_shape`); from
    `data`, the file's bytes read already, where given (`path` then only names it).

    Every array's header is checked (its kind of numbers, its width, at most MAX_POINTS rows or
    MAX_FACES faces) before any array is loaded, and the metadata is read field by field.
    """
    path = _existing(path) if data is None else Path(path)
    source = path if data is None else io.BytesIO(data)
    if not zipfile.is_zipfile(source):
        raise PdError(f"{path} is not a readable partdistill shape file (it is not a zip archive).")
    try:
        with zipfile.ZipFile(source) as archive:
            names = {info.filename for info in archive.infolist()}
            layout = _POINT_E if "coords.npy" in names else _ARRAYS
            members = {_array_name(info, path, layout): info for info in archive.infolist()}
            for name, info in members.items():
                with archive.open(info) as handle:
                    _check_array(name, *_array_header(handle), path, layout)
            arrays = {name: _read_array(archive, info) for name, info in members.items()}
    except _ZIP_ERRORS as error:
        raise PdError(f"{path} is not a readable partdistill shape file ({_reason(error)}).") from error
    if layout is _POINT_E:
        return _point_e_shape(arrays, path)
    meta = _npz_meta(arrays.pop("meta", None), path)
    try:
        mesh = None
        if "mesh_vertices" in arrays or "mesh_faces" in arrays:
            if "mesh_vertices" not in arrays or "mesh_faces" not in arrays:
                raise ShapeError("its mesh needs both mesh_vertices and mesh_faces")
            mesh = Mesh(
                vertices=arrays["mesh_vertices"],
                faces=arrays["mesh_faces"],
                face_labels=arrays.get("mesh_face_labels"),
                vertex_colors=arrays.get("mesh_vertex_colors"),
            )
        if "points" not in arrays:
            raise ShapeError("it holds no points array")
        return Shape(
            points=arrays["points"],
            normals=arrays.get("normals"),
            colors=arrays.get("colors"),
            labels=arrays.get("labels"),
            part_names=meta.part_names,
            category=meta.category,
            mesh=mesh,
            point_faces=arrays.get("point_faces"),
            provenance=meta.provenance or Provenance("unknown"),
        )
    except ShapeError as error:
        raise PdError(f"{path}: {error}") from error


# What a damaged archive raises: zipfile's BadZipFile, RuntimeError for an encrypted member,
# NotImplementedError for an unknown compression, zlib.error for a corrupt stream; numpy ValueError.
_ZIP_ERRORS = (
    OSError,
    ValueError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    zlib.error,
    zipfile.BadZipFile,
)


def _array_name(info: zipfile.ZipInfo, path: Path, layout: dict[str, tuple[int, int | None]]) -> str:
    """The array a zip member holds ("points" for points.npy); a member `layout` lacks is refused."""
    name = info.filename.removesuffix(".npy")
    if name not in layout or not info.filename.endswith(".npy"):
        raise PdError(
            f"{path} is not a partdistill shape file (nor a Point-E cloud): it holds '{info.filename}'."
        )
    return name


def _point_e_shape(arrays: dict[str, np.ndarray], path: Path) -> Shape:
    """The shape of a cloud Point-E saved: its coords as they are (Point-E's frame: +z up, front
    +x, which `--up z` turns into the catalogue's), coloured by its R, G, B channels where it has
    them (floats in [0, 1]: Point-E clamps its colours to that)."""
    coords = arrays["coords"]
    channels = [arrays[c] for c in "RGB" if c in arrays]
    missing = [c for c in "RGB" if c not in arrays]
    if channels and missing:
        raise PdError(f"{path}: it has no {' or '.join(missing)} channel; Point-E saves R, G and B together.")
    if any(len(values) != len(coords) for values in channels):
        raise PdError(
            f"{path}: its R, G, B channels must have a value for each of its {len(coords):,} points."
        )
    if any(values.dtype.kind != "f" for values in channels):
        words = dtype_words(next(v.dtype for v in channels if v.dtype.kind != "f"))
        raise PdError(
            f"{path}: its R, G, B channels must be floats in [0, 1], as Point-E saves them, not {words}."
        )
    if any(not ((values >= 0) & (values <= 1)).all() for values in channels):  # NaN fails both
        raise PdError(f"{path}: its R, G, B channels must be floats in [0, 1], and some are not.")
    try:
        return Shape(
            points=coords,
            colors=np.stack(channels, axis=1) if channels else None,
            provenance=Provenance("point-e", source=str(path), description="a cloud Point-E saved"),
        )
    except ShapeError as error:
        raise PdError(f"{path}: {error}") from error


def _array_header(handle: io.BufferedIOBase) -> tuple[tuple[int, ...], np.dtype]:
    """The (shape, dtype) an .npy stream's header declares, read without reading the array."""
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    else:
        raise ValueError(f"an array is in .npy format version {version[0]}.{version[1]}")
    return shape, dtype


def _check_array(
    name: str,
    shape: tuple[int, ...],
    dtype: np.dtype,
    path: Path,
    layout: dict[str, tuple[int, int | None]],
) -> None:
    """Refuse (PdError) an array of the wrong kind of values or width, or of more rows than allowed."""
    max_rows, width = layout[name]
    if name == "meta" and dtype != np.uint8:
        raise PdError(f"{path}: its meta array holds {dtype_words(dtype)}, not the bytes of a JSON text.")
    if dtype.kind not in "iuf":  # object arrays are pickles: never loaded
        raise PdError(f"{path}: its {name} array holds {dtype_words(dtype)}, not real numbers.")
    expected = (1,) if width is None else (2,)
    if (len(shape),) != expected or (width is not None and shape[1] != width):
        wanted = "[N]" if width is None else f"[N,{width}]"
        raise PdError(f"{path}: {name} must have shape {wanted}, not {list(shape)}.")
    if shape[0] > max_rows:
        raise PdError(
            f"{path}: its {name} array declares {shape[0]:,} rows, more than the {max_rows:,} "
            "a shape file may hold."
        )


def _read_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    with archive.open(info) as handle:
        return np.lib.format.read_array(handle, allow_pickle=False)


@dataclass(frozen=True)
class _Meta:
    """What a shape file says besides its arrays (the npz metadata, a PLY's partdistill comment)."""

    category: str | None = None
    part_names: tuple[str, ...] = ()
    provenance: Provenance | None = None


_META_KEYS = frozenset({"category", "part_names", "provenance"})


def _read_meta(fields: Fields) -> _Meta:
    """The metadata fields, typed: a category name, at most MAX_PARTS distinct part names, a provenance."""
    provenance = None
    if "provenance" in fields:
        provenance = Provenance.from_dict(fields.data["provenance"], f"{fields.source}: 'provenance'")
    return _Meta(
        category=fields.text("category", None),
        part_names=fields.texts("part_names", (), max_items=MAX_PARTS, unique=True),
        provenance=provenance,
    )


def _npz_meta(raw: np.ndarray | None, path: Path) -> _Meta:
    """The metadata of a shape file: a JSON object naming the format and its version."""
    if raw is None:
        raise PdError(f"{path} is not a readable partdistill shape file (it has no metadata).")
    try:
        data = parse_json(raw.tobytes().decode())
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise PdError(
            f"{path} is not a readable partdistill shape file (its metadata is not JSON)."
        ) from error
    fields = Fields(data, f"{path}: its metadata", "shape metadata")
    if fields.data.get("format") != _FORMAT:
        raise PdError(
            f"{path} is not a readable partdistill shape file (its metadata does not name the format)."
        )
    version = fields.whole("version")
    if version != _VERSION:
        raise PdError(f"{path} is shape format version {version}; this partdistill reads {_VERSION}.")
    fields.only(_META_KEYS | {"format", "version"})
    return _read_meta(fields)


# --- PLY ------------------------------------------------------------------------------------------

_PLY_COMMENT = "partdistill "


def read_ply(
    path: str | Path,
    *,
    n_points: int = DEFAULT_MESH_POINTS,
    seed: int = 0,
    part_names: tuple[str, ...] = (),
    category: str | None = None,
) -> Shape:
    """Read a PLY point cloud, or sample a PLY mesh (a PLY with faces) like any other mesh."""
    return _read_ply(path, n_points=n_points, seed=seed, part_names=part_names, category=category)[0]


def _read_ply(
    path: str | Path,
    *,
    n_points: int = DEFAULT_MESH_POINTS,
    seed: int = 0,
    part_names: tuple[str, ...] = (),
    category: str | None = None,
) -> tuple[Shape, FileLabels | None]:
    """`read_ply`, with the labels of its label property (named where its partdistill comment
    names them)."""
    from plyfile import PlyData, PlyParseError

    path = Path(path)
    _check_ply_counts(path)
    try:
        ply = PlyData.read(str(path))
        names = [element.name for element in ply.elements]
        if "vertex" not in names:
            raise ValueError("it has no vertex element")
        vertex = ply["vertex"].data
    except (PlyParseError, ValueError, OverflowError, OSError, EOFError, IndexError) as error:
        raise PdError(f"{path} is not a readable PLY file ({_reason(error)}).") from error
    fields = set(vertex.dtype.names or ())
    if not {"x", "y", "z"} <= fields:
        raise PdError(f"{path} has no x, y, z vertex properties, so it holds no points.")
    if len(vertex) == 0:
        raise PdError(f"{path} holds no points.")
    lists = [name for name in fields if vertex[name].dtype.kind == "O"]  # plyfile: an array per point
    if lists:
        raise PdError(
            f"{path}: its vertex property '{sorted(lists)[0]}' is a list, where partdistill reads "
            "one number per point."
        )
    meta = _ply_meta(ply.comments, path)
    if "face" in names and ply["face"].count > 0:
        if _textured(ply):  # trimesh maps the texture (its labels are not read then)
            return read_mesh(path, n_points=n_points, seed=seed, category=category), None
        return _ply_mesh(path, vertex, ply["face"].data, meta, n_points, seed, category, part_names)

    def stack(*columns: str) -> np.ndarray | None:
        return np.stack([vertex[c] for c in columns], axis=1) if set(columns) <= fields else None

    colors = _ply_rgb(vertex, path)
    normals = stack("nx", "ny", "nz")
    if normals is not None:  # a normal that is no number is unknown (zero): the points are still good
        normals = np.where(np.isfinite(normals).all(axis=1, keepdims=True), normals, 0.0)
    label_property = _label_property(vertex)
    try:
        labels = None if label_property is None else _ply_labels(vertex[label_property], label_property)
        names = meta.part_names or part_names
        numbered = labels is not None and not names
        if numbered:
            names = tuple(f"part {i}" for i in range(int(labels.max(initial=-1)) + 1))
        points, offset = recentred(stack("x", "y", "z"))  # type: ignore[arg-type]
        provenance = meta.provenance or Provenance("file", source=str(path))
        shape = Shape(
            points=points,
            normals=normals,
            colors=colors,
            labels=labels,
            part_names=names if labels is not None else (),
            category=category if meta.category is None else meta.category,
            # A file pd wrote keeps the offset of a shape it could not put back (one turned into
            # the catalogue's frame) in its record.
            provenance=provenance if offset is None else dataclasses.replace(provenance, offset=offset),
        )
    except ShapeError as error:
        raise PdError(f"{path}: {error}") from error
    if shape.labels is None:
        return shape, None
    where = f"its '{label_property}' property"
    given = () if numbered else tuple((name,) for name in shape.part_names)
    return shape, FileLabels(where, shape.labels, given or ((),) * len(shape.part_names))


# Where a PLY keeps texture coordinates: per face corner, or per vertex under one of these names.
_PLY_UV = ("texcoord", "texture_u", "u", "s")


def _textured(ply: PlyData) -> bool:
    """Whether a PLY mesh names a texture image and where its surface maps into it."""
    named = any(comment.split()[:1] == ["TextureFile"] for comment in ply.comments)
    properties = {p.name for element in ply.elements for p in element.properties}
    return named and bool(properties & set(_PLY_UV))


def _ply_mesh(
    path: Path,
    vertex: np.ndarray,
    face: np.ndarray,
    meta: _Meta,
    n_points: int,
    seed: int,
    category: str | None,
    part_names: tuple[str, ...],
) -> tuple[Shape, FileLabels | None]:
    """A PLY mesh without a texture sampled as `read_mesh` samples a mesh (colours from its vertices
    or faces), with the labels of a label property of its faces (each point takes its face's) or
    else of its vertices (each point takes its face's nearest corner's). Read with plyfile:
    trimesh's binary PLY reader refuses faces of several sizes (triangles and quads, as Blender
    writes them)."""
    import trimesh

    lists = [name for name in ("vertex_indices", "vertex_index") if name in (face.dtype.names or ())]
    if not lists:
        raise PdError(f"{path}: its faces have no vertex_indices list, so they name no vertices.")
    try:
        faces, made = _fan_triangles(face[lists[0]], len(vertex))  # made: [F] triangles of each face
    except ValueError as error:
        raise PdError(f"{path}: {error}.") from error
    xyz = np.stack([np.asarray(vertex[c], dtype=np.float64) for c in "xyz"], axis=1)
    face_colors = _ply_colors(face, path)
    mesh = trimesh.Trimesh(
        vertices=xyz,
        faces=faces,
        vertex_colors=_ply_colors(vertex, path),
        face_colors=None if face_colors is None else np.repeat(face_colors, made, axis=0),
        process=False,
    )
    shape = _sampled(path, mesh, n_points, seed, category if meta.category is None else meta.category)
    assert shape.point_faces is not None and shape.mesh is not None
    on_faces = _label_property(face)
    on_vertices = _label_property(vertex)
    if on_faces is not None:
        labels = _labels_of(face, on_faces, path)
        per_face = np.repeat(labels, made)  # a label for each triangle
        groups, where = per_face[shape.point_faces], f"its faces' '{on_faces}' property"
    elif on_vertices is not None:
        labels, per_face = _labels_of(vertex, on_vertices, path), None
        corners = shape.mesh.faces[shape.point_faces]  # [N,3] the corners of each point's face
        gaps = np.linalg.norm(shape.mesh.vertices[corners] - shape.points[:, None], axis=2)
        groups = labels[corners[np.arange(len(corners)), gaps.argmin(axis=1)]]
        where = f"its vertices' '{on_vertices}' property"
    else:
        return shape, None
    count = int(labels.max(initial=-1)) + 1
    names = meta.part_names or part_names
    given = tuple((name,) for name in names[:count]) if names else ((),) * count
    given += ((),) * (count - len(given))
    return shape, FileLabels(where, groups, given, per_face)


def _label_property(element: np.ndarray) -> str | None:
    """The first of `LABEL_PROPERTIES` a PLY element has, None where it has none."""
    return next((name for name in LABEL_PROPERTIES if name in (element.dtype.names or ())), None)


def _labels_of(element: np.ndarray, name: str, path: Path) -> np.ndarray:
    """A PLY element's label property `name` as labels (`_ply_labels`), one PdError if it is bad."""
    try:
        return _ply_labels(element[name], name)
    except ShapeError as error:
        raise PdError(f"{path}: {error}") from error


def _ply_rgb(element: np.ndarray, path: Path) -> np.ndarray | None:
    """[n,3] float32 RGB in [0,1] of a PLY element with red, green and blue properties, else None:
    floats in [0,1] as they are, whole numbers up to 255 as bytes and up to 65,535 as 16-bit
    values (laser scans' exports); anything else is refused (PdError)."""
    if not {"red", "green", "blue"} <= set(element.dtype.names or ()):
        return None
    rgb = np.stack([element[c] for c in ("red", "green", "blue")], axis=1).astype(np.float64)
    whole = np.issubdtype(element["red"].dtype, np.integer)
    top = float(rgb.max(initial=0.0)) if np.isfinite(rgb).all() else np.inf
    for scale in ((1.0,) if not whole else ()) + (255.0, 65535.0):
        if rgb.min(initial=0.0) >= 0 and top <= scale:
            return (rgb / scale).astype(np.float32)
    raise PdError(
        f"{path}: its red, green and blue properties hold values from {rgb.min():.6g} to {top:.6g}, "
        "not colours (floats in [0,1], bytes or 16-bit values)."
    )


def _ply_colors(element: np.ndarray, path: Path) -> np.ndarray | None:
    """`_ply_rgb` as bytes (trimesh's colours)."""
    rgb = _ply_rgb(element, path)
    return None if rgb is None else np.round(rgb.astype(np.float64) * 255).astype(np.uint8)


def _fan_triangles(polygons: np.ndarray, n_vertices: int) -> tuple[np.ndarray, np.ndarray]:
    """[T,3] int64 the triangles of a PLY's faces (vertex lists of any sizes), each fanned from its
    first corner, in face order, and [F] how many each face made; ValueError for a face of under
    3 corners or naming no vertex."""
    counts = np.fromiter((len(corners) for corners in polygons), dtype=np.int64, count=len(polygons))
    short = np.flatnonzero(counts < 3)
    if short.size:
        raise ValueError(f"face {short[0] + 1} has {counts[short[0]]} corners, not 3 or more")
    made = counts - 2
    triangles = np.empty((int(made.sum()), 3), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(made)])
    for size in np.unique(counts):  # the faces of one size stack into one array
        chosen = np.flatnonzero(counts == size)
        corners = np.stack([np.asarray(polygons[i], dtype=np.int64) for i in chosen])
        for k in range(size - 2):  # triangle k of each face: corners 0, k + 1, k + 2
            triangles[starts[chosen] + k] = corners[:, [0, k + 1, k + 2]]
    if triangles.size and (triangles.min() < 0 or triangles.max() >= n_vertices):
        raise ValueError(f"a face names a vertex it does not hold (it has {n_vertices:,})")
    return triangles, made


def write_ply(shape: Shape, path: str | Path, *, color_by: str = "auto") -> None:
    """Write `shape` as a binary PLY point cloud, atomically.

    `color_by="parts"` colours each point by its part (needs labels), `"rgb"` uses the shape's own
    colours (grey without), and `"auto"` picks parts when the shape is labelled. Labels, when
    present, are kept in an int `label` property and the part names in a header comment, so
    `read_ply` gets the labelled shape back. A shape read from a file whose coordinates lay far
    out (`Provenance.offset`) is written at those coordinates again, as doubles.
    """
    from plyfile import PlyData, PlyElement

    if color_by == "auto":
        color_by = "parts" if shape.is_labelled else "rgb"
    if color_by == "parts":
        if shape.labels is None:
            raise PdError("Cannot colour a PLY by parts: the shape has no part labels.")
        rgb = part_colors(shape.labels)
    elif shape.colors is not None:
        rgb = np.round(shape.colors * 255).astype(np.uint8)
    else:
        rgb = np.full((shape.n_points, 3), 160, dtype=np.uint8)
    points, provenance = shape.points, shape.provenance
    if provenance.offset is not None and provenance.frame is None:  # back where its file had it
        points = shape.points.astype(np.float64) + np.asarray(provenance.offset)
        provenance = dataclasses.replace(provenance, offset=None)
    columns: list[tuple[str, np.ndarray]] = [(c, points[:, i]) for i, c in enumerate("xyz")]
    if shape.normals is not None:
        columns += [(c, shape.normals[:, i]) for i, c in enumerate(("nx", "ny", "nz"))]
    columns += [(c, rgb[:, i]) for i, c in enumerate(("red", "green", "blue"))]
    if shape.labels is not None:
        columns.append(("label", shape.labels.astype(np.int32)))
    vertex = np.empty(shape.n_points, dtype=[(name, values.dtype.str) for name, values in columns])
    for name, values in columns:
        vertex[name] = values
    meta = {"category": shape.category, "part_names": list(shape.part_names)}
    meta["provenance"] = provenance.to_dict()
    ply = PlyData(
        [PlyElement.describe(vertex, "vertex")],
        text=False,
        byte_order="<",
        comments=[_PLY_COMMENT + json.dumps(meta, sort_keys=True)],
    )
    with atomic_path(path) as tmp:
        ply.write(str(tmp))


def _check_ply_counts(path: Path) -> None:
    """Refuse (PdError) a PLY whose header declares more vertices than MAX_POINTS, or more of any
    other element than MAX_FACES, before plyfile allocates room for them (a few bytes of header can
    ask for terabytes); a header that does not end within _PLY_HEADER_BYTES is refused too. So is
    a body holding a row more than the header declares, which plyfile would drop without a word
    (fewer, plyfile explains)."""
    counts: list[int] = []  # rows of each element, in order
    widths: list[int | None] = []  # bytes of one row of each element; None: it has a list
    room: list[int] = []  # bytes of one row of each element as plyfile makes room for it
    encoding = b""
    with path.open("rb") as handle:
        if handle.readline(8).strip() != b"ply":
            return  # not a PLY: plyfile says so
        while handle.tell() < _PLY_HEADER_BYTES:
            line = handle.readline(_PLY_HEADER_BYTES)
            words = line.split()
            if not line or words == [b"end_header"]:
                break
            if len(words) == 3 and words[0] == b"format":
                encoding = words[1]
            if len(words) >= 2 and words[0] == b"property" and widths:
                size = _PLY_SIZES.get(words[1]) if words[1] != b"list" else None
                widths[-1] = None if widths[-1] is None or size is None else widths[-1] + size
                room[-1] += size or 8  # plyfile's row: a list is an object (a pointer) in it
            if len(words) != 3 or words[0] != b"element":
                continue
            try:
                count = int(words[2])
            except ValueError:
                return  # plyfile explains a malformed count
            name = words[1].decode("ascii", "replace")
            limit = MAX_POINTS if name == "vertex" else MAX_FACES
            if count > limit:
                raise PdError(
                    f"{path} declares {count:,} {name} elements, more than the {limit:,} a shape may hold."
                )
            counts.append(count)
            widths.append(0)
            room.append(0)
        else:
            raise PdError(
                f"{path}: its PLY header does not end within its first {_PLY_HEADER_BYTES:,} bytes."
            )
        asked = sum(count * width for count, width in zip(counts, room, strict=True))
        if asked > _PLY_MAX_BYTES:  # plyfile makes room for every row before it reads one
            raise PdError(
                f"{path} declares {asked / 2**30:,.1f} GiB of rows, more than the "
                f"{_PLY_MAX_BYTES / 2**30:.0f} GiB pd reads from a PLY: save it without the properties "
                "it need not carry."
            )
        if encoding == b"ascii":  # a row a line, of numbers (a closing word is no row)
            held, declared, row = sum(1 for text in handle if _PLY_ROW.match(text)), sum(counts), 1
        elif None in widths or not line or not counts:
            return  # rows of lists have no fixed size: plyfile reads what the counts say
        else:  # a trailing newline or padding is no row
            held = path.stat().st_size - handle.tell()
            declared = sum(count * width for count, width in zip(counts, widths, strict=True))  # type: ignore[misc]
            row = max(1, widths[-1] or 1)
    if held - declared >= row:
        what = "rows" if encoding == b"ascii" else "bytes"
        raise PdError(
            f"{path} holds {held:,} {what} of data where its header declares {declared:,}: the header's "
            "counts do not match its body."
        )


_PLY_ROW = re.compile(rb"\s*[-+]?(?:\d|\.\d|nan|inf)", re.IGNORECASE)  # a line that starts with a number
# The bytes of one value of each PLY property type.
_PLY_SIZES = {
    name.encode(): size
    for names, size in (
        (("char", "uchar", "int8", "uint8"), 1),
        (("short", "ushort", "int16", "uint16"), 2),
        (("int", "uint", "float", "int32", "uint32", "float32"), 4),
        (("double", "float64"), 8),
    )
    for name in names
}


def _ply_labels(values: np.ndarray, name: str) -> np.ndarray:
    """A label property as int64 labels in -1..MAX_PARTS-1 (-1: no part), else a ShapeError; checked
    before a name is made for every part up to the largest label."""
    labels = whole_numbers(values, f"its '{name}' property")
    if labels.size and (labels.min() < -1 or labels.max() >= MAX_PARTS):
        raise ShapeError(
            f"its '{name}' property holds labels from {labels.min():,} to {labels.max():,}; a label is "
            f"a part from 0 to {MAX_PARTS - 1} (a shape has at most {MAX_PARTS} parts) or -1 for none"
        )
    return labels


def _ply_meta(comments: list[str], path: Path) -> _Meta:
    """The metadata `write_ply` keeps in a header comment, read typed (none: empty metadata)."""
    for comment in comments:  # another program's words after "partdistill" are not pd's record
        if comment.startswith(_PLY_COMMENT) and comment[len(_PLY_COMMENT) :].lstrip().startswith("{"):
            source = f"{path}: its partdistill comment"
            try:
                data = parse_json(comment[len(_PLY_COMMENT) :])
            except (ValueError, RecursionError) as error:
                raise PdError(f"{source} is not JSON ({_reason(error)}).") from error
            fields = Fields(data, source, "shape metadata")
            fields.only(_META_KEYS)
            return _read_meta(fields)
    return _Meta()


# --- meshes ---------------------------------------------------------------------------------------


def _check_off_counts(path: Path) -> None:
    """Refuse (PdError) an OFF file that holds fewer vertices or faces than its header declares, a
    face line shorter than its own count, or counts past MAX_POINTS vertices or MAX_FACES faces:
    trimesh reads what is there and would quietly drop the rest. Comments (#) and blank lines are
    skipped as trimesh skips them; a header trimesh cannot read is left for it to explain."""
    with path.open("rb") as handle:
        lines = (words for words in (line.split(b"#", 1)[0].split() for line in handle) if words)
        header = next(lines, [b""])
        if not header[0].upper().endswith(b"OFF"):
            return
        counts = header[1:] or next(lines, [])
        try:
            n_vertices, n_faces = int(counts[0]), int(counts[1])
        except (IndexError, ValueError):
            return
        if not (0 <= n_vertices <= MAX_POINTS and 0 <= n_faces <= MAX_FACES):
            raise PdError(
                f"{path} declares {n_vertices:,} vertices and {n_faces:,} faces; a shape's mesh may have "
                f"0 to {MAX_POINTS:,} and 0 to {MAX_FACES:,}."
            )
        held_vertices = sum(1 for _ in itertools.islice(lines, n_vertices))
        held_faces = 0
        for words in itertools.islice(lines, n_faces):
            corners = int(words[0]) if words[0].isdigit() else 0  # trimesh explains a malformed count
            if len(words) < 1 + corners:
                raise PdError(
                    f"{path}: face {held_faces + 1} lists fewer than the {corners} vertices it declares."
                )
            held_faces += 1
    if held_vertices < n_vertices or held_faces < n_faces:
        raise PdError(
            f"{path} declares {n_vertices:,} vertices and {n_faces:,} faces but holds {held_vertices:,} "
            f"and {held_faces:,}: it is cut short."
        )


# A face line of an OBJ file with a relative (negative) index, or an index 0, somewhere in it.
_OBJ_FACE_TO_RESOLVE = re.compile(rb"(?m)^[ \t]*f[ \t][^\n]*?(?<=[ \t/])(?:-|0+(?![0-9.]))")


def _obj_absolute(path: Path) -> bytes:
    """The OBJ file's text with its relative (negative) face indices made absolute (as it is where
    it has none); a face naming index 0 is refused (PdError: OBJ counts from 1).

    An OBJ index -1 is the element written last *before* the face; trimesh counts it from the end
    of the whole file instead, which turns a file that interleaves its vertices and faces into a
    few triangles with no error, so the indices are resolved here, line by line as the format
    defines them, before trimesh reads the text.
    """
    data = path.read_bytes()
    if not _OBJ_FACE_TO_RESOLVE.search(data):
        return data
    counts = {b"v": 0, b"vt": 0, b"vn": 0}
    lines = data.splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        words = line.split(b"#", 1)[0].split()
        if not words:
            continue
        if words[0] in counts:
            counts[words[0]] += 1
        elif words[0] == b"f":
            corners = []
            for corner in words[1:]:
                parts = corner.split(b"/")
                for slot, (part, kind) in enumerate(zip(parts, (b"v", b"vt", b"vn"), strict=False)):
                    if not part.lstrip(b"-").isdigit():
                        continue  # trimesh explains what is not a number
                    index = int(part)
                    if index == 0:
                        raise PdError(
                            f"{path}: the face on line {number} names {kind.decode()} 0, where OBJ numbers "
                            "them from 1 (or from -1 back)."
                        )
                    if index < 0:
                        if counts[kind] + 1 + index < 1:
                            raise PdError(
                                f"{path}: the face on line {number} names {kind.decode()} {index}, and only "
                                f"{counts[kind]} come before it."
                            )
                        parts[slot] = b"%d" % (counts[kind] + 1 + index)
                corners.append(b"/".join(parts))
            lines[number - 1] = b"f " + b" ".join(corners) + b"\n"
    return b"".join(lines)


def read_mesh(
    path: str | Path, *, n_points: int = DEFAULT_MESH_POINTS, seed: int = 0, category: str | None = None
) -> Shape:
    """Read a mesh with trimesh and sample it (see `shape_from_mesh`)."""
    import trimesh

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".off":
        _check_off_counts(path)
    text = _obj_absolute(path) if suffix == ".obj" else None
    try:
        if text is None:
            # A PLY's texture trimesh cannot load (missing, or outside the folder, which its
            # resolver refuses) is a logged traceback; pd goes on without it, as trimesh does.
            with held_back("trimesh"):
                loaded = trimesh.load(str(path), force="mesh", process=False)
        else:  # the text read once, its indices resolved; its material files from beside it
            resolver = trimesh.resolvers.FilePathResolver(str(path))
            loaded = trimesh.load(
                io.BytesIO(text), file_type="obj", resolver=resolver, force="mesh", process=False
            )
    except IndexError as error:  # numpy's words, from trimesh indexing the vertices by the faces
        raise PdError(f"{path} is not a readable mesh (a face names a vertex it does not hold).") from error
    except Exception as error:  # trimesh raises many kinds for malformed files
        raise _unreadable(path, error) from error
    return _sampled(path, loaded, n_points, seed, category)


def _sampled(path: Path, loaded: object, n_points: int, seed: int, category: str | None) -> Shape:
    """The mesh trimesh read from `path`, sampled; one PdError where it holds nothing to sample."""
    import trimesh

    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise PdError(f"{path} holds no triangles to sample points from.")
    if len(loaded.vertices) > MAX_POINTS or len(loaded.faces) > MAX_FACES:
        raise PdError(
            f"{path} holds {len(loaded.vertices):,} vertices and {len(loaded.faces):,} triangles, more than "
            f"the {MAX_POINTS:,} and {MAX_FACES:,} a shape's mesh may have."
        )
    try:
        return shape_from_mesh(
            loaded,
            n_points=n_points,
            seed=seed,
            category=category,
            provenance=Provenance("file", source=str(path)),
        )
    except PdError as error:
        raise PdError(f"{path}: {error}") from error


def _read_scene(path: Path, *, n_points: int, seed: int) -> tuple[Shape, FileLabels | None]:
    """A GLB/GLTF file sampled as `read_mesh` samples it (the same points: its meshes are joined in
    the same order), with each point's piece: the meshes of the file grouped by their names (the
    node's own, its parents', the mesh's). None for a file of one piece."""
    import trimesh

    try:
        scene = trimesh.load_scene(str(path), process=False)
        pieces = [piece for piece in scene.dump() if isinstance(piece, trimesh.Trimesh)]
        loaded = trimesh.util.concatenate(pieces) if pieces else None
    except Exception as error:  # trimesh raises many kinds for malformed files
        raise _unreadable(path, error) from error
    shape = _sampled(path, loaded, n_points, seed, None)
    parents = scene.graph.transforms.parents
    keys: dict[tuple[str, ...], int] = {}
    face_groups = []
    for piece in pieces:
        node = piece.metadata.get("node")
        names = []
        while node is not None and node != scene.graph.base_frame and len(names) < 64:
            names.append(str(node))
            node = parents.get(node)
        names.append(str(piece.metadata.get("name", "")))
        key = tuple(dict.fromkeys(name for name in names if name.strip()))
        face_groups.append(np.full(len(piece.faces), keys.setdefault(key, len(keys)), dtype=np.int64))
    if len(keys) < 2:
        return shape, None
    assert shape.point_faces is not None
    faces = np.concatenate(face_groups)
    return shape, FileLabels("its node and mesh names", faces[shape.point_faces], tuple(keys), faces)


def shape_from_mesh(
    mesh: trimesh.Trimesh,
    *,
    n_points: int,
    seed: int,
    provenance: Provenance,
    category: str | None = None,
    face_labels: np.ndarray | None = None,
    part_names: tuple[str, ...] = (),
) -> Shape:
    """Sample `n_points` points on `mesh`, area-weighted and seeded, with normals and colours.

    Each point carries the normal of its face, the colour interpolated from the vertex colours (or
    its face's colour, or its texture), and, given `face_labels` [F], its face's part label.
    """
    import trimesh

    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    if not np.isfinite(vertices).all():
        raise PdError("the mesh has vertices with NaN or infinite coordinates")
    vertices, offset = recentred(vertices)
    if offset is not None:  # sampled where float32 holds the shape well
        mesh = mesh.copy()
        mesh.vertices = vertices
        provenance = dataclasses.replace(provenance, offset=offset)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    if mesh.area <= 0:
        raise PdError("the mesh has no surface area")
    points, face_index, barycentric = trimesh.sample.sample_surface(
        mesh, n_points, seed=seed, return_barycentric=True
    )
    vertex_colors = _vertex_colors(mesh)
    if vertex_colors is not None:
        colors = np.einsum("nk,nkc->nc", barycentric, vertex_colors[faces[face_index]])
    elif mesh.visual.kind == "face":
        colors = np.asarray(mesh.visual.face_colors, dtype=np.float32)[face_index, :3] / 255.0
    else:
        colors = None
    labels = None if face_labels is None else np.asarray(face_labels)[face_index]
    return Shape(
        points=points,
        normals=np.asarray(mesh.face_normals)[face_index],
        colors=None if colors is None else np.clip(colors, 0.0, 1.0),
        labels=labels,
        part_names=part_names if labels is not None else (),
        category=category,
        mesh=Mesh(vertices=vertices, faces=faces, face_labels=face_labels, vertex_colors=vertex_colors),
        point_faces=face_index,
        provenance=provenance,
    )


def _vertex_colors(mesh: trimesh.Trimesh) -> np.ndarray | None:
    """[V,3] float RGB of a mesh with vertex colours or a texture (sampled at the vertices), else None."""
    kind = mesh.visual.kind
    if kind == "texture":
        rgba = _texture_colors(mesh)
    elif kind == "vertex":
        rgba = np.asarray(mesh.visual.vertex_colors)
    else:
        return None
    return None if rgba is None else rgba[:, :3].astype(np.float32) / 255.0


def _texture_colors(mesh: trimesh.Trimesh) -> np.ndarray | None:
    """[V,4] RGBA of a textured mesh: its texture image sampled at the vertices' UV coordinates; the
    material's flat colour where there is no image to sample (an MTL naming a file a download lacks)
    or no UVs; None where the material has no colour either.

    trimesh's `to_color` gives None, or one colour, for a material without an image, and the colour
    visual it builds from that fails later with a TypeError, so the material is asked directly.
    """
    material, n = mesh.visual.material, len(mesh.vertices)
    try:
        rgba = material.to_color(mesh.visual.uv)
    except Exception:  # an image trimesh cannot sample: the flat colour instead
        rgba = None
    rgba = None if rgba is None else np.asarray(rgba)
    if rgba is not None and rgba.ndim == 2 and rgba.shape[0] == n and rgba.shape[1] >= 3:
        return rgba
    flat = getattr(material, "main_color", None)
    if flat is None or np.size(flat) < 3:
        return None
    return np.tile(np.asarray(flat).reshape(-1)[:4], (n, 1))


def _unreadable(path: Path, error: BaseException) -> PdError:
    """What trimesh's `error` reading the mesh at `path` means for its user, in one sentence."""
    reason = _reason(error)
    if "escapes resolver root" in reason:  # trimesh's words for a file named outside the folder
        return PdError(
            f"{path} needs a file outside its own folder, which is not read; keep its files beside it."
        )
    with path.open("rb") as handle:
        if b"KHR_draco_mesh_compression" in handle.read(1 << 20):  # the glTF JSON names the extension
            return PdError(
                f"{path} is compressed with Draco, which trimesh reads with the DracoPy package only: "
                "install it (pip install DracoPy), or export the file uncompressed."
            )
    return PdError(f"{path} is not a readable mesh ({reason}).")


def _reason(error: BaseException) -> str:
    text = str(error).strip().rstrip(".") or type(error).__name__
    return text.splitlines()[0]
