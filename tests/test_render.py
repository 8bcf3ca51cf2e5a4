"""Cameras and renderers, on scenes whose pictures are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh
from reference_renderers import pytorch3d_rule_zbuffer, trimesh_mesh_maps

from partdistill.formats import shape_from_mesh
from partdistill.render.cameras import Cameras, partslip_cameras
from partdistill.render.renderers import MeshRenderer, PointRenderer
from partdistill.shapes import Provenance, Shape


def _front(size: int = 101) -> Cameras:
    """One camera on +z looking at the origin."""
    return Cameras(np.array([0.0]), np.array([0.0]), image_size=size)


def test_camera_axes_follow_image_conventions() -> None:
    cameras = _front(100)
    pixels, depth = cameras.project(np.array([[0.0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 1.0]]))
    centre, right, up, _ = pixels[0]
    assert centre == pytest.approx([50, 50])
    assert right[0] > 50 and right[1] == pytest.approx(50)  # +x is to the right (larger column)
    assert up[1] < 50 and up[0] == pytest.approx(50)  # +y is up (smaller row)
    assert depth[0] == pytest.approx([2.2, 2.2, 2.2, 1.2])
    # 60 degree field of view: a point at depth d and height d * tan(30) sits on the top edge.
    edge, _ = cameras.project(np.array([[0.0, 2.2 * np.tan(np.radians(30)), 0.0]]))
    assert edge[0, 0, 1] == pytest.approx(0.0, abs=1e-4)


def test_partslip_rig() -> None:
    cameras = partslip_cameras()
    assert len(cameras) == 10 and cameras.image_size == 800 and cameras.distance == 2.2 and cameras.fov == 60
    eyes = cameras.eyes()
    np.testing.assert_allclose(np.linalg.norm(eyes, axis=1), 2.2)
    np.testing.assert_allclose(
        eyes[1], 2.2 * np.array([np.cos(np.radians(10)), np.sin(np.radians(10)), 0]), atol=1e-9
    )


def test_cameras_refuse_a_znear_that_is_not_positive() -> None:
    for znear in (0.0, -0.5, float("nan")):
        with pytest.raises(ValueError, match="znear must be positive"):
            Cameras(np.zeros(1), np.zeros(1), znear=znear)


def test_a_point_in_front_hides_a_point_behind() -> None:
    shape = Shape(points=np.array([[0.0, 0.0, 0.5], [0.0, 0.0, -0.5]]))  # both on the camera's axis
    views = PointRenderer(radius=0.02).render(shape, _front())
    assert views.pixel_index[0, 50, 50] == 0
    assert views.visible[0].tolist() == [True, False]


def test_background_is_minus_one_and_white() -> None:
    views = PointRenderer(0.005).render(Shape(points=np.array([[0.0, 0, 0], [0.1, 0, 0]])), _front())
    assert views.pixel_index[0, 0, 0] == -1 and views.pixel_index[0, -1, -1] == -1
    assert (views.images[0][views.pixel_index[0] < 0] == 255).all()


def test_screen_positions_and_pixel_map_agree() -> None:
    # A sparse grid: splats do not overlap, so every point owns the pixel it projects into, and
    # every pixel a point owns lies within the splat radius of its projection.
    xs = np.linspace(-0.6, 0.6, 7)
    points = np.array([[x, y, 0.0] for x in xs for y in xs])
    renderer = PointRenderer(radius=0.02)
    views = renderer.render(Shape(points=points), _front(201))
    assert views.visible.all()
    cells = views.pixels()[0]
    np.testing.assert_array_equal(views.pixel_index[0, cells[:, 0], cells[:, 1]], np.arange(len(points)))
    rows, cols = np.nonzero(views.pixel_index[0] >= 0)
    owner = views.pixel_index[0, rows, cols]
    gap = np.hypot(cols + 0.5 - views.screen[0, owner, 0], rows + 0.5 - views.screen[0, owner, 1])
    radius_px = renderer.radius * 201 / 2
    assert (
        (gap <= radius_px + 1e-4) | ((np.floor(views.screen[0, owner]) == np.c_[cols, rows]).all(1))
    ).all()


def test_shading_uses_colours_when_the_shape_has_them() -> None:
    shape = Shape(points=np.array([[0.0, 0, 0], [0.4, 0, 0]]), colors=np.array([[1.0, 0, 0], [0, 0, 1.0]]))
    views = PointRenderer(radius=0.03).render(shape, _front())
    red = views.images[0][views.pixel_index[0] == 0]
    assert (red[:, 0] == 255).all() and (red[:, 2] == 0).all()


def _cube() -> Shape:
    return shape_from_mesh(trimesh.creation.box(), n_points=6000, seed=0, provenance=Provenance("test"))


def test_mesh_renderer_maps_the_cube_faces_to_the_right_pixels() -> None:
    cube = _cube()
    size = 201
    views = MeshRenderer().render(cube, Cameras(np.array([0.0, 0.0]), np.array([0.0, 90.0]), image_size=size))
    normals = trimesh.Trimesh(cube.mesh.vertices, cube.mesh.faces).face_normals
    # After normalising to the unit sphere the cube's half side is 1/sqrt(3); its front face spans
    # focal * a / (2.2 - a) pixels either side of the centre.
    a = 1 / np.sqrt(3)
    half = views.cameras.focal * a / (2.2 - a)
    lo, hi = int(np.ceil(size / 2 - half)) + 1, int(np.floor(size / 2 + half)) - 1
    for view, normal in ((0, [0, 0, 1]), (1, [1, 0, 0])):
        inside = views.pixel_index[view, lo:hi, lo:hi]
        assert (inside >= 0).all()
        np.testing.assert_allclose(normals[inside.reshape(-1)], np.tile(normal, (inside.size, 1)), atol=1e-9)
        outside = np.ones((size, size), dtype=bool)
        outside[lo - 3 : hi + 3, lo - 3 : hi + 3] = False
        assert (views.pixel_index[view][outside] == -1).all()


def test_mesh_renderer_sees_exactly_the_front_face_points() -> None:
    cube = _cube()
    views = MeshRenderer().render(cube, _front(301))
    z = cube.points[:, 2]
    on_front = np.isclose(z, z.max(), atol=1e-6)
    assert views.visible[0][on_front].all()
    # Elsewhere only points at the front edge count as seen: within the renderer's depth tolerance
    # (2e-3 x depth, depth < 2.2), which in the cube's own units (scaled by 0.5 * sqrt(3)) is below:
    edge = z.max() - 2e-3 * 2.2 * 0.5 * np.sqrt(3)
    seen_elsewhere = views.visible[0] & ~on_front
    assert (z[seen_elsewhere] > edge).all() and seen_elsewhere.mean() < 0.005


def test_point_and_mesh_renders_agree_on_the_silhouette() -> None:
    cube = _cube()
    cameras = partslip_cameras(96)
    points, mesh = PointRenderer(radius=0.03).render(cube, cameras), MeshRenderer().render(cube, cameras)
    agree = ((points.pixel_index >= 0) == (mesh.pixel_index >= 0)).mean()
    assert agree > 0.97


@pytest.mark.parametrize(("size", "radius"), [(800, 0.005), (400, 0.013)])
def test_point_coverage_matches_pytorch3d_rule_exactly(size: int, radius: float) -> None:
    from partdistill.prompts import find_category
    from partdistill.synth.base import Request
    from partdistill.synth.procedural import ProceduralGenerator

    chair = ProceduralGenerator(n_points=3000).generate(Request(find_category("chair"), None, 0))
    cameras = partslip_cameras(size)
    views = PointRenderer(radius).render(chair, cameras)
    for k in range(len(cameras)):
        ndc = views.screen[k].astype(np.float32) * np.float32(2.0 / size) - np.float32(1.0)
        reference = pytorch3d_rule_zbuffer(ndc, views.depth[k], size, radius, cameras.znear)
        np.testing.assert_array_equal(views.pixel_index[k].reshape(-1), reference)


def test_splats_are_symmetric_discs() -> None:
    # A point at a pixel centre covers exactly the pixels whose centres lie within the radius: a disc
    # symmetric in x and y, including (+2, +1) and (+1, +2), which the first renderer never covered.
    size, radius_px = 101, 2.3
    shape = Shape(points=np.array([[0.0, 0.0, 0.0], [0.9, 0.9, 0.0], [-0.9, -0.9, 0.0]]))
    views = PointRenderer(radius=radius_px * 2 / size).render(shape, _front(size))
    assert views.screen[0, 0] == pytest.approx([50.5, 50.5])
    rows, cols = np.nonzero(views.pixel_index[0] == 0)
    offsets = {(int(c) - 50, int(r) - 50) for r, c in zip(rows, cols, strict=True)}
    expected = {(dx, dy) for dx in range(-3, 4) for dy in range(-3, 4) if dx * dx + dy * dy < radius_px**2}
    assert offsets == expected and (2, 1) in offsets and (1, 2) in offsets


def _mesh_file_shape(tmp_path) -> Shape:
    """A mesh read back from a GLB file: a torus knot, thin tubes crossing in front of each other."""
    from partdistill.formats import read_shape

    path = tmp_path / "knot.glb"
    trimesh.creation.torus(major_radius=1.0, minor_radius=0.3).export(path)
    return read_shape(path, n_points=20_000, seed=0)


def test_mesh_renderer_matches_the_trimesh_ray_queries(tmp_path) -> None:
    from partdistill.prompts import find_category
    from partdistill.synth.base import Request
    from partdistill.synth.procedural import ProceduralGenerator

    generator = ProceduralGenerator(n_points=20_000)
    shapes = [generator.generate(Request(find_category(c), None, 1)) for c in ("chair", "airplane", "lamp")]
    cameras = partslip_cameras(400)
    for shape in [*shapes, _mesh_file_shape(tmp_path)]:
        views = MeshRenderer().render(shape, cameras)
        faces, visible = trimesh_mesh_maps(shape, cameras)
        assert (views.pixel_index == faces).mean() >= 0.9999
        assert (views.visible == visible).mean() >= 0.9999


@pytest.mark.parametrize(
    "size, radius_px",
    [(64, 2.0), (98, 0.5), (151, 1.5)],  # radii of whole and half pixels; 2/98 and 2/151 are inexact
)
def test_both_z_buffers_follow_the_rule_at_the_edges(size: int, radius_px: float) -> None:
    # The compiled CPU loop and the torch passes a GPU runs are one rule: on screen positions that
    # hit pixel borders exactly, leave the image, lie behind znear, and tie in depth, both give the
    # reference's map pixel for pixel. A centre exactly one radius from a point is outside in exact
    # arithmetic, but float32 can round it inside: both must then test it, as the reference does.
    from partdistill.render.zbuffer import nearest_points_cpu, nearest_points_torch

    radius, znear = np.float32(2 * radius_px / size), 0.01
    rng = np.random.default_rng(0)
    screen = rng.uniform(-4, size + 4, (2, 600, 2)).astype(np.float32)
    on_grid = rng.choice(np.float32([0.0, 0.5]), (2, 200, 2))  # on pixel borders and centres
    screen[:, :200] = np.floor(screen[:, :200]) + on_grid
    depth = rng.choice(np.float32([0.0, 0.01, 0.5, 1.0, 1.5]), (2, 600))  # ties, at and behind znear
    cpu = nearest_points_cpu(screen, depth, size, radius, znear)
    gpu_code = nearest_points_torch(screen, depth, size, radius, znear, torch.device("cpu"))
    for k in range(2):
        ndc = screen[k] * np.float32(2.0 / size) - np.float32(1.0)
        reference = pytorch3d_rule_zbuffer(ndc, depth[k], size, float(radius), znear)
        np.testing.assert_array_equal(cpu[k].reshape(-1), reference)
        np.testing.assert_array_equal(gpu_code[k].reshape(-1), reference)
    assert all(len(np.unique(view[view >= 0])) > 200 for view in cpu)  # most of the 600 points drawn


def test_the_renderer_runs_where_numba_cannot_cache(monkeypatch) -> None:
    # A read-only install and home leave numba no folder for its cache: the kernels compile for
    # the process instead of failing.
    from numba.core import caching

    from partdistill.render import kernels

    makers = (kernels.project, kernels.nearest_points, kernels.paint, kernels.seen, kernels.shade)
    monkeypatch.setattr(caching.CacheImpl, "_locator_classes", [])
    for make in makers:
        make.cache_clear()
    try:
        views = PointRenderer(0.05).render(_cube(), _front(32))
    finally:
        for make in makers:
            make.cache_clear()
    assert (views.pixel_index >= 0).any()


def test_a_radius_too_small_for_float32_draws_nothing() -> None:
    views = PointRenderer(radius=1e-46).render(_cube(), _front(32))
    assert (views.pixel_index == -1).all() and not views.visible.any()


def test_points_far_off_the_image_or_nan_on_it_draw_nothing() -> None:
    from partdistill.render.zbuffer import nearest_points_cpu

    screen = np.float32([[[1e20, 5], [5, -1e20], [np.nan, 5], [-3e38, np.inf], [2.5e9, 2.5e9]]])
    depth = np.ones((1, 5), dtype=np.float32)
    cpu = nearest_points_cpu(screen, depth, 8, np.float32(0.5), 0.01)
    assert (cpu == -1).all()
