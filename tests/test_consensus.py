"""The consensus probes: attention mass by region (hand-computed), and a consensus swap that takes effect."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gconet_lab.config import make_config
from gconet_lab.models import GCoNetPlus
from gconet_lab.studies.consensus import attention_mass, group_consensus, region_consensus, replaced_consensus


def test_attention_mass_of_a_one_hot_and_of_a_uniform_attention():
    regions = np.zeros((2, 8, 8), dtype=bool)
    regions[1, :4, :2] = True  # image 1: a quarter of the top-left 4 x 4 cell
    split = {"object": regions, "rest": ~regions}
    one_hot = torch.zeros(2, 1, 2, 2)
    one_hot[1, 0, 0, 0] = 1.0  # all mass on the top-left cell of image 1
    assert attention_mass(one_hot, split) == pytest.approx({"object": 0.5, "rest": 0.5})
    uniform = torch.full((2, 1, 2, 2), 0.125)
    assert attention_mass(uniform, split) == pytest.approx({"object": 8 / 128, "rest": 120 / 128})


def test_attention_mass_does_not_depend_on_the_mask_size_when_it_is_not_a_multiple_of_the_grid():
    shares = []
    for side in (8, 16, 17):  # 3 cells over 8 or 17 pixels: cells of unequal pixel counts
        left = np.zeros((2, side, side), dtype=bool)
        left[:, :, : side // 2] = True
        shares.append(attention_mass(torch.ones(2, 1, 3, 3), {"left": left, "right": ~left})["left"])
    assert shares[0] == pytest.approx(0.5) and shares[1] == pytest.approx(0.5)
    assert shares[2] == pytest.approx(8 / 17, abs=0.03)  # 8 of 17 columns, up to the pooling bins' overlap


def test_attention_mass_refuses_masks_that_do_not_match_the_group():
    with pytest.raises(ValueError, match="3 images"):
        attention_mass(torch.ones(3, 1, 2, 2), {"object": np.ones((2, 8, 8), dtype=bool)})
    with pytest.raises(ValueError, match="zero everywhere"):
        attention_mass(torch.zeros(2, 1, 2, 2), {"object": np.ones((2, 8, 8), dtype=bool)})


@pytest.fixture(scope="module")
def model_and_groups():
    torch.manual_seed(0)
    model = GCoNetPlus(make_config("tiny", image_size=64)).eval()
    return model, torch.rand(3, 3, 64, 64), torch.rand(3, 3, 64, 64)


def test_swapping_in_another_groups_consensus_changes_the_maps_and_only_inside_the_block(model_and_groups):
    model, group_a, group_b = model_and_groups

    def decoded(images):  # the coarsest decoder features, where F (x) E enters (untrained, the maps barely move)
        return model(images, return_intermediates=True).intermediates.decoder_features[0]

    with torch.inference_mode():
        own = decoded(group_a)
        with replaced_consensus(model, group_consensus(model, group_a)):
            same = decoded(group_a)
        with replaced_consensus(model, group_consensus(model, group_b)):
            swapped = decoded(group_a)
        after = decoded(group_a)
    torch.testing.assert_close(same, own)
    assert (swapped - own).abs().max() > 1e-3 * own.abs().max()
    torch.testing.assert_close(after, own)


def test_replaced_consensus_refuses_a_wrong_shape_and_a_model_without_gam(model_and_groups):
    model, group_a, _ = model_and_groups
    with pytest.raises(ValueError, match="shape"), replaced_consensus(model, torch.ones(1, 3, 1, 1)):
        model(group_a)
    assert not model.gam._forward_hooks  # removed after the error
    without_gam = GCoNetPlus(make_config("tiny", image_size=64, use_gam=False, use_gcm=False))
    with pytest.raises(ValueError, match="no GAM"), replaced_consensus(without_gam, torch.ones(1, 8, 1, 1)):
        pass


def test_region_consensus_of_one_cell_is_that_cells_feature_pooled_like_gam(model_and_groups):
    model, group_a, _ = model_and_groups
    region = np.zeros((3, 64, 64), dtype=bool)
    region[1, 32:, :32] = True  # exactly the bottom-left cell of image 1 at the deepest level (2 x 2 at 64 px)
    with torch.inference_mode():
        features = model.encoder(group_a)[-1]
        n, _, h, w = features.shape
        expected = features[1, :, 1, 0].view(1, -1, 1, 1) / (n * h * w)  # paper GAM: no output conv, mean over N h w
        torch.testing.assert_close(region_consensus(model, group_a, region), expected)
    with pytest.raises(ValueError, match="non-empty"):
        region_consensus(model, group_a, np.zeros((3, 64, 64), dtype=bool))
    with pytest.raises(ValueError, match=r"got shape \(3, 64\)"):
        region_consensus(model, group_a, np.ones((3, 64), dtype=bool))
    with pytest.raises(ValueError, match="no GAM"):
        region_consensus(GCoNetPlus(make_config("tiny", image_size=64, use_gam=False, use_gcm=False)), group_a, region)
