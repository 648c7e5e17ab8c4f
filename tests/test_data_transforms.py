"""gconet_lab.data.transforms: joint augmentation keeps image and mask aligned; seeded; soft."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance

from gconet_lab.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentConfig,
    TrainTransform,
    color_enhance,
    denormalize,
    prepare_image,
    random_object_crop,
    random_rotate,
)


def red_is_mask(height: int = 40, width: int = 56) -> tuple[np.ndarray, np.ndarray]:
    """An image whose red channel equals the (asymmetric, binary) mask times 255."""
    mask = np.zeros((height, width), np.float32)
    mask[5:20, 4:18] = 1.0
    mask[25:35, 30:50] = 1.0
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = (mask * 255).astype(np.uint8)
    image[..., 2] = 90
    return image, mask


def test_flip_and_rotation_move_image_and_mask_together() -> None:
    image, mask = red_is_mask()
    transform = TrainTransform(32, AugmentConfig(flip_p=1.0, rotate_p=1.0, enhance=False))
    for seed in range(5):
        x, y = transform(image, mask, np.random.default_rng(seed))
        red = denormalize(x)[0]
        assert torch.allclose(red, y[0], atol=2 / 255)
    plain_x, _ = TrainTransform(32, None)(image, mask, np.random.default_rng(0))
    assert not torch.allclose(denormalize(plain_x)[0], y[0], atol=0.1)  # it really moved


def test_object_crop_keeps_the_whole_object_and_enlarges_it() -> None:
    _, mask = red_is_mask()
    rows, cols = np.mgrid[0:40, 0:56]
    image = np.stack([mask * 255, cols * 4, rows * 6], axis=-1).astype(np.uint8)  # green: column, blue: row
    rng, grown = np.random.default_rng(0), 0
    for _ in range(50):
        cropped_image, cropped_mask = random_object_crop(Image.fromarray(image), Image.fromarray(mask), rng, p=1.0)
        pixels, new_mask = np.asarray(cropped_image).astype(int), np.asarray(cropped_mask)
        assert cropped_image.size == (56, 40) and new_mask.shape == (40, 56)
        assert np.allclose(pixels[..., 0] / 255, new_mask, atol=2 / 255)  # still aligned
        on_object = new_mask > 0.99
        # the object's first and last columns and rows are all still in the picture: nothing was cut
        assert pixels[..., 1][on_object].min() <= 4 * 4 + 4 and pixels[..., 1][on_object].max() >= 49 * 4 - 4
        assert pixels[..., 2][on_object].min() <= 5 * 6 + 6 and pixels[..., 2][on_object].max() >= 34 * 6 - 6
        grown += new_mask.mean() > mask.mean() + 0.01
    assert grown > 40  # the object fills more of the image in nearly every crop


def test_object_crop_keeps_the_region_it_is_given_whole() -> None:
    # the mask is one square; keep is another one, in the opposite corner, that a crop around the mask may cut
    mask = np.zeros((40, 56), np.float32)
    mask[2:8, 2:8] = 1.0
    keep = np.zeros_like(mask)
    keep[30:38, 44:54] = 1.0
    image = np.zeros((40, 56, 3), np.uint8)
    image[..., 1] = (keep * 255).astype(np.uint8)  # green: the region to keep
    kept_area = lambda crop: (np.asarray(crop)[..., 1] > 127).sum()  # noqa: E731
    rng, cut_without_keep = np.random.default_rng(0), 0
    for _ in range(30):
        with_keep, _ = random_object_crop(Image.fromarray(image), Image.fromarray(mask), rng, p=1.0, keep=keep)
        assert kept_area(with_keep) >= keep.sum()  # whole, and enlarged as the crop zooms in
        without_keep, _ = random_object_crop(Image.fromarray(image), Image.fromarray(mask), rng, p=1.0)
        cut_without_keep += kept_area(without_keep) < keep.sum()
    assert cut_without_keep > 0  # around the mask alone the other square is often cut


def test_object_crop_leaves_an_empty_mask_and_p_zero_alone() -> None:
    image, mask = red_is_mask()
    rng = np.random.default_rng(0)
    empty = Image.fromarray(np.zeros_like(mask))
    assert random_object_crop(Image.fromarray(image), empty, rng, p=1.0)[1] is empty
    state = rng.bit_generator.state
    out_image, _ = random_object_crop(Image.fromarray(image), Image.fromarray(mask), rng, p=0.0)
    assert np.array_equal(np.asarray(out_image), image)
    assert rng.bit_generator.state == state  # p = 0 draws nothing: the official augmentation's draws are unchanged


class AngleRecorder:
    """Stands in for a PIL image and records the angles it is rotated by."""

    def __init__(self) -> None:
        self.angles: list[int] = []

    def rotate(self, angle: int, resample: int) -> AngleRecorder:
        self.angles.append(angle)
        return self


def test_rotation_angle_is_an_integer_in_minus_15_to_14() -> None:
    recorder, mask = AngleRecorder(), Image.new("F", (4, 4))
    rng = np.random.default_rng(0)
    for _ in range(400):
        random_rotate(recorder, mask, rng, p=1.0, max_angle=15)  # type: ignore[arg-type]
    assert set(recorder.angles) == set(range(-15, 15))


def test_rotation_probability() -> None:
    recorder, mask = AngleRecorder(), Image.new("F", (4, 4))
    rng = np.random.default_rng(0)
    for _ in range(2000):
        random_rotate(recorder, mask, rng, p=0.2, max_angle=15)  # type: ignore[arg-type]
    assert 0.17 < len(recorder.angles) / 2000 < 0.23


def test_rotated_mask_is_clipped_to_unit_range() -> None:
    _, mask = red_is_mask()
    _, rotated = random_rotate(
        Image.new("RGB", (56, 40)), Image.fromarray(mask), np.random.default_rng(1), 1.0, 15
    )
    values = np.asarray(rotated)
    assert values.min() >= 0.0 and values.max() <= 1.0


def test_colour_enhancement_changes_the_image_but_never_the_mask() -> None:
    image, mask = red_is_mask()
    config = AugmentConfig(flip_p=0.0, rotate_p=0.0, enhance=True)
    x, y = TrainTransform(32, config)(image, mask, np.random.default_rng(3))
    plain_x, plain_y = TrainTransform(32, None)(image, mask, np.random.default_rng(3))
    assert torch.equal(y, plain_y)
    assert not torch.allclose(x, plain_x)


def test_enhancement_replays_the_official_recipe() -> None:
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (9, 9, 3)).astype(np.uint8))
    out = color_enhance(image, np.random.default_rng(7))
    replay, expected = np.random.default_rng(7), image
    for enhancer, low, high in (
        (ImageEnhance.Brightness, 5, 15),
        (ImageEnhance.Contrast, 5, 15),
        (ImageEnhance.Color, 0, 20),
        (ImageEnhance.Sharpness, 0, 30),
    ):
        expected = enhancer(expected).enhance(int(replay.integers(low, high + 1)) / 10)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(expected))


def test_same_seed_same_output_other_seed_other_output() -> None:
    image, mask = red_is_mask()
    transform = TrainTransform(32)
    a = transform(image, mask, np.random.default_rng(11))
    b = transform(image, mask, np.random.default_rng(11))
    c = transform(image, mask, np.random.default_rng(12))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_shapes_normalisation_and_soft_masks() -> None:
    image, mask = red_is_mask()
    mask = mask * 0.5  # soft
    x, y = TrainTransform(24, None)(image, mask, np.random.default_rng(0))
    assert x.shape == (3, 24, 24) and y.shape == (1, 24, 24)
    assert x.dtype == torch.float32 and y.dtype == torch.float32
    assert y.max().item() == pytest.approx(0.5) and y[y > 0].min().item() > 0
    blue = (90 / 255 - IMAGENET_MEAN[2]) / IMAGENET_STD[2]
    assert x[2].mean().item() == pytest.approx(blue, abs=1e-5)


def test_prepare_image_is_plain_resize_and_normalise() -> None:
    image, mask = red_is_mask()
    expected, _ = TrainTransform(16, None)(image, mask, np.random.default_rng(0))
    assert torch.equal(prepare_image(image, 16), expected)
