"""Procedural chairs, tables and lamps (ShapeNetPart frame: +y up, a chair faces +x)."""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from partdistill.synth.procedural.forms import choose
from partdistill.synth.procedural.kit import RGB, PartMesh, rotation
from partdistill.synth.procedural.materials import FABRIC, METAL, PAINT, WOOD, pick


def chair(rng: np.random.Generator, kit: PartMesh) -> str:
    """A chair: seat, back, legs (3-5 legs, a swivel star, or a sled frame), and armrests or none."""
    frame = pick(rng, WOOD if rng.random() < 0.6 else METAL)
    cushion = pick(rng, FABRIC) if rng.random() < 0.5 else frame
    width, depth = rng.uniform(0.42, 0.6), rng.uniform(0.4, 0.56)
    height, thickness = rng.uniform(0.4, 0.5), rng.uniform(0.03, 0.09)
    kit.box("seat", (depth, thickness, width), (0.0, height + thickness / 2, 0.0), cushion)
    top = height + thickness

    base = str(rng.choice(["legs", "legs", "legs", "swivel", "sled"]))
    leg = rng.uniform(0.02, 0.04)
    if base == "legs":
        count = int(rng.choice([3, 4, 4, 4, 5]))
        splay = rng.uniform(0.0, 0.06)
        angles = np.radians(45.0 + 360.0 * np.arange(count) / count) if count != 4 else None
        for i in range(count):
            if angles is None:
                x, z = (
                    (depth / 2 - leg) * (1 if i in (0, 1) else -1),
                    (width / 2 - leg) * (1 if i in (0, 2) else -1),
                )
            else:
                x, z = 0.45 * depth * np.cos(angles[i]), 0.45 * width * np.sin(angles[i])
            foot = (x * (1 + splay * 4), 0.0, z * (1 + splay * 4))
            kit.rod("leg", foot, (x, height, z), leg, frame)
        legs = f"{count} legs"
    elif base == "swivel":
        column = rng.uniform(0.025, 0.04)
        kit.rod("leg", (0.0, 0.06, 0.0), (0.0, height, 0.0), column, pick(rng, METAL))
        reach = rng.uniform(0.25, 0.32)
        for angle in np.radians(90.0 + 72.0 * np.arange(5)):
            end = (reach * np.cos(angle), 0.03, reach * np.sin(angle))
            kit.rod("leg", (0.0, 0.06, 0.0), end, 0.018, frame)
            kit.ellipsoid("leg", (0.025, 0.025, 0.025), (end[0], 0.025, end[2]), pick(rng, METAL))
        legs = "a five-star swivel base"
    else:
        for side in (-1, 1):
            z = side * (width / 2 - 0.02)
            path = [
                (depth / 2, height, z),
                (depth / 2 + 0.02, 0.01, z),
                (-depth / 2, 0.01, z),
                (-depth / 2, height, z),
            ]
            kit.tube("leg", path, 0.015, frame)
        legs = "a sled frame"

    back_height, tilt = rng.uniform(0.3, 0.6), rng.uniform(0.0, 14.0)
    back_style = str(rng.choice(["solid", "slatted", "rounded"]))
    lean = rotation("z", tilt)
    back_x = -depth / 2 + 0.02

    def back_point(local_y: float) -> np.ndarray:
        return np.array([back_x, top, 0.0]) + lean @ np.array([0.0, local_y, 0.0])

    if back_style == "solid":
        kit.box("back", (0.04, back_height, width), back_point(back_height / 2), cushion, rotation=lean)
    elif back_style == "slatted":
        for side in (-1, 1):
            kit.box(
                "back",
                (0.035, back_height, 0.035),
                back_point(back_height / 2) + np.array([0.0, 0.0, side * (width / 2 - 0.02)]),
                frame,
                rotation=lean,
            )
        kit.box("back", (0.035, 0.06, width), back_point(back_height - 0.03), frame, rotation=lean)
        slats = int(rng.integers(2, 6))
        for z in np.linspace(-width / 2 + 0.08, width / 2 - 0.08, slats):
            kit.box(
                "back",
                (0.02, back_height - 0.06, 0.03),
                back_point((back_height - 0.06) / 2) + np.array([0.0, 0.0, z]),
                frame,
                rotation=lean,
            )
    else:
        kit.slab(
            "back",
            _rounded_rectangle(width, back_height, rng.uniform(0.05, 0.2)),
            0.04,
            cushion,
            center=back_point(back_height / 2),
            rotation=lean @ rotation("y", 90.0),
        )

    arms = rng.random() < 0.45
    if arms:
        arm_height = rng.uniform(0.18, 0.26)
        for side in (-1, 1):
            z = side * (width / 2 + 0.025)
            kit.box("arm", (depth * 0.85, 0.035, 0.06), (0.0, top + arm_height, z), frame)
            kit.box("arm", (0.04, arm_height, 0.04), (depth * 0.3, top + arm_height / 2, z), frame)
    return f"chair with {legs}, a {back_style} back, {'armrests' if arms else 'no armrests'}"


def table(rng: np.random.Generator, kit: PartMesh) -> str:
    """A table: a rectangular or round top, legs (4 corner legs, a pedestal or trestles), maybe drawers."""
    wood = pick(rng, WOOD if rng.random() < 0.7 else PAINT)
    legs_color = wood if rng.random() < 0.6 else pick(rng, METAL)
    length, width = rng.uniform(0.8, 1.6), rng.uniform(0.5, 0.9)
    height, thickness = rng.uniform(0.45, 0.8), rng.uniform(0.03, 0.07)
    round_top = rng.random() < 0.25
    if round_top:
        radius = width * rng.uniform(0.5, 0.7)
        kit.lathe(
            "desktop",
            [(0, 0), (radius, 0), (radius, thickness), (0, thickness)],
            wood,
            center=(0.0, height - thickness, 0.0),
        )
        length = width = 2 * radius
    else:
        kit.box("desktop", (length, thickness, width), (0.0, height - thickness / 2, 0.0), wood)
    under = height - thickness

    support = str(
        rng.choice(["legs", "legs", "pedestal", "trestle"])
        if round_top is False
        else rng.choice(["legs", "pedestal"])
    )
    if support == "legs":
        size = rng.uniform(0.025, 0.06)
        square = rng.random() < 0.5
        inset = rng.uniform(0.02, 0.1)
        for sx in (-1, 1):
            for sz in (-1, 1):
                x, z = sx * (length / 2 - inset - size), sz * (width / 2 - inset - size)
                if round_top:
                    x, z = x * 0.6, z * 0.6
                if square:
                    kit.box("leg", (size * 2, under, size * 2), (x, under / 2, z), legs_color)
                else:
                    kit.rod("leg", (x, 0.0, z), (x, under, z), size, legs_color)
    elif support == "pedestal":
        kit.rod("leg", (0.0, 0.04, 0.0), (0.0, under, 0.0), rng.uniform(0.04, 0.08), legs_color)
        kit.lathe("leg", [(0, 0), (rng.uniform(0.2, 0.3), 0), (0.06, 0.05), (0, 0.05)], legs_color)
    else:
        for side in (-1, 1):
            x = side * (length / 2 - 0.12)
            kit.box("leg", (0.06, under, width * 0.8), (x, under / 2, 0.0), legs_color)
        kit.box("leg", (length - 0.3, 0.06, 0.05), (0.0, under * 0.3, 0.0), legs_color)

    drawers = 0
    if not round_top and support != "pedestal" and rng.random() < 0.4:
        drawers = int(rng.integers(1, 3))
        drawer_height = rng.uniform(0.08, 0.15)
        span = (length * 0.7) / drawers
        for i in range(drawers):
            x = -length * 0.35 + span * (i + 0.5)
            kit.box(
                "drawer",
                (span * 0.95, drawer_height, width * 0.85),
                (x, under - drawer_height / 2, 0.0),
                wood,
            )
            kit.box(
                "drawer", (0.06, 0.02, 0.02), (x, under - drawer_height / 2, width * 0.43), pick(rng, METAL)
            )
    top = "round" if round_top else "rectangular"
    return f"{top} table on {support}, {drawers} drawer{'s' if drawers != 1 else ''}"


def _rounded_rectangle(width: float, height: float, radius: float, steps: int = 6) -> np.ndarray:
    """Outline [K,2] of a width x height rectangle centred at the origin with its top corners rounded."""
    radius = min(radius, width / 2, height / 2)
    corners = []
    for cx, start in ((width / 2 - radius, 0.0), (-width / 2 + radius, 90.0)):
        angles = np.radians(np.linspace(start, start + 90.0, steps))
        corners += [(cx + radius * np.cos(a), height / 2 - radius + radius * np.sin(a)) for a in angles]
    return np.array([(width / 2, -height / 2), *corners, (-width / 2, -height / 2)])


def lamp(rng: np.random.Generator, kit: PartMesh) -> str:
    """A lamp: desk lamp on an arm, table lamp, floor lamp, arc lamp, hanging lamp or chandelier.

    Standing lamps have a base and a lampshade and mostly a tube (stem, pole or arm); hanging ones a
    canopy at the top (+y), a cord or rod (tube) and one or several shades. Varies sizes, the base
    (disc, block, vase), the shade (drum, cone, dome, globe, bowl), arm joints and angles.
    """
    style = choose(
        rng,
        {
            "desk lamp": 1,
            "table lamp": 1.5,
            "floor lamp": 1,
            "arc lamp": 0.6,
            "hanging lamp": 1,
            "chandelier": 0.6,
        },
    )
    metal, shade_color = pick(rng, METAL), pick(rng, FABRIC + PAINT)
    base_color = pick(rng, METAL + PAINT + WOOD)
    if style == "desk lamp":
        base_top = _lamp_base(rng, kit, rng.uniform(0.07, 0.1), rng.uniform(0.015, 0.03), base_color)
        lower, upper = rng.uniform(0.25, 0.38), rng.uniform(0.25, 0.35)
        rise, reach = np.radians(rng.uniform(60, 85)), np.radians(rng.uniform(-30, 10))
        elbow = np.array([-lower * np.cos(rise) * 0.3, base_top + lower * np.sin(rise), 0.0])
        head = elbow + upper * np.array([np.cos(reach), np.sin(reach), 0.0])
        joints = [np.array([0.0, base_top, 0.0]), elbow, head]
        for a, b in pairwise(joints):
            for side in (-1, 1):
                kit.rod("tube", a + (0, 0, side * 0.012), b + (0, 0, side * 0.012), 0.006, metal, sections=8)
        for joint in joints:
            kit.rod("tube", joint - (0, 0, 0.02), joint + (0, 0, 0.02), 0.012, metal, sections=12)
        aim = np.array([rng.uniform(0.2, 0.6), -1.0, 0.0])
        _shade(rng, kit, str(rng.choice(["cone", "dome"])), head, aim, rng.uniform(0.06, 0.1), shade_color)
        return "desk lamp on a jointed arm"
    if style in ("table lamp", "floor lamp"):
        table = style == "table lamp"
        shape = str(rng.choice(["vase", "disc", "block"] if table else ["disc", "disc", "block"]))
        if shape == "vase":
            base_top = _vase(rng, kit, rng.uniform(0.08, 0.13), rng.uniform(0.2, 0.35), base_color)
        else:
            base_top = _lamp_base(
                rng,
                kit,
                rng.uniform(0.09, 0.14) if table else rng.uniform(0.14, 0.2),
                rng.uniform(0.02, 0.05),
                base_color,
                square=shape == "block",
            )
        stem = rng.uniform(0.15, 0.3) if table else rng.uniform(1.2, 1.6)
        tube = not table or shape != "vase" or rng.random() < 0.5
        if tube:
            kit.rod(
                "tube",
                (0, base_top - 0.01, 0),
                (0, base_top + stem, 0),
                rng.uniform(0.008, 0.015),
                metal,
                sections=12,
            )
            top = base_top + stem
        else:
            top = base_top + 0.02
        kind = str(rng.choice(["drum", "cone"] if table else ["drum", "cone", "bowl"]))
        size = rng.uniform(0.12, 0.2) if table else rng.uniform(0.16, 0.24)
        if kind == "bowl":  # a torchiere opening upwards
            _shade(rng, kit, "bowl", np.array([0, top, 0]), np.array([0, 1.0, 0]), size, shade_color)
        else:
            _shade(
                rng, kit, kind, np.array([0, top + size * 0.9, 0]), np.array([0, -1.0, 0]), size, shade_color
            )
        return f"{style} with a {shape} base, a {kind} shade" + ("" if tube else ", no stem")
    if style == "arc lamp":
        base_top = _lamp_base(
            rng, kit, rng.uniform(0.15, 0.2), rng.uniform(0.04, 0.08), base_color, square=rng.random() < 0.5
        )
        height, reach = rng.uniform(1.5, 2.0), rng.uniform(0.8, 1.3)
        t = np.linspace(0, 1, 14)
        path = np.column_stack(
            [
                reach * (1 - np.cos(t * np.pi / 2)) ** 1.5,
                base_top + height * np.sin(t * np.pi * 0.6) / np.sin(np.pi * 0.6),
                0 * t,
            ]
        )
        path[:, 1] = np.minimum(path[:, 1], base_top + height)
        kit.tube("tube", path, rng.uniform(0.01, 0.015), metal)
        end = path[-1]
        kit.rod("tube", end, end - (0, 0.08, 0), 0.006, metal, sections=8)
        _shade(
            rng, kit, "dome", end - (0, 0.08, 0), np.array([0, -1.0, 0]), rng.uniform(0.15, 0.25), shade_color
        )
        return "arc floor lamp with a dome shade"

    # Hanging: canopy at the ceiling, a cord or rod, one or several shades below.
    canopy_r = rng.uniform(0.05, 0.09)
    ceiling = 0.0
    kit.lathe(
        "canopy",
        [(0, 0), (canopy_r, 0), (canopy_r * 0.8, 0.03), (0, 0.035)],
        metal,
        center=(0, ceiling - 0.035, 0),
        sections=24,
    )
    drop = rng.uniform(0.3, 1.0)
    if style == "hanging lamp":
        kit.tube(
            "tube",
            [(0, ceiling - 0.03, 0), (0, ceiling - drop, 0)],
            rng.uniform(0.004, 0.008),
            (0.1, 0.1, 0.1),
        )
        kind = str(rng.choice(["dome", "cone", "globe", "drum"]))
        _shade(
            rng,
            kit,
            kind,
            np.array([0, ceiling - drop, 0]),
            np.array([0, -1.0, 0]),
            rng.uniform(0.12, 0.25),
            shade_color,
        )
        return f"hanging lamp with a {kind} shade"
    drop *= 0.6
    kit.rod("tube", (0, ceiling - 0.03, 0), (0, ceiling - drop, 0), 0.012, metal, sections=10)
    arms = int(rng.integers(3, 7))
    spread = rng.uniform(0.25, 0.4)
    kind = str(rng.choice(["cone", "drum", "globe"]))
    for i in range(arms):
        angle = 2 * np.pi * i / arms
        direction = np.array([np.cos(angle), 0.0, np.sin(angle)])
        t = np.linspace(0, 1, 8)[:, None]
        path = (
            (0, ceiling - drop, 0)
            + direction * spread * t
            + np.array([0, 1, 0]) * (0.12 * t**2 - 0.08 * np.sin(np.pi * t))
        )
        kit.tube("tube", path, 0.007, metal)
        size = rng.uniform(0.05, 0.07)
        top = path[-1] + (0, size * (1.2 if kind == "globe" else 0.9), 0)  # the shade sits on the arm's tip
        _shade(rng, kit, kind, top, np.array([0, -1.0, 0]), size, shade_color)
    return f"chandelier with {arms} {kind} shades"


def _lamp_base(
    rng: np.random.Generator, kit: PartMesh, radius: float, height: float, color: RGB, square: bool = False
) -> float:
    """A round or square foot on the floor; returns the height of its top."""
    if square:
        kit.box("base", (radius * 1.8, height, radius * 1.8), (0, height / 2, 0), color)
    else:
        profile = [
            (0, 0),
            (radius, 0),
            (radius, height * 0.6),
            (radius * rng.uniform(0.5, 0.9), height),
            (0, height),
        ]
        kit.lathe("base", profile, color, sections=24)
    return height


def _vase(rng: np.random.Generator, kit: PartMesh, radius: float, height: float, color: RGB) -> float:
    """A bulbous table-lamp body; returns the height of its top."""
    t = np.linspace(0, 1, 10)
    waist = rng.uniform(0.2, 0.4)
    radii = radius * (waist + (1 - waist) * np.sin(np.pi * np.clip(t * 1.1, 0, 1)) ** 0.8)
    radii[0] = radius * 0.7
    profile = (
        [(0, 0)] + [(float(r), float(h)) for r, h in zip(radii, t * height, strict=True)] + [(0, height)]
    )
    kit.lathe("base", profile, color, sections=24)
    return height


def _shade(
    rng: np.random.Generator,
    kit: PartMesh,
    kind: str,
    top: np.ndarray,
    aim: np.ndarray,
    size: float,
    color: RGB,
) -> None:
    """A lampshade hung from `top`, opening along `aim`: a drum, cone, dome, bowl (thin shells) or globe."""
    aim = np.asarray(aim, float) / np.linalg.norm(aim)
    wall = max(0.003, size * 0.02)
    if kind == "globe":
        kit.ellipsoid("lampshade", (size * 0.6, size * 0.6, size * 0.6), top + aim * size * 0.6, color)
        return
    if kind == "drum":
        outer = [(size * rng.uniform(0.85, 1.0), 0.0), (size, size * 1.1)]
    elif kind == "cone":
        outer = [(size * rng.uniform(0.15, 0.45), 0.0), (size, size * rng.uniform(0.7, 1.0))]
    elif kind == "bowl":
        outer = [(size * 0.2, 0.0)] + [
            (size * (0.2 + 0.8 * np.sin(a)), size * 0.45 * (1 - np.cos(a)))
            for a in np.linspace(0.2, np.pi / 2, 6)
        ]
    else:  # a dome: a quarter circle from a small crown down to a wide rim
        outer = [
            (size * (0.12 + 0.88 * np.sin(a)), size * 0.7 * (1 - np.cos(a)))
            for a in np.linspace(0, np.pi / 2, 7)
        ]
    inner = [(r - wall, h) for r, h in reversed(outer)]
    kit.lathe("lampshade", [*outer, *inner, outer[0]], color, center=top, axis=aim, sections=24)
    kit.ellipsoid(
        "lampshade",
        (size * 0.15, size * 0.15, size * 0.15),
        top + aim * size * 0.2,
        (1.0, 0.97, 0.85),
        subdivisions=1,
    )
