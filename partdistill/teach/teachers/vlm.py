"""Real 2D teachers: grounded detectors (boxes) and CLIP-based pixel predictors (masks).

All run the libraries' own processors on the rendered views:

- `grounding-dino` (transformers `GroundingDinoForObjectDetection`) and `owlv2`
  (`Owlv2ForObjectDetection`) stand in for the paper's GLIP, which has no pip package. Each part
  is its own text query, by default the part's words alone ("seat pad"), as PartSLIP's released
  code asks GLIP (its README reports 34.8 mIoU without the category against 27.2 with it);
  `query="part-of-category"` asks "seat pad of a chair", as the papers' prompts. A Grounding DINO
  box is scored as GLIP scores one: the mean probability over the part phrase's own tokens, never
  over the category's or the full stop's (transformers' post-processing takes the maximum over
  all tokens, so a box that fires on "chair" alone would become a unit of every part). Boxes of
  both detectors then go through GLIP's class-wise non-maximum suppression (`nms`, IoU 0.6).
- `clipseg` (transformers `CLIPSegForImageSegmentation`): one heat map per part query.
- `clip` (open_clip): PointCLIP V2-style dense CLIP. The ViT's patch tokens, projected into the
  joint space, are compared with the part texts; each object pixel goes to its most similar part.

Masks are kept to object pixels (the renderer's foreground), as the paper's P-VLM predictions
are separated per part and lifted onto visible points.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from partdistill.errors import PdError, first_few, option
from partdistill.prompts import Category, part_prompt
from partdistill.render.views import Views
from partdistill.shapes import Shape
from partdistill.teach.teachers.base import GLIP_NMS, Prediction, suppress_duplicates
from partdistill.weights import DamagedWeights, MissingWeights, loading_from_hub, refuse_unreachable

GROUNDING_DINO = "IDEA-Research/grounding-dino-base"
OWLV2 = "google/owlv2-base-patch16-ensemble"
CLIPSEG = "CIDAS/clipseg-rd64-refined"
CLIP = ("ViT-B-16", "openai")


def _load(loader: Any, model_id: str, what: str, model_types: tuple[str, ...] = ()) -> Any:
    """`loader.from_pretrained(model_id)`, with a missing download turned into one sentence
    (`MissingWeights`; `build_teacher` adds which teachers work without it). A model is named by
    the `model_type`s it may have (a processor by none), and another model's files are refused."""
    from transformers import PretrainedConfig
    from transformers.utils import logging

    logging.set_verbosity_error()
    with loading_from_hub(f"the {what} model", model_id):
        if not model_types:
            return loader.from_pretrained(model_id)
        given = PretrainedConfig.get_config_dict(model_id)[0].get("model_type", model_types[0])
        if given not in model_types:  # transformers loads it all the same, with a log line
            raise PdError(
                f"{model_id} is a '{given}' model where the {what} teacher needs "
                f"{' or '.join(repr(kind) for kind in model_types)}; give {option('model_id')} one of "
                f"that kind."
            )
        model, loading = loader.from_pretrained(model_id, output_loading_info=True)
    # Files of the right kind without its weights load too, left at random initial weights, with
    # only a log line (which the verbosity above holds back) to say so.
    missing, total = len(loading["missing_keys"]), len(model.state_dict())
    if missing > total // 2:
        raise PdError(
            f"{model_id} holds no weights of the {what} model ({missing} of its {total} tensors are "
            f"missing); give {option('model_id')} one of the {what} kind."
        )
    return model


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """No log records of ERROR or below while it is held: open_clip logs a failed download with
    `logging.error`, which (with no handler set) configures the root logger and prints a stray
    "ERROR:root:" line before our one sentence."""
    logging.disable(logging.ERROR)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def clip_weights(arch: str, pretrained: str | None) -> str | None:
    """The Hugging Face repository open_clip fetches `arch`'s `pretrained` weights from (None where
    they come from elsewhere)."""
    from open_clip.pretrained import get_pretrained_cfg

    repo = get_pretrained_cfg(arch, pretrained or "").get("hf_hub", "") if pretrained else ""
    return repo.strip("/") or None


def _inside_image(boxes: np.ndarray, size: int) -> np.ndarray:
    """[..., 4] (x1, y1, x2, y2) boxes in pixels, kept inside the image."""
    return np.clip(boxes, 0, size).astype(np.float32)


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def phrase_scores(logits: torch.Tensor, phrase: torch.Tensor) -> torch.Tensor:
    """[B, Q] GLIP's score of each query box for a phrase: the mean sigmoid probability over the
    phrase's tokens. logits [B, Q, T] box-token logits; phrase [B, T] bool, the phrase's tokens."""
    weights = phrase.to(logits.dtype)
    return (torch.sigmoid(logits) * weights[:, None, :]).sum(-1) / weights.sum(-1).clamp(min=1)[:, None]


def _corners(boxes: torch.Tensor, size: int) -> np.ndarray:
    """[..., 4] (cx, cy, w, h) in [0, 1] -> (x1, y1, x2, y2) pixels, kept inside the image."""
    cx, cy, w, h = boxes.unbind(-1)
    corners = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1) * size
    return _inside_image(corners.float().cpu().numpy(), size)


class _Detector:
    """A transformers open-vocabulary detector and its processor, with the options both box
    teachers take; each subclass sets its own default `threshold` and `batch_size` (pairs of view
    and query, or views, per forward pass)."""

    kind = "box"
    needs_labels = False
    threshold: float
    batch_size: int

    def __init__(
        self,
        model: Any,
        processor: Any,
        *,
        threshold: float | None = None,
        nms: float = GLIP_NMS,
        query: str = "part",
        device: str = "cpu",
        batch_size: int | None = None,
    ) -> None:
        self.model = model.to(device).eval()
        self.processor = processor
        self.threshold = type(self).threshold if threshold is None else threshold
        self.nms = nms
        self.query = query
        self.device = device
        self.batch_size = type(self).batch_size if batch_size is None else batch_size


class GroundingDinoTeacher(_Detector):
    """Boxes from Grounding DINO, one query per part, scored by the part's tokens, kept above
    `threshold`, then class-wise NMS (see the module docstring).

    The default threshold is the Grounding DINO authors' box threshold (0.35); PartSLIP kept GLIP
    boxes above 0.5, but the two models' scores are not on the same scale.
    """

    name = "grounding-dino"
    threshold = 0.35
    batch_size = 4

    @classmethod
    def from_pretrained(cls, model_id: str = GROUNDING_DINO, *, device: str = "cpu", **options: Any):
        from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

        model = _load(
            AutoModelForZeroShotObjectDetection,
            model_id,
            "Grounding DINO",
            ("grounding-dino", "mm-grounding-dino"),
        )
        return cls(model, _load(AutoProcessor, model_id, "Grounding DINO"), device=device, **options)

    def phrases(self, category: Category) -> tuple[list[str], list[int]]:
        """The text of each part's query and how many tokens its part words take (they come first)."""
        tokenizer = self.processor.tokenizer
        queries, lengths = [], []
        for p in range(len(category.parts)):
            queries.append(part_prompt(category, p, self.query).lower() + ".")
            lengths.append(len(tokenizer.tokenize(category.parts[p].teacher.lower())))
        return queries, lengths

    @torch.no_grad()
    def predict(self, views: Views, category: Category, shape: Shape) -> list[Prediction]:
        queries, lengths = self.phrases(category)
        pairs = [(k, p) for k in range(views.n_views) for p in range(len(queries))]
        size = views.image_size
        predictions = []
        for batch in _batches(pairs, self.batch_size):
            inputs = self.processor(
                images=[Image.fromarray(views.images[k]) for k, _ in batch],
                text=[queries[p] for _, p in batch],
                return_tensors="pt",
                padding=True,
            ).to(self.device)
            outputs = self.model(**inputs)
            tokens = torch.arange(inputs["input_ids"].shape[1], device=self.device)
            ends = torch.tensor([1 + lengths[p] for _, p in batch], device=self.device)
            phrase = (tokens[None, :] >= 1) & (tokens[None, :] < ends[:, None])  # after [CLS]
            scores = phrase_scores(outputs.logits[..., : phrase.shape[1]], phrase).cpu().numpy()
            boxes = _corners(outputs.pred_boxes, size)
            for (k, p), box_scores, box_corners in zip(batch, scores, boxes, strict=True):
                for q in np.flatnonzero(box_scores > self.threshold):
                    predictions.append(
                        Prediction(view=k, part=p, score=float(box_scores[q]), box=box_corners[q])
                    )
        return suppress_duplicates(predictions, self.nms)


class Owlv2Teacher(_Detector):
    """Boxes from OWLv2: all part queries in one pass per view, each box labelled by its best
    query, kept above `threshold`, then class-wise NMS."""

    name = "owlv2"
    threshold = 0.2
    batch_size = 2

    @classmethod
    def from_pretrained(cls, model_id: str = OWLV2, *, device: str = "cpu", **options: Any):
        from transformers import Owlv2ForObjectDetection, Owlv2Processor

        model = _load(Owlv2ForObjectDetection, model_id, "OWLv2", ("owlv2",))
        return cls(model, _load(Owlv2Processor, model_id, "OWLv2"), device=device, **options)

    @torch.no_grad()
    def predict(self, views: Views, category: Category, shape: Shape) -> list[Prediction]:
        from transformers.models.owlv2.modeling_owlv2 import Owlv2ObjectDetectionOutput

        queries = [part_prompt(category, p, self.query) for p in range(len(category.parts))]
        size = views.image_size
        predictions = []
        for batch in _batches(list(range(views.n_views)), self.batch_size):
            inputs = self.processor(
                text=[queries] * len(batch),
                images=[Image.fromarray(views.images[k]) for k in batch],
                return_tensors="pt",
            ).to(self.device)
            outputs = self.model(**inputs)
            # Post-processing selects boxes by their scores: on the host, where that is cheap.
            host = Owlv2ObjectDetectionOutput(
                logits=outputs.logits.float().cpu(), pred_boxes=outputs.pred_boxes.float().cpu()
            )
            # OWLv2 pads each image to a square before resizing; the post-processing scales boxes
            # back by the longer side of `target_sizes`, which must be the original (height, width).
            results = self.processor.post_process_grounded_object_detection(
                host, threshold=self.threshold, target_sizes=[(size, size)] * len(batch)
            )
            for k, result in zip(batch, results, strict=True):
                for score, part, box in zip(
                    result["scores"].tolist(),
                    result["labels"].tolist(),
                    result["boxes"].numpy(),
                    strict=True,
                ):
                    predictions.append(
                        Prediction(view=k, part=int(part), score=score, box=_inside_image(box, size))
                    )
        return suppress_duplicates(predictions, self.nms)


class ClipSegTeacher:
    """Masks from CLIPSeg: per part, object pixels whose probability exceeds `threshold`.

    A mask's score is the mean probability over its pixels. CLIPSeg has no post-processing
    method; its 352x352 logits go through a sigmoid and are resized to the view.
    """

    name = "clipseg"
    kind = "mask"
    needs_labels = False

    def __init__(
        self, model: Any, processor: Any, *, threshold: float = 0.4, query: str = "part", device: str = "cpu"
    ) -> None:
        self.model = model.to(device).eval()
        self.processor = processor
        self.threshold = threshold
        self.query = query
        self.device = device

    @classmethod
    def from_pretrained(cls, model_id: str = CLIPSEG, *, device: str = "cpu", **options: Any):
        from transformers import CLIPSegForImageSegmentation, CLIPSegProcessor

        model = _load(CLIPSegForImageSegmentation, model_id, "CLIPSeg", ("clipseg",))
        return cls(model, _load(CLIPSegProcessor, model_id, "CLIPSeg"), device=device, **options)

    @torch.no_grad()
    def predict(self, views: Views, category: Category, shape: Shape) -> list[Prediction]:
        queries = [part_prompt(category, p, self.query) for p in range(len(category.parts))]
        size = views.image_size
        predictions = []
        for k in range(views.n_views):
            image = Image.fromarray(views.images[k])
            inputs = self.processor(
                text=queries, images=[image] * len(queries), return_tensors="pt", padding=True
            ).to(self.device)
            logits = self.model(**inputs).logits.reshape(len(queries), 1, *inputs["pixel_values"].shape[-2:])
            probability = (
                torch.nn.functional.interpolate(
                    torch.sigmoid(logits), size=(size, size), mode="bilinear", align_corners=False
                )[:, 0]
                .cpu()
                .numpy()
            )
            foreground = views.pixel_index[k] >= 0
            for part in range(len(queries)):
                mask = (probability[part] > self.threshold) & foreground
                if mask.any():
                    score = float(probability[part][mask].mean())
                    predictions.append(Prediction(view=k, part=part, score=score, mask=mask))
        return predictions


class ClipDenseTeacher:
    """Masks from dense CLIP features (PointCLIP V2 / MaskCLIP style), through open_clip.

    Each ViT patch token, after the final LayerNorm, is projected into CLIP's joint space and
    compared (cosine, CLIP's logit scale) with the part texts; a softmax over parts gives each
    patch a part distribution, upsampled to the view. Object pixels go to their most likely
    part; a mask's score is the mean probability of its part over its pixels.
    """

    name = "clip"
    kind = "mask"
    needs_labels = False

    def __init__(
        self, model: Any, preprocess: Any, tokenizer: Any, *, query: str = "part", device: str = "cpu"
    ) -> None:
        self.model = model.to(device).eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.query = query
        self.device = device

    @classmethod
    def from_pretrained(
        cls,
        arch: str = CLIP[0],
        pretrained: str | None = CLIP[1],
        *,
        device: str = "cpu",
        query: str = "part",
    ):
        import open_clip
        from open_clip.pretrained import get_pretrained_cfg

        hub = arch.startswith("hf-hub:")  # a model and its weights from one Hub repository
        local = bool(pretrained) and Path(pretrained).expanduser().is_file()  # a checkpoint file as tag
        if not hub:  # as open_clip reads them: ViT-B/16, laion2b-s34b-b88k and OpenAI are its names too
            arch = arch.replace("/", "-")
            if arch not in open_clip.list_models():
                raise PdError(
                    f"open_clip has no model '{arch}'; give {option('model_id')} as ARCH:TAG (such as "
                    f"{CLIP[0]}:{CLIP[1]}) or hf-hub:<org>/<name>."
                )
            if pretrained and not local:
                pretrained = pretrained.lower().replace("-", "_")
                tags = open_clip.list_pretrained_tags_by_model(arch)
                if pretrained not in tags:
                    raise PdError(
                        f"open_clip has no weights '{pretrained}' for {arch} (its tags: "
                        f"{first_few(tags, 6)}), and no file of that name is here."
                    )
        # OpenAI's weights were trained with QuickGELU; open_clip builds its "ViT-B-16" with GELU
        # and only warns when such weights are loaded into it.
        quick = bool(pretrained and get_pretrained_cfg(arch, pretrained).get("quick_gelu"))
        what = f"the open_clip model {arch}" + (f" ({pretrained})" if pretrained else "")
        repo = arch.removeprefix("hf-hub:") if hub else clip_weights(arch, pretrained)
        if repo is not None:
            refuse_unreachable(what, repo)
        try:
            with _quiet_root_logger():
                model, _, preprocess = open_clip.create_model_and_transforms(
                    arch, pretrained=pretrained, force_quick_gelu=quick
                )
        except Exception as error:
            if local:  # torch's unpickler's errors vary
                raise PdError(
                    f"Could not load {what}: the file is no open_clip checkpoint of {arch} "
                    f"({type(error).__name__})."
                ) from error
            if DamagedWeights.caused(error):
                raise DamagedWeights(what, repo, error) from error
            if not isinstance(error, OSError | RuntimeError | ValueError):
                raise
            if repo is None:
                raise PdError(
                    f"Could not load {what}: its weights are not cached "
                    "and could not be downloaded (check the name and the network)."
                ) from error
            raise MissingWeights(what, repo) from error
        return cls(model, preprocess, open_clip.get_tokenizer(arch), query=query, device=device)

    @torch.no_grad()
    def patch_probabilities(self, images: np.ndarray, texts: list[str]) -> torch.Tensor:
        """[K, parts, g, g] softmax over parts of each patch of each image."""
        visual = self.model.visual
        text = self.model.encode_text(self.tokenizer(texts).to(self.device))
        text = text / text.norm(dim=-1, keepdim=True)
        pixels = torch.stack([self.preprocess(Image.fromarray(image)) for image in images]).to(self.device)
        visual.output_tokens = True
        try:
            _, tokens = visual(pixels)
        finally:
            visual.output_tokens = False
        tokens = tokens @ visual.proj
        tokens = tokens / tokens.norm(dim=-1, keepdim=True)
        logits = self.model.logit_scale.exp() * tokens @ text.T  # [K, g*g, parts]
        grid = math.isqrt(tokens.shape[1])
        return logits.softmax(dim=-1).permute(0, 2, 1).reshape(len(images), len(texts), grid, grid)

    def predict(self, views: Views, category: Category, shape: Shape) -> list[Prediction]:
        queries = [part_prompt(category, p, self.query) for p in range(len(category.parts))]
        size = views.image_size
        probability = (
            torch.nn.functional.interpolate(
                self.patch_probabilities(views.images, queries),
                size=(size, size),
                mode="bilinear",
                align_corners=False,
            )
            .float()
            .cpu()
            .numpy()
        )
        best = probability.argmax(axis=1)  # [K, H, W]
        predictions = []
        for k in range(views.n_views):
            foreground = views.pixel_index[k] >= 0
            for part in range(len(queries)):
                mask = (best[k] == part) & foreground
                if mask.any():
                    score = float(probability[k, part][mask].mean())
                    predictions.append(Prediction(view=k, part=part, score=score, mask=mask))
        return predictions
