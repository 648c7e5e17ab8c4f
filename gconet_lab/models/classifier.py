"""Auxiliary classification: ACM (Eq. 6) and its recurrent form RACM (Eq. 7), Sec. 3.6.

ACM classifies the encoder features of the raw images, RACM those of the images masked by the
prediction and encoded again.  Both share one class predictor phi: global average pooling and a
single linear layer.
"""

from __future__ import annotations

from torch import Tensor, nn

from gconet_lab.data.transforms import IMAGENET_MEAN, IMAGENET_STD


class ClassPredictor(nn.Module):
    """phi: GAP then one linear layer (Eq. 6-7)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, num_classes)
        nn.init.kaiming_normal_(self.fc.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.fc.bias)

    @staticmethod
    def pool(features: Tensor) -> Tensor:
        return features.mean(dim=(2, 3))

    def forward(self, pooled: Tensor) -> Tensor:
        return self.fc(pooled)


def mask_images(images: Tensor, mask: Tensor, space: str = "raw") -> Tensor:
    """G (x) M: keep only the predicted regions of ImageNet-normalised ``images``.

    ``space="raw"`` (paper, Sec. 3.1): multiply the RGB image, so the background becomes black,
    then normalise again.  ``space="normalized"`` (official code): multiply the normalised tensor,
    so the background becomes the ImageNet mean colour.
    """
    if space == "normalized":
        return images * mask
    mean = images.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = images.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return ((images * std + mean) * mask - mean) / std


__all__ = ["ClassPredictor", "mask_images", "IMAGENET_MEAN", "IMAGENET_STD"]
