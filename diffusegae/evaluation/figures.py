"""The model card's figures: swap grids (paper Fig. 6/7), interpolation strips (Fig. 8/9), the perplexity heat-map;
a training's sample figure."""

from __future__ import annotations

import torch
from PIL import Image, ImageDraw

from diffusegae.editing import Editor, Latents, interpolate, recombine


def _grid(rows: list[list[Image.Image]], scale: int = 3, pad: int = 2) -> Image.Image:
    r = rows[0][0].width * scale
    w = max(len(row) for row in rows)
    canvas = Image.new("RGB", (w * (r + pad) + pad, len(rows) * (r + pad) + pad), (255, 255, 255))
    for i, row in enumerate(rows):
        for j, im in enumerate(row):
            if im is not None:
                canvas.paste(im.resize((r, r), Image.Resampling.NEAREST), (pad + j * (r + pad), pad + i * (r + pad)))
    return canvas


@torch.no_grad()
def swap_grid(editor: Editor, x0: torch.Tensor, lat: Latents, attribute: str, n: int = 5, steps: int = 20) -> Image.Image:
    """Paper Fig. 6/7 layout: top row donors, left column bases, cell = base with the donor's `attribute`."""
    bases, donors = list(range(n)), list(range(n, 2 * n))
    blank = Image.new("RGB", (x0.shape[-1], x0.shape[-1]), (255, 255, 255))
    rows = [[blank] + Editor.to_images(x0[donors])]
    for b in bases:
        z = recombine(lat.z_dis[[b] * n], {attribute: (lat.z_dis[donors], 1.0)}, editor.slices)
        cells = editor.decode(z, lat.x_T[[b] * n], steps=steps)
        rows.append(Editor.to_images(x0[[b]]) + Editor.to_images(cells))
    return _grid(rows)


@torch.no_grad()
def interpolation_strips(editor: Editor, x0: torch.Tensor, lat: Latents, frames: int = 7, steps: int = 20) -> Image.Image:
    """Paper Fig. 8/9: one row per attribute (then one for all), base -> donor."""
    w = torch.linspace(0, 1, frames).tolist()
    rows = []
    for attrs in [[a] for a in editor.info.attributes] + [None]:
        z, x_T = interpolate(lat[0:1], lat[1:2], w, editor.slices, attrs)
        rows.append(Editor.to_images(x0[0:1]) + Editor.to_images(editor.decode(z, x_T, steps=steps))
                    + Editor.to_images(x0[1:2]))
    return _grid(rows)


@torch.no_grad()
def random_xT_variations(editor: Editor, x0: torch.Tensor, lat: Latents, seeds: int = 6, steps: int = 20) -> Image.Image:
    """One row per image: the image, its reconstruction (inferred x_T), then `seeds` decodes of its z_dis with
    random x_T: what z_sem decides (kept in every cell) and what x_T carries (what varies)."""
    rows = []
    for i in range(x0.shape[0]):
        recon = editor.decode(lat.z_dis[i: i + 1], lat.x_T[i: i + 1], steps=steps)
        random = editor.decode(lat.z_dis[[i] * seeds], editor.random_x_T(range(seeds)), steps=steps)
        rows.append(Editor.to_images(x0[i: i + 1]) + Editor.to_images(recon) + Editor.to_images(random))
    return _grid(rows)


@torch.no_grad()
def training_sample(editor: Editor, x0: torch.Tensor, steps: int) -> Image.Image:
    """A training's progress at a glance: the images x0 (n, 3, R, R), their reconstructions (inferred x_T), then per
    attribute each image with that attribute from the next one (the last takes the first's)."""
    n = x0.shape[0]
    lat = editor.encode(x0, steps=steps)
    donors = [(i + 1) % n for i in range(n)]
    rows = [Editor.to_images(x0), Editor.to_images(editor.decode(lat.z_dis, lat.x_T, steps=steps))]
    for attribute in editor.info.attributes:
        z = recombine(lat.z_dis, {attribute: (lat.z_dis[donors], 1.0)}, editor.slices)
        rows.append(Editor.to_images(editor.decode(z, lat.x_T, steps=steps)))
    return _grid(rows)


def heatmap(matrix: torch.Tensor, rows: list[str], cols: list[str], cell: int = 80) -> Image.Image:
    left, top = 110, 30
    img = Image.new("RGB", (left + cell * len(cols), top + cell * len(rows)), (255, 255, 255))
    d = ImageDraw.Draw(img)
    for j, c in enumerate(cols):
        d.text((left + j * cell + 6, 8), c, fill=(0, 0, 0))
    for i, r in enumerate(rows):
        d.text((6, top + i * cell + cell // 2 - 6), f"z_dis[{r}]", fill=(0, 0, 0))
        for j in range(len(cols)):
            v = float(matrix[i, j])
            shade = (int(255 * (1 - v)), int(255 * (1 - 0.6 * v)), 255)
            d.rectangle((left + j * cell, top + i * cell, left + (j + 1) * cell - 1, top + (i + 1) * cell - 1), fill=shade)
            d.text((left + j * cell + cell // 2 - 14, top + i * cell + cell // 2 - 6), f"{v:.3f}",
                   fill=(0, 0, 0) if v < 0.6 else (255, 255, 255))
    return img
