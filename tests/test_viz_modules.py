"""The module-walkthrough figures draw what they are given, and their helpers compute what they say."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gconet_lab.data import IMAGENET_MEAN
from gconet_lab.lab.viz.feature_maps import (
    affinity_heatmap,
    binarization_explorer,
    display_images,
    effective_count,
    group_map_grid,
    pixel_histograms,
    resize_maps,
)
from gconet_lab.models.cem import uncertain_fraction


def test_display_images_undo_the_normalisation_channels_last():
    pictures = display_images(torch.zeros(2, 3, 5, 7))  # a zero input is the ImageNet mean colour
    assert pictures.shape == (2, 5, 7, 3)
    np.testing.assert_allclose(pictures[1, 4, 6], IMAGENET_MEAN, atol=1e-6)


def test_resize_maps_keeps_a_constant_map_constant():
    maps = torch.full((3, 1, 2, 2), 0.25)
    resized = resize_maps(maps, (8, 6))
    assert resized.shape == (3, 8, 6)
    np.testing.assert_allclose(resized, 0.25)


def test_uncertain_fraction_counts_values_strictly_inside_the_band_per_map():
    values = torch.tensor([0.0, 0.05, 0.1, 0.5, 0.89, 0.9, 1.0, 0.3]).view(2, 1, 2, 2)
    assert uncertain_fraction(values).tolist() == pytest.approx([1 / 4, 2 / 4])  # 0.5 | 0.89, 0.3
    with pytest.raises(ValueError, match="batch of maps"):
        uncertain_fraction(values.flatten())


def test_effective_count_of_uniform_one_hot_and_two_level_weights():
    assert effective_count(torch.full((2, 4), 1 / 8)) == pytest.approx(8.0)
    assert effective_count(torch.tensor([0.0, 1.0, 0.0])) == pytest.approx(1.0)
    p = torch.tensor([0.5, 0.25, 0.25])  # entropy 1.5 ln 2 -> 2 ** 1.5
    assert effective_count(p) == pytest.approx(2**1.5)


def test_group_map_grid_scales_heatmap_rows_by_the_group_maximum():
    images = np.zeros((3, 8, 8, 3))
    attention = torch.tensor([1.0, 2.0, 4.0]).view(3, 1, 1, 1).expand(3, 1, 2, 2)
    masks = torch.full((3, 1, 2, 2), 0.5)
    figure = group_map_grid(images, {"attention": attention, "mask": masks}, heatmaps={"attention"}, column_titles="abc")
    axes = np.array(figure.axes).reshape(3, 3)
    assert axes[0][2].get_title() == "c" and axes[1][0].get_ylabel() == "attention"
    overlays = [axis.get_images()[-1].get_array().max() for axis in axes[1]]
    np.testing.assert_allclose(overlays, [0.25, 0.5, 1.0], rtol=1e-6)  # one scale for the whole group
    assert axes[2][0].get_images()[0].get_array().max() == pytest.approx(0.5)  # grey rows are not rescaled


def test_affinity_heatmap_draws_a_line_between_image_blocks():
    figure = affinity_heatmap(torch.rand(12, 12), block=4, labels=["a", "b", "c"])
    axis = figure.axes[0]
    assert len(axis.lines) == 4  # 2 horizontal + 2 vertical borders between 3 images
    assert [tick.get_text() for tick in axis.get_yticklabels()] == ["a", "b", "c"]


def test_binarization_explorer_reports_the_overflow_fallback():
    probability = torch.zeros(1, 1, 4, 4)
    threshold = torch.full((1, 1, 4, 4), 0.5)  # P - T = -0.5: exp(300 * 0.5) overflows float32
    figure = binarization_explorer(np.zeros((8, 8, 3)), probability, threshold, k=300.0)
    assert figure.axes[3].get_title() == "M, k = 50 (asked 300)"
    gentle = binarization_explorer(np.zeros((8, 8, 3)), probability, threshold, k=100.0)
    assert gentle.axes[3].get_title() == "M, k = 100"


def test_pixel_histograms_draw_one_panel_per_model():
    figure = pixel_histograms({"bce": torch.full((10,), 0.5), "iou": torch.ones(10)})
    titles = [axis.get_title() for axis in figure.axes]
    assert titles[0].startswith("bce") and "100%" in titles[0]
    assert titles[1].startswith("iou") and "0%" in titles[1]
