"""Procedural vehicles: airplanes, cars, motorbikes, rockets and skateboards.

ShapeNetPart's frame: +y up, every vehicle lies along x with its front (nose, hood, headlight) at +x;
airplane wings spread along z.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from shapely.geometry import Polygon, box

from partdistill.synth.procedural.forms import band, choose, ellipse, hull, prism, rounded_box, smooth, wheel
from partdistill.synth.procedural.kit import RGB, PartMesh, arc, rotation
from partdistill.synth.procedural.materials import METAL, PAINT, RUBBER, pick

GLASS: RGB = (0.15, 0.2, 0.28)


# ---------------------------------------------------------------------------------------------- airplane


def airplane(rng: np.random.Generator, kit: PartMesh) -> str:
    """An airplane: airliner, business jet, propeller plane, glider or fighter.

    Varies fuselage girth and nose, wing span, chord, sweep (straight to delta), height (low, mid,
    high) and dihedral; engines (none, 2 or 4 under the wings, 2 on the rear fuselage, a nose or
    twin wing propellers, fighter intakes and nozzles); and the tail (conventional, T-tail, twin fins).
    """
    style = choose(rng, {"airliner": 2, "business jet": 1, "propeller plane": 1, "glider": 1, "fighter": 1.2})
    paint, trim = pick(rng, PAINT), pick(rng, METAL)
    length = 1.0
    if style == "airliner":
        radius, nose, blunt = rng.uniform(0.045, 0.06), rng.uniform(0.08, 0.12), True
        span, root, taper = rng.uniform(0.45, 0.56), rng.uniform(0.18, 0.24), rng.uniform(0.25, 0.4)
        sweep, height, dihedral = rng.uniform(24, 36), -0.55, rng.uniform(3, 7)
        tail = "T-tail" if rng.random() < 0.2 else "conventional tail"
        engines = "4 engines under the wings" if rng.random() < 0.35 else "2 engines under the wings"
    elif style == "business jet":
        radius, nose, blunt = rng.uniform(0.05, 0.065), rng.uniform(0.1, 0.14), True
        span, root, taper = rng.uniform(0.38, 0.48), rng.uniform(0.15, 0.2), rng.uniform(0.35, 0.5)
        sweep, height, dihedral = rng.uniform(18, 30), -0.6, rng.uniform(2, 5)
        tail, engines = "T-tail", "2 engines at the tail"
    elif style == "propeller plane":
        radius, nose, blunt = rng.uniform(0.055, 0.075), rng.uniform(0.06, 0.1), True
        span, root, taper = rng.uniform(0.5, 0.66), rng.uniform(0.14, 0.2), rng.uniform(0.6, 1.0)
        sweep, height, dihedral = rng.uniform(0, 4), float(rng.choice([-0.6, 0.85])), rng.uniform(1, 5)
        tail = "T-tail" if rng.random() < 0.2 else "conventional tail"
        engines = "a nose propeller" if rng.random() < 0.5 else "2 wing propellers"
    elif style == "glider":
        radius, nose, blunt = rng.uniform(0.035, 0.05), rng.uniform(0.1, 0.14), True
        span, root, taper = rng.uniform(0.8, 1.0), rng.uniform(0.09, 0.12), rng.uniform(0.35, 0.6)
        sweep, height, dihedral = rng.uniform(0, 3), float(rng.choice([0.0, 0.8])), rng.uniform(2, 5)
        tail, engines = "T-tail", "no engines"
    else:
        radius, nose, blunt = rng.uniform(0.06, 0.08), rng.uniform(0.22, 0.3), False
        span, root, taper = rng.uniform(0.28, 0.38), rng.uniform(0.38, 0.5), rng.uniform(0.08, 0.25)
        sweep, height, dihedral = rng.uniform(40, 56), 0.0, rng.uniform(-3, 2)
        tail = "twin fins" if rng.random() < 0.5 else "single fin"
        engines = "intakes and nozzles" if rng.random() < 0.85 else "no engines"

    tail_radius = 0.6 if style == "fighter" else rng.uniform(0.15, 0.3)
    kit.lathe(
        "body",
        _fuselage_profile(length, radius, nose, length * rng.uniform(0.22, 0.32), tail_radius, blunt),
        paint,
        center=(-length / 2, 0.0, 0.0),
        axis=(1, 0, 0),
        sections=24,
    )
    if style == "fighter":
        kit.ellipsoid(
            "body",
            (nose * 0.7, radius * 0.55, radius * 0.5),
            (length / 2 - nose * 1.3, radius * 0.75, 0),
            GLASS,
        )

    # Main wing: two halves from inside the fuselage, leading edge a little ahead of the middle.
    root_le = rng.uniform(0.05, 0.14) + (root * 0.5 if style == "fighter" else 0.0)
    wing_y, wing_z0 = height * radius, radius * 0.6
    tip = root * taper
    thickness = max(0.01, root * 0.08)
    _wing_pair(kit, "wing", root_le, wing_y, wing_z0, span, root, tip, sweep, dihedral, thickness, paint)

    def wing_point(fraction: float, side: int) -> tuple[float, float, float]:
        """Leading-edge point at `fraction` of the half span, on the wing's underside."""
        s = fraction * span
        d = np.radians(dihedral)
        return (
            root_le - s * np.tan(np.radians(sweep)),
            wing_y + s * np.sin(d) - thickness / 2,
            side * (wing_z0 + s * np.cos(d)),
        )

    _airplane_tail(rng, kit, style, tail, length, radius, paint)
    _airplane_engines(rng, kit, engines, length, radius, nose, wing_point, root, paint, trim)

    kind = "delta" if style == "fighter" else ("swept" if sweep > 15 else "straight")
    place = {True: "high", False: "low"}[height > 0.3] if abs(height) > 0.1 else "mid"
    return f"{style} with {kind} {place} wings, {engines}, {tail}"


def _fuselage_profile(
    length: float, radius: float, nose: float, taper: float, tail_radius: float, blunt: bool
) -> list[tuple[float, float]]:
    """(radius, x from the tail) of a fuselage: a tapered tail cone, a tube, a round or pointed nose."""
    profile = [(0.0, 0.0)]
    for t in np.linspace(0.0, 1.0, 5):
        profile.append((radius * (tail_radius + (1 - tail_radius) * (1 - (1 - t) ** 2)), t * taper))
    for t in np.linspace(0.0, 1.0, 8)[1:-1]:
        r = radius * (np.sqrt(1 - t**2) if blunt else (1 - t) ** 0.8)
        profile.append((r, length - nose + t * nose))
    profile.append((radius * 0.05, length))
    profile.append((0.0, length))
    return profile


def _wing_pair(
    kit: PartMesh,
    part: str,
    leading_edge: float,
    y: float,
    z0: float,
    span: float,
    root: float,
    tip: float,
    sweep: float,
    dihedral: float,
    thickness: float,
    color: RGB,
) -> None:
    """Two mirrored trapezoid wing halves in the x-z plane, roots at z=±z0, tips raised by `dihedral`."""
    back = span * np.tan(np.radians(sweep))
    outline = [
        (leading_edge, 0.0),
        (leading_edge - back, span),
        (leading_edge - back - tip, span),
        (leading_edge - root, 0.0),
    ]
    for side in (-1, 1):
        kit.slab(
            part,
            outline,
            thickness,
            color,
            center=(0.0, y, side * z0),
            rotation=rotation("x", side * (90 - dihedral)),
        )


def _airplane_tail(
    rng: np.random.Generator, kit: PartMesh, style: str, tail: str, length: float, radius: float, color: RGB
) -> None:
    """Fin(s) and horizontal stabilisers at the rear (-x)."""
    rear = -length / 2 + 0.01
    chord, height = rng.uniform(0.11, 0.18), rng.uniform(0.1, 0.17) * (1.3 if tail == "T-tail" else 1.0)
    if style == "glider":
        height *= 0.9
    sweep = rng.uniform(30, 48) if style != "propeller plane" else rng.uniform(10, 30)
    top_chord = chord * rng.uniform(0.4, 0.7)
    shift = height * np.tan(np.radians(sweep))
    fin = [
        (rear, 0.0),
        (rear + chord, 0.0),
        (rear + chord - shift + 0.0, height),
        (rear + chord - shift - top_chord, height),
    ]
    fin = [(max(x, rear - chord), y) for x, y in fin]
    base = radius * 0.35
    if tail == "twin fins":
        for side in (-1, 1):
            kit.slab(
                "tail",
                fin,
                0.008,
                color,
                center=(0.0, base, side * radius * 0.6),
                rotation=rotation("x", side * 15),
            )
    else:
        kit.slab("tail", fin, 0.01, color, center=(0.0, base, 0.0))
    stab_span, stab_root = rng.uniform(0.12, 0.2), rng.uniform(0.08, 0.13)
    if tail == "T-tail":
        lead = rear + chord - shift + 0.005
        _wing_pair(
            kit,
            "tail",
            lead,
            base + height,
            0.0,
            stab_span,
            top_chord * 1.1,
            top_chord * 0.5,
            25,
            0,
            0.008,
            color,
        )
    else:
        _wing_pair(
            kit,
            "tail",
            rear + stab_root + 0.01,
            0.0,
            radius * 0.2,
            stab_span,
            stab_root,
            stab_root * 0.5,
            25,
            0,
            0.008,
            color,
        )


def _airplane_engines(
    rng: np.random.Generator,
    kit: PartMesh,
    engines: str,
    length: float,
    radius: float,
    nose: float,
    wing_point: Callable[[float, int], tuple[float, float, float]],
    root: float,
    color: RGB,
    trim: RGB,
) -> None:
    """Jet nacelles on pylons, tail engines, propellers or fighter intakes and nozzles."""
    if engines.endswith("under the wings"):
        fractions = [0.35] if engines.startswith("2") else [0.28, 0.58]
        size, long = rng.uniform(0.026, 0.036), rng.uniform(0.11, 0.16)
        for fraction in fractions:
            for side in (-1, 1):
                x, y, z = wing_point(fraction, side)
                center_y = y - size - 0.012
                _nacelle(kit, (x + long * 0.55, center_y, z), size, long, color, trim)
                kit.box(
                    "engine", (long * 0.45, y - center_y, 0.006), (x, (y + center_y) / 2 + 0.005, z), color
                )
    elif engines == "2 engines at the tail":
        size, long = rng.uniform(0.024, 0.032), rng.uniform(0.1, 0.14)
        x = -length / 2 + rng.uniform(0.18, 0.24)
        for side in (-1, 1):
            z = side * (radius + size + 0.012)
            _nacelle(kit, (x + long / 2, radius * 0.4, z), size, long, color, trim)
            kit.box(
                "engine",
                (long * 0.4, 0.008, radius),
                (x, radius * 0.4, side * (radius * 0.7 + size / 2)),
                color,
            )
    elif engines == "a nose propeller":
        _propeller(rng, kit, (length / 2, 0.0, 0.0), radius * 0.5, radius * 1.7, trim)
    elif engines == "2 wing propellers":
        size, long = radius * rng.uniform(0.4, 0.55), rng.uniform(0.12, 0.18)
        for side in (-1, 1):
            x, y, z = wing_point(0.32, side)
            front = x + long * 0.45
            kit.lathe(
                "engine",
                [
                    (0, 0),
                    (size * 0.6, 0),
                    (size, long * 0.4),
                    (size, long * 0.9),
                    (size * 0.8, long),
                    (0, long),
                ],
                color,
                center=(front - long, y + 0.005, z),
                axis=(1, 0, 0),
                sections=16,
            )
            _propeller(rng, kit, (front, y + 0.005, z), size * 0.7, radius * 1.5, trim)
    elif engines == "intakes and nozzles":
        count = int(rng.choice([1, 2]))
        for z in [0.0] if count == 1 else [-radius * 0.4, radius * 0.4]:
            kit.lathe(
                "engine",
                [(0, 0), (radius * 0.45, 0), (radius * 0.55, 0.07), (radius * 0.45, 0.09), (0, 0.09)],
                trim,
                center=(-length / 2 - 0.04, 0.0, z),
                axis=(1, 0, 0),
                sections=16,
            )
        intake_x = length / 2 - nose - rng.uniform(0.05, 0.12)
        for side in (-1, 1):
            kit.box(
                "engine",
                (root * 0.6, radius * 0.9, radius * 0.45),
                (intake_x - root * 0.3, -radius * 0.15, side * radius * 0.95),
                color,
            )


def _nacelle(
    kit: PartMesh, front: tuple[float, float, float], size: float, long: float, color: RGB, trim: RGB
) -> None:
    """A jet engine pod along x, intake at `front`."""
    x, y, z = front
    profile = [
        (0, 0),
        (size * 0.5, 0),
        (size * 0.85, long * 0.3),
        (size, long * 0.7),
        (size * 0.92, long),
        (0, long),
    ]
    kit.lathe("engine", profile, color, center=(x - long, y, z), axis=(1, 0, 0), sections=16)
    kit.lathe(
        "engine", [(0, 0), (size * 0.8, 0), (0, 0.002)], trim, center=(x, y, z), axis=(1, 0, 0), sections=16
    )


def _propeller(
    rng: np.random.Generator,
    kit: PartMesh,
    hub: tuple[float, float, float],
    spinner: float,
    blade: float,
    color: RGB,
) -> None:
    """A spinner cone pointing +x and 2-4 blades in the y-z plane."""
    x, y, z = hub
    kit.cone("engine", (x, y, z), (x + spinner * 1.6, y, z), spinner, color, sections=16)
    count = int(rng.choice([2, 3, 4]))
    start = rng.uniform(0, 180)
    for i in range(count):
        turn = rotation("x", start + 360.0 * i / count)
        offset = turn @ np.array([0.0, blade / 2, 0.0])
        kit.box(
            "engine",
            (0.006, blade, blade * 0.12),
            (x + spinner * 0.3 + offset[0], y + offset[1], z + offset[2]),
            RUBBER,
            rotation=turn,
        )


# --------------------------------------------------------------------------------------------------- car


_CAR_STYLES: dict[str, dict[str, tuple[float, float]]] = {
    # length, width, ground clearance, beltline, roof height, wheel radius, hood length / length,
    # windshield run, roof length, rear window run (metres)
    "sedan": dict(
        L=(4.3, 4.9),
        W=(1.75, 1.85),
        c=(0.14, 0.18),
        belt=(0.85, 0.95),
        roof=(1.4, 1.5),
        R=(0.3, 0.34),
        hood=(0.27, 0.32),
        ws=(0.55, 0.7),
        top=(1.1, 1.4),
        rear=(0.45, 0.65),
    ),
    "hatchback": dict(
        L=(3.7, 4.2),
        W=(1.68, 1.78),
        c=(0.14, 0.17),
        belt=(0.85, 0.95),
        roof=(1.42, 1.55),
        R=(0.29, 0.32),
        hood=(0.22, 0.26),
        ws=(0.5, 0.65),
        top=(1.2, 1.5),
        rear=(0.15, 0.3),
    ),
    "SUV": dict(
        L=(4.4, 4.9),
        W=(1.85, 2.0),
        c=(0.22, 0.28),
        belt=(1.0, 1.15),
        roof=(1.65, 1.85),
        R=(0.36, 0.42),
        hood=(0.22, 0.26),
        ws=(0.45, 0.6),
        top=(1.6, 2.0),
        rear=(0.08, 0.2),
    ),
    "sports car": dict(
        L=(4.2, 4.6),
        W=(1.9, 2.0),
        c=(0.09, 0.12),
        belt=(0.68, 0.78),
        roof=(1.08, 1.22),
        R=(0.31, 0.35),
        hood=(0.33, 0.4),
        ws=(0.7, 0.9),
        top=(0.5, 0.8),
        rear=(0.8, 1.1),
    ),
    "pickup truck": dict(
        L=(5.0, 5.6),
        W=(1.9, 2.0),
        c=(0.24, 0.3),
        belt=(1.05, 1.15),
        roof=(1.8, 1.95),
        R=(0.38, 0.43),
        hood=(0.22, 0.25),
        ws=(0.45, 0.55),
        top=(0.9, 1.5),
        rear=(0.04, 0.08),
    ),
    "van": dict(
        L=(4.6, 5.2),
        W=(1.85, 2.0),
        c=(0.16, 0.2),
        belt=(1.0, 1.1),
        roof=(1.9, 2.1),
        R=(0.32, 0.36),
        hood=(0.12, 0.16),
        ws=(0.7, 0.9),
        top=(2.6, 3.2),
        rear=(0.06, 0.12),
    ),
}


def car(rng: np.random.Generator, kit: PartMesh) -> str:
    """A car: sedan, hatchback, SUV, sports car, pickup truck or van.

    Varies length, width, ride height, beltline and roof height, wheel size and overhangs, hood
    length and slope, windshield and rear-window rake, and extras (spoiler, roof rack, pickup bed).
    """
    style = choose(rng, dict.fromkeys(_CAR_STYLES, 1.0))
    p = {key: rng.uniform(*bounds) for key, bounds in _CAR_STYLES[style].items()}
    length, width, belt, roof, radius = p["L"], p["W"], p["belt"], p["roof"], p["R"]
    paint, hub = pick(rng, PAINT), pick(rng, METAL)
    front, rear = length / 2, -length / 2
    # Stations along x: windshield base and top, the roof's rear end, the rear window's base.
    shield_base = front - p["hood"] * length
    shield_top = shield_base - p["ws"]
    roof_end = max(shield_top - p["top"], rear + 0.15)
    glass_base = max(roof_end - p["rear"], rear + 0.05)
    axles = (front - length * rng.uniform(0.16, 0.21), rear + length * rng.uniform(0.17, 0.23))
    nose_top, tail_top = belt - rng.uniform(0.05, 0.18), belt - rng.uniform(0.0, 0.12)
    bed_floor = belt - rng.uniform(0.4, 0.5) if style == "pickup truck" else None

    _car_lower_body(rng, kit, p, shield_base, glass_base, axles, nose_top, tail_top, bed_floor, paint)
    cabin_w, top_w = width * rng.uniform(0.86, 0.94), width * rng.uniform(0.74, 0.84)
    _car_cabin(rng, kit, belt, roof, (shield_base, shield_top), (glass_base, roof_end), cabin_w, top_w, paint)

    extras = []
    if bed_floor is not None:
        _pickup_bed(kit, rear, glass_base, belt, bed_floor, width, paint)
        extras.append("an open bed")
    if style in ("sports car", "sedan") and rng.random() < 0.35:
        kit.box("body", (0.25, 0.03, width * 0.8), (rear + 0.2, tail_top + 0.15, 0.0), paint)
        for side in (-1, 1):
            kit.box("body", (0.08, 0.15, 0.03), (rear + 0.2, tail_top + 0.07, side * width * 0.3), paint)
        extras.append("a spoiler")
    if style in ("SUV", "van") and rng.random() < 0.4:
        for side in (-1, 1):
            rail = ((shield_top + roof_end) / 2, roof + 0.06, side * top_w * 0.4)
            kit.box("roof", (p["top"] * 0.8, 0.05, 0.04), rail, hub)
        extras.append("a roof rack")
    for side in (-1, 1):  # headlights and mirrors
        lamp = (front - 0.01, nose_top - 0.12, side * width * 0.32)
        kit.box("body", (0.06, 0.04, 0.3), lamp, (0.95, 0.95, 0.85))
        kit.box(
            "body", (0.12, 0.1, 0.12), (shield_base - 0.15, belt + 0.1, side * (cabin_w / 2 + 0.05)), paint
        )

    tyre = rng.uniform(0.2, 0.3)
    for x in axles:
        for side in (-1, 1):
            wheel(kit, "wheel", (x, radius, side * (width / 2 - tyre / 2 + 0.02)), radius, tyre, RUBBER, hub)
    return f"{style}" + (f" with {' and '.join(extras)}" if extras else "")


def _car_lower_body(
    rng: np.random.Generator,
    kit: PartMesh,
    p: dict[str, float],
    shield_base: float,
    glass_base: float,
    axles: tuple[float, float],
    nose_top: float,
    tail_top: float,
    bed_floor: float | None,
    color: RGB,
) -> None:
    """The side profile below the windows, extruded across the width, with the wheel arches cut out.

    A band along its top from the windshield to the nose is split off as the hood.
    """
    front, rear, clear, belt, radius = p["L"] / 2, -p["L"] / 2, p["c"], p["belt"], p["R"]
    chin = rng.uniform(0.1, 0.2)
    if bed_floor is not None:
        back = [(glass_base, belt), (glass_base, bed_floor), (rear, bed_floor)]
    else:
        back = [(glass_base, belt), (rear, tail_top)]
    lower = [(rear + 0.12, clear), (front - chin, clear), (front, clear + chin), (front, nose_top)]
    outline = Polygon([*lower, (shield_base, belt), *back, (rear, clear + 0.12)])
    rounding = rng.uniform(0.03, 0.12)
    profile = outline.buffer(-rounding, quad_segs=3).buffer(rounding, quad_segs=3)
    for x in axles:
        profile = profile.difference(ellipse(x, radius, radius * 1.12, radius * 1.12, 24))
    depth = rng.uniform(0.05, 0.09)
    hood = Polygon(
        [
            (shield_base, belt + 0.01),
            (front + 0.01, nose_top + 0.01),
            (front + 0.01, nose_top - depth),
            (shield_base, belt - depth),
        ]
    )
    prism(kit, "hood", profile.intersection(hood), p["W"] * 0.985, color)
    prism(kit, "body", profile.difference(hood), p["W"], color)


def _car_cabin(
    rng: np.random.Generator,
    kit: PartMesh,
    belt: float,
    roof: float,
    windshield: tuple[float, float],
    rear_window: tuple[float, float],
    low_width: float,
    top_width: float,
    color: RGB,
) -> None:
    """The greenhouse (windows and pillars: body) tapering inwards, and the roof panel on top of it.

    `windshield` and `rear_window` are the x stations of each pane at the beltline and at the roof.
    """
    under = roof - rng.uniform(0.05, 0.09)

    def at(pane: tuple[float, float], y: float) -> float:
        return pane[0] + (pane[1] - pane[0]) * (y - belt) / (roof - belt)

    def mirrored(rows: list[tuple[float, float, float]]) -> list[tuple[float, float, float]]:
        return [(x, y, side * w / 2) for x, y, w in rows for side in (-1, 1)]

    eaves = [(at(windshield, under), under, top_width), (at(rear_window, under), under, top_width)]
    glass = [(windshield[0], belt, low_width), (rear_window[0], belt, low_width), *eaves]
    hull(kit, "body", mirrored(glass), GLASS)
    panel = [*eaves, (windshield[1], roof, top_width * 0.94), (rear_window[1], roof, top_width * 0.94)]
    hull(kit, "roof", mirrored(panel), color)


def _pickup_bed(
    kit: PartMesh, rear: float, cab: float, belt: float, floor: float, width: float, color: RGB
) -> None:
    """An open cargo bed from the cab's back wall to the tail: floor, side walls, tailgate."""
    wall, span, height = 0.05, cab - rear, belt - floor
    middle = (rear + span / 2, floor + height / 2)
    kit.box("body", (span, wall * 2, width - 0.02), (middle[0], floor, 0.0), color)
    for side in (-1, 1):
        kit.box("body", (span, height, wall), (*middle, side * (width / 2 - wall / 2)), color)
    kit.box("body", (wall, height, width), (rear + wall / 2, middle[1], 0.0), color)


# --------------------------------------------------------------------------------------------- motorbike


_BIKES: dict[str, dict[str, tuple[float, float]]] = {
    # wheelbase, front and rear wheel radius and tyre width, fork rake (degrees) and length (metres)
    "sport bike": dict(
        base=(1.35, 1.45),
        rf=(0.29, 0.31),
        rr=(0.29, 0.31),
        wf=(0.11, 0.13),
        wr=(0.17, 0.2),
        rake=(22, 26),
        fork=(0.72, 0.8),
    ),
    "chopper": dict(
        base=(1.65, 1.85),
        rf=(0.33, 0.37),
        rr=(0.3, 0.32),
        wf=(0.08, 0.1),
        wr=(0.2, 0.24),
        rake=(34, 42),
        fork=(1.0, 1.15),
    ),
    "dirt bike": dict(
        base=(1.42, 1.5),
        rf=(0.36, 0.39),
        rr=(0.33, 0.36),
        wf=(0.09, 0.1),
        wr=(0.11, 0.13),
        rake=(25, 28),
        fork=(0.95, 1.05),
    ),
    "standard bike": dict(
        base=(1.38, 1.5),
        rf=(0.3, 0.33),
        rr=(0.3, 0.33),
        wf=(0.11, 0.13),
        wr=(0.14, 0.17),
        rake=(24, 28),
        fork=(0.78, 0.86),
    ),
}


@dataclass(frozen=True)
class _Bike:
    """Where a motorbike's pieces sit (metres; wheels on the ground at y=0, front at +x)."""

    style: str
    p: dict[str, float]
    rear_axle: np.ndarray
    front_axle: np.ndarray
    up: np.ndarray  # along the fork, towards the steering head
    head: np.ndarray
    tank: np.ndarray
    seat_y: float
    pivot: np.ndarray  # swingarm pivot
    engine: np.ndarray
    engine_size: np.ndarray
    tail_end: float
    paint: RGB
    metal: RGB
    dark: RGB = (0.15, 0.15, 0.16)


def motorbike(rng: np.random.Generator, kit: PartMesh) -> str:
    """A motorbike: sport bike, chopper, dirt bike or standard, facing +x.

    Varies wheelbase, wheel sizes and tyre widths, fork rake and length, engine block, tank and
    seat shapes, handlebars (clip-ons, flat, raised, ape hangers, wide braced), fairing, fenders,
    exhaust, and lights (round or twin headlights and a tail light, or none).
    """
    style = choose(rng, dict.fromkeys(_BIKES, 1.0))
    p = {key: rng.uniform(*bounds) for key, bounds in _BIKES[style].items()}
    front_axle = np.array([p["base"] / 2, p["rf"], 0.0])
    up = np.array([-np.sin(np.radians(p["rake"])), np.cos(np.radians(p["rake"])), 0.0])
    head = front_axle + p["fork"] * up
    # The tank sits on the spine behind the head, the seat behind the tank, the engine below both.
    tank_offset = {"chopper": (-0.38, -0.16, 0), "dirt bike": (-0.24, -0.2, 0)}.get(style, (-0.3, -0.1, 0))
    size = {"sport bike": (0.46, 0.38, 0.32), "dirt bike": (0.32, 0.32, 0.22), "chopper": (0.4, 0.3, 0.28)}
    lift = {"dirt bike": 0.16, "chopper": 0.05}.get(style, 0.12)
    bike = _Bike(
        style=style,
        p=p,
        rear_axle=np.array([-p["base"] / 2, p["rr"], 0.0]),
        front_axle=front_axle,
        up=up,
        head=head,
        tank=head + tank_offset,
        seat_y={"chopper": p["rr"] + 0.33, "dirt bike": head[1] - 0.3}.get(style, head[1] - 0.2),
        pivot=np.array([-p["base"] * 0.1, p["rr"] + 0.1, 0.0]),
        engine=np.array([0.04, max(p["rr"], p["rf"]) + lift, 0.0]),
        engine_size=np.array(size.get(style, (0.42, 0.36, 0.3))) * rng.uniform(0.9, 1.1),
        tail_end=-p["base"] / 2 - (0.12 if style == "sport bike" else 0.02),
        paint=pick(rng, PAINT),
        metal=pick(rng, METAL),
    )
    for axle, radius, width in ((bike.rear_axle, p["rr"], p["wr"]), (front_axle, p["rf"], p["wf"])):
        wheel(kit, "wheel", axle, radius, width, RUBBER, bike.metal, rim=0.82, sections=24)
        if style != "sport bike":  # spokes
            for angle in np.radians(np.arange(0, 360, 45)):
                rim = axle + 0.8 * radius * np.array([np.cos(angle), np.sin(angle), 0.0])
                kit.rod("wheel", axle, rim, 0.006, bike.metal, sections=6)
    _bike_frame(rng, kit, bike)
    seat = _bike_tank_and_seat(rng, kit, bike)
    bars = _bike_handlebars(rng, kit, bike)
    lights = _bike_lights(rng, kit, bike)
    return f"{style} with {bars}, {seat}, {'lights' if lights else 'no lights'}"


def _bike_frame(rng: np.random.Generator, kit: PartMesh, bike: _Bike) -> None:
    """Fork legs, head tube, spars, cradle, swingarm, subframe, engine block, exhaust and fenders."""
    p, head, up, pivot, engine, dark = bike.p, bike.head, bike.up, bike.pivot, bike.engine, bike.dark
    spread = p["wf"] / 2 + 0.03
    for side in (-1, 1):
        across = np.array([0, 0, side * spread])
        kit.rod("frame", bike.front_axle + across, head + across, 0.022, bike.metal, sections=10)
        swingarm = bike.rear_axle + (0, 0, side * (p["wr"] / 2 + 0.03))
        kit.rod("frame", swingarm, pivot + (0, 0, side * 0.1), 0.025, dark, sections=8)
        rail = [head - up * 0.05, bike.tank + (-0.15, -0.12, 0), pivot + (0, 0.22, 0), pivot]
        kit.tube("frame", [point + np.array([0, 0, side * 0.05]) for point in rail], 0.022, dark)
    kit.box("frame", (0.06, 0.04, 2 * spread + 0.05), head - up * 0.04, dark)
    kit.rod("frame", head - up * 0.14, head + up * 0.04, 0.035, dark, sections=10)
    if bike.style != "sport bike":
        low = engine[1] - bike.engine_size[1] / 2 - 0.03
        front = engine[0] + bike.engine_size[0] / 2 + 0.04
        kit.tube(
            "frame", [head - up * 0.1, (front, low + 0.05, 0), (engine[0] - 0.1, low, 0), pivot], 0.02, dark
        )
    tail_y = bike.seat_y - 0.05 + (0.12 if bike.style == "sport bike" else 0)
    kit.tube("frame", [pivot + (0, 0.15, 0), (bike.tail_end, tail_y, 0)], 0.018, dark)
    kit.box("frame", bike.engine_size, engine, dark)
    if bike.style == "chopper":  # V-twin cylinders up to the tank
        for lean in np.radians([-28, 28]):
            tip = engine + np.array([np.sin(lean), np.cos(lean), 0]) * (bike.tank[1] - 0.1 - engine[1])
            kit.rod("frame", engine, tip, 0.065, bike.metal, sections=12)
    end = bike.rear_axle + (rng.uniform(-0.15, 0.05), rng.uniform(0.0, 0.2), 0.17)
    start = engine + (bike.engine_size[0] / 2, -bike.engine_size[1] / 4, 0.08)
    kit.tube(
        "frame",
        [start, start + (0.06, -0.1, 0.05), (pivot[0], start[1] - 0.12, 0.17), end],
        0.025,
        bike.metal,
    )
    kit.rod("frame", end, end + (-0.3, 0.03, 0), 0.045, bike.metal, sections=12)
    if bike.style != "sport bike" or rng.random() < 0.5:
        gap, start_deg = (0.12, 60) if bike.style == "dirt bike" else (0.05, 20)
        front_arc = arc(bike.front_axle, p["rf"] + gap, start_deg, 130, "xy", 8)
        band(kit, "frame", front_arc, p["wf"] + 0.04, 0.012, (0, 0, 1), bike.paint)
        rear_arc = arc(bike.rear_axle, p["rr"] + 0.05, 60, 170, "xy", 8)
        band(kit, "frame", rear_arc, p["wr"] + 0.04, 0.012, (0, 0, 1), bike.paint)


def _bike_tank_and_seat(rng: np.random.Generator, kit: PartMesh, bike: _Bike) -> str:
    """The gas tank, the seat (split, low with a sissy bar, long and flat, or a bench) and a sport fairing."""
    style, tank, seat_y = bike.style, bike.tank, bike.seat_y
    radii = {"chopper": (0.22, 0.1, 0.11), "dirt bike": (0.18, 0.12, 0.14)}.get(style, (0.26, 0.13, 0.16))
    kit.ellipsoid("gas tank", radii, tank, bike.paint)
    saddle = pick(rng, ((0.1, 0.1, 0.1), (0.35, 0.2, 0.1), (0.25, 0.25, 0.27)))
    if style == "sport bike":
        kit.box("seat", (0.32, 0.07, 0.26), (tank[0] - 0.42, seat_y, 0), saddle, rotation=rotation("z", -8))
        pillion = (tank[0] - 0.72, seat_y + 0.09, 0)
        kit.box("seat", (0.22, 0.06, 0.18), pillion, saddle, rotation=rotation("z", -12))
        head = bike.head
        corners = [head + (dx, dy, dz) for dx in (-0.12, 0.12) for dy in (-0.42, 0.06) for dz in (-0.2, 0.2)]
        hull(kit, "frame", [*corners, head + (0.22, -0.14, 0)], bike.paint)
        kit.box("frame", (0.02, 0.18, 0.26), head + (0.06, 0.14, 0), GLASS, rotation=rotation("z", 35))
        return "a split seat and fairing"
    if style == "chopper":
        x = bike.rear_axle[0] + 0.38
        kit.ellipsoid("seat", (0.2, 0.06, 0.17), (x, seat_y, 0), saddle)
        top = seat_y + 0.45
        bar = [(x - 0.3, seat_y, -0.1), (x - 0.36, top, -0.1), (x - 0.36, top, 0.1), (x - 0.3, seat_y, 0.1)]
        kit.tube("frame", bar, 0.012, bike.metal)
        return "a low seat and sissy bar"
    if style == "dirt bike":
        kit.box("seat", (0.72, 0.08, 0.2), (tank[0] - 0.36, seat_y, 0), saddle, rotation=rotation("z", -3))
        return "a long flat seat"
    kit.box("seat", (0.56, 0.09, 0.28), (tank[0] - 0.48, seat_y, 0), saddle)
    return "a bench seat"


def _bike_handlebars(rng: np.random.Generator, kit: PartMesh, bike: _Bike) -> str:
    """Handlebars over the steering head, with rubber grips."""
    top = bike.head + bike.up * 0.05
    if bike.style == "sport bike":
        for side in (-1, 1):
            bend = top + (-0.1, -0.06, side * 0.3)
            kit.rod("handle", top + (0, -0.04, side * 0.06), bend, 0.014, bike.dark, sections=8)
            kit.rod("handle", bend, top + (-0.12, -0.065, side * 0.4), 0.02, RUBBER, sections=8)
        return "clip-ons"
    shapes = {"chopper": (0.45, -0.25, 0.38), "dirt bike": (0.12, -0.06, 0.42)}
    rise, reach, span = shapes.get(bike.style, (0.15, -0.15, 0.36))
    if bike.style == "standard bike" and rng.random() < 0.4:
        rise, reach = 0.04, -0.06
    path = [
        top + (reach, rise * 0.8, -span),
        top + (reach * 0.6, rise, -span * 0.55),
        top + (0, rise * 0.4, -0.1),
        top + (0, rise * 0.4, 0.1),
        top + (reach * 0.6, rise, span * 0.55),
        top + (reach, rise * 0.8, span),
    ]
    kit.tube("handle", path, 0.013, bike.metal if bike.style == "chopper" else bike.dark)
    for side in (-1, 1):
        end = top + (reach, rise * 0.8, side * span)
        kit.rod("handle", end, end + (0, 0, side * 0.1), 0.02, RUBBER, sections=8)
    if bike.style == "dirt bike":  # a cross brace
        brace = top + (reach * 0.6, rise, 0)
        kit.rod("handle", brace - (0, 0, 0.2), brace + (0, 0, 0.2), 0.01, bike.dark, sections=6)
    named = {"chopper": "ape-hanger bars", "dirt bike": "wide braced bars"}
    return named.get(bike.style, "raised bars" if rise > 0.1 else "flat bars")


def _bike_lights(rng: np.random.Generator, kit: PartMesh, bike: _Bike) -> bool:
    """A headlight (twin, a number-plate lamp or a round one) and a tail light, on most bikes."""
    if rng.random() >= 0.85:
        return False
    lamp, head = (0.95, 0.95, 0.8), bike.head
    if bike.style == "sport bike":
        for side in (-1, 1):
            kit.ellipsoid("light", (0.06, 0.03, 0.05), head + (0.24, -0.16, side * 0.07), lamp)
    elif bike.style == "dirt bike":
        kit.box(
            "light", (0.04, 0.14, 0.13), head + (0.1, -0.06, 0), lamp, rotation=rotation("z", bike.p["rake"])
        )
    else:
        size = rng.uniform(0.07, 0.1)
        profile = [(0, 0), (size * 0.6, 0), (size, size * 0.8), (size * 0.9, size), (0, size * 1.02)]
        kit.lathe("light", profile, lamp, center=head + (0.1 - size, -0.06, 0), axis=(1, 0, 0), sections=16)
    tail_y = bike.seat_y - 0.05 + (0.12 if bike.style == "sport bike" else 0.0)
    kit.box("light", (0.04, 0.05, 0.12), (bike.tail_end - 0.02, tail_y, 0), (0.8, 0.1, 0.1))
    return True


# ------------------------------------------------------------------------------------------------ rocket


def rocket(rng: np.random.Generator, kit: PartMesh) -> str:
    """A rocket lying along x, nose at +x: one to three stages, maybe side boosters.

    Varies girth and length, stage steps, the nose (cone, ogive, round, blunt capsule), fin count
    (3, 4 or 6) and planform (trapezoid, delta, swept, rounded), and an engine bell at the tail.
    """
    paint, accent, metal = pick(rng, PAINT), pick(rng, PAINT), pick(rng, METAL)
    length, radius = 1.0, rng.uniform(0.06, 0.12)
    stages = int(rng.choice([1, 1, 2, 3]))
    tail = -length / 2
    profile = [(0.0, 0.0), (radius, 0.0)]
    section, r = length / stages, radius
    for i in range(stages):
        start = i * section
        if i > 0:
            r_next = r * rng.uniform(0.65, 0.88)
            profile += [(r, start), (r_next, start + section * 0.12)]
            r = r_next
        profile.append((r, start + section))
    profile.append((0.0, length))
    kit.lathe("body", profile, paint, center=(tail, 0, 0), axis=(1, 0, 0), sections=24)
    bell = rng.random() < 0.6
    if bell:
        kit.lathe(
            "body",
            [(0, 0), (radius * 0.75, 0), (radius * 0.35, radius * 1.2), (0, radius * 1.2)],
            metal,
            center=(tail - radius * 1.2, 0, 0),
            axis=(1, 0, 0),
            sections=16,
        )

    nose_style = str(rng.choice(["cone", "ogive", "round", "capsule"]))
    nose_length = (
        r
        * {
            "cone": rng.uniform(2.5, 4.0),
            "ogive": rng.uniform(2.5, 4.5),
            "round": rng.uniform(1.0, 1.6),
            "capsule": rng.uniform(1.4, 2.0),
        }[nose_style]
    )
    kit.lathe(
        "nose",
        _nose_profile(nose_style, r, nose_length),
        accent,
        center=(length / 2, 0, 0),
        axis=(1, 0, 0),
        sections=24,
    )

    count = int(rng.choice([3, 3, 4, 4, 6]))
    planform = str(rng.choice(["trapezoid", "delta", "swept", "rounded"]))
    chord = length * rng.uniform(0.15, 0.28)
    span = radius * rng.uniform(1.8, 3.2)
    rear = tail - (rng.uniform(0.0, 0.06) if planform == "swept" else 0.0)
    outline = _fin_outline(planform, rear, chord, radius * 0.8, span + radius * 0.2)
    start = rng.uniform(0, 90)
    for i in range(count):
        kit.slab(
            "fin",
            outline,
            max(0.006, radius * 0.09),
            accent,
            rotation=rotation("x", start + 360.0 * i / count),
        )

    boosters = int(rng.choice([0, 0, 0, 2, 4])) if stages == 1 else 0
    if boosters:
        b_radius, b_length = radius * rng.uniform(0.3, 0.45), length * rng.uniform(0.35, 0.55)
        for i in range(boosters):
            turn = rotation("x", start + 180.0 / count + 360.0 * i / boosters)
            center = turn @ np.array([0.0, radius + b_radius * 0.9, 0.0])
            kit.rod(
                "body",
                (tail, center[1], center[2]),
                (tail + b_length, center[1], center[2]),
                b_radius,
                paint,
                sections=16,
            )
            kit.lathe(
                "nose",
                _nose_profile("cone", b_radius, b_radius * 2.5),
                accent,
                center=(tail + b_length, center[1], center[2]),
                axis=(1, 0, 0),
                sections=16,
            )
    extras = f", {boosters} boosters" if boosters else ""
    stage_text = f"{stages}-stage" if stages > 1 else "single-stage"
    return f"{stage_text} rocket with a {nose_style} nose, {count} {planform} fins{extras}"


def _nose_profile(style: str, radius: float, length: float) -> list[tuple[float, float]]:
    """(radius, height) of a nose cone standing on a disc of `radius`."""
    t = np.linspace(0.0, 1.0, 9)
    if style == "cone":
        radii = radius * (1 - t)
    elif style == "ogive":
        radii = radius * np.sqrt(np.clip(1 - t**1.6, 0, 1)) * (1 - 0.25 * t)
    elif style == "round":
        radii = radius * np.sqrt(np.clip(1 - t**2, 0, 1))
    else:  # a blunt capsule: a steep cone with a flat top
        radii = radius * (1 - 0.6 * t)
    profile = [(0.0, 0.0)] + [(float(r), float(h)) for r, h in zip(radii, t * length, strict=True)]
    if profile[-1][0] > 0:
        profile.append((0.0, length))
    return profile


def _fin_outline(
    planform: str, rear: float, chord: float, root: float, tip: float
) -> list[tuple[float, float]]:
    """A fin in the (x, radial) plane: its root on the body from `rear` to `rear + chord`, out to `tip`."""
    front = rear + chord
    if planform == "trapezoid":
        return [(rear, root), (front, root), (rear + chord * 0.45, tip), (rear, tip)]
    if planform == "delta":
        return [(rear, root), (front, root), (rear, tip)]
    if planform == "swept":
        return [
            (rear + chord * 0.15, root),
            (front, root),
            (rear - chord * 0.1, tip),
            (rear - chord * 0.4, tip),
        ]
    angles = np.linspace(0, np.pi / 2, 8)
    return (
        [(front, root)]
        + [(rear + chord * np.cos(a) * 0.9, root + (tip - root) * np.sin(a)) for a in angles]
        + [(rear, root)]
    )


# -------------------------------------------------------------------------------------------- skateboard


def skateboard(rng: np.random.Generator, kit: PartMesh) -> str:
    """A skateboard along x, deck on top, wheels below.

    Varies the board (street popsicle with kicktails, longboard pintail or drop, cruiser, or a
    mountainboard with big tyres), deck length, width and kick angle, truck and wheel sizes, and
    foot straps (bindings) on some boards.
    """
    style = choose(rng, {"street": 2, "longboard": 1.5, "cruiser": 1, "mountainboard": 1})
    deck_color, metal = pick(rng, PAINT + ((0.72, 0.53, 0.34),)), pick(rng, METAL)
    wheel_color = pick(rng, ((0.95, 0.95, 0.9), (0.9, 0.3, 0.2), (0.2, 0.5, 0.9), (0.95, 0.8, 0.2)))
    length = {
        "street": (0.78, 0.84),
        "longboard": (0.95, 1.15),
        "cruiser": (0.65, 0.75),
        "mountainboard": (0.95, 1.05),
    }[style]
    length = rng.uniform(*length)
    width = rng.uniform(0.2, 0.23) if style != "longboard" else rng.uniform(0.22, 0.26)
    thickness = 0.012 if style != "mountainboard" else 0.02
    radius = {"street": 0.027, "longboard": 0.035, "cruiser": 0.03, "mountainboard": 0.1}[
        style
    ] * rng.uniform(0.9, 1.15)
    truck_height = 0.05 if style != "mountainboard" else 0.09
    deck_y = radius * 2 + truck_height

    if style == "longboard" and rng.random() < 0.5:
        shape = "pintail"
        half = length / 2
        outline = smooth(
            Polygon(
                [
                    (-half, 0),
                    (-half * 0.55, width / 2),
                    (half * 0.4, width / 2),
                    (half, 0),
                    (half * 0.4, -width / 2),
                    (-half * 0.55, -width / 2),
                ]
            ),
            0.02,
        )
        outline = ellipse(0, 0, half, width / 2, 40).union(outline).intersection(outline.buffer(0.01))
    elif style == "cruiser":
        shape = "fish"
        outline = ellipse(0, 0, length / 2, width / 2, 40).intersection(
            rounded_box(-length / 2, -width / 2, length / 2, width / 2, width * 0.3)
        )
    else:
        shape = "popsicle"
        outline = rounded_box(-length / 2, -width / 2, length / 2, width / 2, width / 2)
    kick = {"street": rng.uniform(14, 22), "cruiser": rng.uniform(8, 16)}.get(style, rng.uniform(0, 8))
    tail_length = length * rng.uniform(0.14, 0.18)
    flat = length / 2 - tail_length
    lay = rotation("x", 90)
    prism(
        kit,
        "deck",
        outline.intersection(box(-flat, -1, flat, 1)),
        thickness,
        deck_color,
        center=(0, deck_y, 0),
        rotation=lay,
    )
    for side in (-1, 1):
        piece = outline.intersection(box(flat, -1, 1, 1) if side > 0 else box(-1, -1, -flat, 1))
        from shapely.affinity import translate

        piece = translate(piece, -side * flat, 0)
        prism(
            kit,
            "deck",
            piece,
            thickness,
            deck_color,
            center=(side * flat, deck_y, 0),
            rotation=rotation("z", side * kick) @ lay,
        )

    # Trucks (labelled with the wheels, as in ShapeNetPart) and four wheels.
    axle = flat - length * rng.uniform(0.02, 0.06)
    wheel_width = radius * (1.2 if style != "mountainboard" else 0.7)
    track = width / 2 + (0.0 if style != "mountainboard" else 0.08)
    for x in (-axle, axle):
        kit.box("wheel", (0.07, 0.012, 0.06), (x, deck_y - thickness / 2 - 0.006, 0), metal)
        kit.rod("wheel", (x, deck_y - 0.012, 0), (x, radius + 0.01, 0), 0.014, metal, sections=8)
        kit.rod("wheel", (x, radius, -track), (x, radius, track), 0.006, metal, sections=8)
        kit.box("wheel", (0.03, 0.025, track * 1.4), (x, radius + 0.012, 0), metal)
        for side in (-1, 1):
            z = side * (track - wheel_width / 2 + 0.005)
            if style == "mountainboard":
                wheel(kit, "wheel", (x, radius, z), radius, wheel_width, RUBBER, metal, sections=20)
            else:
                kit.lathe(
                    "wheel",
                    [
                        (0, 0),
                        (radius * 0.85, 0),
                        (radius, wheel_width * 0.2),
                        (radius, wheel_width * 0.8),
                        (radius * 0.85, wheel_width),
                        (0, wheel_width),
                    ],
                    wheel_color,
                    center=(x, radius, z - wheel_width / 2),
                    axis=(0, 0, 1),
                    sections=16,
                )

    straps = style == "mountainboard" or rng.random() < 0.2
    if straps:
        top = deck_y + thickness / 2
        strap_color = pick(rng, ((0.1, 0.1, 0.1), (0.8, 0.2, 0.1), (0.2, 0.3, 0.7)))
        for x in (-length * 0.24, length * 0.24):
            path = arc((x, top, 0), width * 0.42, 0, 180, "yz", 10)
            path[:, 1] = top + (path[:, 1] - top) * 0.45
            band(kit, "belt for foot", path, 0.05, 0.008, (1, 0, 0), strap_color)
            if style == "mountainboard":
                kit.box("belt for foot", (0.1, 0.008, width * 0.7), (x, top + 0.004, 0), strap_color)
    return f"{style} skateboard with a {shape} deck" + (", foot straps" if straps else "")
