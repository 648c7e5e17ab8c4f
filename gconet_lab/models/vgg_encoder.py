"""The VGG16-BN encoder of GCoNet+ (Sec. 4.3), cut into five stages exactly as the official code.

ImageNet weights come only through torchvision's weights API and only when asked for
(``pretrained=True``).  Nothing is downloaded at import or at construction otherwise; when there is
no network and no cached file, :class:`PretrainedWeightsUnavailable` says which file to put where.
"""

from __future__ import annotations

import os
import urllib.error

import torch
from torch import Tensor, nn
from torchvision.models import VGG16_BN_Weights, vgg16_bn

# Slices of ``vgg16_bn().features`` (the last max-pool, index 43, is dropped).
VGG16_BN_STAGES: tuple[tuple[int, int], ...] = ((0, 6), (6, 13), (13, 23), (23, 33), (33, 43))


class PretrainedWeightsUnavailable(RuntimeError):
    """ImageNet weights were asked for but can be neither found in the cache nor downloaded."""


def vgg16_bn_weights_path() -> str:
    """Where torchvision caches the VGG16-BN ImageNet file (``$TORCH_HOME/hub/checkpoints/...``)."""
    url = VGG16_BN_Weights.IMAGENET1K_V1.url
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))


def load_vgg16_bn_imagenet_state_dict() -> dict[str, Tensor]:
    """The ImageNet state dict of torchvision's ``vgg16_bn``, from the cache or the network."""
    weights = VGG16_BN_Weights.IMAGENET1K_V1
    try:
        return weights.get_state_dict(progress=True)
    except (urllib.error.URLError, OSError, RuntimeError) as error:
        raise PretrainedWeightsUnavailable(
            f"VGG16-BN ImageNet weights are not cached and could not be downloaded ({error}).\n"
            f"Download {weights.url}\non a machine with network and place the file at\n"
            f"  {vgg16_bn_weights_path()}\n(or set TORCH_HOME so that path points to your copy)."
        ) from error


class VGG16BNEncoder(nn.Module):
    """Five VGG16-BN stages; stage ``i`` returns the features the FPN decoder taps (Table A.1).

    For a 256x256 input the stages give 64@256, 128@128, 256@64, 512@32 and 512@16.
    """

    channels: tuple[int, ...] = (64, 128, 256, 512, 512)
    strides: tuple[int, ...] = (1, 2, 4, 8, 16)

    def __init__(self, pretrained: bool = False) -> None:
        super().__init__()
        features = vgg16_bn(weights=None).features
        if pretrained:
            state = load_vgg16_bn_imagenet_state_dict()
            features.load_state_dict({k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")})
        self.stages = nn.ModuleList(features[start:stop] for start, stop in VGG16_BN_STAGES)

    def forward(self, x: Tensor) -> list[Tensor]:
        levels = []
        for stage in self.stages:
            x = stage(x)
            levels.append(x)
        return levels
