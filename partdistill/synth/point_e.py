"""Point-E (text -> coloured point cloud) through OpenAI's own `point_e` package.

Point-E is not on PyPI and not in diffusers. With the package installed
(`pip install -e '.[point-e]'`), the text-conditioned base model (base40M-textvec, 1,024 points)
and the upsampler (3,072 more) make 4,096 coloured points per prompt, as in Point-E's
text2pointcloud example. Its sampler draws noise from torch's global generator, so generation is
seeded by forking that generator around each sample.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from partdistill.errors import MissingDependencyError, PdError
from partdistill.shapes import Provenance, Shape
from partdistill.synth.base import Request
from partdistill.synth.shap_e import Z_UP_TO_Y_UP
from partdistill.weights import MissingWeights

BASE_MODEL = "base40M-textvec"
UPSAMPLER = "upsample"
# The files Point-E keeps in its cache folder: its two checkpoints (named by their download URLs)
# and the CLIP ViT-L/14 both models condition on (CLIP's own file name).
CACHED_FILES = {
    BASE_MODEL: "base_40m_textvec.pt",
    UPSAMPLER: "upsample_40m.pt",
    "CLIP ViT-L/14": "ViT-L-14.pt",
}
INSTALL = (
    "pip install -e '.[point-e]' (or: pip install 'point-e @ git+https://github.com/openai/point-e.git')"
)


def cache_dir() -> Path:
    """Where Point-E checkpoints are kept ($PD_POINT_E_CACHE, else ~/.cache/partdistill/point_e)."""
    default = Path.home() / ".cache" / "partdistill" / "point_e"
    return Path(os.environ.get("PD_POINT_E_CACHE", default))


class PointEGenerator:
    """Text-to-point-cloud generation with Point-E's base + upsampler sampler."""

    name = "point-e"
    uses_prompts = True

    def __init__(self, sampler: Any, *, model_id: str = BASE_MODEL, device: str = "cpu") -> None:
        self.sampler = sampler
        self.model_id = model_id
        self.device = device

    @classmethod
    def from_pretrained(cls, model_id: str = BASE_MODEL, *, device: str = "cpu") -> PointEGenerator:
        """Build the models and load their checkpoints (downloaded by Point-E on first use)."""
        try:
            import torch
            from point_e.diffusion.configs import DIFFUSION_CONFIGS, diffusion_from_config
            from point_e.diffusion.sampler import PointCloudSampler
            from point_e.models.configs import MODEL_CONFIGS, model_from_config
            from point_e.models.download import load_checkpoint
        except ImportError as error:
            raise MissingDependencyError("point_e", "The point-e generator", INSTALL) from error
        if model_id not in MODEL_CONFIGS:
            raise PdError(f"Point-E has no model '{model_id}'; its text-conditioned model is '{BASE_MODEL}'.")
        torch_device = torch.device(device)
        models, diffusions = [], []
        for name in (model_id, UPSAMPLER):
            config = dict(MODEL_CONFIGS[name])
            if config["name"].startswith("CLIP"):  # its CLIP too, not in ./point_e_model_cache
                config["cache_dir"] = str(cache_dir())
            try:
                model = model_from_config(config, torch_device)  # its CLIP downloads here: urllib's OSErrors
                model.load_state_dict(load_checkpoint(name, torch_device, cache_dir=str(cache_dir())))
            except (ImportError, torch.cuda.OutOfMemoryError):
                raise  # a package Point-E lacks (its clip), or the device's memory: not the weights
            except Exception as error:  # requests' or urllib's network errors, or a truncated download
                raise MissingWeights(
                    "the Point-E checkpoint",
                    name,
                    cache=cache_dir(),
                    fetch="pd synth --generator point-e --n 1 --out <a folder>",
                ) from error
            model.eval()
            models.append(model)
            diffusions.append(diffusion_from_config(DIFFUSION_CONFIGS[name]))
        sampler = PointCloudSampler(
            device=torch_device,
            models=models,
            diffusions=diffusions,
            num_points=[1024, 4096 - 1024],
            aux_channels=["R", "G", "B"],
            guidance_scale=[3.0, 0.0],
            model_kwargs_key_filter=("texts", ""),  # only the base model sees the text
        )
        return cls(sampler, model_id=model_id, device=device)

    def generate(self, request: Request) -> Shape:
        import torch

        if request.prompt is None:
            raise ValueError("Point-E generates from text: the request has no prompt")
        with torch.random.fork_rng(devices=[self.device] if self.device.startswith("cuda") else []):
            torch.manual_seed(request.seed)
            # The sampler yields ever less noisy clouds; the last one is the sample.
            *_, samples = self.sampler.sample_batch_progressive(
                batch_size=1, model_kwargs={"texts": [request.prompt]}
            )
        cloud = self.sampler.output_to_point_clouds(samples)[0]
        return shape_from_point_e(
            cloud.coords,
            cloud.channels,
            category=request.category.key,
            provenance=Provenance(
                "point-e", prompt=request.prompt, seed=request.seed, model_id=self.model_id
            ),
        )


def shape_from_point_e(
    coords: np.ndarray,
    channels: dict[str, np.ndarray],
    *,
    provenance: Provenance,
    category: str | None = None,
) -> Shape:
    """A `Shape` from a Point-E cloud: coords [N,3] (z-up), channels R, G, B [N] in [0,1].

    The same arrays are what Point-E saves with `PointCloud.save` (npz keys coords, R, G, B).
    """
    missing = {"R", "G", "B"} - set(channels)
    if missing:
        raise PdError(f"the Point-E cloud has no {', '.join(sorted(missing))} channel")
    colors = np.clip(np.stack([np.asarray(channels[c]) for c in "RGB"], axis=1), 0.0, 1.0)
    points = np.asarray(coords, dtype=np.float64) @ Z_UP_TO_Y_UP.T
    return Shape(points=points, colors=colors, category=category, provenance=provenance)
