"""Look inside the network: layer lists, shape tables, parameter counts, ImageNet predictions, gradient reach.

Used by the encoder/decoder walkthrough (notebook 02) and the paper-vs-code notebook (11). Every
function returns plain Python values (strings, lists of dicts, floats) or a matplotlib figure.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from gconet_lab.data import IMAGENET_MEAN, IMAGENET_STD
from gconet_lab.models.decoder import FPNDecoder
from gconet_lab.studies.pca import pca_rgb


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements (only those with ``requires_grad`` when ``trainable_only``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def describe_layer(layer: nn.Module) -> str:
    """A short name for one layer: ``conv3x3 64>128``, ``BN``, ``ReLU``, ``maxpool``; else the class name."""
    if isinstance(layer, nn.Conv2d):
        k = layer.kernel_size
        stride = f"/{layer.stride[0]}" if layer.stride[0] > 1 else ""
        groups = " dw" if layer.groups > 1 and layer.groups == layer.in_channels else ""
        return f"conv{k[0]}x{k[1]}{stride}{groups} {layer.in_channels}>{layer.out_channels}"
    if isinstance(layer, nn.BatchNorm2d):
        return "BN"
    if isinstance(layer, nn.ReLU | nn.ReLU6):
        return type(layer).__name__
    if isinstance(layer, nn.MaxPool2d):
        return "maxpool"
    if isinstance(layer, nn.Identity):
        return "identity"
    return type(layer).__name__


def _layers(module: nn.Module) -> list[str]:
    """Names of the layers of ``module`` in order; a BatchNorm with a built-in activation (timm) counts as two."""
    if isinstance(module, nn.BatchNorm2d):
        activation = getattr(module, "act", None)
        return ["BN"] + ([] if activation is None or isinstance(activation, nn.Identity) else [describe_layer(activation)])
    children = list(module.children())
    if not children:
        return [] if isinstance(module, nn.Identity) else [describe_layer(module)]
    return [name for child in children for name in _layers(child)]


def describe_sequence(module: nn.Module) -> str:
    """The layers of ``module`` in order, as ``conv3x3 3>64, BN, ReLU, ...`` (identities left out)."""
    return ", ".join(_layers(module))


def shape_of(tensor: Tensor) -> str:
    """``C x H x W`` of one image's tensor (the batch dimension is left out)."""
    return " x ".join(str(size) for size in tensor.shape[1:])


def encoder_level_modules(encoder: nn.Module) -> list[nn.Module] | None:
    """The modules that compute each of the five levels (VGG16-BN stages; EfficientNet-Lite0 stem and stages).

    ``None`` for an encoder of another kind.
    """
    if hasattr(encoder, "stages"):
        return list(encoder.stages)
    net, level_stages = getattr(encoder, "net", None), getattr(encoder, "_level_stages", None)
    if net is None or level_stages is None:
        return None
    modules, start = [], 0
    for stop in level_stages:
        parts = [net.blocks[i] for i in range(start, stop + 1)]
        if start == 0:
            parts = [net.conv_stem, net.bn1, *parts]
        modules.append(nn.ModuleList(parts))
        start = stop + 1
    return modules


@torch.no_grad()
def encoder_table(encoder: nn.Module, images: Tensor) -> list[dict[str, Any]]:
    """One row per encoder level: output shape, stride relative to the input, parameters.

    ``encoder`` is any gconet-lab encoder (``channels``, ``strides``, ``forward`` -> five levels).
    """
    levels = encoder(images)
    height = images.shape[-2]
    rows = []
    stages = encoder_level_modules(encoder)
    for index, level in enumerate(levels):
        row = {"level": f"x{index + 1}", "output (C x H x W)": shape_of(level), "stride": height // level.shape[-2]}
        if stages is not None:
            row["parameters"] = count_parameters(stages[index])
        rows.append(row)
    return rows


DECODER_STEPS = (
    ("p5", "top_layer", None, "x5 * E"),
    ("p4", "enlayer5", "latlayer5", "x4"),
    ("p3", "enlayer4", "latlayer4", "x3"),
    ("p2", "enlayer3", "latlayer3", "x2"),
    ("p1", "enlayer2", "latlayer2", "x1"),
    ("p0", "enlayer1", None, "input size"),
)
"""(output, decoder block, lateral 1x1 conv, what is added or where it goes) for each decoder step."""


def decoder_table(decoder: FPNDecoder, outputs: Sequence[Tensor]) -> list[dict[str, Any]]:
    """One row per decoder step: block, lateral, their parameters and the output shape."""
    rows = []
    for (name, block, lateral, source), output in zip(DECODER_STEPS, outputs, strict=True):
        lateral_module = getattr(decoder, lateral) if lateral else None
        rows.append({
            "output": name, "block": block, "block params": count_parameters(getattr(decoder, block)),
            "lateral (1x1)": f"{lateral}({source})" if lateral else source,
            "lateral params": count_parameters(lateral_module) if lateral_module is not None else 0,
            "shape (C x H x W)": shape_of(output),
        })
    return rows


def module_parameter_table(model: nn.Module) -> list[dict[str, Any]]:
    """Parameters of each top-level part of a model (encoder, gam, decoder, cem, heads), trainable or not."""
    return [{"part": name, "parameters": count_parameters(child), "trainable": count_parameters(child, True)}
            for name, child in model.named_children()]


# ----------------------------------------------------------------------------------------------- ImageNet
def imagenet_crop(image: np.ndarray, resize: int = 256, crop: int = 224) -> Tensor:
    """The ImageNet evaluation input of an RGB uint8 image: shorter side to ``resize`` (bicubic),
    centre ``crop`` x ``crop``, ImageNet-normalised, shape (3, crop, crop)."""
    picture = Image.fromarray(image)
    scale = resize / min(picture.size)
    picture = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.Resampling.BICUBIC)
    left, top = (picture.width - crop) // 2, (picture.height - crop) // 2
    picture = picture.crop((left, top, left + crop, top + crop))
    pixels = torch.from_numpy(np.asarray(picture, dtype=np.float32) / 255.0).permute(2, 0, 1)
    return (pixels - torch.tensor(IMAGENET_MEAN).view(3, 1, 1)) / torch.tensor(IMAGENET_STD).view(3, 1, 1)


@functools.cache
def _imagenet_info():
    from timm.data import ImageNetInfo

    return ImageNetInfo()


def imagenet_label(index: int) -> str:
    """The first English name of ImageNet-1k class ``index`` (from timm's bundled class list)."""
    return _imagenet_info().index_to_description(index).split(",")[0]


@torch.no_grad()
def imagenet_topk(classifier: nn.Module, image: np.ndarray, k: int = 5) -> list[tuple[str, float]]:
    """The ``k`` most probable ImageNet classes of an RGB uint8 image, with their probabilities.

    ``classifier`` has a ``classify(batch) -> (B, 1000) logits`` method (e.g. ``EfficientNetLite0Encoder``).
    """
    was_training = classifier.training
    classifier.eval()
    probabilities = classifier.classify(imagenet_crop(image)[None]).softmax(dim=-1)[0]
    classifier.train(was_training)
    values, indices = probabilities.topk(k)
    return [(imagenet_label(int(i)), float(v)) for v, i in zip(values, indices, strict=True)]


def pyramid_figure(image: np.ndarray, pyramids: Mapping[str, Sequence[Tensor]], cell: float = 1.5) -> plt.Figure:
    """One row per pyramid: the image, then each level's features of the first image in PCA colours.

    Pixels of similar colour have similar features (:func:`~gconet_lab.studies.pca.pca_rgb`); a random encoder gives
    noise-like colours where an ImageNet one separates object from background.
    """
    columns = 1 + max(len(levels) for levels in pyramids.values())
    figure, axes = plt.subplots(len(pyramids), columns, figsize=(cell * columns, cell * len(pyramids) + 0.3), squeeze=False)
    for row, (name, levels) in enumerate(pyramids.items()):
        axes[row][0].imshow(image)
        axes[row][0].set_ylabel(name, fontsize=8)
        for column, level in enumerate(levels, start=1):
            axes[row][column].imshow(pca_rgb(level[0]), interpolation="nearest")
            axes[row][column].set_title(f"{level.shape[1]}@{level.shape[-2]}x{level.shape[-1]}", fontsize=7)
        for axis in axes[row][len(levels) + 1:]:
            axis.set_visible(False)
        for axis in axes[row]:
            axis.set_xticks([])
            axis.set_yticks([])
    figure.tight_layout()
    return figure


# ----------------------------------------------------------------------------------------------- gradients
def gradient_reach(model: nn.Module, loss: Tensor) -> dict[str, float]:
    """Which top-level parts of ``model`` one loss term trains: the gradient norm it gives each part.

    Gradients are cleared, ``loss`` is back-propagated (the graph is kept, so several terms of one
    forward pass can be examined in turn) and the L2 norm of the gradient of every top-level child
    is returned, 0.0 for parts it does not reach. A term with no path to any trainable parameter
    (``loss.requires_grad`` is False) reaches nothing: every part gets 0.0.
    """
    model.zero_grad(set_to_none=True)
    if loss.requires_grad:
        loss.backward(retain_graph=True)
    reach = {}
    for name, child in model.named_children():
        squares = [p.grad.detach().float().pow(2).sum() for p in child.parameters() if p.grad is not None]
        reach[name] = float(torch.stack(squares).sum().sqrt()) if squares else 0.0
    model.zero_grad(set_to_none=True)
    return reach


__all__ = [
    "DECODER_STEPS", "count_parameters", "decoder_table", "describe_layer", "describe_sequence",
    "encoder_level_modules", "encoder_table", "gradient_reach", "imagenet_crop", "imagenet_label", "imagenet_topk", "module_parameter_table",
    "pyramid_figure", "shape_of",
]
