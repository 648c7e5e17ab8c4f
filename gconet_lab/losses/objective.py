"""The objective of GCoNet+, Eq. 11: L = l1 BCE + l2 IoU + l3 GCM + l4 GST + l5 CLS.

The loss returns its breakdown per term so a notebook can plot every curve.  The classification
loss of Eq. 8 is kept as two terms (ACM and RACM) because the official code weights them apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from gconet_lab.config import GCoNetConfig
from gconet_lab.losses.focal import gcm_loss
from gconet_lab.losses.gate import gate_loss
from gconet_lab.losses.gst import gst_loss
from gconet_lab.losses.saliency import bce_loss, iou_loss
from gconet_lab.models.gconet_plus import GCoNetOutput


@dataclass
class LossBreakdown:
    total: Tensor
    terms: dict[str, Tensor]  # unweighted value of each active term
    weights: dict[str, float]  # its lambda

    def as_floats(self) -> dict[str, float]:
        values = {name: float(value.detach()) for name, value in self.terms.items()}
        values["total"] = float(self.total.detach())
        return values


class GCoNetLoss:
    """Eq. 11 for a configuration; terms of disabled components are left out."""

    def __init__(self, config: GCoNetConfig) -> None:
        self.config = config

    def __call__(self, output: GCoNetOutput, masks: Tensor, class_ids: Tensor | None = None) -> LossBreakdown:
        config = self.config
        if masks.shape != output.saliency.shape:
            raise ValueError(f"masks {tuple(masks.shape)} do not match predictions {tuple(output.saliency.shape)}")
        terms = {"bce": bce_loss(output.saliency, masks)}
        weights = {"bce": config.lambda_bce}
        if config.hybrid_loss:
            terms["iou"] = iou_loss(output.saliency, masks, config.iou_reduction)
            weights["iou"] = config.lambda_iou
        if output.gcm_logits is not None:
            terms["gcm"] = gcm_loss(output.gcm_logits, masks)
            weights["gcm"] = config.lambda_gcm
        if output.gst_features is not None:
            terms["gst"] = gst_loss(output.gst_features, config.gst_margin)
            weights["gst"] = config.lambda_gst
        if output.consensus_gate is not None and config.lambda_gate > 0:
            terms["gate"] = gate_loss(output.consensus_gate, masks)
            weights["gate"] = config.lambda_gate
        for name, logits in (("acm", output.class_logits), ("racm", output.racm_class_logits)):
            if logits is not None:
                if class_ids is None:
                    raise ValueError(f"the {name.upper()} loss (Eq. 8) needs class_ids")
                terms[name] = F.cross_entropy(logits.float(), class_ids)
                weights[name] = getattr(config, f"lambda_{name}")
        total = torch.stack([weights[name] * value for name, value in terms.items()]).sum()
        return LossBreakdown(total=total, terms=terms, weights=weights)
