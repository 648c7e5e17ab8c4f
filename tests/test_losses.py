"""Each equation against a small hand-computed case."""

from __future__ import annotations

import math

import pytest
import torch

from gconet_lab.config import make_config
from gconet_lab.losses import GCoNetLoss, binary_focal_loss, gate_loss, gcm_loss, gst_loss, iou_loss
from gconet_lab.models import GCoNetOutput, GCoNetPlus, differentiable_binarization, group_affinity_attention


def test_iou_loss_by_hand():
    prediction = torch.tensor([[0.5, 1.0], [0.0, 0.0]]).view(1, 1, 2, 2)
    target = torch.tensor([[1.0, 1.0], [0.0, 0.0]]).view(1, 1, 2, 2)
    # intersection 1.5, union 1.5 + 2 - 1.5 = 2  ->  1 - 0.75
    assert iou_loss(prediction, target).item() == pytest.approx(0.25)
    batch = torch.cat([prediction, target]), torch.cat([target, target])
    assert iou_loss(*batch, reduction="mean").item() == pytest.approx(0.125)
    assert iou_loss(*batch, reduction="sum").item() == pytest.approx(0.25)


def test_focal_loss_by_hand():
    logits, target = torch.tensor([0.0, 2.0]), torch.tensor([1.0, 0.0])
    # x=0,t=1: bce=ln2, p_t=.5 -> .25 ln2 ; x=2,t=0: bce=ln(1+e^2), p_t=1/(1+e^2)
    bce2 = math.log(1 + math.e**2)
    expected = (0.25 * math.log(2) + (1 - 1 / (1 + math.e**2)) ** 2 * bce2) / 2
    assert binary_focal_loss(logits, target).item() == pytest.approx(expected, rel=1e-6)


def test_gcm_loss_supervises_inter_group_maps_with_zeros():
    masks = torch.ones(2, 1, 4, 4)
    perfect = torch.cat([torch.full_like(masks, 20.0), torch.full_like(masks, -20.0)])
    assert gcm_loss(perfect, masks).item() < 1e-12
    swapped = torch.cat([torch.full_like(masks, -20.0), torch.full_like(masks, 20.0)])
    assert gcm_loss(swapped, masks).item() > 10


def test_gst_loss_by_hand():
    # group 1 halves at 0 and 1, group 2 halves at 3 and 3.5 (1-D features)
    features = torch.tensor([[0.0], [1.0], [3.0], [3.5]])
    # L(a=0,p=1,n=3) = max(0, 1-3+1)=0 ; L(a=3,p=3.5,n=0) = max(0, .5-3+1)=0
    assert gst_loss(features, margin=1.0).item() == pytest.approx(0.0, abs=1e-5)
    # margin 2.5: 1-3+2.5 = .5 ; .5-3+2.5 = 0
    assert gst_loss(features, margin=2.5).item() == pytest.approx(0.5, abs=1e-5)
    with pytest.raises(ValueError, match="at least 2 images"):
        gst_loss(torch.randn(2, 8))


def test_differentiable_binarization_and_fallback():
    p, t = torch.tensor([0.6, 0.5]), torch.tensor([0.5, 0.5])
    out, k = differentiable_binarization(p, t)
    assert k == 300 and out[1].item() == pytest.approx(0.5)
    assert out[0].item() == pytest.approx(1 / (1 + math.exp(-30)))
    # P - T = -0.3 overflows exp(-300 * -0.3) = exp(90) in float32 -> the whole batch uses k = 50
    out, k = differentiable_binarization(torch.tensor([0.2, 0.6]), torch.tensor([0.5, 0.5]))
    assert k == 50 and torch.isfinite(out).all()
    assert out[0].item() == pytest.approx(1 / (1 + math.exp(15)), rel=1e-5)
    assert out[1].item() == pytest.approx(1 / (1 + math.exp(-5)), rel=1e-5)


def test_gam_attention_on_tiny_features_by_hand():
    # two images of 1x2 pixels, one channel; identity embeddings
    features = torch.tensor([[[[1.0, 0.0]]], [[[2.0, 1.0]]]])
    # affinity = outer product of [1,0,2,1]; per image max over its 2 pixels then mean over the 2 images:
    # pixel value v: max(v*1, v*0) and max(v*2, v*1) -> for v>=0: (v + 2v)/2 = 1.5 v
    expected = torch.softmax(torch.tensor([1.5, 0.0, 3.0, 1.5]), dim=0).view(2, 1, 1, 2)
    assert torch.allclose(group_affinity_attention(features, features, "group"), expected)
    per_image = torch.stack([torch.softmax(torch.tensor([1.5, 0.0]), 0), torch.softmax(torch.tensor([3.0, 1.5]), 0)]).view(2, 1, 1, 2)
    assert torch.allclose(group_affinity_attention(features, features, "image"), per_image)


def test_objective_weights_each_term():
    config = make_config("tiny")
    saliency = torch.full((4, 1, 2, 2), 0.5)
    masks = torch.ones(4, 1, 2, 2)
    output = GCoNetOutput(saliency=saliency, class_logits=torch.zeros(4, 3), gst_features=torch.zeros(4, 2))
    breakdown = GCoNetLoss(config)(output, masks, torch.tensor([0, 0, 1, 1]))
    # BCE ln2; IoU 1 - 2/4; GST: both triplets at distance 0 cost the margin 1; ACM ln3
    expected = 30 * math.log(2) + 0.5 * 0.5 + 3 * 2.0 + 3 * math.log(3)
    assert breakdown.total.item() == pytest.approx(expected, rel=1e-5)
    assert set(breakdown.terms) == {"bce", "iou", "gst", "acm"}


def test_gate_loss_compares_the_gate_with_the_mask_averaged_to_its_size():
    masks = torch.zeros(1, 1, 4, 4)
    masks[..., :2, :] = 1.0  # top half: the group's object
    gate = torch.tensor([[[[0.9, 0.9], [0.1, 0.1]]]])  # open on it, closed below
    assert gate_loss(gate, masks).item() == pytest.approx(-math.log(0.9))
    assert gate_loss(1 - gate, masks).item() == pytest.approx(-math.log(0.1))  # open on the other object
    with pytest.raises(ValueError, match="gate of 1 images for 2 masks"):
        gate_loss(gate, masks.repeat(2, 1, 1, 1))


def test_objective_adds_the_gate_term_only_when_weighted():
    saliency, masks = torch.full((2, 1, 2, 2), 0.5), torch.ones(2, 1, 2, 2)
    output = GCoNetOutput(saliency=saliency, consensus_gate=torch.full((2, 1, 1, 1), 0.5))
    without = GCoNetLoss(make_config("tiny", use_gst=False, use_acm=False))(output, masks)
    weighted = GCoNetLoss(make_config("tiny", use_gst=False, use_acm=False, lambda_gate=2.0))(output, masks)
    assert "gate" not in without.terms
    assert weighted.total.item() == pytest.approx(without.total.item() + 2 * math.log(2), rel=1e-5)


# --- a group of one image -------------------------------------------------------------------------


def test_group_of_one_image_is_refused_by_gst_in_training_and_fine_without_it():
    images, masks = torch.randn(2, 3, 64, 64), (torch.rand(2, 1, 64, 64) > 0.5).float()
    class_ids = torch.tensor([0, 1])  # two groups of one image each
    config = make_config("tiny")
    with pytest.raises(ValueError, match="groups need at least 2 images"):
        GCoNetLoss(config)(GCoNetPlus(config).train()(images), masks, class_ids)
    without_gst = make_config("tiny", use_gst=False)  # GAM and GCM work on groups of one
    loss = GCoNetLoss(without_gst)(GCoNetPlus(without_gst).train()(images), masks, class_ids)
    assert math.isfinite(loss.total.item())
