"""Group Affinity Module (GAM), Sec. 3.2 and Eq. 1 of the paper.

For the N feature maps F of one group (N x C x h x w):

1. embed:     theta(F), phi(F)                       (3x3 convs in the paper, 1x1 in the code)
2. affinity:  S = theta(F)^T phi(F)                  an (N*h*w) x (N*h*w) matrix, Eq. 1
3. per image: A' = max over the h*w pixels of each image m  -> (N*h*w) x N
4. group:     A  = mean of A' over the N images (the image itself included) -> N*h*w
5. softmax:   over the whole group (paper) or over each image's h*w (official), giving A_S
6. attend:    F_a = F * A_S;   consensus E = average pool of F_a over images and pixels (1 x C x 1 x 1)

:class:`CosineGroupAffinityModule` is this project's CPU-scale variant (not the paper's): the affinity
of step 2 between unit-length embeddings, divided by a temperature, and E the attention-weighted mean
of the features. Dot products favour the pixels whose features are largest, whatever their class; the
cosine compares directions only, so the attention can follow the object that recurs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F


@dataclass
class GAMOutput:
    """The group consensus E (1, C, 1, 1) and the attention map A_S of every image (N, 1, h, w)."""

    consensus: Tensor
    attention: Tensor


def msra_fill_(conv: nn.Conv2d) -> nn.Conv2d:
    """Kaiming-normal (fan_out) weights and zero bias, the official GAM initialisation."""
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    nn.init.zeros_(conv.bias)
    return conv


def group_affinity_attention(
    query: Tensor, key: Tensor, softmax_over: str = "group", scale: bool = False, temperature: float = 1.0
) -> Tensor:
    """Eq. 1 and the max/mean/softmax steps: embedded features (N, C, h, w) -> attention (N, 1, h, w).

    ``scale`` divides the group affinity by sqrt(C) (the official code), ``temperature`` divides it by itself.
    """
    n, c, h, w = query.shape
    q = query.flatten(2).transpose(1, 2).reshape(n * h * w, c)  # image-major pixels as rows
    k = key.flatten(2).transpose(0, 1).reshape(c, n * h * w)
    affinity = q @ k  # S: every pixel against every pixel of the group
    per_image_max = affinity.view(n * h * w, n, h * w).amax(dim=2)  # A'_F: best match in each image
    group_affinity = per_image_max.mean(dim=1)  # A_F: averaged over the N images
    if scale:
        group_affinity = group_affinity * (1.0 / math.sqrt(c))
    group_affinity = group_affinity / temperature
    if softmax_over == "group":
        attention = torch.softmax(group_affinity, dim=0)
    else:
        attention = torch.softmax(group_affinity.view(n, h * w), dim=1)
    return attention.reshape(n, 1, h, w)


class GroupAffinityModule(nn.Module):
    """GAM: the consensus of one group of images from their global pixel affinity (Sec. 3.2)."""

    def __init__(
        self,
        channels: int,
        embedding_kernel: int = 3,
        softmax_over: str = "group",
        scale: bool = False,
        output_conv: bool = False,
    ) -> None:
        super().__init__()
        padding = embedding_kernel // 2
        self.query = msra_fill_(nn.Conv2d(channels, channels, embedding_kernel, padding=padding))
        self.key = msra_fill_(nn.Conv2d(channels, channels, embedding_kernel, padding=padding))
        self.output_conv = msra_fill_(nn.Conv2d(channels, channels, 1)) if output_conv else nn.Identity()
        self.softmax_over = softmax_over
        self.scale = scale
        self.temperature = 1.0  # Eq. 1 has none; CosineGroupAffinityModule sets one

    def forward(self, features: Tensor) -> GAMOutput:
        attention = group_affinity_attention(*self.embed(features), self.softmax_over, self.scale, self.temperature)
        return GAMOutput(consensus=self.consensus(features, attention), attention=attention)

    def embed(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """Step 1: the embeddings theta(F), phi(F) that the affinity compares."""
        return self.query(features), self.key(features)

    def consensus(self, features: Tensor, attention: Tensor) -> Tensor:
        """Step 6: E (1, C, 1, 1) from the features (N, C, h, w) and any attention map (N, 1, h, w)."""
        attended = self.output_conv(features * attention)  # F_a
        return attended.mean(dim=(0, 2, 3), keepdim=True)  # E: average pooling over N, h, w


class CosineGroupAffinityModule(GroupAffinityModule):
    """GAM with a cosine affinity (this project's CPU recipe; the paper's Eq. 1 uses dot products).

    Steps 2-5 run on unit-length embeddings, the group affinity divided by ``temperature`` before the
    softmax; step 6 takes the attention-weighted mean of the features, so E keeps the features' scale
    whatever the number of pixels. Why: dot products find the bright objects, whichever their class; the
    cosine puts more of the attention on the group's object (docs/experiments.md#gam-affinity).
    """

    def __init__(
        self,
        channels: int,
        embedding_kernel: int = 3,
        softmax_over: str = "group",
        temperature: float = 0.05,
        output_conv: bool = False,
    ) -> None:
        super().__init__(channels, embedding_kernel, softmax_over, scale=False, output_conv=output_conv)
        self.temperature = temperature

    def embed(self, features: Tensor) -> tuple[Tensor, Tensor]:
        """Step 1, then every pixel's embedding scaled to unit length: the affinity becomes a cosine."""
        query, key = super().embed(features)
        return F.normalize(query, dim=1), F.normalize(key, dim=1)

    def consensus(self, features: Tensor, attention: Tensor) -> Tensor:
        """Step 6 as a weighted mean: E (1, C, 1, 1) = sum of F_a over images and pixels / sum of the attention."""
        attended = self.output_conv(features * attention)
        return attended.sum(dim=(0, 2, 3), keepdim=True) / attention.sum()
