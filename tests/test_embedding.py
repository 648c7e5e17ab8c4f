"""F_r (Sec. 3.5-3.6), the 2-D projection and the separation ratio."""

from __future__ import annotations

import math

import pytest
import torch

from gconet_lab.models import GCoNetPlus
from gconet_lab.studies.embedding import masked_image_features, pca_2d, separation_ratio


@pytest.mark.parametrize("space", ["raw", "normalized"])
def test_masked_image_features_are_the_features_the_model_trains_gst_on(tiny_config, space):
    model = GCoNetPlus(tiny_config.replace(racm_mask_space=space)).train()
    images = torch.randn(4, 3, 64, 64)
    output = model(images)
    assert torch.allclose(masked_image_features(model, images, output.saliency), output.gst_features, atol=1e-5)


def test_masked_image_features_ignore_pixels_outside_the_mask(tiny_config):
    model = GCoNetPlus(tiny_config).eval()
    images = torch.randn(2, 3, 64, 64)
    mask = torch.zeros(2, 1, 64, 64)
    mask[..., 16:48, 16:48] = 1.0
    changed = images.clone()
    changed[..., :8, :] = torch.randn(2, 3, 8, 64)  # outside the mask
    with torch.no_grad():
        assert torch.allclose(masked_image_features(model, images, mask), masked_image_features(model, changed, mask), atol=1e-6)
        assert not torch.allclose(masked_image_features(model, images, mask), masked_image_features(model, images, 1 - mask))


def test_pca_2d_of_points_on_a_line_keeps_their_spacing_in_one_axis():
    direction = torch.tensor([3.0, 4.0, 0.0]) / 5
    features = torch.tensor([-2.0, 0.0, 1.0, 1.0])[:, None] * direction + torch.tensor([1.0, 1.0, 1.0])
    points, explained = pca_2d(features)
    assert torch.allclose(points[:, 0], torch.tensor([2.0, 0.0, -1.0, -1.0]), atol=1e-6)  # centred; the largest is positive
    assert torch.allclose(points[:, 1], torch.zeros(4), atol=1e-6)
    assert torch.allclose(explained, torch.tensor([1.0, 0.0]), atol=1e-6)


def test_pca_2d_is_independent_of_the_features_sign_and_rejects_one_sample():
    features = torch.randn(10, 6)
    assert torch.allclose(pca_2d(features)[0], pca_2d(-features)[0], atol=1e-5)
    with pytest.raises(ValueError, match="N >= 2"):
        pca_2d(features[:1])


def test_separation_ratio_by_hand():
    # two groups of two, 1 apart inside a group; between-group distances 3, sqrt(10), sqrt(10), 3
    features = torch.tensor([[0.0, 0.0], [0.0, 1.0], [3.0, 0.0], [3.0, 1.0]])
    labels = torch.tensor([0, 0, 1, 1])
    assert separation_ratio(features, labels) == pytest.approx((3 + math.sqrt(10)) / 2)
    with pytest.raises(ValueError, match="two groups"):
        separation_ratio(features, torch.zeros(4, dtype=torch.long))
