"""Contact sheets: every view of a shape with the teacher's boxes or masks drawn and labelled."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from partdistill.palette import part_colors
from partdistill.render.views import Views
from partdistill.teach.teachers.base import Prediction

TILE = 256
COLUMNS = 5


def contact_sheet(
    views: Views, predictions: list[Prediction], part_names: tuple[str, ...], title: str
) -> bytes:
    """A PNG with the views in a grid, each prediction drawn in its part's colour with its score."""
    rows = -(-views.n_views // COLUMNS)
    header = 22
    sheet = Image.new("RGB", (COLUMNS * TILE, rows * TILE + header), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    draw.text((6, 4), title, fill="black", font=font)
    colors = part_colors(np.arange(len(part_names)))
    scale = TILE / views.image_size
    for k in range(views.n_views):
        tile = views.images[k].astype(np.float32)
        for prediction in predictions:
            if prediction.view == k and prediction.mask is not None:
                tile[prediction.mask] = 0.55 * tile[prediction.mask] + 0.45 * colors[prediction.part]
        image = Image.fromarray(tile.astype(np.uint8)).resize((TILE, TILE), Image.Resampling.BILINEAR)
        tile_draw = ImageDraw.Draw(image)
        for prediction in predictions:
            if prediction.view != k:
                continue
            color = tuple(int(c) for c in colors[prediction.part])
            label = f"{part_names[prediction.part]} {prediction.score:.2f}"
            if prediction.box is not None:
                x1, y1, x2, y2 = (prediction.box * scale).tolist()
                tile_draw.rectangle((x1, y1, x2, y2), outline=color, width=2)
                anchor = (x1 + 2, max(0.0, y1 - 11))
            else:
                rows_, cols_ = np.nonzero(prediction.mask)
                if not rows_.size:
                    continue  # an empty mask marks nowhere to write its label
                anchor = (float(cols_.mean() * scale), float(rows_.mean() * scale))
            tile_draw.text(anchor, label, fill=color, font=font)
        tile_draw.text((4, TILE - 14), f"view {k}", fill=(90, 90, 90), font=font)
        sheet.paste(image, ((k % COLUMNS) * TILE, header + (k // COLUMNS) * TILE))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()
