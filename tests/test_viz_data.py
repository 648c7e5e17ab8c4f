"""Data-walkthrough helpers: text tables, the layout tree, augmentation replay, figures (headless)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance

from gconet_lab.data import AugmentConfig, TrainTransform, index_set, make_train_loader
from gconet_lab.data.transforms import image_to_tensor, mask_to_tensor
from gconet_lab.lab.viz.data import (
    augmentation_events,
    augmentation_grid,
    batch_figure,
    describe_events,
    format_table,
    group_montage,
    group_size_histogram,
    layout_tree,
    overlay_mask,
    set_summary,
    tensor_pair_to_display,
)


def test_format_table_aligns_numbers_right_and_text_left():
    table = format_table([{"name": "a", "value": 1.5, "n": 3}, {"name": "long name", "value": 10.25, "n": 12}], floatfmt=".2f")
    lines = table.splitlines()
    assert lines[0].split() == ["name", "value", "n"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert lines[2] == "a           1.50   3"
    assert lines[3] == "long name  10.25  12"
    assert format_table([]) == ""


def test_format_table_takes_a_column_order_and_fills_missing_cells():
    table = format_table([{"a": 1, "b": "x"}, {"a": 2}], columns=["b", "a"])
    assert table.splitlines()[0].split() == ["b", "a"]
    assert table.splitlines()[3].split() == ["2"]


def test_layout_tree_and_set_summary(write_cosod_set):
    root = write_cosod_set({"cat": 3, "dog": 2, "fox": 2})
    tree = layout_tree(root, ["Tiny"], groups_per_set=2, files_per_group=2)
    assert tree.splitlines()[0] == "images/"
    assert "    Tiny/  (3 groups)" in tree
    assert "        cat/  (3 files)" in tree and "            ... (1 more files)" in tree
    assert "        ... (1 more groups)" in tree and "fox" not in tree
    assert "            cat_00.png" in tree  # masks under gts/
    summary = set_summary([index_set(root, "Tiny")])
    assert summary == [{"set": "Tiny", "groups": 3, "images": 7, "min": 2, "median": 2.0, "max": 3}]


def test_overlay_mask_blends_only_where_the_mask_is():
    image = np.full((4, 4, 3), 100, np.uint8)
    mask = np.zeros((4, 4))
    mask[0, 0] = 1.0
    blended = overlay_mask(image, mask, colour=(200, 0, 0), alpha=1.0)
    assert blended[0, 0].tolist() == [200, 0, 0] and (blended[1:] == 100).all()
    assert np.array_equal(overlay_mask(image, mask * 255, colour=(200, 0, 0), alpha=1.0), blended)  # 0..255 masks too


def _replay(image: np.ndarray, mask: np.ndarray, events: dict, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the events by hand with Pillow, in the official order."""
    image_pil, mask_pil = Image.fromarray(image), Image.fromarray(mask.astype(np.float32))
    if events.get("crop"):
        image_pil, mask_pil = (p.resize(p.size, Image.Resampling.BILINEAR, events["crop"]) for p in (image_pil, mask_pil))
    if events["flip"]:
        image_pil, mask_pil = (p.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for p in (image_pil, mask_pil))
    if events["angle"] is not None:
        image_pil = image_pil.rotate(events["angle"], Image.Resampling.BICUBIC)
        mask_pil = Image.fromarray(np.clip(np.asarray(mask_pil.rotate(events["angle"], Image.Resampling.BICUBIC)), 0, 1))
    for enhancer, name in ((ImageEnhance.Brightness, "brightness"), (ImageEnhance.Contrast, "contrast"),
                           (ImageEnhance.Color, "colour"), (ImageEnhance.Sharpness, "sharpness")):
        if name in events:
            image_pil = enhancer(image_pil).enhance(events[name])
    return image_to_tensor(image_pil, size), mask_to_tensor(mask_pil, size)


@pytest.mark.parametrize("config", [AugmentConfig(), AugmentConfig(rotate_p=1.0), AugmentConfig(enhance=False, flip_p=1.0),
                                    AugmentConfig(zoom_p=0.5)])
def test_augmentation_events_say_what_the_transform_does(config):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (20, 28, 3)).astype(np.uint8)
    mask = np.zeros((20, 28), np.float32)
    mask[3:12, 2:9] = 1.0
    transform = TrainTransform(16, config)
    for seed in range(8):
        events = augmentation_events(np.random.default_rng(seed), config, mask)
        expected = _replay(image, mask, events, 16)
        actual = transform(image, mask, np.random.default_rng(seed))
        assert torch.equal(actual[0], expected[0]) and torch.equal(actual[1], expected[1]), (seed, events)
        assert ("brightness" in events) == config.enhance
        if config.rotate_p == 1.0:
            assert -config.max_angle <= events["angle"] < config.max_angle
        assert ("crop" in events) == (config.zoom_p > 0)
    if config.zoom_p > 0:
        with pytest.raises(ValueError, match="needs the mask"):
            augmentation_events(np.random.default_rng(0), config)


def test_describe_events_is_short():
    assert describe_events({"flip": True, "angle": -7}) == "flip, rot -7"
    text = describe_events({"flip": False, "angle": None, "brightness": 1.2, "contrast": 0.8, "colour": 1.5, "sharpness": 2.0})
    assert text == "no flip\nb1.2 c0.8 col1.5 sh2.0"


def test_tensor_pair_to_display_undoes_the_normalisation():
    image = np.arange(3 * 4 * 4, dtype=np.uint8).reshape(4, 4, 3) * 5
    mask = np.eye(4, dtype=np.float32)
    rgb, soft = tensor_pair_to_display(*TrainTransform(4, config=None)(image, mask, rng=None))
    assert rgb.dtype == np.uint8 and np.abs(rgb.astype(int) - image).max() <= 1
    assert np.allclose(soft, mask)


def test_figures_have_a_panel_per_item(write_cosod_set):
    root = write_cosod_set({"cat": 4, "dog": 4})
    indexed = index_set(root, "Tiny")
    images = [np.zeros((8, 8, 3), np.uint8)] * 3
    masks = [np.ones((8, 8))] * 3
    assert len(group_montage(images, masks, title="t").axes) == 6
    assert len(group_size_histogram([indexed, indexed], max_group_size=3).axes) == 2
    batch = next(iter(make_train_loader([indexed], image_size=32, max_group_size=3, seed=0)))
    figure = batch_figure(batch, per_group=2)
    assert len(figure.axes) == 4 and "group A" in figure.axes[0].get_ylabel()
    draws = [TrainTransform(16)(images[0], masks[0], np.random.default_rng(s)) for s in range(2)]
    assert len(augmentation_grid(draws, titles=["a", "b"]).axes) == 6
