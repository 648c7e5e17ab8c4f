"""Renderers and figures of the analysis notebooks (headless)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gconet_lab.lab.viz.feature_maps import channel_mean, decoder_features_figure
from gconet_lab.lab.viz.metric_plots import paired_scores_figure
from gconet_lab.lab.viz.overlays import (
    FALSE_COLOUR,
    MISSED_COLOUR,
    cam_figure,
    cosegmentation_figure,
    cutout,
    draw_boxes,
    error_overlay,
    error_regions,
    failure_figure,
    photo_in_groups_figure,
    thumbnails_figure,
)
from gconet_lab.studies.apps import CoSegmentation
from gconet_lab.studies.group_test import PhotoInGroups


def test_channel_mean_shows_where_the_features_respond():
    features = torch.zeros(4, 5, 6)
    features[:, 1, 2] = 3.0
    mean = channel_mean(features)
    assert mean.shape == (5, 6) and mean[1, 2] == 1.0 and mean.sum() == 1.0


def test_error_regions_and_overlay_colour_missed_and_false_pixels():
    truth = np.zeros((4, 4), np.float32)
    truth[:2] = 1.0
    prediction = np.zeros((4, 4), np.uint8)
    prediction[1:3] = 255
    missed, false = error_regions(truth, prediction)
    assert missed.nonzero()[0].tolist() == [0] * 4 and false.nonzero()[0].tolist() == [2] * 4
    overlay = error_overlay(np.zeros((4, 4, 3), np.uint8), truth, prediction, alpha=1.0)
    assert tuple(overlay[0, 0]) == MISSED_COLOUR and tuple(overlay[2, 0]) == FALSE_COLOUR
    assert tuple(overlay[1, 0]) == (0, 0, 0) and tuple(overlay[3, 0]) == (0, 0, 0)


def test_draw_boxes_and_cutout():
    image = np.zeros((10, 10, 3), np.uint8)
    boxed = draw_boxes(image, [(2, 2, 8, 8)], [(255, 0, 0)], thickness=1)
    assert tuple(boxed[2, 5]) == (255, 0, 0) and tuple(boxed[5, 5]) == (0, 0, 0) and image.max() == 0
    mask = np.zeros((10, 10), bool)
    mask[:5] = True
    cut = cutout(np.full((10, 10, 3), 7, np.uint8), mask)
    assert (cut[:5] == 7).all() and (cut[5:] == 255).all()


def test_figures_have_a_panel_per_picture():
    image, truth = np.zeros((16, 16, 3), np.uint8), np.ones((16, 16), np.float32)
    features = [torch.randn(8, 2, 2), torch.randn(4, 16, 16)]
    figure = decoder_features_figure(image, truth, {"A": (features, truth), "B": (features, truth)}, levels=[0, 1])
    assert len(figure.axes) == 4 * 4 and figure.axes[1].get_title() == "p5" and figure.axes[4].get_ylabel() == "A: PCA"
    cams = {"ACM": {"Grad-CAM": truth, "EigenCAM": truth}, "saliency": {"Grad-CAM": truth, "EigenCAM": truth}}
    assert len(cam_figure(image, cams).axes) == 2 * 3
    assert len(failure_figure(image, truth, {"A": truth, "B": truth}, "x").axes) == 6
    result = CoSegmentation(truth > 0, truth > 0)
    assert len(cosegmentation_figure([image], [truth], [result], [truth]).axes) == 6
    assert len(thumbnails_figure([image, image], [((1, 1, 5, 5), (0, 0, 8, 8))] * 2).axes) == 4


def test_paired_scores_figure_matches_images_by_group_and_name():
    a = [{"group": "g", "name": "x", "S": 0.2}, {"group": "g", "name": "y", "S": 0.8}]
    b = [{"group": "g", "name": "y", "S": 0.6}, {"group": "g", "name": "x", "S": 0.4}]
    points = paired_scores_figure(a, b, ("A", "B")).axes[0].collections[0].get_offsets()
    assert np.asarray(points).tolist() == [[0.2, 0.4], [0.8, 0.6]]


def test_photo_in_groups_figure_draws_each_photo_in_each_of_its_groups():
    image = np.zeros((12, 16, 3), np.uint8)
    left, right = np.zeros((12, 16), np.float32), np.zeros((12, 16), np.float32)
    left[:, :8], right[:, 8:] = 1, 1
    two = PhotoInGroups("two", image, {"cup": left, "dog": right}, {"cup": left * 0.5, "dog": right * 0.25},
                        {"cup": np.eye(3), "dog": np.ones((3, 3))})
    three = PhotoInGroups("three", image, {"a": left, "b": right, "c": left}, {"a": left, "b": right, "c": right},
                          {"a": np.eye(3), "b": np.eye(3), "c": np.eye(3)})
    figure = photo_in_groups_figure([two, three])
    assert len(figure.axes) == 2 * (1 + 3 * 2)  # the photo, then mask and map in each of up to three groups
    titles = [axis.get_title() for axis in figure.axes[:7]]
    assert titles == ["photo", "cup: mask", "cup: map", "dog: mask", "dog: map", "", ""]
    assert not figure.axes[5].images and figure.axes[0].get_ylabel() == "two"
    np.testing.assert_array_equal(figure.axes[2].images[0].get_array(), left * 0.5)
    np.testing.assert_array_equal(figure.axes[3].images[0].get_array(), right)
    assert figure.axes[13].get_title() == "c: map"
    attention = photo_in_groups_figure([two], {"attention": [two.attention]})
    assert [axis.get_title() for axis in attention.axes] == ["photo", "cup: attention", "dog: attention"]
    assert attention.axes[1].images[0].get_array().shape == (12, 16, 3)  # over the photo, at its size
    with pytest.raises(ValueError, match="layer 'map' has 1 entries for 2 photos"):
        photo_in_groups_figure([two, three], {"map": [two.maps]})
