"""Confidence Enhancement Module (CEM), Sec. 3.4, Eq. 3 and Fig. 7 of the paper.

Two parallel branches (CBR, CBR, 1x1 conv, Sigmoid) turn the decoder feature F_d into a probability
map P and a threshold map T; differentiable binarization (DB) then gives the final map

    M = 1 / (1 + exp(-k (P - T)))        (Eq. 3, k = 300)

A steep k makes the map nearly binary.  In float32, exp(-300 (P - T)) overflows to inf as soon as
some pixel has P - T < -0.2957; then the whole batch is recomputed with the gentler k = 50 (the
paper's "replaced with 50", as the official code does it, in training and inference alike).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gconet_lab.models.blocks import batch_norm_or_identity


@dataclass
class CEMOutput:
    saliency: Tensor  # M, (B, 1, H, W) in [0, 1]
    probability: Tensor  # P
    threshold: Tensor  # T
    k: float  # the steepness actually used: k, or the fallback


def differentiable_binarization(probability: Tensor, threshold: Tensor, k: float = 300.0, k_fallback: float = 50.0) -> tuple[Tensor, float]:
    """Eq. 3 with its overflow fallback; returns the map and the k that produced it."""
    a = torch.exp(-k * (probability - threshold))
    if not torch.isfinite(a).all():
        k = k_fallback
        a = torch.exp(-k * (probability - threshold))
    return 1.0 / (1.0 + a), k


def uncertain_fraction(maps: Tensor, low: float = 0.1, high: float = 0.9) -> Tensor:
    """Per map, the share of pixels strictly between ``low`` and ``high``: the "uncertain" pixels of Sec. 3.4.

    ``maps`` (B, ...) in [0, 1]; returns (B,): 0 for a binary map, 1 for a flat grey one. The CEM
    (Eq. 3) and the IoU term of the hybrid loss are meant to bring it down (Fig. 6).
    """
    if maps.dim() < 2:
        raise ValueError(f"uncertain_fraction needs a batch of maps (B, ...); got shape {tuple(maps.shape)}")
    uncertain = (maps.detach() > low) & (maps.detach() < high)
    return uncertain.flatten(1).float().mean(dim=1)


def cem_branch(channels: int, use_bn: bool) -> nn.Sequential:
    """CBR -> CBR -> 1x1 conv -> Sigmoid (Fig. 7); indices match the official layout."""
    return nn.Sequential(
        nn.Conv2d(channels, channels, 3, padding=1), batch_norm_or_identity(channels, use_bn), nn.ReLU(inplace=True),
        nn.Conv2d(channels, channels, 3, padding=1), batch_norm_or_identity(channels, use_bn), nn.ReLU(inplace=True),
        nn.Conv2d(channels, 1, 1), nn.Sigmoid(),
    )


class ConfidenceEnhancementModule(nn.Module):
    def __init__(self, channels: int, k: float = 300.0, k_fallback: float = 50.0, use_bn: bool = True) -> None:
        super().__init__()
        self.binarize = cem_branch(channels, use_bn)
        self.thresh = cem_branch(channels, use_bn)
        self.k = k
        self.k_fallback = k_fallback

    def forward(self, decoder_features: Tensor) -> CEMOutput:
        probability = self.binarize(decoder_features)
        threshold = self.thresh(decoder_features)
        saliency, k = differentiable_binarization(probability, threshold, self.k, self.k_fallback)
        return CEMOutput(saliency, probability, threshold, k)
