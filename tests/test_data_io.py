"""gconet_lab.data.io: every image/mask file flavour, and errors that name the file."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from gconet_lab.data.io import DataError, image_size, read_image, read_mask

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (6, 5, 3)).astype(np.uint8)
GREY = RNG.integers(0, 256, (6, 5)).astype(np.uint8)


def save(path: Path, image: Image.Image, **options) -> Path:
    image.save(path, **options)
    return path


# --- images ---------------------------------------------------------------------------------


def test_rgb_png_round_trips(tmp_path: Path) -> None:
    out = read_image(save(tmp_path / "a.png", Image.fromarray(RGB)))
    assert out.dtype == np.uint8 and out.shape == (6, 5, 3)
    np.testing.assert_array_equal(out, RGB)


def test_grey_image_is_repeated_to_three_channels(tmp_path: Path) -> None:
    out = read_image(save(tmp_path / "g.png", Image.fromarray(GREY)))
    np.testing.assert_array_equal(out, np.repeat(GREY[:, :, None], 3, axis=2))


def test_palette_image_uses_its_colours(tmp_path: Path) -> None:
    palette_image = Image.fromarray(RGB).quantize(colors=8)
    expected = np.asarray(palette_image.convert("RGB"))
    out = read_image(save(tmp_path / "p.png", palette_image))
    np.testing.assert_array_equal(out, expected)


def test_rgba_image_drops_alpha(tmp_path: Path) -> None:
    rgba = np.dstack([RGB, np.full((6, 5), 10, np.uint8)])
    out = read_image(save(tmp_path / "rgba.png", Image.fromarray(rgba)))
    np.testing.assert_array_equal(out, RGB)  # colours kept, not composited on black


def test_sixteen_bit_grey_image_keeps_the_high_byte(tmp_path: Path) -> None:
    values = (GREY.astype(np.uint16) << 8) | 0x7F
    path = tmp_path / "g16.png"
    cv2.imwrite(str(path), values)
    np.testing.assert_array_equal(read_image(path)[..., 1], GREY)


def test_sixteen_bit_rgb_image_is_reduced_to_eight_bits(tmp_path: Path) -> None:
    values = (RGB.astype(np.uint16) << 8) | 0x7F
    path = tmp_path / "rgb16.png"
    cv2.imwrite(str(path), values[..., ::-1])  # OpenCV writes BGR
    np.testing.assert_array_equal(read_image(path), RGB)


def test_jpeg_image_and_header_size(tmp_path: Path) -> None:
    path = save(tmp_path / "a.jpg", Image.fromarray(RGB), quality=95)
    assert read_image(path).shape == (6, 5, 3)
    assert image_size(path) == (6, 5)


# --- masks ----------------------------------------------------------------------------------


def test_mask_0_255_is_scaled(tmp_path: Path) -> None:
    mask = np.array([[0, 255], [255, 0]], np.uint8)
    out = read_mask(save(tmp_path / "m.png", Image.fromarray(mask)))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, mask / 255.0)


def test_mask_0_1_is_detected_and_not_divided(tmp_path: Path) -> None:
    mask = np.array([[0, 1], [1, 0]], np.uint8)
    out = read_mask(save(tmp_path / "m01.png", Image.fromarray(mask)))
    np.testing.assert_array_equal(out, mask.astype(np.float32))


def test_soft_mask_stays_soft(tmp_path: Path) -> None:
    out = read_mask(save(tmp_path / "soft.png", Image.fromarray(GREY)))
    np.testing.assert_allclose(out, GREY / 255.0, rtol=0, atol=1e-7)


def test_one_bit_mask(tmp_path: Path) -> None:
    bits = Image.fromarray(np.array([[0, 255], [255, 255]], np.uint8)).convert("1")
    out = read_mask(save(tmp_path / "bits.png", bits))
    np.testing.assert_array_equal(out, [[0.0, 1.0], [1.0, 1.0]])


def test_sixteen_bit_mask(tmp_path: Path) -> None:
    values = np.array([[0, 65535], [32768, 0]], np.uint16)
    path = tmp_path / "m16.png"
    cv2.imwrite(str(path), values)
    np.testing.assert_allclose(read_mask(path), values / 65535.0, atol=1e-7)


def test_palette_mask_uses_grey_levels(tmp_path: Path) -> None:
    palette = Image.fromarray(np.array([[0, 1], [1, 0]], np.uint8), mode="P")
    palette.putpalette([0, 0, 0, 255, 255, 255])
    out = read_mask(save(tmp_path / "pm.png", palette))
    np.testing.assert_array_equal(out, [[0.0, 1.0], [1.0, 0.0]])


def test_rgb_and_rgba_masks_use_luma(tmp_path: Path) -> None:
    white = np.zeros((2, 2, 4), np.uint8)
    white[0, 0] = (255, 255, 255, 0)
    out = read_mask(save(tmp_path / "rgba_mask.png", Image.fromarray(white)))
    np.testing.assert_array_equal(out, [[1.0, 0.0], [0.0, 0.0]])


# --- errors ---------------------------------------------------------------------------------


def test_missing_file_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.png"
    with pytest.raises(DataError, match=r"nope\.png: file does not exist"):
        read_image(path)


def test_truncated_jpeg_error_names_the_file(tmp_path: Path) -> None:
    path = save(
        tmp_path / "cut.jpg", Image.fromarray(RNG.integers(0, 256, (64, 64, 3)).astype(np.uint8))
    )
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(DataError, match=r"cut\.jpg: cannot decode"):
        read_image(path)


def test_truncated_png_mask_error_names_the_file(tmp_path: Path) -> None:
    path = save(
        tmp_path / "cut.png", Image.fromarray(RNG.integers(0, 256, (64, 64)).astype(np.uint8))
    )
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match=r"cut\.png"):
        read_mask(path)


def test_corrupt_file_error_names_the_file_and_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.png"
    path.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match=r"junk\.png"):
        read_mask(path)
    with pytest.raises(DataError, match=r"junk\.png"):
        image_size(path)


# --- an oversized image, colour masks -------------------------------------------------------------


def test_image_over_the_decompression_bomb_limit_is_refused_naming_the_file(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    Image.new("RGB", (100, 100)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 10,000 pixels is over twice the limit
    with pytest.raises(DataError, match=r"huge\.png: cannot decode image"):
        read_image(path)


@pytest.mark.parametrize("mode, colour", [("RGB", (255, 0, 0)), ("RGBA", (0, 128, 255, 255))])
def test_colour_mask_is_refused_naming_the_file(tmp_path, mode, colour):
    path = tmp_path / "colour_mask.png"
    image = Image.new(mode, (6, 4))
    image.paste(colour, (1, 1, 4, 3))
    image.save(path)
    with pytest.raises(DataError, match=r"colour_mask\.png: a colour mask"):
        read_mask(path)


def test_grey_mask_saved_in_rgb_is_still_read(tmp_path):
    path = tmp_path / "grey.png"
    Image.new("RGB", (6, 4), (250, 255, 252)).save(path)  # JPEG-like chroma noise on white
    assert read_mask(path).min() > 0.9
