"""GCoNet+ (Fig. 3 of the paper): encoder -> GCoM (GAM + GCM) -> FPN decoder -> CEM, with ACM/RACM.

Batch convention, as in the paper and the official code:

* ``model.train()``: the batch holds **two groups of equal size**, group A first, then group B
  (Eq. 16).  Each group gets its own GAM consensus; GCM, ACM, RACM and the GST features are produced.
* ``model.eval()``: the whole batch is **one group** (Sec. 4.3: a test group is one batch); only the
  saliency maps are computed, so the training-only branches cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from gconet_lab.config import GCoNetConfig
from gconet_lab.models.cem import ConfidenceEnhancementModule
from gconet_lab.models.classifier import ClassPredictor, mask_images
from gconet_lab.models.consensus_gate import ConsensusGate
from gconet_lab.models.decoder import FPNDecoder, upsample_to
from gconet_lab.models.gam import CosineGroupAffinityModule, GroupAffinityModule
from gconet_lab.models.gcm import GCMHead, collaborate
from gconet_lab.models.vgg_encoder import VGG16BNEncoder


def encoder_class(config: GCoNetConfig) -> type[nn.Module]:
    """The encoder class named by ``config.encoder``; its ``channels`` lists the five levels' widths."""
    if config.encoder == "vgg16_bn":
        return VGG16BNEncoder
    from gconet_lab.models.efficientnet_encoder import EfficientNetLite0Encoder, EfficientNetLite0Stride16Encoder

    return EfficientNetLite0Stride16Encoder if config.encoder == "efficientnet_lite0_s16" else EfficientNetLite0Encoder


def build_encoder(config: GCoNetConfig) -> nn.Module:
    """The encoder named by ``config.encoder``; each returns five feature levels, shallow to deep."""
    return encoder_class(config)(pretrained=config.pretrained)


def deepest_channels(config: GCoNetConfig) -> int:
    """Width C of the deepest encoder features, the (N, C, h, w) input of GAM or its replacement."""
    return encoder_class(config).channels[-1]


def build_gam(config: GCoNetConfig, channels: int) -> GroupAffinityModule:
    """GAM as the configuration asks: Eq. 1's dot-product affinity, or the cosine one (``gam_affinity``)."""
    if config.gam_affinity == "cosine":
        return CosineGroupAffinityModule(
            channels, config.gam_embedding_kernel, config.gam_softmax, config.gam_temperature, config.gam_output_conv
        )
    return GroupAffinityModule(
        channels, config.gam_embedding_kernel, config.gam_softmax, config.gam_scale, config.gam_output_conv
    )


@dataclass
class GCoNetIntermediates:
    """What a teacher wants to show: every stage of one forward pass."""

    encoder_features: list[Tensor]
    decoder_features: list[Tensor]  # coarse to fine; the last one feeds the CEM
    gam_attention: Tensor | None = None  # A_S per image, (B, 1, h, w)
    consensus: Tensor | None = None  # E per group, (groups, C)
    consensus_gate: Tensor | None = None  # G per image, (B, 1, h, w), with config.consensus_gate
    cem_probability: Tensor | None = None  # P
    cem_threshold: Tensor | None = None  # T
    cem_k: float | None = None  # the k of Eq. 3 actually used (300, or the fallback 50)
    racm_mask: Tensor | None = None  # M used to mask the images for RACM / GST
    masked_images: Tensor | None = None  # G (x) M, ImageNet-normalised


@dataclass
class GCoNetOutput:
    saliency: Tensor  # final co-saliency maps M in [0, 1], (B, 1, H, W)
    gcm_logits: Tensor | None = None  # <M+, M-> logits, (2B, 1, H, W), training only
    class_logits: Tensor | None = None  # ACM, Eq. 6
    racm_class_logits: Tensor | None = None  # RACM, Eq. 7
    pooled_features: Tensor | None = None  # GAP of the deepest features of the raw images, (B, C)
    gst_features: Tensor | None = None  # the features the GST loss separates, (B, C)
    consensus_gate: Tensor | None = None  # G per image, (B, 1, h, w), training only, with config.consensus_gate
    intermediates: GCoNetIntermediates | None = field(default=None, repr=False)


def check_images(images: Tensor, training: bool) -> None:
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"GCoNet+ expects images of shape (B, 3, H, W); got {tuple(images.shape)}")
    if training and (images.shape[0] < 2 or images.shape[0] % 2):
        raise ValueError(
            "in training mode the batch must hold two groups of equal size, group A then group B "
            f"(Eq. 16); got a batch of {images.shape[0]} images. Use model.eval() to predict one group."
        )


class GCoNetPlus(nn.Module):
    """The full GCoNet+; every paper module is a named, swappable attribute.

    ``gam`` can be replaced by any module that maps a group's features (N, C, h, w) to a
    :class:`~gconet_lab.models.gam.GAMOutput` (e.g. a student's relation module), without editing
    library code: ``GCoNetPlus(config, gam=MyRelationModule(512))``.
    """

    TRAINING_ONLY_MODULES = ("gcm_head", "classifier", "racm_mask_head")
    """Modules that only :meth:`auxiliary_outputs` uses: the eval forward never touches them."""

    def __init__(self, config: GCoNetConfig, gam: nn.Module | None = None) -> None:
        super().__init__()
        self.config = config
        self.encoder = build_encoder(config)
        channels = tuple(self.encoder.channels)
        top = channels[-1]
        decoder_channels = config.decoder_channels or top // 2
        if config.use_gam:
            self.gam = gam or build_gam(config, top)
        if config.consensus_gate:
            self.consensus_gate = ConsensusGate(top)
        self.decoder = FPNDecoder(channels, decoder_channels, config.block_hidden_channels, config.use_bn)
        out = self.decoder.out_channels
        if config.use_cem:
            self.cem = ConfidenceEnhancementModule(out, config.cem_k, config.cem_k_fallback, config.use_bn)
        else:
            self.saliency_head = nn.Conv2d(out, 1, 1)
        if config.use_gcm:
            self.gcm_head = GCMHead(top)
        if config.use_acm or config.use_racm:
            self.classifier = ClassPredictor(top, config.num_classes)
        if config.uses_masked_reencoding and config.racm_mask == "mask_head":
            self.racm_mask_head = nn.Conv2d(out, 1, 1)
        if config.freeze_backbone:
            self.encoder.requires_grad_(False)

    def train(self, mode: bool = True) -> GCoNetPlus:
        """``nn.Module.train``; with ``freeze_backbone_bn`` the frozen encoder's BatchNorm stays in eval mode."""
        super().train(mode)
        if mode and self.config.freeze_backbone_bn:  # (the configuration ensures freeze_backbone)
            self.encoder.eval()
        return self

    # ------------------------------------------------------------------ parameter groups
    def backbone_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.encoder.parameters() if p.requires_grad]

    def head_parameters(self) -> list[nn.Parameter]:
        encoder_ids = {id(p) for p in self.encoder.parameters()}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in encoder_ids]

    # ------------------------------------------------------------------ forward
    def group_collaboration(self, x5: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]:
        """GCoM: consensus-weighted features F+, inter-group F- (training), attention and consensus."""
        if not self.config.use_gam:
            return x5, None, None, None
        if not self.training:
            result = self.gam(x5)
            return x5 * result.consensus, None, result.attention, result.consensus.flatten(1)
        group_a, group_b = x5.chunk(2)
        result_a, result_b = self.gam(group_a), self.gam(group_b)
        intra, inter = collaborate(group_a, group_b, result_a.consensus, result_b.consensus)
        attention = torch.cat([result_a.attention, result_b.attention])
        consensus = torch.cat([result_a.consensus.flatten(1), result_b.consensus.flatten(1)])
        return intra, inter, attention, consensus

    def forward(self, images: Tensor, return_intermediates: bool = False) -> GCoNetOutput:
        check_images(images, self.training)
        config = self.config
        size = (images.shape[-2], images.shape[-1])
        levels = self.encoder(images)
        x5 = levels[-1]
        group_features, inter, attention, consensus = self.group_collaboration(x5)
        gate, decoder_input, decoder_levels = None, group_features, levels
        if config.consensus_gate:  # each image compared with its own group's E (two groups in training)
            gate = self.consensus_gate(x5, consensus.repeat_interleave(len(x5) // len(consensus), dim=0))
            decoder_input, decoder_levels = group_features * gate, [level * upsample_to(gate, level) for level in levels]
        decoder_features = self.decoder(decoder_input, decoder_levels, size)
        fine = decoder_features[-1]
        if config.use_cem:
            cem = self.cem(fine)
            saliency = cem.saliency
        else:
            cem = None
            saliency = torch.sigmoid(self.saliency_head(fine))
        output = GCoNetOutput(saliency=saliency)
        if return_intermediates:
            output.intermediates = GCoNetIntermediates(
                encoder_features=levels, decoder_features=decoder_features, gam_attention=attention,
                consensus=consensus, consensus_gate=gate, cem_probability=cem.probability if cem else None,
                cem_threshold=cem.threshold if cem else None, cem_k=cem.k if cem else None,
            )
        if self.training:
            output.consensus_gate = gate
        if self.training or return_intermediates:
            self.auxiliary_outputs(images, x5, fine, group_features, inter, output)
        return output

    def auxiliary_outputs(
        self, images: Tensor, x5: Tensor, fine: Tensor, intra: Tensor, inter: Tensor | None, output: GCoNetOutput
    ) -> None:
        """Training-time branches: GCM maps (Eq. 2), ACM (Eq. 6), RACM (Eq. 7) and GST features."""
        config = self.config
        pooled = ClassPredictor.pool(x5)
        output.pooled_features = pooled
        if config.use_acm:
            output.class_logits = self.classifier(pooled)
        if config.use_gcm and inter is not None:
            output.gcm_logits = self.gcm_head(intra, inter, tuple(images.shape[-2:]))
        if not (self.training and config.uses_masked_reencoding):
            output.gst_features = pooled if config.use_gst and config.gst_features == "raw" else None
            return
        if config.racm_mask == "prediction":
            mask = output.saliency
        else:
            mask = torch.sigmoid(self.racm_mask_head(fine))
        masked = mask_images(images, mask, config.racm_mask_space)
        masked_pooled = ClassPredictor.pool(self.encoder(masked)[-1])  # F_r
        if config.use_racm:
            output.racm_class_logits = self.classifier(masked_pooled)
        if config.use_gst:
            output.gst_features = masked_pooled if config.gst_features == "masked" else pooled
        if output.intermediates is not None:
            output.intermediates.racm_mask = mask
            output.intermediates.masked_images = masked
