"""The FPN decoder of GCoNet+ (Fig. 3; Sec. 4.4 "Net-Sim" and "BN").

Top-down path: each level refines the coarser map with a :class:`DecoderBlock`, upsamples it to the
next encoder level and adds that level's features through a single 1x1 lateral convolution (no BN,
as in the original FPN).  Widths halve on the way up: c, c, c/2, c/4, c/8, c/8.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from gconet_lab.models.blocks import DecoderBlock


def upsample_to(x: Tensor, reference: Tensor | tuple[int, int]) -> Tensor:
    size = reference if isinstance(reference, tuple) else tuple(reference.shape[-2:])
    if tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


class FPNDecoder(nn.Module):
    """Decode the consensus-weighted deepest features plus four lateral encoder levels."""

    def __init__(self, encoder_channels: tuple[int, ...], channels: int, hidden_channels: int = 64, use_bn: bool = True) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = encoder_channels
        widths = (channels, channels, channels // 2, channels // 4, channels // 8)

        def block(cin: int, cout: int) -> DecoderBlock:
            return DecoderBlock(cin, cout, hidden_channels, use_bn)

        self.top_layer = block(c5, widths[0])
        self.enlayer5, self.latlayer5 = block(widths[0], widths[1]), nn.Conv2d(c4, widths[1], 1)
        self.enlayer4, self.latlayer4 = block(widths[1], widths[2]), nn.Conv2d(c3, widths[2], 1)
        self.enlayer3, self.latlayer3 = block(widths[2], widths[3]), nn.Conv2d(c2, widths[3], 1)
        self.enlayer2, self.latlayer2 = block(widths[3], widths[4]), nn.Conv2d(c1, widths[4], 1)
        self.enlayer1 = block(widths[4], widths[4])
        self.out_channels = widths[4]

    def forward(self, group_features: Tensor, levels: list[Tensor], size: tuple[int, int]) -> list[Tensor]:
        """Return the decoder features from coarse to fine; the last one (p1) is at the input size."""
        x1, x2, x3, x4, _ = levels
        p5 = self.top_layer(group_features)
        p4 = upsample_to(self.enlayer5(p5), x4) + self.latlayer5(x4)
        p3 = upsample_to(self.enlayer4(p4), x3) + self.latlayer4(x3)
        p2 = upsample_to(self.enlayer3(p3), x2) + self.latlayer3(x2)
        p1 = upsample_to(self.enlayer2(p2), x1) + self.latlayer2(x1)
        p0 = upsample_to(self.enlayer1(p1), size)
        return [p5, p4, p3, p2, p1, p0]
