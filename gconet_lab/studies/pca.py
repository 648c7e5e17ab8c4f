"""Principal component analysis of feature vectors: the one PCA behind every PCA picture of the lab.

Notebook 02 (encoder pyramids), notebook 12 (decoder feature maps) and notebook 06 (GST
embeddings) all project features on their first principal axes with :func:`principal_components`,
so the same features get the same colours and coordinates wherever they are shown.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def principal_components(samples: Tensor, count: int) -> tuple[Tensor, Tensor]:
    """Coordinates of (N, C) ``samples`` on their first ``count`` principal axes, and each axis' share of the variance.

    Returns ((N, K), (K,)) in float64 with K = min(count, N, C). The sign of each axis is fixed so
    that its largest coordinate (in absolute value) is positive, which makes pictures reproducible.
    """
    if samples.dim() != 2:
        raise ValueError(f"principal_components needs (N, C) samples; got shape {tuple(samples.shape)}")
    centred = samples.detach().double().cpu()
    centred = centred - centred.mean(dim=0)
    _, singular_values, axes = torch.linalg.svd(centred, full_matrices=False)
    coordinates = centred @ axes[:count].T
    largest = coordinates.gather(0, coordinates.abs().argmax(dim=0, keepdim=True))
    coordinates = coordinates * torch.where(largest < 0, -1.0, 1.0)
    variance = singular_values**2
    share = variance[:count] / variance.sum().clamp_min(torch.finfo(torch.float64).tiny)
    return coordinates, share


def pca_rgb(features: Tensor) -> np.ndarray:
    """One image's features (C, h, w) on their first three principal components, as RGB in [0, 1], (h, w, 3).

    The pixels are the samples and the channels the variables, so pixels of one colour have similar
    features. Each component is scaled to [0, 1] on its own (a constant one becomes 0); with fewer
    than three channels the missing colours stay 0.
    """
    if features.dim() != 3:
        raise ValueError(f"pca_rgb needs one image's features (C, h, w); got shape {tuple(features.shape)}")
    channels, height, width = features.shape
    coordinates, _ = principal_components(features.reshape(channels, -1).T, 3)
    low, high = coordinates.min(dim=0).values, coordinates.max(dim=0).values
    scaled = (coordinates - low) / torch.where(high > low, high - low, 1.0)
    rgb = np.zeros((height * width, 3), dtype=np.float32)
    rgb[:, : scaled.shape[1]] = scaled.float().numpy()
    return rgb.reshape(height, width, 3)


__all__ = ["pca_rgb", "principal_components"]
