"""Group-based Symmetric Triplet (GST) loss, Sec. 3.5, Eq. 4-5 and Fig. 8.

Each group's features are split into two halves, A and B.  The two halves of a group pull together
and push away from the other group:

    L_GST = L_tri(F1A, F1B, F2A) + L_tri(F2A, F2B, F1A)        (Eq. 5, symmetric in the two groups)
    L_tri(a, p, n) = max(0, ||a - p|| - ||a - n|| + alpha)     (Eq. 4; Euclidean distances)

With an odd group size the middle sample is left out; a group of one cannot be split and raises.
"""

from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F


def triplet_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float) -> Tensor:
    """Eq. 4 with the standard hinge, averaged over the triplets."""
    positive_distance = F.pairwise_distance(anchor, positive)
    negative_distance = F.pairwise_distance(anchor, negative)
    return F.relu(positive_distance - negative_distance + margin).mean()


def gst_loss(features: Tensor, margin: float = 1.0) -> Tensor:
    """Eq. 5 on a two-group batch of features (2N, C): group 1 first, then group 2."""
    if features.dim() != 2 or features.shape[0] % 2:
        raise ValueError(f"GST needs (2N, C) features of two equal groups; got {tuple(features.shape)}")
    group_1, group_2 = features.float().chunk(2)
    half = group_1.shape[0] // 2
    if half == 0:
        raise ValueError("GST splits each group into two halves (Eq. 5): groups need at least 2 images, got 1")
    first_1, second_1 = group_1[:half], group_1[-half:]
    first_2, second_2 = group_2[:half], group_2[-half:]
    return triplet_loss(first_1, second_1, first_2, margin) + triplet_loss(first_2, second_2, first_1, margin)
