"""Class activation maps of GCoNet+ with the ``grad-cam`` package (paper Fig. 10).

grad-cam explains a model whose forward returns one tensor, at a *target layer* whose activations
it records. GCoNet+ returns a :class:`~gconet_lab.models.gconet_plus.GCoNetOutput`, so
:class:`CamModel` wraps it and returns one of two outputs:

* ``"class"``: the logits of the class predictor phi on the encoder's deepest features (Eq. 6).
  Fed the raw images this is ACM; fed the images masked by the prediction
  (:func:`masked_inputs`, G (x) M of Eq. 7) it is RACM;
* ``"saliency"``: the co-saliency maps (B, 1, H, W); :func:`saliency_targets` explains the sum of
  each map over its own predicted object (the mask-sum target).

The target layer is the encoder's deepest level x5, where ACM/RACM pool and GAM reads the group,
whatever the encoder: the wrapper routes x5 through an identity module (:attr:`CamModel.target_layer`).

A caveat for the saliency output: the group shares one consensus (GAM, Eq. 1), so each image's map
depends on every image of the batch, and grad-cam, which back-propagates the sum of all targets,
mixes the gradients of the other images' targets into each image's CAM. EigenCAM uses no gradient
at all (the first principal component of the activations), so it ignores the target entirely.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import torch
from pytorch_grad_cam import EigenCAM, GradCAM, GradCAMPlusPlus
from pytorch_grad_cam.base_cam import BaseCAM
from pytorch_grad_cam.utils.model_targets import (
    ClassifierOutputTarget,
    SemanticSegmentationTarget,
)
from torch import Tensor, nn

from gconet_lab.models import GCoNetPlus
from gconet_lab.models.classifier import ClassPredictor, mask_images
from gconet_lab.studies.apps import adaptive_threshold

CAM_METHODS: dict[str, type[BaseCAM]] = {"Grad-CAM": GradCAM, "Grad-CAM++": GradCAMPlusPlus, "EigenCAM": EigenCAM}
Output = Literal["class", "saliency"]


class CamModel(nn.Module):
    """GCoNet+ with one tensor as output, for grad-cam; the batch is one group (``model.eval()``)."""

    def __init__(self, model: GCoNetPlus, output: Output) -> None:
        super().__init__()
        if output == "class" and not hasattr(model, "classifier"):
            raise ValueError("this model has no class predictor (use_acm and use_racm are both off)")
        self.model, self.output = model.eval(), output
        self.target_layer = nn.Identity()  # sees x5, the encoder's deepest features

    def _tap_deepest(self, _module: nn.Module, _inputs: tuple, levels: list[Tensor]) -> list[Tensor]:
        deepest = levels[-1]
        if torch.is_grad_enabled() and not deepest.requires_grad:  # a frozen encoder (freeze_backbone):
            deepest = deepest.detach().requires_grad_()  # x5 is where the gradients are read, so start them there
        return [*levels[:-1], self.target_layer(deepest)]

    def forward(self, images: Tensor) -> Tensor:
        handle = self.model.encoder.register_forward_hook(self._tap_deepest)
        try:
            if self.output == "saliency":
                return self.model(images).saliency
            return self.model.classifier(ClassPredictor.pool(self.model.encoder(images)[-1]))
        finally:
            handle.remove()


@torch.no_grad()
def masked_inputs(model: GCoNetPlus, images: Tensor) -> Tensor:
    """G (x) M: the group's images masked by the model's own prediction, as RACM sees them (Eq. 7)."""
    return mask_images(images, model.eval()(images).saliency, model.config.racm_mask_space)


@torch.no_grad()
def group_class(model: GCoNetPlus, images: Tensor) -> int:
    """The class phi assigns to the group: the arg-max of its mean ACM logits."""
    return int(CamModel(model, "class")(images).mean(dim=0).argmax())


class NoTarget:
    """A target that explains nothing: give it to the other images to explain one image alone."""

    def __call__(self, model_output: Tensor) -> Tensor:
        return model_output.sum() * 0


def class_targets(category: int, count: int) -> list[ClassifierOutputTarget]:
    """The logit of ``category`` for each of ``count`` images."""
    return [ClassifierOutputTarget(category) for _ in range(count)]


@torch.no_grad()
def saliency_targets(model: GCoNetPlus, images: Tensor) -> list[SemanticSegmentationTarget]:
    """Mask-sum targets: each map summed over its own predicted object (adaptive threshold, 2x mean)."""
    saliency = model.eval()(images).saliency[:, 0].cpu().numpy()
    return [SemanticSegmentationTarget(0, adaptive_threshold(map_).astype(np.float32)) for map_ in saliency]


def class_activation_maps(model: GCoNetPlus, images: Tensor, output: Output, targets: Sequence[Callable],
                          methods: Sequence[str] = tuple(CAM_METHODS)) -> dict[str, np.ndarray]:
    """CAMs of ``output`` at x5 for every method: ``{method: (B, H, W) maps in [0, 1]}`` at the images' size."""
    wrapped = CamModel(model, output)
    maps = {}
    for method in methods:
        with CAM_METHODS[method](model=wrapped, target_layers=[wrapped.target_layer]) as cam:
            maps[method] = cam(input_tensor=images, targets=list(targets))
    return maps


def target_gradient_norms(model: GCoNetPlus, images: Tensor, output: Output, targets: Sequence[Callable]) -> Tensor:
    """The norm of the summed targets' gradient at each image's x5, (B,): how much each image's features move them.

    With one image's target alone (the others :class:`NoTarget`), a non-zero norm at another image is the
    gradient mixing that grad-cam cannot separate; unlike a CAM, it is not cut by a ReLU nor rescaled per image.
    """
    wrapped = CamModel(model, output)
    deepest: list[Tensor] = []
    handle = wrapped.target_layer.register_forward_hook(lambda _module, _inputs, x5: deepest.append(x5))
    try:
        result = wrapped(images)
    finally:
        handle.remove()
    total = sum(target(one) for target, one in zip(targets, result, strict=True))
    (gradient,) = torch.autograd.grad(total, deepest[0])
    return gradient.flatten(1).norm(dim=1)


def mean_on_and_off(cam: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """The mean of a CAM on the object and off it: ``(mean over mask >= 0.5, mean over the rest)``.

    ``mask`` is the ground truth at any size; it is resized to the CAM's (nearest neighbour). A CAM
    that points at the object has the larger mean on it; means, not sums, so that a small object is
    not outweighed by a large background.
    """
    height, width = cam.shape
    rows = np.arange(height) * mask.shape[0] // height
    cols = np.arange(width) * mask.shape[1] // width
    on = mask[np.ix_(rows, cols)] >= 0.5
    if on.all() or not on.any():
        raise ValueError("the mask must cover part of the image, not none or all of it")
    return float(cam[on].mean()), float(cam[~on].mean())


__all__ = ["CAM_METHODS", "CamModel", "NoTarget", "class_activation_maps", "class_targets", "group_class", "masked_inputs",
           "mean_on_and_off", "saliency_targets", "target_gradient_norms"]
