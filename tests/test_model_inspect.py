"""Model-inspection helpers: layer names, shape tables, decoder steps, ImageNet helpers, gradient reach."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gconet_lab.lab.model_inspect import (
    count_parameters,
    decoder_table,
    describe_layer,
    describe_sequence,
    encoder_level_modules,
    encoder_table,
    gradient_reach,
    imagenet_crop,
    imagenet_label,
    imagenet_topk,
    module_parameter_table,
    pyramid_figure,
)
from gconet_lab.models import GCoNetPlus
from gconet_lab.models.efficientnet_encoder import EfficientNetLite0Encoder


def test_layer_descriptions():
    block = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 8, 5, stride=2, groups=8), nn.Identity(), nn.ReLU6())
    assert describe_sequence(block) == "conv3x3 3>8, BN, ReLU, maxpool, conv5x5/2 dw 8>8, ReLU6"
    assert describe_layer(nn.Linear(2, 3)) == "Linear"


def test_count_parameters_can_skip_frozen_ones():
    layer = nn.Linear(4, 2)
    layer.bias.requires_grad_(False)
    assert count_parameters(layer) == 10 and count_parameters(layer, trainable_only=True) == 8


def test_encoder_table_of_efficientnet_has_five_levels_whose_parameters_add_up():
    encoder = EfficientNetLite0Encoder(pretrained=False).eval()
    rows = encoder_table(encoder, torch.zeros(1, 3, 64, 64))
    assert [row["stride"] for row in rows] == [2, 4, 8, 16, 32]
    assert rows[0]["output (C x H x W)"] == "16 x 32 x 32" and rows[-1]["output (C x H x W)"] == "320 x 2 x 2"
    assert sum(row["parameters"] for row in rows) == count_parameters(encoder, trainable_only=True)
    assert describe_sequence(encoder_level_modules(encoder)[0]).startswith("conv3x3/2 3>32, BN, ReLU6")
    assert encoder_level_modules(nn.Linear(1, 1)) is None


def test_decoder_on_the_weighted_x5_gives_the_models_decoder_features_and_the_table_names_them(tiny_config):
    model = GCoNetPlus(tiny_config).eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        output = model(images, return_intermediates=True)
        levels = output.intermediates.encoder_features
        steps = model.decoder(model.group_collaboration(levels[-1])[0], levels, (64, 64))
    for mine, theirs in zip(steps, output.intermediates.decoder_features, strict=True):
        assert torch.allclose(mine, theirs, atol=1e-5)
    rows = decoder_table(model.decoder, steps)
    assert [row["output"] for row in rows] == ["p5", "p4", "p3", "p2", "p1", "p0"]
    assert rows[1]["lateral params"] == count_parameters(model.decoder.latlayer5)
    assert sum(row["block params"] + row["lateral params"] for row in rows) == count_parameters(model.decoder)
    assert rows[-1]["shape (C x H x W)"].endswith("64 x 64")


def test_module_parameter_table_covers_the_model(tiny_config):
    model = GCoNetPlus(tiny_config.replace(freeze_backbone=True))
    rows = module_parameter_table(model)
    assert sum(row["parameters"] for row in rows) == count_parameters(model)
    assert next(row for row in rows if row["part"] == "encoder")["trainable"] == 0


def test_gradient_reach_names_the_parts_a_loss_trains():
    model = nn.Sequential()
    model.add_module("first", nn.Linear(3, 3))
    model.add_module("second", nn.Linear(3, 1))
    x = torch.randn(4, 3)
    hidden = model.first(x)
    reach = gradient_reach(model, model.second(hidden).sum())
    assert reach["first"] > 0 and reach["second"] > 0
    reach = gradient_reach(model, model.second(hidden.detach()).sum())
    assert reach["first"] == 0.0 and reach["second"] > 0
    assert gradient_reach(model, torch.tensor(1.0)) == {"first": 0.0, "second": 0.0}
    assert all(p.grad is None for p in model.parameters())  # leaves no gradients behind


def test_gradient_reach_keeps_the_graph_for_the_next_term(tiny_config):
    model = GCoNetPlus(tiny_config).train()
    output = model(torch.randn(4, 3, 64, 64))
    first = gradient_reach(model, output.saliency.mean())
    second = gradient_reach(model, output.class_logits.sum())  # same forward pass
    assert first["decoder"] > 0 and second["classifier"] > 0 and second["decoder"] == 0.0


def test_imagenet_crop_and_topk_with_a_fixed_classifier():
    image = np.full((300, 400, 3), 128, np.uint8)
    crop = imagenet_crop(image)
    assert crop.shape == (3, 224, 224)
    assert torch.allclose(crop[:, 0, 0], (torch.tensor(128 / 255) - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225]), atol=1e-2)

    class Fixed(nn.Module):
        def classify(self, batch):
            logits = torch.zeros(len(batch), 1000)
            logits[:, 281] = 10.0  # tabby cat
            logits[:, 388] = 9.0  # giant panda
            return logits

    top = imagenet_topk(Fixed(), image, k=2)
    assert [label for label, _ in top] == [imagenet_label(281), imagenet_label(388)] == ["tabby", "giant panda"]
    assert top[0][1] > top[1][1] > 0


def test_pyramid_figure_hides_missing_levels():
    image = np.zeros((16, 16, 3), np.uint8)
    figure = pyramid_figure(image, {"a": [torch.randn(1, 4, 8, 8)] * 3, "b": [torch.randn(1, 4, 4, 4)] * 2})
    assert len(figure.axes) == 8 and not figure.axes[7].get_visible()
