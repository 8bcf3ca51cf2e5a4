"""Reading and writing shapes.

Read: PLY point clouds (plyfile; optional normals, colours, a per-point label property), meshes in
PLY/OBJ/GLB/GLTF/OFF/STL (trimesh; sampled to points with normals and colours, area-weighted and
seeded), and the project's own `.npz` format. Write: the project's `.npz` and a PLY whose colours
show the parts (MeshLab, CloudCompare and Open3D read it; its `label` property keeps the labels).

Every reader turns a bad file into one `PdError` sentence that names the file.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from partdistill.errors import PdError
from partdistill.files import atomic_path, write_bytes
from partdistill.palette import part_colors
from partdistill.shapes import MAX_POINTS, Mesh, Provenance, Shape

if TYPE_CHECKING:
    import trimesh

SHAPE_SUFFIX = ".npz"
MESH_SUFFIXES = (".obj", ".glb", ".gltf", ".off", ".stl")
POINT_SUFFIXES = (".ply", SHAPE_SUFFIX)
READABLE_SUFFIXES = POINT_SUFFIXES + MESH_SUFFIXES
DEFAULT_MESH_POINTS = 10_000
MAX_FACES = 50_000_000  # faces (or other elements) a PLY may declare; a detailed scan has a few million
_PLY_HEADER_BYTES = 1 << 20  # where a PLY header must have ended (one holds a few hundred bytes)
# Per-point label properties understood in foreign PLY files, most specific first.
LABEL_PROPERTIES = ("label", "part", "part_id", "semantic_seg")
_FORMAT = "partdistill.shape"
_VERSION = 1


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
    path = Path(path)
    if not path.is_file():
        raise PdError(f"{path} does not exist." if not path.exists() else f"{path} is not a file.")
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


def read_npz(path: str | Path) -> Shape:
    """Read a shape written by `write_npz`."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise PdError(f"{path} is not a readable partdistill shape file (it is not a zip archive).")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, MemoryError) as error:  # headers can lie
        raise PdError(f"{path} is not a readable partdistill shape file ({_reason(error)}).") from error
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode())
        if meta.get("format") != _FORMAT:
            raise ValueError("its metadata does not name the partdistill shape format")
        if meta.get("version") != _VERSION:
            raise ValueError(f"it is format version {meta.get('version')}, this partdistill reads {_VERSION}")
        mesh = None
        if "mesh_vertices" in arrays:
            mesh = Mesh(
                vertices=arrays["mesh_vertices"],
                faces=arrays["mesh_faces"],
                face_labels=arrays.get("mesh_face_labels"),
                vertex_colors=arrays.get("mesh_vertex_colors"),
            )
        return Shape(
            points=arrays["points"],
            normals=arrays.get("normals"),
            colors=arrays.get("colors"),
            labels=arrays.get("labels"),
            part_names=tuple(meta.get("part_names", ())),
            category=meta.get("category"),
            mesh=mesh,
            point_faces=arrays.get("point_faces"),
            provenance=Provenance.from_dict(meta.get("provenance", {"generator": "unknown"})),
        )
    except PdError as error:
        raise PdError(f"{path}: {error}") from error
    except (KeyError, ValueError, UnicodeDecodeError) as error:
        raise PdError(f"{path} is not a readable partdistill shape file ({_reason(error)}).") from error


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
    from plyfile import PlyData, PlyParseError

    path = Path(path)
    _check_ply_counts(path)
    try:
        ply = PlyData.read(str(path))
        names = [element.name for element in ply.elements]
        if "face" in names and ply["face"].count > 0:
            return read_mesh(path, n_points=n_points, seed=seed, category=category)
        if "vertex" not in names:
            raise ValueError("it has no vertex element")
        vertex = ply["vertex"].data
    except (PlyParseError, ValueError, OSError, EOFError, IndexError) as error:
        raise PdError(f"{path} is not a readable PLY file ({_reason(error)}).") from error
    fields = set(vertex.dtype.names or ())
    if not {"x", "y", "z"} <= fields:
        raise PdError(f"{path} has no x, y, z vertex properties, so it holds no points.")
    if len(vertex) == 0:
        raise PdError(f"{path} holds no points.")
    meta = _ply_meta(ply.comments)

    def stack(*columns: str) -> np.ndarray | None:
        return np.stack([vertex[c] for c in columns], axis=1) if set(columns) <= fields else None

    colors = stack("red", "green", "blue")
    if colors is not None:
        colors = colors.astype(np.float32)
        if np.issubdtype(vertex["red"].dtype, np.integer) or colors.max() > 1.0:
            colors = colors / 255.0
    labels = next((np.asarray(vertex[name]) for name in LABEL_PROPERTIES if name in fields), None)
    names = tuple(meta.get("part_names", ())) or part_names
    if labels is not None and not names:
        names = tuple(f"part {i}" for i in range(int(labels.max(initial=-1)) + 1))
    try:
        return Shape(
            points=stack("x", "y", "z"),  # type: ignore[arg-type]
            normals=stack("nx", "ny", "nz"),
            colors=colors,
            labels=labels,
            part_names=names if labels is not None else (),
            category=meta.get("category", category),
            provenance=Provenance.from_dict(meta["provenance"])
            if "provenance" in meta
            else Provenance("file", source=str(path)),
        )
    except PdError as error:
        raise PdError(f"{path}: {error}") from error


def write_ply(shape: Shape, path: str | Path, *, color_by: str = "auto") -> None:
    """Write `shape` as a binary PLY point cloud, atomically.

    `color_by="parts"` colours each point by its part (needs labels), `"rgb"` uses the shape's own
    colours (grey without), and `"auto"` picks parts when the shape is labelled. Labels, when
    present, are kept in an int `label` property and the part names in a header comment, so
    `read_ply` gets the labelled shape back.
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
    columns: list[tuple[str, np.ndarray]] = [(c, shape.points[:, i]) for i, c in enumerate("xyz")]
    if shape.normals is not None:
        columns += [(c, shape.normals[:, i]) for i, c in enumerate(("nx", "ny", "nz"))]
    columns += [(c, rgb[:, i]) for i, c in enumerate(("red", "green", "blue"))]
    if shape.labels is not None:
        columns.append(("label", shape.labels.astype(np.int32)))
    vertex = np.empty(shape.n_points, dtype=[(name, values.dtype.str) for name, values in columns])
    for name, values in columns:
        vertex[name] = values
    meta = {"category": shape.category, "part_names": list(shape.part_names)}
    meta["provenance"] = shape.provenance.to_dict()
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
    ask for terabytes); a header that does not end within _PLY_HEADER_BYTES is refused too."""
    with path.open("rb") as handle:
        if handle.readline(8).strip() != b"ply":
            return  # not a PLY: plyfile says so
        while handle.tell() < _PLY_HEADER_BYTES:
            line = handle.readline(_PLY_HEADER_BYTES)
            if not line or line.strip() == b"end_header":
                return
            words = line.split()
            if len(words) != 3 or words[0] != b"element":
                continue
            try:
                count = int(words[2])
            except ValueError:
                continue  # plyfile explains a malformed count
            name = words[1].decode("ascii", "replace")
            limit = MAX_POINTS if name == "vertex" else MAX_FACES
            if count > limit:
                raise PdError(
                    f"{path} declares {count:,} {name} elements, more than the {limit:,} a shape may hold."
                )
    raise PdError(f"{path}: its PLY header does not end within its first {_PLY_HEADER_BYTES:,} bytes.")


def _ply_meta(comments: list[str]) -> dict:
    for comment in comments:
        if comment.startswith(_PLY_COMMENT):
            try:
                return dict(json.loads(comment[len(_PLY_COMMENT) :]))
            except (ValueError, TypeError):
                return {}
    return {}


# --- meshes ---------------------------------------------------------------------------------------


def read_mesh(
    path: str | Path, *, n_points: int = DEFAULT_MESH_POINTS, seed: int = 0, category: str | None = None
) -> Shape:
    """Read a mesh with trimesh and sample it (see `shape_from_mesh`)."""
    import trimesh

    path = Path(path)
    try:
        loaded = trimesh.load(str(path), force="mesh", process=False)
    except Exception as error:  # trimesh raises many kinds for malformed files
        raise PdError(f"{path} is not a readable mesh ({_reason(error)}).") from error
    if not isinstance(loaded, trimesh.Trimesh) or len(loaded.faces) == 0:
        raise PdError(f"{path} holds no triangles to sample points from.")
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
    faces = np.asarray(mesh.faces, dtype=np.int64)
    if not np.isfinite(vertices).all():
        raise PdError("the mesh has vertices with NaN or infinite coordinates")
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
        try:
            visual = mesh.visual.to_color()
        except Exception:  # a texture trimesh cannot sample: keep the shape, lose its colour
            return None
        return np.asarray(visual.vertex_colors, dtype=np.float32)[:, :3] / 255.0
    if kind == "vertex":
        return np.asarray(mesh.visual.vertex_colors, dtype=np.float32)[:, :3] / 255.0
    return None


def _reason(error: BaseException) -> str:
    text = str(error).strip().rstrip(".") or type(error).__name__
    return text.splitlines()[0]
