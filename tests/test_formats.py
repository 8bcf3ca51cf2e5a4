"""Readers and writers: round trips, meshes through trimesh, and bad files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh
from plyfile import PlyData, PlyElement

from partdistill.errors import PdError
from partdistill.formats import (
    read_labelled,
    read_npz,
    read_ply,
    read_shape,
    shape_from_mesh,
    write_npz,
    write_ply,
)
from partdistill.shapes import MAX_POINTS, Frame, Mesh, Provenance, Shape
from partdistill.synth.point_e import shape_from_point_e


def _assert_same(a: Shape, b: Shape) -> None:
    np.testing.assert_array_equal(a.points, b.points)
    for name in ("normals", "colors", "labels", "point_faces"):
        left, right = getattr(a, name), getattr(b, name)
        assert (left is None) == (right is None), name
        if left is not None:
            np.testing.assert_allclose(left, right, atol=1e-6, err_msg=name)
    assert a.part_names == b.part_names and a.category == b.category and a.provenance == b.provenance


def _colored_box() -> trimesh.Trimesh:
    box = trimesh.creation.box(extents=(2.0, 1.0, 0.5))
    colors = np.zeros((8, 4), dtype=np.uint8)
    colors[:, 3] = 255
    colors[box.vertices[:, 0] > 0, 0] = 255  # +x half red, -x half black
    box.visual.vertex_colors = colors
    return box


def test_npz_round_trip_with_mesh_is_exact_and_byte_reproducible(tmp_path: Path) -> None:
    face_labels = np.arange(12) % 3 - 1
    shape = shape_from_mesh(
        _colored_box(),
        n_points=300,
        seed=1,
        provenance=Provenance("test", prompt="a box", seed=1),
        face_labels=face_labels,
        part_names=("a", "b"),
        category="table",
    )
    write_npz(shape, tmp_path / "a.npz")
    write_npz(shape, tmp_path / "b.npz")
    back = read_npz(tmp_path / "a.npz")
    _assert_same(shape, back)
    np.testing.assert_array_equal(back.mesh.face_labels, face_labels)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "b.npz"]  # no temporary files left


def test_ply_round_trip_keeps_labels_names_and_normals(tmp_path: Path, two_part_shape: Shape) -> None:
    write_ply(two_part_shape, tmp_path / "parts.ply")
    back = read_ply(tmp_path / "parts.ply")
    _assert_same(two_part_shape, back.replace(colors=None))
    # Coloured by part: the two parts get two different colours, each uniform within its part.
    colours = np.round(back.colors * 255).astype(int)
    top, bottom = colours[two_part_shape.labels == 0], colours[two_part_shape.labels == 1]
    assert len(np.unique(top, axis=0)) == 1 and len(np.unique(bottom, axis=0)) == 1
    assert not np.array_equal(top[0], bottom[0])


def test_ply_rgb_colours_round_trip(tmp_path: Path) -> None:
    colors = np.random.default_rng(0).integers(0, 256, size=(50, 3)) / 255.0
    shape = Shape(points=np.random.default_rng(1).normal(size=(50, 3)), colors=colors)
    write_ply(shape, tmp_path / "rgb.ply")
    np.testing.assert_allclose(read_ply(tmp_path / "rgb.ply").colors, colors, atol=1e-6)


def _write_foreign_ply(path: Path, fields: dict[str, np.ndarray], text: bool = True) -> None:
    vertex = np.empty(len(next(iter(fields.values()))), dtype=[(k, v.dtype.str) for k, v in fields.items()])
    for key, values in fields.items():
        vertex[key] = values
    PlyData([PlyElement.describe(vertex, "vertex")], text=text).write(str(path))


def test_foreign_ply_with_float_colours_and_label_property(tmp_path: Path) -> None:
    xyz = np.arange(12, dtype=np.float32).reshape(4, 3)
    fields = {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]}
    fields |= {
        "red": np.full(4, 0.5, np.float32),
        "green": np.zeros(4, np.float32),
        "blue": np.ones(4, np.float32),
    }
    fields["label"] = np.array([0, 2, 1, -1], dtype=np.int32)
    _write_foreign_ply(tmp_path / "foreign.ply", fields)
    shape = read_shape(tmp_path / "foreign.ply")
    np.testing.assert_array_equal(shape.points, xyz)
    np.testing.assert_allclose(shape.colors[0], [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(shape.labels, [0, 2, 1, -1])
    assert shape.part_names == ("part 0", "part 1", "part 2")
    named = read_shape(tmp_path / "foreign.ply", part_names=("a", "b", "c"))
    assert named.part_names == ("a", "b", "c")


def test_ply_colours_of_16_bits_are_read_and_a_normal_that_is_no_number_is_left_unknown(
    tmp_path: Path,
) -> None:
    xyz = np.arange(12, dtype=np.float32).reshape(4, 3)
    fields = {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]}
    fields |= {"nx": np.array([1, np.nan, 0, 0], np.float32), "ny": np.zeros(4, np.float32)}
    fields |= {"nz": np.zeros(4, np.float32)}
    fields |= {c: np.array([0, 65535, 32768, 255], np.uint16) for c in ("red", "green", "blue")}
    _write_foreign_ply(tmp_path / "scan.ply", fields, text=False)  # as laser scans' exports write them
    shape = read_shape(tmp_path / "scan.ply")
    np.testing.assert_allclose(shape.colors[:, 0], [0, 1, 32768 / 65535, 255 / 65535], rtol=1e-6)
    np.testing.assert_array_equal(shape.normals[:2], [[1, 0, 0], [0, 0, 0]])
    fields |= {c: np.array([0, 70000, 1, 2], np.int32) for c in ("red", "green", "blue")}
    _write_foreign_ply(tmp_path / "odd.ply", fields, text=False)
    with pytest.raises(
        PdError, match=r"odd\.ply: its red, green and blue properties hold values from 0 to 70000"
    ):
        read_shape(tmp_path / "odd.ply")


def test_another_programs_partdistill_comment_and_cloudcompares_label_field_are_read(tmp_path: Path) -> None:
    xyz = np.arange(12, dtype=np.float32).reshape(4, 3)
    fields = {
        "x": xyz[:, 0],
        "y": xyz[:, 1],
        "z": xyz[:, 2],
        "scalar_label": np.array([0, 1, 1, -1], np.float32),
    }
    vertex = np.empty(4, dtype=[(k, v.dtype.str) for k, v in fields.items()])
    for key, values in fields.items():
        vertex[key] = values
    comments = ["partdistill was here"]  # not pd's record (that is JSON): no reason to refuse the file
    PlyData([PlyElement.describe(vertex, "vertex")], comments=comments).write(str(tmp_path / "cc.ply"))
    np.testing.assert_array_equal(read_shape(tmp_path / "cc.ply").labels, [0, 1, 1, -1])


def test_ply_header_counts_that_leave_rows_unread_are_refused(tmp_path: Path) -> None:
    xyz = np.arange(30, dtype=np.float32).reshape(10, 3)
    for text in (True, False):
        _write_foreign_ply(tmp_path / "p.ply", {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]}, text=text)
        data = (tmp_path / "p.ply").read_bytes()
        (tmp_path / "p.ply").write_bytes(data.replace(b"element vertex 10", b"element vertex 8"))
        what = (
            "10 rows of data where its header declares 8"
            if text
            else "120 bytes of data where its header declares 96"
        )
        with pytest.raises(PdError, match=what):
            read_shape(tmp_path / "p.ply")


def test_ply_of_bare_points_has_no_optional_attributes(tmp_path: Path) -> None:
    xyz = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    _write_foreign_ply(tmp_path / "bare.ply", {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]}, text=False)
    shape = read_shape(tmp_path / "bare.ply")
    assert shape.normals is None and shape.colors is None and shape.labels is None
    np.testing.assert_array_equal(shape.points, xyz)


@pytest.mark.parametrize("suffix", [".obj", ".glb", ".off", ".ply"])
def test_meshes_are_sampled_area_weighted_and_seeded(tmp_path: Path, suffix: str) -> None:
    box = _colored_box()
    box.export(tmp_path / f"box{suffix}")
    shape = read_shape(tmp_path / f"box{suffix}", n_points=4000, seed=3)
    again = read_shape(tmp_path / f"box{suffix}", n_points=4000, seed=3)
    np.testing.assert_array_equal(shape.points, again.points)
    assert shape.n_points == 4000 and shape.mesh is not None and len(shape.mesh.faces) == 12
    # Points lie on the surface, with unit face normals.
    assert np.abs(shape.points).max(axis=0) == pytest.approx([1.0, 0.5, 0.25], abs=1e-5)
    np.testing.assert_allclose(np.linalg.norm(shape.normals, axis=1), 1.0, atol=1e-5)
    # Area-weighted: the two 2x1 faces at z = +-0.25 hold 4 of the box's 7 area units.
    on_z_faces = np.isclose(np.abs(shape.points[:, 2]), 0.25, atol=1e-6).mean()
    assert on_z_faces == pytest.approx(4.0 / 7.0, abs=0.03)
    if suffix != ".off":  # OFF carries no colours
        # Colours are interpolated from the vertices: red grows with x.
        red = shape.colors[:, 0]
        assert red[shape.points[:, 0] > 0.99].min() > 0.95 and red[shape.points[:, 0] < -0.99].max() < 0.05


TEXTURED_TRIANGLE = (
    "mtllib m.mtl\nusemtl paint\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nf 1/1 2/2 3/3\n"
)


@pytest.mark.parametrize(("texture", "rgb"), [(True, [0.0, 0.6, 0.2]), (False, [0.8, 0.2, 0.2])])
def test_an_obj_takes_its_texture_or_without_the_image_its_material_colour(
    tmp_path: Path, texture: bool, rgb: list[float]
) -> None:
    """Downloads often lack the image an MTL names: the mesh keeps the material's flat colour."""
    from PIL import Image

    (tmp_path / "tri.obj").write_text(TEXTURED_TRIANGLE)
    (tmp_path / "m.mtl").write_text("newmtl paint\nKd 0.8 0.2 0.2\nmap_Kd paint.png\n")
    if texture:
        Image.new("RGB", (2, 2), (0, 153, 51)).save(tmp_path / "paint.png")
    shape = read_shape(tmp_path / "tri.obj", n_points=50)
    assert shape.n_points == 50 and shape.mesh is not None
    np.testing.assert_allclose(shape.colors, np.tile(rgb, (50, 1)), atol=1e-6)


def test_labels_follow_faces_when_sampling(tmp_path: Path) -> None:
    box = trimesh.creation.box()
    face_labels = (box.triangles_center[:, 1] > 0).astype(np.int64)  # top half of the faces is part 1
    shape = shape_from_mesh(
        box,
        n_points=2000,
        seed=0,
        provenance=Provenance("test"),
        face_labels=face_labels,
        part_names=("lo", "hi"),
    )
    np.testing.assert_array_equal(shape.labels, face_labels[shape.point_faces])


def _bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    header = (
        "ply\nformat ascii 1.0\nelement vertex 3\n"
        "property float x\nproperty float y\nproperty float z\nend_header\n"
    )
    cases = {
        "truncated ply": ("cut.ply", header + "0 0 0\n1 1 1\n", "not a readable PLY"),
        "garbage ply": ("junk.ply", "this is not a ply file", "not a readable PLY"),
        "empty ply": ("empty.ply", header.replace("vertex 3", "vertex 0"), "holds no points"),
        "nan ply": ("nan.ply", header + "0 0 0\nnan 1 1\n2 2 2\n", "1 of 3 points have NaN"),
        "no xyz": (
            "noxyz.ply",
            "ply\nformat ascii 1.0\nelement vertex 1\nproperty float q\nend_header\n1\n",
            "no x, y, z",
        ),
        "empty file": ("zero.ply", "", "not a readable PLY"),
        "garbage npz": ("junk.npz", "not a zip", "not a zip archive"),
        "garbage obj": ("junk.obj", "v 0 0 0\n", "no triangles"),
        "unknown suffix": ("shape.xyz", "1 2 3\n", "unsupported suffix"),
    }
    out = {}
    for name, (file, content, message) in cases.items():
        (tmp / file).write_text(content)
        out[name] = (tmp / file, message)
    return out


@pytest.mark.parametrize(
    "case",
    [
        "truncated ply",
        "garbage ply",
        "empty ply",
        "nan ply",
        "no xyz",
        "empty file",
        "garbage npz",
        "garbage obj",
        "unknown suffix",
    ],
)
def test_bad_files_give_one_sentence_naming_the_file(tmp_path: Path, case: str) -> None:
    path, message = _bad_files(tmp_path)[case]
    with pytest.raises(PdError, match=message) as raised:
        read_shape(path)
    assert str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PdError, match="does not exist"):
        read_shape(tmp_path / "nope.ply")


def test_npz_with_labels_that_do_not_match_the_points(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    meta = np.frombuffer(
        b'{"format": "partdistill.shape", "version": 1, "part_names": ["a"]}', dtype=np.uint8
    )
    np.savez(buffer, meta=meta, points=np.zeros((5, 3), np.float32), labels=np.zeros(4, np.int64))
    (tmp_path / "bad.npz").write_bytes(buffer.getvalue())
    with pytest.raises(PdError, match="4 labels for 5 points"):
        read_shape(tmp_path / "bad.npz")


def test_npz_from_another_program_is_refused(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as archive, archive.open("points.npy", "w") as handle:
        np.lib.format.write_array(handle, np.zeros((3, 3)))
    with pytest.raises(PdError, match="not a readable partdistill shape file"):
        read_shape(tmp_path / "other.npz")


def test_a_cloud_point_e_saved_is_read_in_its_own_frame_with_its_colours(tmp_path: Path) -> None:
    coords = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    channels = {"R": np.array([1, 0, 0.5, 1], np.float32), "G": np.zeros(4, np.float32), "B": np.ones(4)}
    np.savez(tmp_path / "cloud.npz", coords=coords, **channels)  # what PointCloud.save writes
    shape = read_shape(tmp_path / "cloud.npz")
    np.testing.assert_array_equal(shape.points, coords)
    np.testing.assert_array_equal(shape.colors, [[1, 0, 1], [0, 0, 1], [0.5, 0, 1], [1, 0, 1]])
    assert shape.provenance.generator == "point-e" and shape.labels is None
    # `--up z` turns it as pd synth turns Point-E's own clouds (+z up, front +x).
    upright = shape.rotated(Frame(up="z")).points
    np.testing.assert_allclose(
        upright, shape_from_point_e(coords, channels, provenance=Provenance("point-e")).points
    )
    np.savez(tmp_path / "short.npz", coords=coords, **(channels | {"G": np.zeros(3)}))
    with pytest.raises(
        PdError, match=r"short\.npz: its R, G, B channels must have a value for each of its 4"
    ):
        read_shape(tmp_path / "short.npz")
    for name, changed, message in (
        ("red.npz", {"R": channels["R"]}, r"red\.npz: it has no G or B channel; Point-E saves R, G and B"),
        ("bytes.npz", channels | {"G": np.full(4, 128, np.uint8)}, r"must be floats in \[0, 1\], as Point-E"),
        ("inf.npz", channels | {"B": np.array([1, np.inf, 0, 0])}, r"inf\.npz: its R, G, B channels must"),
        (
            "bright.npz",
            channels | {"R": np.array([0, 1, 1000.0, 0])},
            r"must be floats in \[0, 1\], and some",
        ),
    ):
        np.savez(tmp_path / name, coords=coords, **changed)
        with pytest.raises(PdError, match=message):
            read_shape(tmp_path / name)
    np.savez(tmp_path / "alpha.npz", coords=coords, A=np.ones(4), **channels)
    with pytest.raises(
        PdError,
        match=r"alpha\.npz is not a partdistill shape file \(nor a Point-E cloud\): it holds 'A\.npy'",
    ):
        read_shape(tmp_path / "alpha.npz")


def test_mesh_with_nan_vertices_is_refused(tmp_path: Path) -> None:
    (tmp_path / "nan.obj").write_text("v 0 0 0\nv 1 0 0\nv nan 1 0\nf 1 2 3\n")
    with pytest.raises(PdError, match="NaN"):
        read_shape(tmp_path / "nan.obj")


@pytest.mark.parametrize("suffix", [".ply", ".obj"])
def test_files_far_from_the_origin_are_read_moved_to_it_and_written_back_where_they_were(
    tmp_path: Path, suffix: str
) -> None:
    # A metre-sized shape in surveyed coordinates: float32 steps by half a metre 5,000 km out.
    box = trimesh.creation.box(extents=(0.53, 1.07, 0.41))  # corners float32 cannot hold out there
    near, far = box.copy(), box.copy()
    near.apply_translation((1000.0, 0.0, 0.0))  # float32 steps by 6e-5 here: kept as it is
    far.apply_translation((500_000.25, 5_000_000.5, 120.0))
    for name, mesh in (("near", near), ("far", far)):
        if suffix == ".ply":  # a point cloud of doubles
            xyz = np.asarray(mesh.vertices, dtype=np.float64)
            _write_foreign_ply(tmp_path / f"{name}.ply", {"x": xyz[:, 0], "y": xyz[:, 1], "z": xyz[:, 2]})
        else:
            mesh.export(tmp_path / f"{name}.obj", digits=10)
    kept = read_shape(tmp_path / f"near{suffix}", n_points=500)
    assert kept.provenance.offset is None and abs(float(kept.points[:, 0].mean()) - 1000.0) < 0.3
    moved = read_shape(tmp_path / f"far{suffix}", n_points=500)
    np.testing.assert_allclose(moved.provenance.offset, (500_000.25, 5_000_000.5, 120.0), atol=1e-6)
    box_points = read_shape(tmp_path / f"near{suffix}", n_points=500).points - (1000.0, 0.0, 0.0)
    np.testing.assert_allclose(moved.points, box_points, atol=1e-4)  # the box itself, not float32's steps
    write_ply(moved, tmp_path / "back.ply")
    back = PlyData.read(str(tmp_path / "back.ply"))["vertex"].data
    assert back["x"].dtype == np.float64
    original = moved.points.astype(np.float64) + moved.provenance.offset
    np.testing.assert_allclose(np.stack([back[c] for c in "xyz"], axis=1), original, rtol=0, atol=1e-6)
    with pytest.raises(
        PdError, match=r"points lie up to 5,000,001 from the origin.*rounded to steps of 0\.5"
    ):
        Shape(points=np.asarray(far.vertices))  # a Python caller's shape is not moved behind its back


def test_coordinates_beyond_32_bit_floats_are_refused_in_one_sentence() -> None:
    with pytest.raises(PdError, match=r"points reach 1e\+200, beyond what 32-bit floats hold"):
        Shape(points=np.full((4, 3), 1e200))


def test_obj_relative_indices_count_back_from_the_face_and_index_0_is_refused(tmp_path: Path) -> None:
    # Each triangle's vertices written just before it, indexed -3 -2 -1, as some exporters do; the
    # material file beside it is still read.
    (tmp_path / "red.mtl").write_text("newmtl red\nKd 1 0 0\n")
    lines = ["mtllib red.mtl", "usemtl red"]
    for k in range(3):
        lines += [f"v {k} 0 0", f"v {k + 1} 0 0", f"v {k} 1 {k}", "f -3/ -2 -1  # a comment 0"]
    (tmp_path / "relative.obj").write_text("\n".join(lines) + "\n")
    shape = read_shape(tmp_path / "relative.obj", n_points=300)
    assert shape.mesh is not None
    np.testing.assert_array_equal(shape.mesh.faces, np.arange(9).reshape(3, 3))
    np.testing.assert_allclose(shape.colors, np.tile([1.0, 0.0, 0.0], (300, 1)), atol=0.01)
    (tmp_path / "zero.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\nf 1/0 2 3\n")
    with pytest.raises(PdError, match=r"zero\.obj: the face on line 5 names vt 0, where OBJ numbers"):
        read_shape(tmp_path / "zero.obj")
    (tmp_path / "early.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf -1 -2 -5\nv 5 6 5\nv 5 5 5\n")
    with pytest.raises(PdError, match=r"early\.obj: the face on line 4 names v -5, and only 3 come before"):
        read_shape(tmp_path / "early.obj")


def _ply_mesh_file(path: Path, vertices: np.ndarray, polygons: list[list[int]], **properties: dict) -> None:
    """A binary PLY mesh: `properties` maps "vertex"/"face" to extra per-element columns."""
    columns = {"vertex": {c: vertices[:, i].astype(np.float32) for i, c in enumerate("xyz")}, "face": {}}
    for element, extra in properties.items():
        columns[element] |= extra
    vertex = np.empty(len(vertices), dtype=[(k, v.dtype.str) for k, v in columns["vertex"].items()])
    for key, values in columns["vertex"].items():
        vertex[key] = values
    face_dtype = [("vertex_indices", "O")] + [(k, v.dtype.str) for k, v in columns["face"].items()]
    face = np.empty(len(polygons), dtype=face_dtype)
    face["vertex_indices"] = [np.asarray(p, dtype=np.int32) for p in polygons]
    for key, values in columns["face"].items():
        face[key] = values
    elements = [PlyElement.describe(vertex, "vertex"), PlyElement.describe(face, "face")]
    PlyData(elements, text=False).write(str(path))


# A unit cube: the faces at x=0, y=0 and z=0 as quads, the other three as two triangles each.
_CUBE = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=np.float64)
_QUADS = [[0, 1, 3, 2], [0, 4, 5, 1], [0, 2, 6, 4]]
_TRIANGLES = [[4, 6, 7], [4, 7, 5], [2, 3, 7], [2, 7, 6], [1, 5, 7], [1, 7, 3]]


def test_a_binary_ply_mesh_of_triangles_and_quads_is_read_with_its_face_labels(tmp_path: Path) -> None:
    # trimesh's binary PLY reader refused faces of two sizes; Blender writes them so.
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1], dtype=np.int32)  # the quads 0, the triangles 1
    _ply_mesh_file(tmp_path / "cube.ply", _CUBE, _QUADS + _TRIANGLES, face={"label": labels})
    shape, found = read_labelled(tmp_path / "cube.ply", n_points=600)
    assert shape.mesh is not None and len(shape.mesh.faces) == 12
    on_a_quad = (np.abs(shape.points) < 1e-6).any(axis=1)  # on a face at x, y or z = 0
    assert found is not None and found.where == "its faces' 'label' property" and found.numbered
    np.testing.assert_array_equal(found.groups, np.where(on_a_quad, 0, 1))
    assert 200 < on_a_quad.sum() < 400  # area-weighted: half the surface


def test_a_ply_meshs_vertex_labels_go_to_the_points_nearest_them(tmp_path: Path) -> None:
    labels = np.arange(8, dtype=np.int32) % 3
    _ply_mesh_file(tmp_path / "cube.ply", _CUBE, _QUADS + _TRIANGLES, vertex={"part": labels})
    shape, found = read_labelled(tmp_path / "cube.ply", n_points=400)
    nearest = np.linalg.norm(shape.points[:, None] - _CUBE[None], axis=2).argmin(axis=1)
    assert found is not None and found.where == "its vertices' 'part' property"
    np.testing.assert_array_equal(found.groups, labels[nearest])


def _gltf_cube(primitive: dict, uri: str) -> str:
    """A glTF file of one cube whose primitive and buffer are as given."""
    import json

    return json.dumps(
        {
            "asset": {"version": "2.0"},
            "scene": 0,
            "scenes": [{"nodes": [0]}],
            "nodes": [{"name": "seat", "mesh": 0}],
            "meshes": [{"name": "Seat", "primitives": [primitive]}],
            "buffers": [{"byteLength": 96, "uri": uri}],
            "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": 96}],
            "accessors": [{"bufferView": 0, "componentType": 5126, "count": 8, "type": "VEC3"}],
        }
    )


def test_gltf_files_trimesh_cannot_read_say_why_in_words(tmp_path: Path) -> None:
    draco = {"attributes": {"POSITION": 0}, "extensions": {"KHR_draco_mesh_compression": {"bufferView": 0}}}
    (tmp_path / "draco.gltf").write_text(_gltf_cube(draco, "cube.bin"))
    (tmp_path / "cube.bin").write_bytes(bytes(96))
    with pytest.raises(PdError, match=r"draco\.gltf is compressed with Draco, .*\(pip install DracoPy\)"):
        read_shape(tmp_path / "draco.gltf")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "out.gltf").write_text(_gltf_cube({"attributes": {"POSITION": 0}}, "../cube.bin"))
    with pytest.raises(PdError, match=r"out\.gltf needs a file outside its own folder, which is not read"):
        read_shape(tmp_path / "in" / "out.gltf")


def test_write_ply_by_parts_needs_labels(tmp_path: Path) -> None:
    with pytest.raises(PdError, match="no part labels"):
        write_ply(Shape(points=np.zeros((2, 3))), tmp_path / "x.ply", color_by="parts")


def test_mesh_record_survives_npz_without_colours(tmp_path: Path) -> None:
    mesh = Mesh(vertices=np.eye(3), faces=np.array([[0, 1, 2]]))
    shape = Shape(points=np.eye(3), mesh=mesh, point_faces=np.zeros(3))
    write_npz(shape, tmp_path / "m.npz")
    back = read_npz(tmp_path / "m.npz")
    assert back.mesh.vertex_colors is None and back.mesh.face_labels is None
    np.testing.assert_array_equal(back.mesh.faces, [[0, 1, 2]])


def test_npz_with_one_point_too_many_is_refused_before_it_is_loaded(tmp_path: Path) -> None:
    """A real file of MAX_POINTS + 1 zero points: a few hundred kilobytes once compressed."""
    import tracemalloc

    rows = MAX_POINTS + 1
    path = tmp_path / "many.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "meta.npy", _npy(np.frombuffer(b'{"format": "partdistill.shape", "version": 1}', np.uint8))
        )
        with archive.open("points.npy", "w") as handle:
            np.lib.format.write_array_header_1_0(
                handle, {"descr": "<f4", "fortran_order": False, "shape": (rows, 3)}
            )
            zeros = bytes(1 << 20)
            for start in range(0, rows * 12, len(zeros)):
                handle.write(zeros[: rows * 12 - start])
    tracemalloc.start()
    try:
        with pytest.raises(PdError, match=r"points array declares 10,000,001 rows, more than the 10,000,000"):
            read_shape(path)
        assert tracemalloc.get_traced_memory()[1] < 10 << 20  # nothing near the 120 MB of points
    finally:
        tracemalloc.stop()


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def test_pd_import_and_view_take_an_obj_without_its_texture(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from partdistill.cli import app
    from partdistill.collection import Collection

    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "tri.obj").write_text(TEXTURED_TRIANGLE)
    (tmp_path / "files" / "m.mtl").write_text("newmtl paint\nKd 0.8 0.2 0.2\nmap_Kd paint.png\n")
    runner = CliRunner()
    files, coll = str(tmp_path / "files"), str(tmp_path / "coll")
    imported = runner.invoke(
        app, ["import", "--dataset", "files", "--categories", "chair", "--root", files, "--out", coll]
    )
    assert imported.exit_code == 0, imported.output
    assert Collection.open(coll).load("tri").colors[0] == pytest.approx([0.8, 0.2, 0.2])
    viewed = runner.invoke(app, ["view", f"{files}/tri.obj", "--out", str(tmp_path / "page.html")])
    assert viewed.exit_code == 0 and (tmp_path / "page.html").is_file(), viewed.output


def _textured_ply(path: Path, texture: str) -> None:
    """A PLY mesh of two triangles with texture coordinates, whose header names `texture`."""
    rows = ["0 0 0 0 0", "1 0 0 1 0", "0 1 0 0 1", "0 0 1 1 1"]
    header = ["ply", "format ascii 1.0", f"comment TextureFile {texture}", "element vertex 4"]
    header += [f"property float {name}" for name in ("x", "y", "z", "s", "t")]
    header += ["element face 2", "property list uchar int vertex_indices", "end_header"]
    path.write_text("\n".join([*header, *rows, "3 0 1 2", "3 0 1 3"]) + "\n")


def test_a_ply_mesh_naming_a_texture_outside_its_folder_is_read_without_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """trimesh would try the image the header names and log a traceback where it cannot."""
    _textured_ply(tmp_path / "textured.ply", "../elsewhere/texture.png")
    shape = read_shape(tmp_path / "textured.ply", n_points=100)
    assert shape.n_points == 100 and not caplog.records


def test_a_ply_mesh_takes_its_texture_from_its_folder(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (4, 4), (0, 153, 51)).save(tmp_path / "green.png")
    _textured_ply(tmp_path / "textured.ply", "green.png")
    shape = read_shape(tmp_path / "textured.ply", n_points=100)
    np.testing.assert_allclose(shape.colors, np.tile([0.0, 0.6, 0.2], (100, 1)), atol=0.01)
