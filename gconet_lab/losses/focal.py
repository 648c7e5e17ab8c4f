"""Binary focal loss (Lin et al. 2017), the L_FL of the GCM loss (Eq. 2)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def binary_focal_loss(logits: Tensor, target: Tensor, gamma: float = 2.0) -> Tensor:
    """mean over all elements of (1 - p_t)^gamma * BCE, with p_t = exp(-BCE).

    For a binary target p_t is the probability given to the true class; ``exp(-BCE)`` extends it to
    soft targets.  No class weighting (alpha), as the official GCM loss.
    """
    bce = F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")
    p_t = torch.exp(-bce)
    return ((1.0 - p_t) ** gamma * bce).mean()


def gcm_loss(gcm_logits: Tensor, masks: Tensor) -> Tensor:
    """Eq. 2: M+ (intra-group maps) against the ground truth, M- (inter-group) against zeros."""
    target = torch.cat([masks, torch.zeros_like(masks)])
    return binary_focal_loss(gcm_logits, target)
