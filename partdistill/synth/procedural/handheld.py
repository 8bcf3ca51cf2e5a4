"""Procedural hand-held things: guitars, knives and pistols.

ShapeNetPart's frame: +y up. A guitar stands on its body with the head at +y, the body's face in the
y-z plane (thin along x). A knife stands blade up (+y), the blade's face in the x-y plane (thin
along z). A pistol points its muzzle to +x with the grip hanging down at the rear, thin along z.
"""

from __future__ import annotations

import numpy as np
from shapely.geometry import Point, Polygon

from partdistill.synth.procedural.forms import choose, ellipse, prism, rounded_box, smooth
from partdistill.synth.procedural.kit import RGB, PartMesh, rotation
from partdistill.synth.procedural.materials import METAL, PAINT, WOOD, pick

DARK: RGB = (0.08, 0.07, 0.06)
POLYMER: tuple[RGB, ...] = ((0.1, 0.1, 0.1), (0.25, 0.24, 0.2), (0.45, 0.4, 0.3), (0.2, 0.25, 0.2))


# ------------------------------------------------------------------------------------------------ guitar


def guitar(rng: np.random.Generator, kit: PartMesh) -> str:
    """A guitar standing upright: acoustic, classical, electric (double or single cutaway, V) or bass.

    Varies the body outline and size, an acoustic cutaway, body thickness, neck length and width,
    and the head: a 3+3 paddle, 6 (or 4) in line, or a slotted classical head, tilted back or not.
    """
    style = choose(
        rng,
        {
            "acoustic": 2,
            "classical": 1,
            "double-cut electric": 1.2,
            "single-cut electric": 1,
            "V electric": 0.6,
            "bass": 0.8,
        },
    )
    wood, finish = pick(rng, WOOD), pick(rng, PAINT + WOOD)
    acoustic = style in ("acoustic", "classical")
    outline, top = _guitar_body(rng, style)
    thickness = rng.uniform(0.09, 0.12) if acoustic else rng.uniform(0.04, 0.055)
    face = rotation("y", 90)  # outline (u, v) -> (z=-u, y=v), extruded along x
    prism(kit, "body", outline, thickness, finish if not acoustic else pick(rng, WOOD), rotation=face)
    front = thickness / 2

    # Details on the face: sound hole or pickups, a bridge.
    if acoustic:
        hole = top - rng.uniform(0.12, 0.16)
        kit.lathe(
            "body",
            [(0, 0), (rng.uniform(0.04, 0.05), 0), (0, 0.001)],
            DARK,
            center=(front, hole, 0),
            axis=(1, 0, 0),
        )
        bridge = hole - rng.uniform(0.16, 0.2)
        kit.box("body", (0.008, 0.025, 0.14), (front + 0.004, bridge, 0), DARK)
    else:
        pickups = int(rng.choice([1, 2, 3]))
        for i in range(pickups):
            kit.box("body", (0.008, 0.02, 0.08), (front + 0.003, top - 0.08 - 0.05 * i, 0), (0.9, 0.9, 0.88))
        kit.box("body", (0.008, 0.03, 0.08), (front + 0.003, top - 0.1 - 0.05 * pickups, 0), pick(rng, METAL))
        for i in range(int(rng.integers(1, 4))):
            kit.rod(
                "body",
                (front, top - 0.26 - 0.03 * i, -0.09),
                (front + 0.015, top - 0.26 - 0.03 * i, -0.09),
                0.008,
                DARK,
            )

    # Neck, reaching into the body (over the sound hole for acoustics).
    long = rng.uniform(0.6, 0.7) if style == "bass" else rng.uniform(0.4, 0.47)
    start = top - (0.09 if acoustic else 0.04)
    nut = start + long
    bottom_w, nut_w = rng.uniform(0.055, 0.065), rng.uniform(0.043, 0.052)
    neck_t = 0.022
    neck = Polygon([(-bottom_w / 2, start), (bottom_w / 2, start), (nut_w / 2, nut), (-nut_w / 2, nut)])
    prism(kit, "neck", neck, neck_t, wood, center=(front - neck_t / 2 + 0.008, 0, 0), rotation=face)

    # Head: outline (u, v) from the nut upwards, tilted back (towards -x) on acoustics.
    head_style = {
        "classical": "slotted",
        "bass": "4 in line",
        "acoustic": "3+3",
        "V electric": str(rng.choice(["3+3", "6 in line"])),
    }.get(style, str(rng.choice(["6 in line", "3+3"])))
    tilt = rng.uniform(8, 15) if acoustic or rng.random() < 0.3 else 0.0
    head, pegs = _guitar_head(rng, head_style, nut_w)
    pose = rotation("z", tilt) @ face
    origin = np.array([front - neck_t / 2 + 0.008, nut, 0.0])
    prism(kit, "head", head, 0.018, finish if not acoustic else wood, center=origin, rotation=pose)
    metal = pick(rng, METAL)
    for u, v, direction in pegs:
        base = origin + pose @ (u, v, 0)
        if direction == "back":  # tuner post through the head, button behind it
            kit.rod("head", base + pose @ (0, 0, 0.02), base - pose @ (0, 0, 0.03), 0.005, metal, sections=8)
            kit.box(
                "head",
                (0.01, 0.018, 0.012),
                base - pose @ (0, 0, 0.03) + pose @ (np.sign(u) * 0.012, 0, 0),
                metal,
                rotation=pose,
            )
        else:  # a peg sticking out sideways
            side = 1 if direction == "right" else -1
            kit.rod("head", base, base + pose @ (side * 0.03, 0, 0), 0.004, metal, sections=8)
            kit.ellipsoid(
                "head", (0.006, 0.012, 0.012), base + pose @ (side * 0.034, 0, 0), metal, subdivisions=1
            )
    return f"{style} guitar with a {head_style} head" + (" tilted back" if tilt else "")


def _guitar_body(rng: np.random.Generator, style: str) -> tuple[Polygon, float]:
    """The body outline (u across, v up from the bottom at v=0) and the height of its top."""
    if style in ("acoustic", "classical", "single-cut electric"):
        lower = rng.uniform(0.17, 0.2) if style != "single-cut electric" else rng.uniform(0.15, 0.17)
        if style == "classical":
            lower *= 0.92
        upper = lower * rng.uniform(0.72, 0.82)
        square = rng.uniform(1.0, 1.12)  # dreadnoughts are broader-shouldered
        middle = lower + (lower + upper) * rng.uniform(0.72, 0.8)
        body = ellipse(0, lower, lower * square, lower).union(ellipse(0, middle, upper * square, upper))
        body = smooth(body, lower * 0.45)
        top = middle + upper
        if style == "single-cut electric" or rng.random() < 0.25:
            side = float(rng.choice([-1, 1]))
            body = body.difference(Point(side * upper * 0.85, middle + upper * 0.55).buffer(upper * 0.55))
        return body, top
    if style == "V electric":
        spread, length = rng.uniform(0.2, 0.26), rng.uniform(0.44, 0.5)
        notch = length * rng.uniform(0.35, 0.5)
        body = Polygon(
            [
                (-0.05, length),
                (0.05, length),
                (spread, 0.02),
                (spread - 0.08, -0.01),
                (0, notch),
                (-spread + 0.08, -0.01),
                (-spread, 0.02),
            ]
        )
        return smooth(body, 0.02).buffer(0.008), length
    # Double cutaway (strat-like) electric guitar or bass: a traced outline (cm), two horns by the neck.
    bass_horn, treble_horn, waist = rng.uniform(42, 47), rng.uniform(37, 42), rng.uniform(12.5, 14.5)
    right = [
        (0, 0),
        (10, 1),
        (15, 5),
        (16.5, 12),
        (15.5, 19),
        (waist, 25),
        (14.5, 30),
        (15.5, 35),
        (14, bass_horn - 3),
        (11, bass_horn),
        (9, bass_horn - 1),
        (7.5, bass_horn - 6),
        (5, 34),
        (2.8, 33.5),
    ]
    left = [
        (-2.8, 33.5),
        (-5, 33),
        (-7.5, treble_horn - 5),
        (-9, treble_horn - 1),
        (-11.5, treble_horn),
        (-14, treble_horn - 3),
        (-15.5, 33),
        (-14.5, 29),
        (-waist, 25),
        (-15.5, 19),
        (-16.5, 12),
        (-15, 5),
        (-10, 1),
    ]
    size = rng.uniform(0.0095, 0.0105)
    body = Polygon(np.array(right + left) * size)
    body = body.buffer(-0.015, quad_segs=4).buffer(0.015, quad_segs=4)
    return smooth(body, 0.01), 33.5 * size


def _guitar_head(
    rng: np.random.Generator, style: str, nut: float
) -> tuple[Polygon, list[tuple[float, float, str]]]:
    """The head outline (u, v from the nut at v=0) and its tuner positions (u, v, which way they point)."""
    length = rng.uniform(0.16, 0.2) if style != "4 in line" else rng.uniform(0.18, 0.22)
    if style == "3+3":
        wide = rng.uniform(0.075, 0.09)
        head = smooth(
            Polygon(
                [
                    (-nut / 2, 0),
                    (nut / 2, 0),
                    (wide / 2, length * 0.85),
                    (wide * 0.3, length),
                    (-wide * 0.3, length),
                    (-wide / 2, length * 0.85),
                ]
            ),
            0.01,
        )
        pegs = [
            (side * wide * 0.42, length * (0.3 + 0.25 * i), "right" if side > 0 else "left")
            for side in (-1, 1)
            for i in range(3)
        ]
        return head, pegs
    if style == "slotted":
        wide = rng.uniform(0.055, 0.065)
        head = rounded_box(-wide / 2, 0, wide / 2, length, 0.008)
        for side in (-1, 1):
            head = head.difference(
                rounded_box(
                    side * wide * 0.25 - 0.008, length * 0.2, side * wide * 0.25 + 0.008, length * 0.85, 0.006
                )
            )
        pegs = [
            (side * wide / 2, length * (0.3 + 0.22 * i), "right" if side > 0 else "left")
            for side in (-1, 1)
            for i in range(3)
        ]
        return head, pegs
    count = 6 if style == "6 in line" else 4
    wide = rng.uniform(0.075, 0.095)
    head = smooth(
        Polygon(
            [
                (-nut / 2, 0),
                (nut / 2, 0),
                (nut / 2 + 0.005, length * 0.35),
                (wide - nut / 2, length * 0.9),
                (wide - nut / 2 - 0.02, length),
                (-nut / 2 + 0.005, length * 0.8),
            ]
        ),
        0.012,
    ).buffer(0.004)
    pegs = [(nut / 2 + 0.012, length * (0.12 + 0.13 * i * 6 / count), "back") for i in range(count)]
    return head, pegs


# ------------------------------------------------------------------------------------------------- knife


def knife(rng: np.random.Generator, kit: PartMesh) -> str:
    """A knife standing blade up: chef's knife, santoku, paring knife, bread knife, cleaver or dagger.

    Varies blade length, width and profile (curved edge, dropped spine, serrations, a cleaver's
    hole), handle length and shape (slab with rivets, a bolster, or a dagger's round grip with a
    cross-guard and pommel).
    """
    style = choose(
        rng,
        {"chef's knife": 2, "santoku": 1, "paring knife": 1, "bread knife": 1, "cleaver": 0.8, "dagger": 1},
    )
    steel = pick(rng, METAL[:2])
    wooden = rng.random() < 0.5
    grip = pick(rng, WOOD if wooden else POLYMER)
    length, width = {
        "chef's knife": (rng.uniform(0.18, 0.24), rng.uniform(0.04, 0.052)),
        "santoku": (rng.uniform(0.15, 0.18), rng.uniform(0.042, 0.05)),
        "paring knife": (rng.uniform(0.07, 0.1), rng.uniform(0.016, 0.022)),
        "bread knife": (rng.uniform(0.2, 0.25), rng.uniform(0.024, 0.03)),
        "cleaver": (rng.uniform(0.16, 0.2), rng.uniform(0.08, 0.1)),
        "dagger": (rng.uniform(0.15, 0.22), rng.uniform(0.03, 0.04)),
    }[style]
    thickness = 0.0025 if style != "cleaver" else 0.004
    blade = _blade_outline(rng, style, length, width)
    prism(kit, "blade", blade, thickness, steel)

    handle_length = rng.uniform(0.1, 0.13) if style != "paring knife" else rng.uniform(0.08, 0.1)
    center_x = -width / 2 + rng.uniform(0.012, 0.016) if style not in ("dagger",) else 0.0
    if style == "dagger":
        guard = rng.uniform(0.07, 0.1)
        kit.box("handle", (guard, 0.012, 0.018), (0, -0.006, 0), pick(rng, METAL))
        radius = rng.uniform(0.011, 0.014)
        profile = [
            (0, 0),
            (radius * 0.9, 0),
            (radius, handle_length * 0.5),
            (radius * 0.85, handle_length),
            (0, handle_length),
        ]
        kit.lathe("handle", profile, grip, center=(0, -0.012 - handle_length, 0), sections=16)
        kit.ellipsoid(
            "handle",
            (radius * 1.4, radius * 1.2, radius * 1.4),
            (0, -0.012 - handle_length, 0),
            pick(rng, METAL),
        )
        return f"dagger with a {guard * 100:.0f} cm cross-guard"
    grip_width = rng.uniform(0.022, 0.03) if style != "paring knife" else rng.uniform(0.018, 0.022)
    handle = rounded_box(
        center_x - grip_width / 2, -handle_length, center_x + grip_width / 2, 0.004, grip_width * 0.35
    )
    handle = handle.union(
        ellipse(center_x, -handle_length * 0.9, grip_width * 0.58, grip_width * 0.4)
    )  # a butt
    depth = rng.uniform(0.016, 0.022)
    prism(kit, "handle", handle, depth, grip)
    rivets = int(rng.choice([0, 2, 3])) if style != "paring knife" else 0
    for i in range(rivets):
        y = -handle_length * (0.2 + 0.6 * i / max(rivets - 1, 1))
        kit.rod(
            "handle",
            (center_x, y, -depth / 2 - 0.001),
            (center_x, y, depth / 2 + 0.001),
            0.003,
            pick(rng, METAL),
            sections=8,
        )
    bolster = style in ("chef's knife", "santoku") and rng.random() < 0.6
    if bolster:
        kit.box("handle", (grip_width * 1.05, 0.012, depth * 0.9), (center_x, 0.0, 0), steel)
    extras = [f"{rivets} rivets"] if rivets else []
    if bolster:
        extras.append("a bolster")
    return f"{style} with a {'riveted ' if rivets else ''}{'wooden' if wooden else 'plastic'} handle" + (
        " and a bolster" if bolster else ""
    )


def _blade_outline(rng: np.random.Generator, style: str, length: float, width: float) -> Polygon:
    """The blade's face: its heel at y=0, tip at y=`length`, spine on -x and edge on +x."""
    spine, edge = -width / 2, width / 2
    t = np.linspace(0.0, 1.0, 12)
    if style == "dagger":
        half = width / 2 * (1 - t ** rng.uniform(1.3, 2.2)) * (1 - 0.15 * t)
        return Polygon(
            [*zip(half, t * length, strict=True), *zip(-half[::-1], (t * length)[::-1], strict=True)]
        )
    if style == "cleaver":
        body = rounded_box(spine, 0, edge, length, 0.004).union(
            rounded_box(spine, 0.01, edge, length, width * 0.15)
        )
        hole = Point(spine + width * 0.2, length - width * 0.2).buffer(width * 0.08)
        return body.difference(hole)
    if style == "santoku":  # the spine drops to a tip on the edge line
        curve = [
            (spine + width * (1 - np.cos(a)) * 0.95, length * 0.7 + length * 0.3 * np.sin(a))
            for a in np.linspace(0, np.pi / 2, 8)
        ]
        return Polygon(
            [(spine, 0), (edge, 0), (edge, length * 0.85), (edge - width * 0.05, length), *curve[::-1]]
        )
    if style == "bread knife":
        teeth = np.linspace(0.02, length * 0.9, 24)
        serrated = [(edge - (0.0015 if i % 2 else 0.0), y) for i, y in enumerate(teeth)]
        tip = [
            (spine + width / 2 + width / 2 * np.cos(a), length * 0.9 + width / 2 * np.sin(a))
            for a in np.linspace(0, np.pi, 8)
        ]
        return Polygon([(spine, 0), (edge, 0), *serrated, *tip])
    # Chef's and paring knives: a straight spine, the edge curving up into the point.
    start = rng.uniform(0.3, 0.55)
    curve = [
        (
            spine + width * np.sqrt(max(1 - s**2, 0.0)) * 0.97 + width * 0.03,
            length * (start + (1 - start) * s),
        )
        for s in t
    ]
    drop = (
        [(spine + width * 0.03 * s, length * (0.8 + 0.2 * s)) for s in t[::-1]]
        if style == "chef's knife"
        else []
    )
    return Polygon([(spine, 0), (edge, 0), *curve, *drop])


# ------------------------------------------------------------------------------------------------ pistol


def pistol(rng: np.random.Generator, kit: PartMesh) -> str:
    """A handgun pointing +x, grip down at the rear: semi-automatic, long-barrel target pistol or revolver.

    Varies slide or barrel length, height, grip length and rake, an extended magazine, a rail or
    exposed barrel, the revolver's cylinder and barrel length, and the trigger guard's shape.
    """
    style = choose(rng, {"semi-automatic": 2, "target pistol": 1, "revolver": 1.2})
    metal, frame = pick(rng, METAL), pick(rng, POLYMER + METAL)
    grip_color = frame if rng.random() < 0.6 else pick(rng, WOOD + POLYMER)
    depth = rng.uniform(0.024, 0.03)
    rake = rng.uniform(10, 24)
    extras = []
    if style == "revolver":
        barrel = rng.uniform(0.05, 0.16)
        drum_x, drum_len, drum_r = 0.03, rng.uniform(0.038, 0.045), rng.uniform(0.017, 0.021)
        axis_y = 0.0
        kit.rod("barrel", (drum_x, axis_y, 0), (drum_x + drum_len, axis_y, 0), drum_r, metal, sections=12)
        front = drum_x + drum_len + 0.006
        kit.rod(
            "barrel",
            (front, axis_y + 0.008, 0),
            (front + barrel, axis_y + 0.008, 0),
            rng.uniform(0.008, 0.011),
            metal,
            sections=14,
        )
        kit.box("barrel", (barrel, 0.008, 0.009), (front + barrel / 2, axis_y + 0.017, 0), metal)
        frame_outline = Polygon(
            [
                (-0.005, -0.022),
                (drum_x + drum_len + 0.01, -0.022),
                (drum_x + drum_len + 0.01, 0.025),
                (-0.01, 0.025),
                (-0.03, 0.01),
                (-0.025, -0.022),
            ]
        )
        prism(
            kit,
            "barrel",
            frame_outline.difference(
                rounded_box(drum_x - 0.002, -0.019, drum_x + drum_len + 0.002, 0.019, 0.01)
            ),
            depth * 0.7,
            metal,
        )
        kit.box(
            "barrel", (0.016, 0.012, 0.008), (-0.022, 0.025, 0), metal, rotation=rotation("z", 30)
        )  # hammer
        top, grip_front = -0.022, 0.0
        grip_length = rng.uniform(0.08, 0.1)
        description = f"revolver with a {barrel * 100 / 2.54:.0f}-inch barrel"
        guard_front = drum_x + drum_len * 0.8
    else:
        slide = rng.uniform(0.16, 0.2) if style == "semi-automatic" else rng.uniform(0.14, 0.17)
        height = rng.uniform(0.028, 0.036)
        rear = -0.025
        kit.box("barrel", (slide, height, depth * 0.9), (rear + slide / 2, 0.0, 0), metal)
        kit.box("barrel", (0.006, 0.006, 0.004), (rear + slide - 0.01, height / 2 + 0.003, 0), metal)
        kit.box("barrel", (0.006, 0.006, depth * 0.5), (rear + 0.006, height / 2 + 0.003, 0), metal)
        muzzle = rear + slide
        if style == "target pistol":
            exposed = rng.uniform(0.05, 0.1)
            kit.rod(
                "barrel",
                (muzzle - 0.01, 0.002, 0),
                (muzzle + exposed, 0.002, 0),
                rng.uniform(0.008, 0.011),
                metal,
                sections=14,
            )
            extras.append("a long exposed barrel")
        else:
            kit.rod(
                "barrel", (muzzle - 0.005, 0.003, 0), (muzzle + 0.003, 0.003, 0), 0.006, DARK, sections=10
            )
        dust = slide * rng.uniform(0.55, 0.75)
        lower = rng.uniform(0.014, 0.02)
        kit.box(
            "barrel",
            (dust, lower, depth),
            (rear + slide - dust / 2 - 0.005, -height / 2 - lower / 2, 0),
            frame,
        )
        if rng.random() < 0.3:
            kit.box(
                "barrel",
                (dust * 0.5, 0.006, depth * 0.7),
                (rear + slide - dust * 0.3, -height / 2 - lower - 0.003, 0),
                DARK,
            )
            extras.append("a rail")
        top, grip_front = -height / 2 - 0.002, rear + 0.05
        grip_length = rng.uniform(0.1, 0.13)
        description = "semi-automatic pistol" if style == "semi-automatic" else "target pistol"
        guard_front = rear + slide - dust + 0.04

    # Grip: a raked parallelogram with rounded corners, hanging from under the rear.
    if style == "revolver":  # narrower, more raked, the butt rounded and bulging at the back
        grip_top_w, rake = rng.uniform(0.035, 0.042), rake + 10
    else:
        grip_top_w = rng.uniform(0.045, 0.055)
    slant = grip_length * np.tan(np.radians(rake))
    back = grip_front - grip_top_w
    corners = [
        (back - 0.006, top + 0.004),
        (grip_front, top + 0.004),
        (grip_front - slant, top - grip_length),
        (back - slant, top - grip_length),
    ]
    if style == "revolver":
        corners.append((back - slant * 0.5 - 0.008, top - grip_length * 0.5))
    rounding = 0.004 if style != "revolver" else 0.01
    outline = Polygon(corners).buffer(-rounding, quad_segs=3).buffer(rounding, quad_segs=3)
    prism(kit, "handle", outline, depth * 1.05, grip_color)
    if style != "revolver" and rng.random() < 0.25:
        mag = rng.uniform(0.03, 0.06)
        bottom = top - grip_length
        prism(
            kit,
            "handle",
            Polygon(
                [
                    (grip_front - slant - 0.004, bottom + 0.002),
                    (back - slant + 0.004, bottom + 0.002),
                    (back - slant - mag * np.tan(np.radians(rake)) + 0.004, bottom - mag),
                    (grip_front - slant - mag * np.tan(np.radians(rake)) - 0.004, bottom - mag),
                ]
            ),
            depth * 0.8,
            DARK,
        )
        extras.append("an extended magazine")

    # Trigger guard: a loop in front of the grip; the trigger inside it.
    guard_depth = rng.uniform(0.025, 0.032)
    start = (grip_front - 0.004 - slant * 0.25, top - guard_depth * 0.9)
    rounded = rng.random() < 0.5
    corner = 0.012 if rounded else 0.004
    path = [
        (grip_front - 0.006, top - 0.006),
        start,
        (guard_front - corner, top - guard_depth),
        (guard_front, top - guard_depth + corner),
        (guard_front + 0.004, top - 0.004),
    ]
    kit.tube("trigger and guard", [(x, y, 0) for x, y in path], rng.uniform(0.0025, 0.0035), frame)
    pivot = grip_front + (guard_front - grip_front) * 0.5
    bow = np.linspace(0.0, 1.0, 6)
    front_edge = [
        (pivot + 0.004 * np.sin(np.pi * b) - 0.006 * b, top - 0.002 - guard_depth * 0.7 * b) for b in bow
    ]
    prism(
        kit,
        "trigger and guard",
        Polygon(front_edge + [(x - 0.004, y) for x, y in front_edge[::-1]]),
        0.006,
        metal,
    )
    return description + (f" with {' and '.join(extras)}" if extras else "")
