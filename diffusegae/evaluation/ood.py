"""Images a model was not trained on, generated here (nothing is downloaded): the out-of-domain sets the
domain check (`diffusegae.domain`) is measured against.

Every generator is `(n, seed) -> list of PIL RGB images` at a size of its own (a photo-like set is 640x480
JPEG, as a phone photo would be); `preprocess` then gives them to the model the way the service does
(centre crop to a square, resize to the model's resolution). `rendered_other` renders the *other* shipped
dataset: vehicles for a toys model, toys for a vehicles model.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Generator = Callable[[int, int], list[Image.Image]]

_WORDS = ("hello", "DiffuseGAE", "invoice", "2023", "Total: 41.50", "lorem ipsum", "STOP", "cat", "README",
          "x_T ~ N(0, I)", "Mon 9:30", "#42", "qwerty", "OK", "the quick brown fox")


def _rng(seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, salt])


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, 3))  # type: ignore[return-value]


def solid(n: int, seed: int = 0) -> list[Image.Image]:
    """One random colour each, 96x96."""
    rng = _rng(seed, 1)
    return [Image.new("RGB", (96, 96), _colour(rng)) for _ in range(n)]


def gradients(n: int, seed: int = 0) -> list[Image.Image]:
    """Linear gradients at a random angle between two random colours, or radial ones, 128x128."""
    rng = _rng(seed, 2)
    out = []
    u = np.linspace(-1, 1, 128, dtype=np.float32)
    gx, gy = np.meshgrid(u, u)
    for i in range(n):
        a, b = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
        if i % 3 == 2:
            cx, cy = rng.uniform(-0.5, 0.5, 2)
            t = np.clip(np.hypot(gx - cx, gy - cy) / 1.4, 0, 1)
        else:
            ang = rng.uniform(0, 2 * np.pi)
            t = (np.cos(ang) * gx + np.sin(ang) * gy + 1.4142) / 2.8284
        out.append(Image.fromarray((a + (b - a) * t[..., None]).clip(0, 255).astype(np.uint8)))
    return out


def noise(n: int, seed: int = 0) -> list[Image.Image]:
    """Uniform, Gaussian, grey, salt-and-pepper and blurred (blobby) noise in turn, 64x64."""
    rng = _rng(seed, 3)
    out = []
    for i in range(n):
        kind = i % 5
        if kind == 0:
            arr = rng.integers(0, 256, (64, 64, 3))
        elif kind == 1:
            arr = rng.normal(rng.uniform(60, 200), rng.uniform(20, 60), (64, 64, 3))
        elif kind == 2:
            arr = np.repeat(rng.integers(0, 256, (64, 64, 1)), 3, axis=2)
        elif kind == 3:
            arr = np.where(rng.random((64, 64, 1)) < 0.5, 0, 255) * np.ones(3)
        else:
            im = Image.fromarray(rng.integers(0, 256, (64, 64, 3)).astype(np.uint8))
            out.append(im.filter(ImageFilter.GaussianBlur(rng.uniform(1.5, 4))).point(lambda v: (v - 128) * 4 + 128))
            continue
        out.append(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))
    return out


def text(n: int, seed: int = 0) -> list[Image.Image]:
    """A few words in random colours on a plain random background, 96x96 (PIL's built-in font)."""
    rng = _rng(seed, 4)
    out = []
    for _ in range(n):
        im = Image.new("RGB", (96, 96), _colour(rng))
        d = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(2, 6))):
            word = _WORDS[int(rng.integers(len(_WORDS)))]
            d.text((float(rng.uniform(0, 60)), float(rng.uniform(0, 85))), word, fill=_colour(rng),
                   font_size=float(rng.uniform(10, 24)))
        out.append(im)
    return out


def shapes(n: int, seed: int = 0) -> list[Image.Image]:
    """Scenes of another kind: many overlapping ellipses, rectangles and lines on a random colour, 128x128."""
    rng = _rng(seed, 5)
    out = []
    for _ in range(n):
        im = Image.new("RGB", (128, 128), _colour(rng))
        d = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(4, 12))):
            x0, y0 = rng.uniform(-20, 120, 2)
            w, h = rng.uniform(10, 70, 2)
            kind = int(rng.integers(3))
            if kind == 0:
                d.ellipse((x0, y0, x0 + w, y0 + h), fill=_colour(rng))
            elif kind == 1:
                d.rectangle((x0, y0, x0 + w, y0 + h), fill=_colour(rng))
            else:
                d.line((x0, y0, x0 + w, y0 + h), fill=_colour(rng), width=int(rng.integers(2, 8)))
        out.append(im)
    return out


def photos(n: int, seed: int = 0) -> list[Image.Image]:
    """Photo-like 640x480 JPEGs (quality 85): a sky gradient over textured ground, a few soft blobs, sensor noise."""
    rng = _rng(seed, 6)
    out = []
    h, w = 480, 640
    ys = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    for _ in range(n):
        horizon = rng.uniform(0.3, 0.7)
        sky_top, sky_low = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
        ground = np.array(_colour(rng), np.float32)
        sky = sky_top + (sky_low - sky_top) * (ys / horizon)
        tex = np.asarray(Image.fromarray(rng.integers(0, 256, (h // 16, w // 16), dtype=np.uint8)).resize(
            (w, h), Image.Resampling.BICUBIC), np.float32)[..., None] / 255 - 0.5
        arr = np.where(ys < horizon, sky, ground * (0.8 + 0.6 * tex))
        im = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        d = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(2, 6))):
            cx, cy = rng.uniform(0, w), rng.uniform(h * 0.3, h)
            r = rng.uniform(20, 120)
            d.ellipse((cx - r, cy - r * rng.uniform(0.5, 1.5), cx + r, cy + r), fill=_colour(rng))
        im = im.filter(ImageFilter.GaussianBlur(rng.uniform(1, 3)))
        arr = np.asarray(im, np.float32) + rng.normal(0, 4, (h, w, 3))
        buf = io.BytesIO()
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=85)
        out.append(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return out


def rendered_other(dataset: str, resolution: int) -> Generator:
    """The other shipped dataset, rendered at `resolution` (then preprocessed like any upload): vehicles for a
    model trained on toys, toys (rendered at 32 px, upscaled by the preprocessing) for a vehicles model. Random
    labels from the seed."""

    def make(n: int, seed: int = 0) -> list[Image.Image]:
        from diffusegae.data import toys, vehicles

        rng = _rng(seed, 7)
        labels = [tuple(int(rng.integers(k)) for k in toys.NUM_VALUES) for _ in range(n)]
        if dataset == "toys":
            return [vehicles.render(i, b, p, resolution) for i, b, p in labels]
        return [toys.render(i, b, p, 32) for i, b, p in labels]  # upscaled by the preprocessing

    return make


OTHER_DATASET = {"toys": "vehicles", "vehicles": "toys"}  # the other shipped dataset of each


def ood_sets(dataset: str, resolution: int) -> dict[str, Generator]:
    """Every out-of-domain set, by name, for a model trained on `dataset` at `resolution` (your own folder of
    images has no "other shipped dataset": it may be either)."""
    sets: dict[str, Generator] = {"solid": solid, "gradients": gradients, "noise": noise, "text": text,
                                  "shapes": shapes, "photos": photos}
    if dataset in OTHER_DATASET:
        sets[OTHER_DATASET[dataset]] = rendered_other(dataset, resolution)
    return sets
