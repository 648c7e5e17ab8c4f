"""A consensus gate: the group's consensus decides where the decoder looks (this project's option, not the paper's).

In GCoNet+ (Fig. 3) the consensus E of GAM reaches the decoder only through its deepest input,
F+ = F * E (Sec. 3.2), while four lateral connections bring the encoder's features to the decoder
untouched by the group. A decoder can draw every salient object from the laterals alone and ignore
E: a photo of a rider on a motorbike then gets the same map in the group of people and in the group
of motorbikes. The gate makes the consensus a switch the decoder cannot go around:

    G = sigmoid(a (cos(P F, P E) - b))     one value per pixel of the deepest features F, (N, 1, h, w)

and the decoder's every input (F+ and each lateral level, G upsampled to its size) is multiplied by
G: where a pixel's features point away from the group's consensus, nothing reaches the decoder.
P is a learned 1x1 projection (the features' directions that tell objects apart: raw features of
any two objects share much of their direction), and the sharpness a and the offset b are learned.
With ``GCoNetConfig(consensus_gate=True)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class ConsensusGate(nn.Module):
    """``G = sigmoid(a (cos(P F, P E) - b))`` per pixel: how far each pixel's features agree with its group's consensus."""

    def __init__(self, channels: int, projection_channels: int = 128, sharpness: float = 10.0, offset: float = 0.3) -> None:
        super().__init__()
        self.projection = nn.Conv2d(channels, projection_channels, 1, bias=False)
        self.sharpness = nn.Parameter(torch.tensor(float(sharpness)))
        self.offset = nn.Parameter(torch.tensor(float(offset)))

    def forward(self, features: Tensor, consensus: Tensor) -> Tensor:
        """``features`` (N, C, h, w) and each image's consensus (N, C) -> the gate (N, 1, h, w) in (0, 1)."""
        projected, target = self.projection(features), self.projection(consensus[:, :, None, None])
        similarity = F.cosine_similarity(projected, target, dim=1).unsqueeze(1)
        return torch.sigmoid(self.sharpness * (similarity - self.offset))
