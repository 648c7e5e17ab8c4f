"""The gate loss: the consensus gate should open on the group's object and close elsewhere (this project's, not the paper's).

The consensus gate (:mod:`gconet_lab.models.consensus_gate`) multiplies every decoder input by
G = sigmoid(a (cos(P F, P E) - b)). Trained through the saliency loss alone, G can stay open on
every salient object and leave the choice to the decoder, which then ignores the group. This term
asks G itself to be the group's mask, at G's resolution:

    L_gate = BCE(G, avgpool(M))      M the mask of the image in *its* group

so on a photo that sits in two groups of a batch (``shared_photo_p``) the gate must open on the
person in the group of people and on the motorbike in the group of motorbikes: only the consensus
E differs between the two, so E and P must tell the objects apart.
"""

from __future__ import annotations

from torch import Tensor
from torch.nn import functional as F

from gconet_lab.losses.saliency import bce_loss


def gate_loss(gate: Tensor, masks: Tensor) -> Tensor:
    """Eq. 9's BCE between the gate (B, 1, h, w) in (0, 1) and the masks (B, 1, H, W) averaged down to h x w."""
    if gate.shape[0] != masks.shape[0]:
        raise ValueError(f"gate of {gate.shape[0]} images for {masks.shape[0]} masks")
    target = F.adaptive_avg_pool2d(masks.float(), gate.shape[-2:])
    return bce_loss(gate, target)
