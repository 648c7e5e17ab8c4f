"""The grad-cam wrapper of GCoNet+: maps at the images' size, and the group's mixing of gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gconet_lab.config import make_config
from gconet_lab.models import GCoNetPlus
from gconet_lab.studies.cam import (
    CAM_METHODS,
    CamModel,
    NoTarget,
    class_activation_maps,
    class_targets,
    group_class,
    masked_inputs,
    mean_on_and_off,
    saliency_targets,
    target_gradient_norms,
)


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randn(3, 3, 64, 64)


def tiny_model(**overrides) -> GCoNetPlus:
    torch.manual_seed(0)
    return GCoNetPlus(make_config("tiny", **overrides)).eval()


def test_wrapper_returns_the_models_tensors(images):
    model = tiny_model()
    assert torch.equal(CamModel(model, "saliency")(images), model(images).saliency)
    logits = CamModel(model, "class")(images)
    assert logits.shape == (3, model.config.num_classes)
    assert not model.encoder._forward_hooks  # the tap is removed after each call
    with pytest.raises(ValueError, match="no class predictor"):
        CamModel(tiny_model(use_acm=False, use_racm=False), "class")


def test_every_method_gives_maps_of_the_images_size(images):
    model = tiny_model()
    targets = {"class": class_targets(group_class(model, images), 3), "saliency": saliency_targets(model, images)}
    for output, output_targets in targets.items():
        maps = class_activation_maps(model, images, output, output_targets)
        assert list(maps) == list(CAM_METHODS)
        for method, cams in maps.items():
            assert cams.shape == (3, 64, 64), (output, method)
            assert np.isfinite(cams).all() and cams.min() >= 0 and cams.max() <= 1


def test_a_frozen_encoder_still_has_gradients_at_x5(images):
    """The shipped recipe freezes the encoder: no weight before x5 needs a gradient, yet CAMs need one there."""
    model = tiny_model(freeze_backbone=True)
    targets = class_targets(group_class(model, images), 3)
    grad_cam = class_activation_maps(model, images, "class", targets, methods=("Grad-CAM",))["Grad-CAM"]
    assert grad_cam.shape == (3, 64, 64) and grad_cam.max() > 0
    assert (target_gradient_norms(model, images, "class", targets) > 0).all()


def test_masked_inputs_black_out_the_background(images):
    model = tiny_model()
    masked = masked_inputs(model, images)
    assert masked.shape == images.shape and not torch.equal(masked, images)


def first_image_only(model: GCoNetPlus, images: torch.Tensor, output: str) -> list:
    targets = saliency_targets(model, images) if output == "saliency" else class_targets(0, len(images))
    return [targets[0], *[NoTarget() for _ in targets[1:]]]


def test_gam_mixes_one_images_saliency_gradients_into_the_others(images):
    """Only image 0 is explained; its gradient reaches the other images only through GAM's consensus."""
    def others(model: GCoNetPlus, output: str) -> torch.Tensor:
        norms = target_gradient_norms(model, images, output, first_image_only(model, images, output))
        assert norms[0] > 0
        return norms[1:]

    assert (others(tiny_model(), "saliency") > 0).all()
    assert (others(tiny_model(use_gam=False, use_gcm=False), "saliency") == 0).all()
    assert (others(tiny_model(), "class") == 0).all()  # the class branch sees one image at a time


def test_a_grad_cam_of_an_image_without_target_or_mixing_is_blank(images):
    model = tiny_model()
    maps = class_activation_maps(model, images, "class", first_image_only(model, images, "class"), ["Grad-CAM"])
    assert maps["Grad-CAM"][1:].max() == 0


def test_mean_on_and_off_resizes_the_mask_and_averages_each_side():
    cam = np.zeros((4, 4))
    cam[:2, :2] = 1.0  # the top-left quarter lights up
    cam[3, 3] = 0.6
    mask = np.zeros((8, 8))
    mask[:4, :4] = 1.0  # the top-left quarter at twice the size
    on, off = mean_on_and_off(cam, mask)
    assert on == 1.0 and off == pytest.approx(0.6 / 12)
    assert mean_on_and_off(1.0 - cam, mask)[0] < mean_on_and_off(1.0 - cam, mask)[1]  # a CAM of the background


def test_mean_on_and_off_refuses_a_mask_without_background_or_object():
    for mask in (np.zeros((8, 8)), np.ones((8, 8))):
        with pytest.raises(ValueError, match="part of the image"):
            mean_on_and_off(np.ones((4, 4)), mask)
