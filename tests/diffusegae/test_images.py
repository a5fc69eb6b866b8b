"""Loading an image the way every consumer does: EXIF orientation applied, transparency on white, RGB."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from diffusegae.data.images import square_resize


def _rotated_jpeg(size: tuple[int, int] = (64, 32)) -> bytes:
    """Stored left half red, right half blue, with EXIF orientation 6 (show it turned 90 degrees clockwise):
    upright, red is on top and blue below, as a phone camera held upright writes it."""
    stored = Image.new("RGB", size, (220, 20, 20))
    stored.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    stored.save(buf, format="JPEG", quality=95, exif=exif.tobytes())
    return buf.getvalue()


def _red(p: tuple[int, ...]) -> bool:
    return p[0] > 150 and p[2] < 100


def _blue(p: tuple[int, ...]) -> bool:
    return p[2] > 150 and p[0] < 100


def test_exif_orientation_is_applied():
    with Image.open(io.BytesIO(_rotated_jpeg())) as im:
        assert im.size == (64, 32)
        out = square_resize(im, 16)
    assert out.size == (16, 16) and out.mode == "RGB"
    assert _red(out.getpixel((13, 2))) and _red(out.getpixel((2, 2))), "the top row should be red"
    assert _blue(out.getpixel((2, 13))) and _blue(out.getpixel((13, 13))), "the bottom row should be blue"


def _hidden_colour(mode: str) -> Image.Image:
    """Transparent everywhere except a black square in the middle; the transparent pixels hide bright green."""
    rgba = Image.new("RGBA", (32, 32), (0, 255, 0, 0))
    rgba.paste((0, 0, 0, 255), (8, 8, 24, 24))
    if mode == "P":
        p = rgba.convert("RGB").quantize(4)
        green = p.getpixel((0, 0))
        p.info["transparency"] = green
        return p
    if mode == "LA":
        la = Image.new("LA", (32, 32), (200, 0))
        la.paste((0, 255), (8, 8, 24, 24))
        return la
    return rgba


def test_transparent_pixels_become_white_not_their_hidden_colour():
    for mode in ("RGBA", "P", "LA"):
        img = _hidden_colour(mode)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        with Image.open(io.BytesIO(buf.getvalue())) as im:
            out = square_resize(im, 16)
        assert min(out.getpixel((0, 0))) > 240, (mode, out.getpixel((0, 0)))
        assert max(out.getpixel((8, 8))) < 20, (mode, out.getpixel((8, 8)))


def test_loading_twice_changes_nothing():
    from diffusegae.data.images import upright_rgb

    with Image.open(io.BytesIO(_rotated_jpeg())) as im:
        once = upright_rgb(im)
    assert once.size == (32, 64) and once.mode == "RGB"
    twice = upright_rgb(once)
    assert twice.size == once.size and np.array_equal(np.asarray(twice), np.asarray(once))
    assert np.array_equal(np.asarray(square_resize(once, 16)), np.asarray(square_resize(twice, 16)))


def test_large_images_are_opened_reduced():
    from diffusegae.data.images import open_image

    big = Image.radial_gradient("L").resize((2400, 1600)).convert("RGB")
    buf = io.BytesIO()
    big.save(buf, format="JPEG", quality=90)
    jpeg = buf.getvalue()
    buf = io.BytesIO()
    big.save(buf, format="PNG")
    png = buf.getvalue()
    for data in (jpeg, png):
        small = open_image(io.BytesIO(data), min_side=64)
        assert 64 <= min(small.size) < 2 * 64 * 2 and small.mode == "RGB", small.size
        assert abs(small.size[0] / small.size[1] - 1.5) < 0.05
        full = square_resize(Image.open(io.BytesIO(data)), 16)
        diff = np.abs(np.asarray(square_resize(small, 16), dtype=float) - np.asarray(full, dtype=float)).mean()
        assert diff < 4, diff  # what the model sees hardly changes
    assert open_image(io.BytesIO(png)).size == (2400, 1600)  # no min_side: full size
