"""The renderers' per-point and per-pixel loops on the CPU, compiled with numba.

Each is a loop that numpy can only express as a chain of full-size temporaries: on 10 views of
100k points at 800 px the vectorised forms spent most of their time allocating and filling those
(benchmarks/bench_teach.py). The projection and the z-buffer give what the numpy and torch forms
they replaced gave, bit for bit (the torch z-buffer still runs on GPUs; tests/test_render.py holds
both to an independent reference). The shading computes in float64 where the numpy form mixed in
float32, which moved one colour value in a million by one level.

Kernels are compiled on first use (or loaded from numba's on-disk cache), so that importing a
renderer does not import numba. They run on one thread, as the renderers' thread policy asks.
"""

from __future__ import annotations

from functools import cache

import numpy as np

EMPTY = -1  # a pixel that shows no point


def _compiled(function):
    """`function` compiled by numba, cached on disk where numba finds a writable folder (beside this
    file, or the user's cache); compiled afresh in each process where it finds none."""
    import numba

    try:
        return numba.njit(cache=True, nogil=True, boundscheck=False)(function)
    except RuntimeError:  # numba's "no locator available": a read-only install and home
        return numba.njit(nogil=True, boundscheck=False)(function)


@cache
def project():
    """project(points [N,3] f64, eyes [K,3] f64, rotations [K,3,3] f64, focal, half_size, znear,
    screen out [K,N,2] f32, depth out [K,N] f32): `Cameras.project`'s pinhole projection."""

    @_compiled
    def kernel(points, eyes, rotations, focal, half_size, znear, screen, depth):  # pragma: no cover
        # (point - eye) . each rotation row, then the perspective division, in float64, each result
        # rounded to float32 once. The former numpy matrix product summed in another order in
        # places; after the rounding, every float32 value checked came out the same.
        for k in range(eyes.shape[0]):
            r = rotations[k]
            for i in range(points.shape[0]):
                d0, d1, d2 = points[i, 0] - eyes[k, 0], points[i, 1] - eyes[k, 1], points[i, 2] - eyes[k, 2]
                x = d0 * r[0, 0] + d1 * r[0, 1] + d2 * r[0, 2]
                y = d0 * r[1, 0] + d1 * r[1, 1] + d2 * r[1, 2]
                z = d0 * r[2, 0] + d1 * r[2, 1] + d2 * r[2, 2]
                safe = z if z > znear else np.inf
                screen[k, i, 0] = focal * x / safe + half_size
                screen[k, i, 1] = focal * y / safe + half_size
                depth[k, i] = z

    return kernel


# How far past the splat's radius, in pixels, the z-buffer looks for pixels to test. Its float32
# test differs from exact arithmetic by about 1e-4 pixels near the image; 0.01 keeps every pixel
# the test could pass among those tested.
MARGIN_PX = 0.01


@cache
def nearest_points():
    """nearest_points(screen [N,2] f32, depth [N] f32, size, radius f32, znear f32, nearest out
    [H*W] int32, zbuffer scratch [H*W] f32): one view of the z-buffer
    (`partdistill.render.zbuffer` states the rule), testing only the pixels whose centres lie
    within the radius (plus `MARGIN_PX`) of each point, row by row."""

    @_compiled
    def kernel(screen, depth, size, radius, znear, nearest, zbuffer):  # pragma: no cover
        # Every constant is float32 and every operation rounds to float32, as PyTorch3D's float32
        # NDC arithmetic does; a float64 intermediate would change which borderline pixels a
        # splat covers. Only the choice of pixels to test is in float64.
        one = np.float32(1.0)
        scale = np.float32(2.0 / size)
        squared_radius = np.float32(radius * radius)
        reach = np.float64(radius) * size / 2 + MARGIN_PX  # in pixels
        centre = np.empty(size, np.float32)
        for p in range(size):
            centre[p] = np.float32(np.float32(2 * p + 1) / np.float32(size)) - one
        across = np.empty(int(2 * reach) + 2, np.float32)  # squared x gaps to the columns in reach
        nearest[:] = EMPTY
        zbuffer[:] = np.float32(np.inf)
        for i in range(depth.shape[0]):
            z = depth[i]
            if not z > znear:
                continue
            x, y = screen[i, 0], screen[i, 1]
            if not (abs(x) < 2.0**31 and abs(y) < 2.0**31):  # far off the image, or NaN: nothing to
                continue  # cover, and no integer pixel to convert it to
            x_ndc, y_ndc = np.float32(x * scale) - one, np.float32(y * scale) - one
            u, v = np.float64(x) - 0.5, np.float64(y) - 0.5  # from the pixel grid's centres
            top, bottom = max(np.int64(np.ceil(v - reach)), 0), min(np.int64(np.floor(v + reach)), size - 1)
            first, last = max(np.int64(np.ceil(u - reach)), 0), min(np.int64(np.floor(u + reach)), size - 1)
            for c in range(first, last + 1):
                gap = x_ndc - centre[c]
                across[c - first] = gap * gap
            for r in range(top, bottom + 1):
                gap = y_ndc - centre[r]
                down = gap * gap
                if not down < squared_radius:
                    continue
                for c in range(first, last + 1):
                    # Points come in index order, so a strictly nearer test leaves depth ties to
                    # the lower index.
                    if across[c - first] + down < squared_radius and z < zbuffer[r * size + c]:
                        zbuffer[r * size + c] = z
                        nearest[r * size + c] = i

    return kernel


@cache
def paint():
    """paint(nearest [H*W] int32, palette [N+1,3] uint8, image out [H*W,3] uint8): the image of one
    view, each pixel its point's palette entry and the background (index -1, the last) elsewhere."""

    @_compiled
    def kernel(nearest, palette, image):  # pragma: no cover
        for pixel in range(nearest.shape[0]):
            colour = nearest[pixel]  # -1, the background, is the palette's last entry
            image[pixel, 0] = palette[colour, 0]
            image[pixel, 1] = palette[colour, 1]
            image[pixel, 2] = palette[colour, 2]

    return kernel


@cache
def seen():
    """seen(nearest [H*W] int32, visible out [N] bool): marks the points some pixel shows."""

    @_compiled
    def kernel(nearest, visible):  # pragma: no cover
        visible[:] = False
        for pixel in range(nearest.shape[0]):
            if nearest[pixel] >= 0:
                visible[nearest[pixel]] = True

    return kernel


@cache
def shade():
    """shade(colors [M,3] f32, normals [M,3] f32, points [M,3] f32, eye [3] f32, drawn [M] bool, grey,
    rgb out [M,3] uint8): each drawn row's albedo (`colors`, or `grey` where `colors` has no rows)
    lit by a headlight at `eye`, brightness 0.35 + 0.65 |cos| between the normal and the way from
    the point to the eye (two-sided, so flipped normals still read as lit); a flat albedo where
    `normals` has no rows. Rows that are not drawn are left as they were; every row is drawn
    where `drawn` has no rows."""

    @_compiled
    def kernel(colors, normals, points, eye, drawn, grey, rgb):  # pragma: no cover
        for m in range(points.shape[0]):
            if drawn.shape[0] and not drawn[m]:
                continue
            light = 1.0
            if normals.shape[0]:
                n0, n1, n2 = normals[m, 0], normals[m, 1], normals[m, 2]
                t0, t1, t2 = eye[0] - points[m, 0], eye[1] - points[m, 1], eye[2] - points[m, 2]
                lengths = np.sqrt(n0 * n0 + n1 * n1 + n2 * n2) * np.sqrt(t0 * t0 + t1 * t1 + t2 * t2)
                light = 0.35 + 0.65 * abs(n0 * t0 + n1 * t1 + n2 * t2) / (lengths + 1e-12)
            for channel in range(3):
                albedo = colors[m, channel] if colors.shape[0] else grey
                rgb[m, channel] = np.uint8(np.round(255.0 * min(max(albedo * light, 0.0), 1.0)))

    return kernel
