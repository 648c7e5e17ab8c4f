"""Group Collaborating Module (GCM), Sec. 3.3 and Eq. 2 of the paper.

With two groups in a batch and their consensus E1, E2 (from GAM):

* intra-group products  F+ = <F1 * E1, F2 * E2>   go on to the decoder, supervised with the ground truth;
* inter-group products  F- = <F1 * E2, F2 * E1>   supervised with all-zero maps.

A small head predicts a map from each; the focal loss on them (Eq. 2) teaches the consensus to be
*separable* between groups.  The head is used in training only, so it costs nothing at inference.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def collaborate(features_a: Tensor, features_b: Tensor, consensus_a: Tensor, consensus_b: Tensor) -> tuple[Tensor, Tensor]:
    """Intra-group (F+) and inter-group (F-) products of two groups' features and consensus.

    The product with the consensus is the paper's "depth-wise correlation" with a 1x1 kernel.
    """
    intra = torch.cat([features_a * consensus_a, features_b * consensus_b])
    inter = torch.cat([features_a * consensus_b, features_b * consensus_a])
    return intra, inter


class GCMHead(nn.Module):
    """conv3x3 -> ReLU -> conv1x1: a saliency logit map from (intra or inter) group features."""

    def __init__(self, channels: int, hidden_channels: int = 128) -> None:
        super().__init__()
        self.hidden = nn.Sequential(nn.Conv2d(channels, hidden_channels, 3, padding=1), nn.ReLU(inplace=True))
        self.predict = nn.Conv2d(hidden_channels, 1, 1)

    def forward(self, intra: Tensor, inter: Tensor, size: tuple[int, int]) -> Tensor:
        """Logits <M+, M-> of shape (2B, 1, H, W), upsampled to the input size."""
        logits = self.predict(self.hidden(torch.cat([intra, inter])))
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=True)
