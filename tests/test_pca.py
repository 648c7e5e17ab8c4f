"""One PCA for every PCA picture: coordinates, variance shares, reproducible signs and RGB images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gconet_lab.studies.pca import pca_rgb, principal_components


def test_principal_components_of_points_on_a_line():
    direction = torch.tensor([3.0, 4.0, 0.0]) / 5
    samples = torch.tensor([-2.0, 0.0, 1.0, 1.0])[:, None] * direction + 1.0
    coordinates, share = principal_components(samples, 2)
    assert torch.allclose(coordinates[:, 0], torch.tensor([2.0, 0.0, -1.0, -1.0], dtype=torch.float64), atol=1e-6)
    assert torch.allclose(share, torch.tensor([1.0, 0.0], dtype=torch.float64), atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        principal_components(samples[None], 2)


def test_pca_rgb_gives_equal_colours_to_equal_features_whatever_their_sign():
    features = torch.randn(6, 4, 5)
    features[:, 0, 0] = features[:, 1, 1]
    colours = pca_rgb(features)
    assert colours.shape == (4, 5, 3) and colours.min() >= 0 and colours.max() <= 1
    assert np.allclose(colours[0, 0], colours[1, 1])
    assert np.allclose(pca_rgb(-features), colours, atol=1e-5)  # signs are fixed, not left to the solver


def test_pca_rgb_separates_two_kinds_of_pixels_and_pads_missing_components():
    features = torch.zeros(8, 4, 4)
    features[:, :, :2] = torch.randn(8, 1, 1)  # left half: one feature vector, right half: zeros
    rgb = pca_rgb(features + 1e-3 * torch.randn(8, 4, 4))
    assert abs(rgb[:, :2, 0].mean() - rgb[:, 2:, 0].mean()) > 0.9  # the first component splits the halves
    assert (pca_rgb(torch.randn(2, 3, 3))[..., 2] == 0).all()  # two channels: two components
    with pytest.raises(ValueError, match=r"\(C, h, w\)"):
        pca_rgb(torch.randn(1, 2, 3, 3))
