"""Procedural everyday objects: bags, caps, earphones, laptops and mugs.

ShapeNetPart's frame: +y up. A bag is wide along z and thin along x; a cap's peak points +x; a
headset's cups sit at ±z under its band; a laptop's screen stands at -x (the user sits at +x);
a mug's handle is at +x.
"""

from __future__ import annotations

import numpy as np
import trimesh

from partdistill.synth.procedural.forms import (
    band,
    boxes,
    choose,
    deformed,
    ellipse,
    hull,
    polygons,
    revolved,
)
from partdistill.synth.procedural.kit import RGB, PartMesh, arc, rotation
from partdistill.synth.procedural.materials import FABRIC, METAL, PAINT, pick

LEATHER: tuple[RGB, ...] = (
    (0.45, 0.27, 0.13),
    (0.2, 0.12, 0.08),
    (0.1, 0.1, 0.1),
    (0.65, 0.45, 0.3),
    (0.55, 0.1, 0.12),
)
PLASTIC: tuple[RGB, ...] = (
    (0.1, 0.1, 0.1),
    (0.95, 0.95, 0.95),
    (0.75, 0.75, 0.78),
    (0.2, 0.25, 0.45),
    (0.7, 0.15, 0.2),
)
CERAMIC: tuple[RGB, ...] = (
    (0.95, 0.95, 0.92),
    (0.2, 0.35, 0.6),
    (0.8, 0.3, 0.2),
    (0.3, 0.5, 0.35),
    (0.15, 0.15, 0.15),
)


def _rounded_ring(
    y: float, half_x: float, half_z: float, radius: float, steps: int = 4
) -> list[tuple[float, float, float]]:
    """Points of a horizontal rounded rectangle (x-z plane) at height `y`."""
    radius = min(radius, half_x * 0.99, half_z * 0.99)
    points = []
    for cx, cz, start in ((1, 1, 0), (-1, 1, 90), (-1, -1, 180), (1, -1, 270)):
        for a in np.radians(np.linspace(start, start + 90, steps)):
            points.append(
                (cx * (half_x - radius) + radius * np.cos(a), y, cz * (half_z - radius) + radius * np.sin(a))
            )
    return points


# --------------------------------------------------------------------------------------------------- bag


def bag(rng: np.random.Generator, kit: PartMesh) -> str:
    """A bag, wide along z, handles on top: tote, handbag, briefcase, duffel or shoulder bag.

    Varies width, height and depth, taper (wider or narrower at the top), the number of handles
    (one or two), their height and spread, round or flat straps, a flap, and a long shoulder strap.
    """
    style = choose(rng, {"tote": 1, "handbag": 1.2, "briefcase": 0.8, "duffel": 0.8, "shoulder bag": 0.8})
    body_color = pick(rng, LEATHER + FABRIC)
    strap_color = body_color if rng.random() < 0.6 else pick(rng, LEATHER)
    flat = rng.random() < 0.5
    strap = rng.uniform(0.006, 0.011)

    def loop(x: float, top: float, half_span: float, height: float, squareness: float = 1.0) -> None:
        """A handle arching over the top in the y-z plane at depth `x`, its feet at z=±half_span."""
        angles = np.linspace(0.0, np.pi, 14)
        across = np.sign(np.cos(angles)) * np.abs(np.cos(angles)) ** squareness
        rise = np.abs(np.sin(angles)) ** squareness
        path = np.column_stack([np.full(14, x), top - 0.01 + height * rise, half_span * across])
        if flat:
            band(kit, "handle", path, strap * 3, strap * 0.6, (1, 0, 0), strap_color)
        else:
            kit.tube("handle", path, strap, strap_color)

    if style == "duffel":
        radius, width = rng.uniform(0.12, 0.16), rng.uniform(0.45, 0.6)
        profile = [
            (0, 0),
            (radius * 0.8, 0),
            (radius, radius * 0.3),
            (radius, width - radius * 0.3),
            (radius * 0.8, width),
            (0, width),
        ]
        # Sagging a little under its own weight: the lower half bulges front and back.
        mesh = revolved(profile, (0, radius, -width / 2), (0, 0, 1), 24)
        kit.add(
            "body",
            deformed(mesh, lambda v: v * np.where(v[:, 1:2] < radius, (1.12, 1.0, 1.0), 1.0)),
            body_color,
        )
        top, count = 2 * radius, 2
        half = width * rng.uniform(0.15, 0.25)
        for x in (-radius * 0.35, radius * 0.35):
            loop(x, top, half, rng.uniform(0.1, 0.16))
    else:
        width, height, depth = {
            "tote": (rng.uniform(0.34, 0.44), rng.uniform(0.3, 0.4), rng.uniform(0.1, 0.15)),
            "handbag": (rng.uniform(0.26, 0.34), rng.uniform(0.18, 0.25), rng.uniform(0.1, 0.14)),
            "briefcase": (rng.uniform(0.38, 0.46), rng.uniform(0.28, 0.34), rng.uniform(0.08, 0.12)),
            "shoulder bag": (rng.uniform(0.26, 0.34), rng.uniform(0.2, 0.28), rng.uniform(0.07, 0.1)),
        }[style]
        top_width, top_depth = {
            "tote": (width * rng.uniform(1.05, 1.2), depth * 0.9),
            "handbag": (width * rng.uniform(0.65, 0.85), depth * rng.uniform(0.3, 0.6)),
            "briefcase": (width, depth * 0.95),
            "shoulder bag": (width * 0.95, depth * 0.8),
        }[style]
        corner = rng.uniform(0.01, 0.05)
        rings = _rounded_ring(0.0, depth / 2, width / 2, corner)
        rings += _rounded_ring(height, top_depth / 2, top_width / 2, corner * 0.7)
        if style == "handbag":  # a rounded belly
            rings += _rounded_ring(height * 0.45, depth * 0.52, width * 0.51, corner)
        hull(kit, "body", rings, body_color)
        if style in ("briefcase", "shoulder bag"):
            flap = rng.uniform(0.4, 0.7) * height
            kit.box(
                "body",
                (0.006, flap, top_width * 0.96),
                (top_depth / 2 + 0.003, height - flap / 2, 0),
                body_color,
            )
        top = height
        if style == "tote":
            count = 2
            for x in (-top_depth * 0.4, top_depth * 0.4):
                loop(x, top, top_width * rng.uniform(0.2, 0.3), rng.uniform(0.18, 0.3))
        elif style == "handbag":
            count = int(rng.choice([1, 2]))
            rise, half = rng.uniform(0.08, 0.14), top_width * rng.uniform(0.25, 0.35)
            for x in [0.0] if count == 1 else [-top_depth * 0.35, top_depth * 0.35]:
                loop(x, top, half, rise)
        elif style == "briefcase":
            count = 1
            strap *= 1.4
            loop(0.0, top + 0.005, rng.uniform(0.06, 0.09), rng.uniform(0.05, 0.07), squareness=0.3)
        else:
            count = 0
    description = f"{style} with {count} handle{'s' if count != 1 else ''}" if count else style
    if count == 0 or rng.random() < 0.15:
        half = width * 0.48 if style == "duffel" else width / 2  # from end to end, or side to side
        loop(0.0, top, half, rng.uniform(0.2, 0.3) if style == "duffel" else half * rng.uniform(1.4, 2.2))
        description += " with a shoulder strap" if count == 0 else " and a shoulder strap"
    return description


# --------------------------------------------------------------------------------------------------- cap


def cap(rng: np.random.Generator, kit: PartMesh) -> str:
    """A peaked cap, peak pointing +x at the rim: baseball, snapback, trucker, dad cap or patrol cap.

    Varies crown size, height and shape (round dome, boxy, tall front, flat-topped), the top
    button, and the peak's length, width, curve (flat to strongly bent) and downward tilt.
    """
    style = choose(rng, {"baseball cap": 2, "snapback": 1, "trucker cap": 1, "dad cap": 1, "patrol cap": 0.6})
    crown_color = pick(rng, FABRIC + PAINT)
    peak_color = crown_color if rng.random() < 0.7 else pick(rng, FABRIC + PAINT)
    radius, stretch = rng.uniform(0.085, 0.1), rng.uniform(1.05, 1.15)
    height = radius * {"dad cap": rng.uniform(0.65, 0.8), "patrol cap": rng.uniform(0.85, 1.0)}.get(
        style, rng.uniform(0.85, 1.1)
    )
    wall = 0.003
    steps = np.linspace(0.0, np.pi / 2, 10)
    if style == "patrol cap":  # straight, slightly tapered sides and a flat top
        outer = [(radius, 0.0), (radius * 0.93, height * 0.9), (radius * 0.85, height), (0.0, height)]
    else:
        power = {"snapback": 0.55, "trucker cap": 0.6}.get(style, rng.uniform(0.8, 1.0))
        outer = [(radius * np.cos(a) ** power, height * np.sin(a) ** power) for a in steps]
    inner = [(max(r - wall, 0.0) * 0.99, max(h - wall, 0.0)) for r, h in reversed(outer)]
    profile = [*outer, *inner, outer[0]]
    crown = revolved(profile, sections=32)
    lift = {"trucker cap": 0.3, "snapback": 0.15}.get(style, 0.0)

    def shape_crown(v: np.ndarray) -> np.ndarray:
        v = v * (stretch, 1.0, 1.0)
        v[:, 1] *= 1 + lift * np.clip(v[:, 0] / radius, 0, 1)  # a taller front panel
        return v

    kit.add("panels", deformed(crown, shape_crown), crown_color)
    if style != "patrol cap":
        kit.ellipsoid(
            "panels", (0.008, 0.004, 0.008), (0.0, height - 0.001, 0.0), crown_color, subdivisions=1
        )

    # The peak: a crescent in front of the crown, bent down at the sides and tilted down.
    reach = radius * {"dad cap": rng.uniform(0.6, 0.75), "patrol cap": rng.uniform(0.45, 0.6)}.get(
        style, rng.uniform(0.7, 0.95)
    )
    spread = radius * rng.uniform(0.85, 0.98)
    crescent = ellipse(0.0, 0.0, radius * stretch + reach, spread, 48).difference(
        ellipse(0.0, 0.0, radius * stretch - 0.002, radius - 0.002, 48)
    )
    crescent = crescent.intersection(ellipse(radius * stretch * 0.6, 0.0, radius * stretch * 1.2, spread, 48))
    curve = {"snapback": 0.0, "patrol cap": 0.1}.get(style, rng.uniform(0.2, 0.6))
    tilt = np.radians({"patrol cap": rng.uniform(15, 25)}.get(style, rng.uniform(0, 12)))
    pieces = [trimesh.creation.extrude_polygon(p, wall * 1.5) for p in polygons(crescent)]
    peak = trimesh.util.concatenate(pieces)
    lay = np.eye(4)  # the outline's y becomes z; its thickness stands along y, just above the rim
    lay[:3, :3], lay[:3, 3] = rotation("x", 90), (0.0, 0.004, 0.0)
    peak.apply_transform(lay)

    def bend(v: np.ndarray) -> np.ndarray:
        front = np.clip(v[:, 0] - radius * stretch * 0.8, 0, None)
        v[:, 1] -= curve * (v[:, 2] ** 2) / radius + np.tan(tilt) * front
        return v

    kit.add("peak", deformed(peak, bend), peak_color)
    shape = "flat" if curve < 0.05 else ("slightly curved" if curve < 0.25 else "curved")
    return f"{style} with a {shape} peak"


# ---------------------------------------------------------------------------------------------- earphone


def earphone(rng: np.random.Generator, kit: PartMesh) -> str:
    """Headphones (over-ear or on-ear: cups at ±z under a headband) or wired earbuds.

    Varies band radius and height, a round or flat padded band, yokes, cup size and shape (round
    or oval), and the data wire (none, from one cup, from both cups joined in a Y, with a plug).
    """
    style = choose(rng, {"over-ear headphones": 2, "on-ear headphones": 1, "earbuds": 1})
    shell, pad = pick(rng, PLASTIC), pick(rng, ((0.1, 0.1, 0.1), (0.3, 0.3, 0.3), (0.6, 0.45, 0.35)))
    wire_color = pick(rng, ((0.1, 0.1, 0.1), (0.95, 0.95, 0.95)))
    if style == "earbuds":
        return _earbuds(rng, kit, shell, wire_color)

    over = style.startswith("over")
    radius = rng.uniform(0.085, 0.1)
    tall = rng.uniform(1.0, 1.25)
    overhang = rng.uniform(0, 15)
    path = arc((0, 0, 0), radius, -(90 + overhang), 90 + overhang, "yz", 20)
    path[:, 1] *= tall
    if rng.random() < 0.5:
        band(kit, "headband", path, rng.uniform(0.02, 0.04), rng.uniform(0.006, 0.01), (1, 0, 0), shell)
        band_text = "a flat band"
    else:
        kit.tube("headband", path, rng.uniform(0.005, 0.009), shell)
        band_text = "a round band"
    if rng.random() < 0.4:  # a cushion under the crown of the band
        kit.tube("headband", arc((0, 0, 0), radius * 0.93, -45, 45, "yz", 8) * (1, tall, 1), 0.01, pad)
        band_text += " with a cushion"

    cup_radius = rng.uniform(0.045, 0.056) if over else rng.uniform(0.032, 0.04)
    oval = rng.uniform(1.1, 1.35) if over and rng.random() < 0.6 else 1.0
    depth, cushion = rng.uniform(0.025, 0.04), rng.uniform(0.012, 0.02)
    end = path[-1]
    cup_y = end[1] - rng.uniform(0.01, 0.03) - cup_radius * oval
    cup_z = end[2] + cushion
    for side in (-1, 1):
        center = np.array([0.0, cup_y, side * cup_z])
        shell_profile = [
            (0, 0),
            (cup_radius, 0),
            (cup_radius, depth * 0.6),
            (cup_radius * 0.75, depth),
            (0, depth),
        ]
        pad_profile = [
            (cup_radius * 0.45, 0),
            (cup_radius * 0.95, 0),
            (cup_radius * 0.9, -cushion),
            (cup_radius * 0.5, -cushion),
        ]
        for profile, color in ((shell_profile, shell), (pad_profile + [pad_profile[0]], pad)):
            mesh = revolved(profile, center, (0, 0, side), 24)
            kit.add("earcup", deformed(mesh, lambda v, c=center: (v - c) * (1, oval, 1) + c), color)
        # A slider from the band's end down to a yoke that holds the cup from above.
        yoke_z = side * (cup_z + depth * 0.4)
        yoke = arc((0, cup_y, yoke_z), cup_radius * 1.1, 0, 180, "xy", 12)
        yoke[:, 1] = cup_y + (yoke[:, 1] - cup_y) * oval
        top = np.array([0.0, end[1], side * end[2]])
        kit.tube("headband", [top, (0, end[1] - 0.005, yoke_z), (0, yoke[6, 1], yoke_z)], 0.005, shell)
        kit.tube("headband", yoke, 0.004, shell)

    wire = str(rng.choice(["none", "one cup", "both cups"], p=[0.4, 0.4, 0.2]))
    if wire != "none":
        bottom = cup_y - cup_radius * oval
        starts = [np.array([0.0, bottom, -cup_z - depth * 0.5])]
        if wire == "both cups":
            starts.append(np.array([0.0, bottom, cup_z + depth * 0.5]))
        _cable(rng, kit, starts, bottom - rng.uniform(0.15, 0.35), wire_color)
    wire_text = {"none": "no wire", "one cup": "a wire", "both cups": "a Y wire"}[wire]
    return f"{style} with {band_text}, {wire_text}"


def _earbuds(rng: np.random.Generator, kit: PartMesh, shell: RGB, wire_color: RGB) -> str:
    """Two buds facing each other at ±z, wires joining in a Y below them and running down to a plug."""
    apart = rng.uniform(0.05, 0.09)
    size = rng.uniform(0.01, 0.014)
    stems = rng.random() < 0.5
    starts = []
    for side in (-1, 1):
        center = np.array([0.0, 0.0, side * apart])
        kit.ellipsoid("earcup", (size, size, size * 0.8), center, shell)
        kit.ellipsoid(
            "earcup",
            (size * 0.5, size * 0.5, size * 0.5),
            center - (0, 0, side * size * 0.8),
            (0.3, 0.3, 0.3),
        )
        if stems:
            kit.rod("earcup", center, center - (0, size * 3, 0), size * 0.35, shell, sections=10)
            starts.append(center - (0, size * 3, 0))
        else:
            starts.append(center - (0, size, 0))
    _cable(rng, kit, starts, -rng.uniform(0.25, 0.45), wire_color)
    return f"earbuds {'with stems' if stems else 'round'} on a Y wire"


def _cable(
    rng: np.random.Generator, kit: PartMesh, starts: list[np.ndarray], bottom: float, color: RGB
) -> None:
    """Wire(s) from `starts` down to a joint and on to a plug at height `bottom`, gently wavering."""
    radius = rng.uniform(0.0015, 0.0025)
    joint = np.array(
        [rng.uniform(-0.01, 0.01), (min(p[1] for p in starts) + bottom) / 2, np.mean([p[2] for p in starts])]
    )
    for start in starts:
        t = np.linspace(0, 1, 10)[:, None]
        path = (1 - t) ** 2 * start + 2 * t * (1 - t) * (start * (1, 1, 1) - (0, 0.05, 0)) + t**2 * joint
        kit.tube("data wire", path, radius, color)
    t = np.linspace(0, 1, 12)
    sway = rng.uniform(0.01, 0.04) * np.sin(t * np.pi * rng.uniform(1, 3))
    path = np.column_stack([joint[0] + sway, joint[1] + (bottom - joint[1]) * t, joint[2] + sway * 0.5])
    kit.tube("data wire", path, radius, color)
    plug = path[-1]
    kit.rod("data wire", plug, plug - (0, 0.02, 0), radius * 2.5, (0.2, 0.2, 0.2), sections=8)
    kit.rod(
        "data wire", plug - (0, 0.02, 0), plug - (0, 0.035, 0), radius * 1.2, (0.8, 0.75, 0.5), sections=8
    )


# ------------------------------------------------------------------------------------------------ laptop


def laptop(rng: np.random.Generator, kit: PartMesh) -> str:
    """A laptop: keyboard base flat at the bottom, screen hinged at its back edge (-x), open 95-140°.

    Varies the size (11-17 inch), aspect, base and lid thickness, the opening angle, keys (a grid
    of keycaps or a flat deck), the touchpad, and the bezel.
    """
    width = rng.uniform(0.28, 0.39)
    depth = width * rng.uniform(0.64, 0.72)
    base_t, lid_t = rng.uniform(0.012, 0.026), rng.uniform(0.005, 0.011)
    body, keys_color = pick(rng, METAL + ((0.1, 0.1, 0.1),)), pick(rng, ((0.1, 0.1, 0.1), (0.85, 0.85, 0.85)))
    kit.box("keyboard", (depth, base_t, width), (0.0, base_t / 2, 0.0), body)
    top = base_t
    keys = rng.random() < 0.75
    deck_back, deck_front = -depth / 2 + depth * 0.06, depth * rng.uniform(0.05, 0.15)
    if keys:
        rows, columns = int(rng.integers(5, 7)), int(rng.integers(12, 16))
        pitch_x, pitch_z = (deck_front - deck_back) / rows, width * 0.9 / columns
        xs = deck_back + pitch_x * (np.arange(rows) + 0.5)
        zs = -width * 0.45 + pitch_z * (np.arange(columns) + 0.5)
        centers = [(x, top + 0.001, z) for x in xs for z in zs]
        boxes(kit, "keyboard", (pitch_x * 0.8, 0.002, pitch_z * 0.8), centers, keys_color)
    else:
        kit.box(
            "keyboard",
            (deck_front - deck_back, 0.0015, width * 0.9),
            ((deck_front + deck_back) / 2, top + 0.0007, 0.0),
            keys_color,
        )
    pad = rng.uniform(0.25, 0.4)
    kit.box(
        "keyboard",
        (depth * 0.25, 0.001, width * pad),
        (deck_front + depth * 0.17, top + 0.0005, 0.0),
        keys_color,
    )

    angle = rng.uniform(95, 140)
    lean = rotation("z", angle - 90)
    hinge = np.array([-depth / 2 + lid_t, top, 0.0])
    height = depth * rng.uniform(0.92, 1.0)
    kit.box("screen", (lid_t, height, width), hinge + lean @ (-lid_t / 2, height / 2, 0), body, rotation=lean)
    bezel = rng.uniform(0.03, 0.09)
    kit.box(
        "screen",
        (0.0015, height * (1 - 1.5 * bezel), width * (1 - bezel)),
        hinge + lean @ (0.0007, height * 0.5 + height * bezel * 0.2, 0),
        (0.05, 0.07, 0.12),
        rotation=lean,
    )
    kit.rod(
        "screen",
        hinge + (-lid_t / 2, 0, -width * 0.4),
        hinge + (-lid_t / 2, 0, width * 0.4),
        lid_t * 0.7,
        body,
        sections=10,
    )
    inches = round(np.hypot(width, height) / 0.0254 * 0.85)
    keyboard = "keycaps" if keys else "a flat keyboard"
    return f"{inches}-inch laptop open at {5 * round(angle / 5)} degrees, {keyboard}"


# --------------------------------------------------------------------------------------------------- mug


def mug(rng: np.random.Generator, kit: PartMesh) -> str:
    """A hollow mug, handle at +x: straight, tapered, barrel, tall latte, espresso cup or stein.

    Varies height, radius, wall and base thickness, the body's outline, and the handle: C-shaped,
    D-shaped (squared), an ear (wider at the top) or a small ring; round or flat in section.
    """
    style = choose(
        rng, {"straight": 2, "tapered": 1.5, "barrel": 1, "tall latte": 1, "espresso cup": 0.7, "stein": 0.7}
    )
    color = pick(rng, CERAMIC)
    height, radius = {
        "tall latte": (rng.uniform(0.13, 0.16), rng.uniform(0.035, 0.045)),
        "espresso cup": (rng.uniform(0.05, 0.065), rng.uniform(0.028, 0.034)),
        "stein": (rng.uniform(0.14, 0.17), rng.uniform(0.042, 0.05)),
    }.get(style, (rng.uniform(0.085, 0.11), rng.uniform(0.038, 0.05)))
    flare = {"tapered": rng.uniform(0.15, 0.3), "espresso cup": rng.uniform(0.15, 0.35)}.get(
        style, rng.uniform(-0.03, 0.03)
    )
    bulge = rng.uniform(0.08, 0.15) if style == "barrel" else 0.0

    def outer(h: float) -> float:
        t = h / height
        return radius * (1 + flare * (t - 0.5) + bulge * np.sin(np.pi * t))

    wall, floor = rng.uniform(0.003, 0.006), rng.uniform(0.006, 0.015) * (2 if style == "stein" else 1)
    heights = np.linspace(0.0, height, 9)
    profile = [(0.0, 0.0), (outer(0) * 0.94, 0.0), *[(outer(h), h) for h in heights[1:]]]
    profile += [(outer(height) - wall, height)] + [(outer(h) - wall, h) for h in heights[::-1] if h >= floor]
    profile += [(outer(floor) - wall, floor), (0.0, floor)]
    kit.lathe("cup", profile, color, sections=32)

    shape = str(rng.choice(["C", "D", "ear", "ring"] if style != "espresso cup" else ["ring", "C", "ear"]))
    low, high = height * rng.uniform(0.15, 0.3), height * rng.uniform(0.72, 0.88)
    if shape == "ring":
        low, high = height * 0.45, height * 0.88
    reach = (high - low) * {
        "C": rng.uniform(0.45, 0.7),
        "D": rng.uniform(0.4, 0.55),
        "ear": rng.uniform(0.4, 0.6),
    }.get(shape, 0.6)
    angles = np.linspace(-np.pi / 2, np.pi / 2, 16)
    mid, half = (low + high) / 2, (high - low) / 2
    if shape == "D":
        rise, out = np.sign(np.sin(angles)) * np.abs(np.sin(angles)) ** 0.4, np.abs(np.cos(angles)) ** 0.4
    elif shape == "ear":
        rise, out = np.sin(angles), np.cos(angles) * (0.75 + 0.35 * np.sin(angles))
    else:
        rise, out = np.sin(angles), np.cos(angles)
    ys = mid + half * rise
    xs = np.array([outer(y) for y in ys]) - wall * 0.6 + reach * out
    path = np.column_stack([xs, ys, np.zeros_like(xs)])
    thick = rng.uniform(0.005, 0.008)
    if rng.random() < 0.5:
        band(kit, "handle", path, thick * rng.uniform(2.0, 3.0), thick, (0, 0, 1), color)
        section = "flat"
    else:
        kit.tube("handle", path, thick, color)
        section = "round"
    noun = {"espresso cup": "espresso cup", "stein": "beer stein"}.get(style, f"{style} mug")
    return f"{noun} with a {section} {'ring' if shape == 'ring' else shape + '-shaped'} handle"
