"""Image loading: every PIL mode becomes RGB as Video-LLaVA's ``.convert("RGB")``; bad files: MediaError."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mmbind.errors import MediaError
from mmbind.media import load_image


def save(image: Image.Image, path, **kwargs) -> str:
    image.save(path, **kwargs)
    return str(path)


def test_grayscale_is_replicated_to_three_channels(tmp_path):
    gray = np.arange(12 * 10, dtype=np.uint8).reshape(10, 12)
    image = load_image(save(Image.fromarray(gray, "L"), tmp_path / "g.png"))
    assert image.mode == "RGB" and image.size == (12, 10)
    np.testing.assert_array_equal(np.asarray(image), np.repeat(gray[..., None], 3, axis=2))


def test_alpha_is_dropped_not_composited(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., :3] = (200, 10, 30)  # colour stored under...
    rgba[0, 0, 3] = 0  # ...a fully transparent pixel
    rgba[1:, :, 3] = 128
    image = load_image(save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png"))
    assert image.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(image), rgba[..., :3])  # neither black nor white background
    la = Image.fromarray(np.stack([np.full((3, 3), 77, np.uint8), np.zeros((3, 3), np.uint8)], -1), "LA")
    loaded = np.asarray(load_image(save(la, tmp_path / "la.png")))
    np.testing.assert_array_equal(loaded, np.full((3, 3, 3), 77))


def test_palette_images_use_their_palette_even_with_transparency(tmp_path):
    indices = np.array([[0, 1], [2, 1]], np.uint8)
    palette = Image.fromarray(indices, "P")
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 9))
    expected = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [0, 255, 0]]], np.uint8)
    np.testing.assert_array_equal(np.asarray(load_image(save(palette, tmp_path / "p.png"))), expected)
    gif = load_image(save(palette, tmp_path / "p.gif", transparency=1))
    np.testing.assert_array_equal(np.asarray(gif), expected)  # transparent index keeps its palette colour


@pytest.mark.parametrize("size", [(1, 50), (50, 1), (1, 1), (3000, 2)])
def test_degenerate_sizes_load(tmp_path, size):
    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = load_image(save(Image.fromarray(pixels), tmp_path / "odd.png"))
    assert image.size == size
    np.testing.assert_array_equal(np.asarray(image), pixels)


def test_cmyk_jpeg_is_converted(tmp_path):
    image = load_image(save(Image.new("CMYK", (5, 4), (0, 255, 255, 0)), tmp_path / "c.jpg", quality=100))
    assert image.mode == "RGB" and image.size == (5, 4)
    assert np.abs(np.asarray(image).astype(int) - (255, 0, 0)).max() <= 3  # red


def test_bad_image_files_raise_media_error_naming_them(tmp_path):
    with pytest.raises(MediaError, match=r"image file not found: .*nope\.png$"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(MediaError, match=rf"image path is not a regular file: {tmp_path}$"):
        load_image(tmp_path)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(MediaError, match=r"cannot read image .*text\.png: cannot identify image file"):
        load_image(tmp_path / "text.png")
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for name in ("cut.png", "cut.jpg"):
        Image.fromarray(pixels).save(tmp_path / f"full_{name}")
        data = (tmp_path / f"full_{name}").read_bytes()
        (tmp_path / name).write_bytes(data[: len(data) // 2])
        with pytest.raises(MediaError, match=rf"cannot read image .*{name}: .*(truncated|broken|not enough)"):
            load_image(tmp_path / name)


def _saved(tmp_path, array: np.ndarray, name: str) -> np.ndarray:
    Image.fromarray(array).save(tmp_path / name)
    return np.asarray(load_image(tmp_path / name))


def test_16_bit_images_are_scaled_by_their_range_not_clipped(tmp_path):
    ramp = np.linspace(0, 65535, 48 * 64).reshape(48, 64).astype(np.uint16)
    out = _saved(tmp_path, ramp, "depth16.png")
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8
    expected = np.rint(ramp / 65535 * 255).astype(np.uint8)
    assert np.array_equal(out[..., 0], expected) and np.array_equal(out[..., 2], expected)
    assert np.asarray(Image.open(tmp_path / "depth16.png").convert("RGB")).mean() > 250  # PIL alone saturates


def test_float_images_in_unit_range_and_beyond(tmp_path):
    unit = np.linspace(0, 1, 48 * 64, dtype=np.float32).reshape(48, 64)
    out = _saved(tmp_path, unit, "unit.tiff")
    assert np.array_equal(out[..., 1], np.rint(unit.astype(np.float64) * 255).astype(np.uint8))
    metres = unit * 10 + 2  # a depth map in metres: its own minimum..maximum
    out = _saved(tmp_path, metres, "metres.tiff")
    assert out[..., 0].min() == 0 and out[..., 0].max() == 255
    assert abs(float(out.mean()) - 127.5) < 1.0
    flat = np.full((8, 8), 7.5, np.float32)
    assert _saved(tmp_path, flat, "flat.tiff").max() == 0


def test_32_bit_integer_images_use_the_range_that_holds_them(tmp_path):
    small = np.arange(48 * 64, dtype=np.int32).reshape(48, 64) % 256
    assert np.array_equal(_saved(tmp_path, small, "small.tiff")[..., 0], small.astype(np.uint8))
    wide = (np.arange(48 * 64, dtype=np.int32).reshape(48, 64) * 20)  # up to 61420: a 16-bit range
    assert np.array_equal(_saved(tmp_path, wide, "wide.tiff")[..., 0],
                          np.rint(wide / 65535 * 255).astype(np.uint8))
