"""The GCoNet+ model, one paper module per file."""

from gconet_lab.models.cem import (
    CEMOutput,
    ConfidenceEnhancementModule,
    differentiable_binarization,
    uncertain_fraction,
)
from gconet_lab.models.classifier import ClassPredictor, mask_images
from gconet_lab.models.decoder import FPNDecoder
from gconet_lab.models.gam import CosineGroupAffinityModule, GAMOutput, GroupAffinityModule, group_affinity_attention
from gconet_lab.models.gcm import GCMHead, collaborate
from gconet_lab.models.gconet_plus import GCoNetIntermediates, GCoNetOutput, GCoNetPlus, build_encoder
from gconet_lab.models.official_checkpoint import CheckpointError, load_official_checkpoint
from gconet_lab.models.vgg_encoder import PretrainedWeightsUnavailable, VGG16BNEncoder

__all__ = [
    "CEMOutput", "ConfidenceEnhancementModule", "differentiable_binarization", "uncertain_fraction", "ClassPredictor", "mask_images",
    "FPNDecoder", "CosineGroupAffinityModule", "GAMOutput", "GroupAffinityModule", "group_affinity_attention", "GCMHead", "collaborate",
    "GCoNetIntermediates", "GCoNetOutput", "GCoNetPlus", "build_encoder", "CheckpointError",
    "load_official_checkpoint", "PretrainedWeightsUnavailable", "VGG16BNEncoder",
]
