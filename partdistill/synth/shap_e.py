"""Shap-E (text -> 3D mesh) through diffusers' `ShapEPipeline`.

The pipeline samples a latent from the text; the renderer's STF head decodes it into a signed
distance field, marching cubes turns that into a vertex-coloured mesh at a chosen grid size, and
the mesh is sampled to points. diffusers' own `output_type="mesh"` always decodes at grid 128;
asking for the latent and decoding it here lets users trade detail for speed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from partdistill.errors import PdError
from partdistill.formats import shape_from_mesh
from partdistill.shapes import Provenance, Shape
from partdistill.synth.base import Request
from partdistill.weights import loading_from_hub

if TYPE_CHECKING:
    import torch
    from diffusers import ShapEPipeline

DEFAULT_MODEL = "openai/shap-e"
# Shap-E meshes are z-up; the project's frame (ShapeNet's) is y-up: (x, y, z) -> (x, z, -y).
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


class ShapEGenerator:
    """Text-to-mesh generation with a loaded `ShapEPipeline`.

    Args:
        pipeline: the diffusers pipeline (real weights, or a tiny random one in tests).
        model_id: recorded in each shape's provenance.
        n_points: points sampled on each mesh.
        grid_size: marching-cubes resolution of the decoded mesh.
        steps: diffusion steps.
        guidance: classifier-free guidance scale (Shap-E's authors use 15).
        device: where the pipeline runs.
    """

    name = "shap-e"
    uses_prompts = True

    def __init__(
        self,
        pipeline: ShapEPipeline,
        *,
        model_id: str = DEFAULT_MODEL,
        n_points: int = 10_000,
        grid_size: int = 128,
        steps: int = 64,
        guidance: float = 15.0,
        device: str = "cpu",
    ) -> None:
        self.pipeline = pipeline.to(device)
        self.pipeline.set_progress_bar_config(disable=True)  # `pd synth` shows its own progress
        self.model_id = model_id
        self.n_points = n_points
        self.grid_size = grid_size
        self.steps = steps
        self.guidance = guidance
        self.device = device

    @classmethod
    def from_pretrained(
        cls, model_id: str = DEFAULT_MODEL, *, device: str = "cpu", **options: object
    ) -> ShapEGenerator:
        """Load `model_id` from the Hugging Face cache, downloading it on first use."""
        import torch
        from diffusers import ShapEPipeline
        from diffusers.utils import logging

        logging.set_verbosity_error()  # its "couldn't connect" chatter would bury our one sentence
        dtype = torch.float16 if device.startswith("cuda") else torch.float32
        with loading_from_hub("the Shap-E model", model_id):
            pipeline = ShapEPipeline.from_pretrained(model_id, dtype=dtype)
        return cls(pipeline, model_id=model_id, device=device, **options)  # type: ignore[arg-type]

    def generate(self, request: Request) -> Shape:
        import torch

        if request.prompt is None:
            raise ValueError("Shap-E generates from text: the request has no prompt")
        generator = torch.Generator(device="cpu").manual_seed(request.seed)
        with torch.no_grad():
            latents = self.pipeline(
                request.prompt,
                generator=generator,
                num_inference_steps=self.steps,
                guidance_scale=self.guidance,
                output_type="latent",
            ).images
            decoded = self.pipeline.shap_e_renderer.decode_to_mesh(
                latents[:1], self.device, grid_size=self.grid_size
            )
        return shape_from_shap_e_mesh(
            decoded.verts,
            decoded.faces,
            decoded.vertex_channels,
            n_points=self.n_points,
            seed=request.seed,
            category=request.category.key,
            provenance=Provenance("shap-e", prompt=request.prompt, seed=request.seed, model_id=self.model_id),
        )


def shape_from_shap_e_mesh(
    verts: torch.Tensor,
    faces: torch.Tensor,
    vertex_channels: dict[str, torch.Tensor] | None,
    *,
    n_points: int,
    seed: int,
    provenance: Provenance,
    category: str | None = None,
) -> Shape:
    """A `Shape` from a decoded Shap-E mesh (verts [V,3], faces [F,3], channels R, G, B [V] in [0,1])."""
    import trimesh

    vertices = verts.detach().float().cpu().numpy() @ Z_UP_TO_Y_UP.T
    triangles = faces.detach().cpu().numpy().astype(np.int64)
    if len(triangles) == 0:
        raise PdError("Shap-E decoded an empty mesh (the signed distance field has no surface)")
    colors = None
    if vertex_channels and {"R", "G", "B"} <= set(vertex_channels):
        rgb = np.stack([vertex_channels[c].detach().float().cpu().numpy() for c in "RGB"], axis=1)
        colors = np.round(np.clip(rgb, 0.0, 1.0) * 255).astype(np.uint8)
    mesh = trimesh.Trimesh(vertices=vertices, faces=triangles, vertex_colors=colors, process=False)
    return shape_from_mesh(mesh, n_points=n_points, seed=seed, provenance=provenance, category=category)
