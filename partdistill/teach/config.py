"""How knowledge is made: the settings of a teacher run, recorded beside its units."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from partdistill.errors import MAX_SEED, PdError, check_number, option
from partdistill.knowledge.store import CONFIG_FILE
from partdistill.prompts import QUERIES
from partdistill.teach.lift import WHOLE_OBJECT
from partdistill.teach.teachers import GLIP_NMS, Teacher

KINDS = ("box", "mask")  # what the simulated teacher draws
RENDERERS = ("auto", "points", "mesh")  # auto: the mesh renderer for shapes with a mesh
MAX_IMAGE_SIZE = 4096  # five times PartSLIP's 800 px; ten views of it are already 168 M pixels


@dataclass(frozen=True)
class TeachConfig:
    """How knowledge is made (written beside it).

    Attributes:
        teacher: a name in `partdistill.teach.teachers.TEACHERS`.
        model_id: the teacher's weights (None = its default).
        threshold: the teacher's score threshold (None = its default).
        query: how a real teacher is asked for a part: "part" (its words) or "part-of-category".
        nms: IoU above which a detector's boxes of one part in one view are suppressed (GLIP: 0.6).
        noise, kind: the simulated teacher's noise preset and prediction kind ("box" or "mask").
        renderer: "points", "mesh", or "auto" (mesh when the shape has one).
        image_size: render width and height in pixels (PartSLIP: 800).
        point_radius: splat radius of the point renderer, in normalised device units (PartSLIP:
            0.005); None chooses it from each cloud's density.
        whole_object: boxes holding the projections of at least this share of a shape's points are
            dropped.
        seed: seed of the simulated teacher.
    """

    teacher: str = "simulated"
    model_id: str | None = None
    threshold: float | None = None
    query: str = "part"
    nms: float = GLIP_NMS
    noise: str = "noisy"
    kind: str = "box"
    renderer: str = "auto"
    image_size: int = 800
    point_radius: float | None = None
    whole_object: float = WHOLE_OBJECT
    seed: int = 0

    def __post_init__(self) -> None:
        if self.threshold is not None:
            check_number(self.threshold, "threshold", at_least=0, at_most=1)
        check_number(self.nms, "nms", above=0, at_most=1)
        check_number(self.image_size, "image_size", at_least=32, whole=True)
        if self.point_radius is not None:
            check_number(self.point_radius, "point_radius", above=0, at_most=1)
        check_number(self.whole_object, "whole_object", above=0, at_most=1)
        check_number(self.seed, "seed", at_least=0, at_most=MAX_SEED, whole=True)
        for value, setting, known in (
            (self.query, "query", QUERIES),
            (self.kind, "kind", KINDS),
            (self.renderer, "renderer", RENDERERS),
        ):
            if value not in known:
                raise PdError(f"Unknown {option(setting)} '{value}': use one of {', '.join(known)}.")

    def check_new(self) -> None:
        """Refuse settings that new work may not ask for (images past `MAX_IMAGE_SIZE`); knowledge
        finished earlier with them is still read as it was made."""
        check_number(self.image_size, "image_size", at_most=MAX_IMAGE_SIZE, whole=True)

    def default_name(self) -> str:
        if self.teacher == "simulated":
            return f"simulated-{self.noise}-{self.kind}"
        return self.teacher


def teach_config_from(saved: dict, root: Path) -> TeachConfig:
    """The TeachConfig a knowledge folder's teach_config.json records (its category aside)."""
    try:
        return TeachConfig(**{k: v for k, v in saved.items() if k not in ("category", "catalogue")})
    except TypeError as error:
        raise PdError(
            f"{root / CONFIG_FILE} was written by another version of partdistill ({error}); "
            f"teach again into another {option('name')}."
        ) from error


def build_config_teacher(config: TeachConfig, device: str = "cpu") -> Teacher:
    """The teacher `config` describes, with its weights loaded on `device`."""
    from partdistill.teach.teachers import build_teacher

    return build_teacher(
        config.teacher,
        model_id=config.model_id,
        threshold=config.threshold,
        device=device,
        query=config.query,
        nms=config.nms,
        noise=config.noise,
        kind=config.kind,
        seed=config.seed,
    )
