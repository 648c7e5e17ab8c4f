"""Losses of GCoNet+ (Eq. 2, 4-5, 8-11)."""

from gconet_lab.losses.focal import binary_focal_loss, gcm_loss
from gconet_lab.losses.gate import gate_loss
from gconet_lab.losses.gst import gst_loss, triplet_loss
from gconet_lab.losses.objective import GCoNetLoss, LossBreakdown
from gconet_lab.losses.saliency import bce_loss, iou_loss

__all__ = ["binary_focal_loss", "gcm_loss", "gate_loss", "gst_loss", "triplet_loss", "GCoNetLoss", "LossBreakdown", "bce_loss", "iou_loss"]
