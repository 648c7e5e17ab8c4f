"""Small convolutional blocks shared by the decoder and the heads."""

from __future__ import annotations

from torch import Tensor, nn


def batch_norm_or_identity(channels: int, use_bn: bool) -> nn.Module:
    """BatchNorm after a 3x3 convolution, or nothing (the Table 1 "BN" switch)."""
    return nn.BatchNorm2d(channels) if use_bn else nn.Identity()


class DecoderBlock(nn.Module):
    """conv3x3 -> BN -> ReLU -> conv3x3 -> BN: the decoder block of GCoNet+ (Fig. 3, Sec. 4.4).

    The official code calls it ``ResBlk`` although it has no skip connection and no activation after
    the last BN; we keep that exact layout (and its parameter names) so official weights load.
    """

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: int = 64, use_bn: bool = True) -> None:
        super().__init__()
        self.conv_in = nn.Conv2d(in_channels, hidden_channels, 3, padding=1)
        self.bn_in = batch_norm_or_identity(hidden_channels, use_bn)
        self.relu_in = nn.ReLU(inplace=True)
        self.conv_out = nn.Conv2d(hidden_channels, out_channels, 3, padding=1)
        self.bn_out = batch_norm_or_identity(out_channels, use_bn)

    def forward(self, x: Tensor) -> Tensor:
        return self.bn_out(self.conv_out(self.relu_in(self.bn_in(self.conv_in(x)))))
