"""A group as model-ready tensors: resized images and masks, in the group's order, no augmentation."""

from __future__ import annotations

import torch

from gconet_lab.data import index_set
from gconet_lab.data.group_tensors import load_group


def test_load_group_gives_normalised_images_and_soft_masks_in_order(write_cosod_set):
    root = write_cosod_set({"cats": 3})
    group = index_set(root, "Tiny").groups[0]
    images, masks = load_group(group, size=32, limit=2)
    assert images.shape == (2, 3, 32, 32) and masks.shape == (2, 1, 32, 32)
    assert 0.0 <= float(masks.min()) and float(masks.max()) <= 1.0
    # the fixture's red channel is 200 inside the mask and 30 outside: red follows the mask
    red = images[:, 0]
    inside, outside = red[masks[:, 0] > 0.99], red[masks[:, 0] < 0.01]
    assert float(inside.mean()) > float(outside.mean()) + 1.0
    again, _ = load_group(group, size=32, limit=2)
    assert torch.equal(images, again)  # no random augmentation
    assert load_group(group, size=32)[0].shape[0] == 3
