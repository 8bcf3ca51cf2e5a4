"""Shape generators behind one interface, and the `pd synth` run that fills a collection with them.

procedural   offline, part-labelled shapes of the ShapeNetPart categories (the default)
shap-e       text -> mesh with diffusers' ShapEPipeline (weights: openai/shap-e)
point-e      text -> coloured points with OpenAI's point_e package (installed separately)
"""

from __future__ import annotations

from collections.abc import Callable

from partdistill.synth.base import Generator, Request
from partdistill.synth.run import SynthConfig, prepare, refuse_unused, synthesize


def _procedural(config: SynthConfig, device: str) -> Generator:
    from partdistill.prompts import find_category
    from partdistill.synth.procedural import ProceduralGenerator, recipe_for

    recipe_for(find_category(config.category))  # refuse an unsupported category before the run starts
    return ProceduralGenerator(n_points=config.n_points)


def _shap_e(config: SynthConfig, device: str) -> Generator:
    from partdistill.synth.shap_e import DEFAULT_MODEL, ShapEGenerator

    return ShapEGenerator.from_pretrained(
        config.model_id or DEFAULT_MODEL,
        device=device,
        n_points=config.n_points,
        grid_size=config.grid_size,
        steps=config.steps,
        guidance=config.guidance,
    )


def _point_e(config: SynthConfig, device: str) -> Generator:
    from partdistill.synth.point_e import BASE_MODEL, PointEGenerator

    return PointEGenerator.from_pretrained(config.model_id or BASE_MODEL, device=device)


GENERATORS: dict[str, Callable[[SynthConfig, str], Generator]] = {
    "procedural": _procedural,
    "shap-e": _shap_e,
    "point-e": _point_e,
}


def build_generator(config: SynthConfig, device: str = "cpu") -> Generator:
    """The generator `config` names, with its weights loaded on `device`; weights that cannot load
    are one sentence that also says what makes shapes of the category without them."""
    from partdistill.weights import MissingWeights

    try:
        return GENERATORS[config.generator](config, device)
    except MissingWeights as error:
        raise error.with_advice(offline_generators(config.category)) from error


def offline_generators(category: str) -> str:
    """What makes shapes of `category` without downloaded weights, as a clause."""
    from partdistill.errors import option
    from partdistill.prompts import find_category
    from partdistill.synth.procedural import RECIPES

    found = find_category(category)
    if found.dataset == "shapenetpart" and found.name in RECIPES:
        return f"without these weights, {option('generator')} procedural makes {found.name} shapes offline"
    return (
        f"without these weights, bring shapes of {found.name} with `pd import --dataset files` (the "
        "procedural generator knows ShapeNetPart's 16 categories only)"
    )


__all__ = [
    "GENERATORS",
    "Generator",
    "Request",
    "SynthConfig",
    "build_generator",
    "prepare",
    "refuse_unused",
    "synthesize",
]
