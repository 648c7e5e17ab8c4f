"""The fast inference path computes the reference eager maps (to 1e-5) with less: no BN, no training heads."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from gconet_lab.config import make_config
from gconet_lab.inference.evaluate import predict_group
from gconet_lab.inference.fast_inference import (
    FastGCoNet,
    fold_batch_norms,
    make_fast_model,
    max_abs_difference,
)
from gconet_lab.models import GCoNetPlus

TOLERANCE = 1e-5


def steer_cem(model: GCoNetPlus, images: torch.Tensor, logit_scale: float) -> None:
    """Centre the CEM's P on a constant T = 0.5 for ``images``, so that the maps are not saturated.

    Random weights give P - T nearly constant and far from 0, where M = sigmoid(300 (P - T)) is 0
    or 1 and any parity test passes. Here P's logits are shifted to median 0 and multiplied by
    ``logit_scale``: 1 keeps k = 300 with M mid-range, a large scale forces the k = 50 fallback.
    """
    model.eval()
    with torch.no_grad():
        fine = model(images, return_intermediates=True).intermediates.decoder_features[-1]
        last = model.cem.binarize[-2]
        last.bias.sub_(model.cem.binarize[:-1](fine).median()).mul_(logit_scale)
        last.weight.mul_(logit_scale)
        model.cem.thresh[-2].weight.zero_()
        model.cem.thresh[-2].bias.zero_()  # T = sigmoid(0) = 0.5


def randomise_batch_norm_statistics(model: nn.Module) -> None:
    """Running statistics and affine parameters away from the identity, so that folding them matters."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(module.weight, 0.5, 1.5)
            nn.init.uniform_(module.bias, -0.2, 0.2)


def make_model(preset: str, variant: str = "paper") -> GCoNetPlus:
    model = GCoNetPlus(make_config(preset, variant, pretrained=False))
    randomise_batch_norm_statistics(model)
    return model.eval()


# logit_scale 1: only shifted, k = 300 with every map mid-range; 30: the k = 50 fallback. A larger
# scale amplifies float32 rounding (of the reference as much as of the fast path) beyond 1e-5.
CASES = [
    ("tiny", "paper", 1.0, 300.0), ("tiny", "official", 1.0, 300.0),
    pytest.param("paper", "paper", 1.0, 300.0, marks=pytest.mark.slow),
    pytest.param("paper", "official", 1.0, 300.0, marks=pytest.mark.slow), ("tiny", "paper", 30.0, 50.0),
]


@pytest.mark.parametrize(("preset", "variant", "logit_scale", "expected_k"), CASES)
def test_fast_maps_equal_the_reference_eager_maps(preset, variant, logit_scale, expected_k):
    # With expected_k = 50 the whole group falls back (Eq. 3, difference C10): a fast path that
    # kept k = 300 would be off by far more than the tolerance on these mid-range maps.
    model = make_model(preset, variant)
    images = torch.randn(3, 3, 64, 64)
    steer_cem(model, images, logit_scale)
    with torch.no_grad():
        output = model(images, return_intermediates=True)
    saliency = output.saliency
    assert output.intermediates.cem_k == expected_k
    assert ((saliency > 0.01) & (saliency < 0.99)).float().mean() > 0.2  # the comparison is not on saturated maps
    assert max_abs_difference(model, make_fast_model(model), images) <= TOLERANCE


@pytest.mark.slow
def test_fast_model_keeps_no_batch_norm_and_no_training_head():
    model = make_model("paper", "official")
    fast = FastGCoNet(model)
    assert not any(isinstance(module, nn.BatchNorm2d) for module in fast.modules())
    names = {name.split(".")[1] for name, _ in fast.named_parameters()}
    assert names == {"encoder", "decoder", "gam", "cem"}
    dropped = sum(p.numel() for head in (model.gcm_head, model.classifier, model.racm_mask_head) for p in head.parameters())
    assert sum(p.numel() for p in fast.parameters()) == sum(p.numel() for p in model.parameters()) - dropped - sum(
        m.weight.numel() + m.bias.numel() for m in model.modules() if isinstance(m, nn.BatchNorm2d)
    )


def test_fast_model_is_channels_last_inference_only_and_independent():
    model = make_model("tiny")
    fast = FastGCoNet(model)
    conv = next(m for m in fast.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not any(p.requires_grad for p in fast.parameters())
    with pytest.raises(RuntimeError, match="inference only"):
        fast.train()
    images = torch.randn(2, 3, 64, 64)
    before = fast(images).saliency
    assert before.is_inference()
    nn.init.zeros_(model.decoder.enlayer1.conv_out.weight)  # training the source later leaves the copy alone
    assert torch.equal(fast(images).saliency, before)


def test_fast_model_is_a_drop_in_for_predict_group():
    model = make_model("tiny")
    images = torch.randn(2, 3, 64, 64)
    steer_cem(model, images, 1.0)
    sizes = [(50, 70), (64, 30)]
    expected, fast = predict_group(model, images, sizes), predict_group(FastGCoNet(model), images, sizes)
    assert [m.shape for m in fast] == [(50, 70), (64, 30)]
    assert all(np.abs(a.astype(int) - b.astype(int)).max() <= 1 for a, b in zip(expected, fast, strict=True))


def test_folding_refuses_training_mode_batch_norm():
    block = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    with pytest.raises(ValueError, match="eval mode"):
        fold_batch_norms(block)
    x = torch.randn(2, 3, 8, 8)
    randomise_batch_norm_statistics(block)
    block.eval()
    expected = block(x)
    folded = fold_batch_norms(block)
    assert isinstance(folded[1], nn.Identity)
    torch.testing.assert_close(folded(x), expected, atol=1e-6, rtol=1e-5)


def test_fast_model_computes_in_its_own_precision_inside_an_autocast():
    # predict_group runs models under float16 autocast on CUDA: a bf16 or fp32 fast path must not become float16
    model = make_model("tiny")
    images = torch.randn(2, 3, 64, 64)
    fast = FastGCoNet(model)
    expected = fast(images).saliency
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(fast(images).saliency, expected)


def test_fast_path_keeps_the_consensus_gate():
    model = GCoNetPlus(make_config("tiny", pretrained=False, consensus_gate=True, cem_k=10.0))
    randomise_batch_norm_statistics(model)
    model.eval()
    assert max_abs_difference(model, make_fast_model(model), torch.randn(3, 3, 64, 64)) <= TOLERANCE
