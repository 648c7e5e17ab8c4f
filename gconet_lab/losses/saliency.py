"""The saliency losses of Eq. 9-10: pixel-wise BCE and region-wise IoU."""

from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F


def bce_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """Eq. 9, averaged over all pixels (the paper writes a sum; both codes take the mean).

    Computed in float32: BCE on probabilities is unsafe in half precision.
    """
    return F.binary_cross_entropy(prediction.float(), target.float())


def iou_loss(prediction: Tensor, target: Tensor, reduction: str = "mean", eps: float = 1e-8) -> Tensor:
    """Eq. 10: 1 - |Y n Y^| / |Y u Y^| per image with soft intersection and union.

    ``reduction="mean"`` averages over the batch as the paper writes; ``"sum"`` is the official
    code's choice, which makes the term grow with the batch size.  ``eps`` only guards 0/0 (an empty
    mask predicted empty), which the paper leaves undefined.
    """
    prediction, target = prediction.float().flatten(1), target.float().flatten(1)
    intersection = (prediction * target).sum(dim=1)
    union = prediction.sum(dim=1) + target.sum(dim=1) - intersection
    per_image = 1.0 - intersection / (union + eps)
    return per_image.mean() if reduction == "mean" else per_image.sum()
