"""Tiny, randomly initialised models built from configs, for exercising real model code offline.

They run the same classes and code paths as the real weights (diffusers' ShapEPipeline,
transformers' detectors, open_clip), only with a few small layers. Their outputs are noise:
tests check plumbing, shapes and coordinate conventions with them, never quality.
"""

from __future__ import annotations

import gzip
import itertools
from functools import cache
from importlib import resources

import numpy as np
import torch


@cache
def clip_tokenizer(max_length: int = 77):
    """A real CLIP BPE tokenizer (49,408 tokens) built from the vocabulary inside the open_clip wheel.

    `max_length` is the text length the model takes (CLIP 77, OWLv2 16).
    """
    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    text = gzip.decompress(resources.files("open_clip").joinpath("bpe_simple_vocab_16e6.txt.gz").read_bytes())
    merges = text.decode().split("\n")[1 : 49152 - 256 - 2 + 1]
    byte_chars = list(bytes_to_unicode().values())
    tokens = [
        *byte_chars,
        *(c + "</w>" for c in byte_chars),
        *("".join(m.split()) for m in merges),
        "<|startoftext|>",
        "<|endoftext|>",
    ]
    return CLIPTokenizer(
        vocab={t: i for i, t in enumerate(tokens)},
        merges=[tuple(m.split()) for m in merges],
        model_max_length=max_length,
    )


# --- marching cubes ----------------------------------------------------------------------------
#
# diffusers' Shap-E renderer ships its marching-cubes lookup table as all-zero buffers that only
# the pretrained checkpoint fills in. A random pipeline therefore needs a table; this one is
# computed from the cube's geometry in diffusers' conventions: corner bit i is the corner at
# (i & 1, i >> 1 & 1, i >> 2 & 1), and edges 0-3 run along x, 4-7 along y, 8-11 along z.


def _edge(a: tuple[int, int, int], b: tuple[int, int, int]) -> int:
    """diffusers' index of the cube edge between corners a and b."""
    axis = next(i for i in range(3) if a[i] != b[i])
    others = [a[i] for i in range(3) if i != axis]
    return 4 * axis + others[0] + 2 * others[1]


def _faces() -> list[list[tuple[int, int, int]]]:
    """The six cube faces, each as its four corners in counter-clockwise order seen from outside."""
    faces = []
    for axis, side in itertools.product(range(3), (0, 1)):
        u, v = [i for i in range(3) if i != axis]
        square = [(0, 0), (1, 0), (1, 1), (0, 1)]
        corners = []
        for du, dv in square:
            corner = [0, 0, 0]
            corner[axis], corner[u], corner[v] = side, du, dv
            corners.append(tuple(corner))
        # (u, v, axis) is right-handed for axis = 0 and 2 and left-handed for axis = 1; the square is
        # counter-clockwise about +axis when right-handed; the face at side 0 looks along -axis.
        if (axis == 1) != (side == 0):
            corners.reverse()
        faces.append(corners)
    return faces


def marching_cubes_table() -> tuple[torch.Tensor, torch.Tensor]:
    """(cases [256,5,3] int64, masks [256,5] bool) in the layout of diffusers' `MeshDecoder`.

    For each face, every run of inside corners is cut off by one segment (so diagonal inside
    corners stay apart); the segments chain into loops around the inside region, and each loop
    is fanned into triangles wound consistently with the inside behind them.
    """
    cases = torch.zeros(256, 5, 3, dtype=torch.long)
    masks = torch.zeros(256, 5, dtype=torch.bool)
    faces = _faces()
    for code in range(256):
        inside = {
            c: bool(code >> (c[0] + 2 * c[1] + 4 * c[2]) & 1) for c in itertools.product((0, 1), repeat=3)
        }
        successor: dict[int, int] = {}
        for corners in faces:
            for k in range(4):
                here, after = corners[k], corners[(k + 1) % 4]
                if inside[here] and not inside[after]:  # a run of inside corners ends at edge (here, after)
                    j = k
                    while inside[corners[(j - 1) % 4]]:
                        j -= 1
                    before = corners[(j - 1) % 4]
                    successor[_edge(here, after)] = _edge(before, corners[j % 4])
        triangles: list[tuple[int, int, int]] = []
        while successor:
            start = next(iter(successor))
            loop = [start]
            while successor[loop[-1]] != start:
                loop.append(successor[loop[-1]])
            for edge in loop:
                del successor[edge]
            triangles += [(loop[0], loop[i + 1], loop[i]) for i in range(1, len(loop) - 1)]
        assert len(triangles) <= 5, (code, triangles)
        for i, triangle in enumerate(triangles):
            cases[code, i] = torch.tensor(triangle)
            masks[code, i] = True
    return cases, masks


# --- Shap-E ------------------------------------------------------------------------------------


def tiny_shap_e_pipeline():
    """A randomly initialised diffusers `ShapEPipeline` (diffusers' own test sizes) that can decode meshes."""
    from diffusers import HeunDiscreteScheduler, PriorTransformer, ShapEPipeline
    from diffusers.pipelines.shap_e.renderer import ShapERenderer
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    tokenizer = clip_tokenizer()
    torch.manual_seed(0)
    text_encoder = CLIPTextModelWithProjection(
        CLIPTextConfig(
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            hidden_size=16,
            projection_dim=16,
            intermediate_size=37,
            layer_norm_eps=1e-5,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=len(tokenizer),
            max_position_embeddings=77,
        )
    )
    prior = PriorTransformer(
        num_attention_heads=2,
        attention_head_dim=16,
        embedding_dim=16,
        num_embeddings=32,
        embedding_proj_dim=16,
        time_embed_dim=64,
        num_layers=1,
        clip_embed_dim=32,
        additional_embeddings=0,
        time_embed_act_fn="gelu",
        norm_in_type="layer",
        encoder_hid_proj_type=None,
        added_emb_type=None,
    )
    renderer = ShapERenderer(
        param_shapes=((8, 93), (8, 8), (8, 8), (8, 8)),
        d_latent=16,
        d_hidden=8,
        n_output=12,
        background=(0.1, 0.1, 0.1),
    )
    cases, masks = marching_cubes_table()
    renderer.mesh_decoder.cases.copy_(cases)
    renderer.mesh_decoder.masks.copy_(masks)
    scheduler = HeunDiscreteScheduler(
        beta_schedule="exp",
        num_train_timesteps=1024,
        prediction_type="sample",
        use_karras_sigmas=True,
        clip_sample=True,
        clip_sample_range=1.0,
    )
    return ShapEPipeline(
        prior=prior,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        shap_e_renderer=renderer,
        scheduler=scheduler,
    )


def sphere_field(grid: int, radius: float) -> np.ndarray:
    """A [grid]^3 field over [-1,1]^3 that is positive inside a sphere of `radius` (SDF sign of Shap-E)."""
    axis = np.linspace(-1.0, 1.0, grid)
    x, y, z = np.meshgrid(axis, axis, axis, indexing="ij")
    return radius - np.sqrt(x**2 + y**2 + z**2)


# --- 2D teachers -------------------------------------------------------------------------------


def bert_tokenizer():
    """A BERT WordPiece tokenizer with a small in-memory vocabulary.

    Grounding DINO hard-codes BERT's ids for [CLS] (101), [SEP] (102), "." (1012) and "?" (1029),
    so those tokens sit at those ids; single letters and their "##" continuations make any
    lower-case word tokenizable.
    """
    from transformers import BertTokenizer

    fixed = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]", 1012: ".", 1029: "?"}
    words = [*"abcdefghijklmnopqrstuvwxyz", *(f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"), ","]
    words += ["of", "a", "an", "chair", "back", "seat", "pad", "leg", "armrest", "table", "desktop", "drawer"]
    tokens = [fixed.get(i, f"[unused{i}]") for i in range(1030)] + words
    return BertTokenizer(vocab={t: i for i, t in enumerate(tokens)})


def tiny_grounding_dino():
    """(model, processor): a randomly initialised Grounding DINO (transformers' test sizes)."""
    from transformers import (
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
        SwinConfig,
    )

    tokenizer = bert_tokenizer()
    backbone = SwinConfig(
        window_size=7,
        embed_dim=8,
        depths=[1, 1, 1, 1],
        num_heads=[1, 1, 1, 1],
        image_size=98,
        out_features=["stage2", "stage3", "stage4"],
        out_indices=[2, 3, 4],
    )
    text = {
        "model_type": "bert",
        "vocab_size": len(tokenizer),
        "hidden_size": 8,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 8,
        "max_position_embeddings": 64,
    }
    config = GroundingDinoConfig(
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=4,
        decoder_ffn_dim=4,
        num_queries=8,
        num_feature_levels=4,
        encoder_n_points=2,
        decoder_n_points=6,
        max_text_len=32,
        use_timm_backbone=False,
        backbone_config=backbone,
        text_config=text,
    )
    torch.manual_seed(0)
    model = GroundingDinoForObjectDetection(config)
    image_processor = GroundingDinoImageProcessor(size={"shortest_edge": 98, "longest_edge": 98})
    return model, GroundingDinoProcessor(image_processor=image_processor, tokenizer=tokenizer)


def tiny_owlv2():
    """(model, processor): a randomly initialised OWLv2 (transformers' test sizes), CLIP tokenizer."""
    from transformers import (
        Owlv2Config,
        Owlv2ForObjectDetection,
        Owlv2ImageProcessor,
        Owlv2Processor,
        Owlv2TextConfig,
        Owlv2VisionConfig,
    )

    tokenizer = clip_tokenizer(max_length=16)
    text = Owlv2TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=16,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = Owlv2VisionConfig(
        image_size=32,
        patch_size=4,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
    )
    torch.manual_seed(0)
    model = Owlv2ForObjectDetection(
        Owlv2Config(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=32)
    )
    image_processor = Owlv2ImageProcessor(size={"height": 32, "width": 32})
    return model, Owlv2Processor(image_processor=image_processor, tokenizer=tokenizer)


def tiny_clipseg():
    """(model, processor): a randomly initialised CLIPSeg (transformers' test sizes), CLIP tokenizer."""
    from transformers import (
        CLIPSegConfig,
        CLIPSegForImageSegmentation,
        CLIPSegProcessor,
        CLIPSegTextConfig,
        CLIPSegVisionConfig,
        ViTImageProcessor,
    )

    tokenizer = clip_tokenizer()
    text = CLIPSegTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = CLIPSegVisionConfig(
        image_size=30,
        patch_size=2,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
    )
    config = CLIPSegConfig(
        text_config=text.to_dict(),
        vision_config=vision.to_dict(),
        projection_dim=32,
        reduce_dim=16,
        extract_layers=[1],
    )
    torch.manual_seed(0)
    model = CLIPSegForImageSegmentation(config)
    image_processor = ViTImageProcessor(size={"height": 30, "width": 30})
    return model, CLIPSegProcessor(image_processor=image_processor, tokenizer=tokenizer)


def tiny_open_clip(tmp_dir):
    """(model, preprocess, tokenizer): a randomly initialised 2-layer open_clip ViT at 32 px."""
    import json

    import open_clip

    config = {
        "embed_dim": 32,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
    }
    path = tmp_dir / "pd-tiny-vit.json"
    path.write_text(json.dumps(config))
    open_clip.add_model_config(path)
    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms("pd-tiny-vit", pretrained=None)
    return model, preprocess, open_clip.get_tokenizer("pd-tiny-vit")
