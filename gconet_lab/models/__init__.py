"""The GCoNet+ model, one paper module per file."""

from .cem import CEMOutput, ConfidenceEnhancementModule, differentiable_binarization, uncertain_fraction
from .classifier import ClassPredictor, mask_images
from .decoder import FPNDecoder
from .gam import GAMOutput, GroupAffinityModule, group_affinity_attention
from .gcm import GCMHead, collaborate
from .gconet_plus import GCoNetIntermediates, GCoNetOutput, GCoNetPlus, build_encoder
from .official_checkpoint import CheckpointError, load_official_checkpoint, official_model
from .vgg_encoder import PretrainedWeightsUnavailable, VGG16BNEncoder

__all__ = [
    "CEMOutput", "ConfidenceEnhancementModule", "differentiable_binarization", "uncertain_fraction", "ClassPredictor", "mask_images",
    "FPNDecoder", "GAMOutput", "GroupAffinityModule", "group_affinity_attention", "GCMHead", "collaborate",
    "GCoNetIntermediates", "GCoNetOutput", "GCoNetPlus", "build_encoder", "CheckpointError",
    "load_official_checkpoint", "official_model", "PretrainedWeightsUnavailable", "VGG16BNEncoder",
]
