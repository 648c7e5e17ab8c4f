"""Shapes, gradients, training-only branches and bad input of the full GCoNet+ model."""

from __future__ import annotations

import pytest
import torch

from gconet_lab.config import ConfigError, make_config
from gconet_lab.losses import GCoNetLoss
from gconet_lab.models import CosineGroupAffinityModule, GCoNetPlus, GroupAffinityModule
from gconet_lab.models.consensus_gate import ConsensusGate


def two_groups(n: int, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    images = torch.randn(2 * n, 3, size, size)
    masks = (torch.rand(2 * n, 1, size, size) > 0.5).float()
    class_ids = torch.tensor([0] * n + [1] * n)
    return images, masks, class_ids


@pytest.mark.parametrize("group_size", [1, 2, 7])
def test_inference_shapes_for_any_group_size(tiny_config, group_size):
    model = GCoNetPlus(tiny_config).eval()
    with torch.no_grad():
        out = model(torch.randn(group_size, 3, 64, 64), return_intermediates=True)
    assert out.saliency.shape == (group_size, 1, 64, 64)
    assert 0.0 <= out.saliency.min() and out.saliency.max() <= 1.0
    assert out.intermediates.gam_attention.shape[:2] == (group_size, 1)
    assert out.intermediates.consensus.shape == (1, model.encoder.channels[-1])
    assert out.gcm_logits is None and out.racm_class_logits is None


@pytest.mark.parametrize("preset", ["tiny", pytest.param("paper", marks=pytest.mark.slow)])
def test_training_outputs_for_two_groups(preset):
    config = make_config(preset, image_size=64) if preset == "paper" else make_config(preset)
    model = GCoNetPlus(config).train()
    images, masks, class_ids = two_groups(2, 64)
    out = model(images)
    assert out.saliency.shape == (4, 1, 64, 64)
    assert out.gcm_logits.shape == (8, 1, 64, 64)
    assert out.class_logits.shape == out.racm_class_logits.shape == (4, config.num_classes)
    assert out.gst_features.shape == (4, model.encoder.channels[-1])


def test_gam_attention_sums_to_one_over_the_group(tiny_config):
    model = GCoNetPlus(tiny_config).eval()
    with torch.no_grad():
        attention = model(torch.randn(3, 3, 64, 64), return_intermediates=True).intermediates.gam_attention
    assert torch.isclose(attention.sum(), torch.tensor(1.0), atol=1e-5)
    official = GCoNetPlus(make_config("tiny", variant="official")).eval()
    with torch.no_grad():
        attention = official(torch.randn(3, 3, 64, 64), return_intermediates=True).intermediates.gam_attention
    assert torch.allclose(attention.flatten(1).sum(1), torch.ones(3), atol=1e-5)


def test_cosine_gam_follows_the_recurring_direction_not_the_largest_feature():
    """Dot products favour a large feature; the cosine affinity the direction every image shares."""
    shared, other = torch.zeros(4), torch.zeros(4)
    shared[0], other[1] = 1.0, 1.0
    features = torch.zeros(3, 4, 1, 2)  # 3 images, 2 pixels each: pixel 0 holds the shared direction
    features[:, :, 0, 0] = shared
    features[:, :, 0, 1] = torch.tensor([[0.3, 0.3, 0.3, 0.3], [0.3, 0.3, 0.3, 0.3], [0.0, 5.0, 0.0, 0.0]])
    dot, cosine = GroupAffinityModule(4, 1), CosineGroupAffinityModule(4, 1, temperature=0.05)
    for gam in (dot, cosine):
        with torch.no_grad():
            gam.query.weight.copy_(torch.eye(4)[:, :, None, None])
            gam.key.weight.copy_(torch.eye(4)[:, :, None, None])
    with torch.no_grad():
        on_shared = {name: gam(features).attention[:, 0, 0, 0].sum().item() for name, gam in (("dot", dot), ("cosine", cosine))}
    assert on_shared["dot"] < 0.01 and on_shared["cosine"] > 0.9


def test_cosine_gam_consensus_is_the_attention_weighted_mean():
    gam = CosineGroupAffinityModule(3, 1)
    features = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    attention = torch.zeros(2, 1, 2, 2)
    attention[1, 0, 0, 1], attention[0, 0, 1, 1] = 3.0, 1.0  # any scale: normalised by the total
    expected = (3 * features[1, :, 0, 1] + features[0, :, 1, 1]) / 4
    assert torch.allclose(gam.consensus(features, attention).flatten(), expected)
    model = GCoNetPlus(make_config("tiny", gam_affinity="cosine")).eval()
    with torch.no_grad():
        attention = model(torch.randn(3, 3, 64, 64), return_intermediates=True).intermediates.gam_attention
    assert isinstance(model.gam, CosineGroupAffinityModule)
    assert torch.isclose(attention.sum(), torch.tensor(1.0), atol=1e-5)
    with pytest.raises(ConfigError, match="gam_temperature"):
        make_config("tiny", gam_affinity="cosine", gam_temperature=0.0)


def test_gradients_reach_every_trainable_parameter(tiny_config):
    model = GCoNetPlus(tiny_config).train()
    images, masks, class_ids = two_groups(2, 64)
    GCoNetLoss(tiny_config)(model(images), masks, class_ids).total.backward()
    missing = [name for name, p in model.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert missing == []


def test_official_variant_freezes_backbone_and_still_trains_heads():
    config = make_config("tiny", variant="official")
    model = GCoNetPlus(config).train()
    assert not any(p.requires_grad for p in model.encoder.parameters())
    images, masks, class_ids = two_groups(2, 64)
    GCoNetLoss(config)(model(images), masks, class_ids).total.backward()
    assert model.racm_mask_head.weight.grad.abs().sum() > 0  # RACM reaches the mask head through the frozen encoder
    assert model.gcm_head.predict.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("freeze_bn", [False, True])
def test_a_frozen_encoder_keeps_its_batch_norm_statistics_only_with_freeze_backbone_bn(tiny_config, freeze_bn):
    model = GCoNetPlus(tiny_config.replace(freeze_backbone=True, freeze_backbone_bn=freeze_bn)).train()
    norms = [m for m in model.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    before = [m.running_mean.clone() for m in norms]
    images, masks, class_ids = two_groups(2, 64)
    GCoNetLoss(model.config)(model(images * 3 + 1), masks, class_ids).total.backward()
    moved = any(not torch.equal(m.running_mean, b) for m, b in zip(norms, before))
    assert moved != freeze_bn and all(m.training != freeze_bn for m in norms)
    assert model.decoder.training and model.training  # the rest of the model still trains
    assert model.gcm_head.predict.weight.grad.abs().sum() > 0


def test_no_training_branch_runs_in_eval_mode(tiny_config, monkeypatch):
    model = GCoNetPlus(tiny_config).eval()
    calls = []
    for name in ("gcm_head", "classifier"):
        module = getattr(model, name)
        monkeypatch.setattr(module, "forward", lambda *a, _n=name, **k: calls.append(_n))
    encoder_calls = []
    model.encoder.register_forward_hook(lambda *_: encoder_calls.append(1))
    with torch.no_grad():
        model(torch.randn(3, 3, 64, 64))
    assert calls == [] and len(encoder_calls) == 1  # no GCM, no ACM, no RACM re-encoding


def test_seeded_construction_and_forward_are_deterministic(tiny_config):
    outputs = []
    for _ in range(2):
        torch.manual_seed(3)
        model = GCoNetPlus(tiny_config).train()
        images, _, _ = two_groups(2, 64)
        outputs.append(model(images).saliency)
    assert torch.equal(outputs[0], outputs[1])


def test_component_switches_remove_their_modules():
    config = make_config("tiny", use_gcm=False, use_cem=False, use_racm=False, use_gst=False, use_acm=False)
    model = GCoNetPlus(config).train()
    assert not hasattr(model, "gcm_head") and not hasattr(model, "cem") and not hasattr(model, "classifier")
    images, masks, _ = two_groups(2, 64)
    out = model(images)
    breakdown = GCoNetLoss(config)(out, masks)
    assert set(breakdown.terms) == {"bce", "iou"}


def test_swapping_gam_for_another_relation_module(tiny_config):
    from gconet_lab.models import GAMOutput

    class MeanConsensus(torch.nn.Module):
        def forward(self, features):
            n, _, h, w = features.shape
            return GAMOutput(features.mean(dim=(0, 2, 3), keepdim=True), torch.full((n, 1, h, w), 1.0 / (h * w)))

    model = GCoNetPlus(tiny_config, gam=MeanConsensus()).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).saliency.shape == (2, 1, 64, 64)


@pytest.mark.parametrize(
    "images, message",
    [(torch.randn(3, 64, 64), "shape"), (torch.randn(2, 1, 64, 64), "shape"), (torch.randn(3, 3, 64, 64), "two groups")],
)
def test_bad_input_gets_a_clear_error(tiny_config, images, message):
    model = GCoNetPlus(tiny_config).train()
    with pytest.raises(ValueError, match=message):
        model(images)


def test_unknown_config_option_is_named():
    with pytest.raises(ConfigError, match="use_gamm.*did you mean 'use_gam'"):
        make_config("tiny", use_gamm=False)
    with pytest.raises(ConfigError, match="gam_softmax"):
        make_config("tiny", gam_softmax="pixel")
    with pytest.raises(ConfigError, match="GCM"):
        make_config("tiny", use_gam=False)
    with pytest.raises(ConfigError, match="freeze_backbone_bn=True needs freeze_backbone=True"):
        make_config("tiny", freeze_backbone_bn=True)
    with pytest.raises(ConfigError, match="zoom_p=1.5 must be a probability"):
        make_config("tiny", zoom_p=1.5)


def test_consensus_gate_opens_where_features_agree_with_the_consensus():
    gate = ConsensusGate(3, projection_channels=3, sharpness=10.0, offset=0.3)
    torch.nn.init.eye_(gate.projection.weight[:, :, 0, 0])  # P = identity: the raw features' cosine
    consensus = torch.tensor([[1.0, 0.0, 0.0]])
    features = torch.zeros(1, 3, 1, 2)
    features[0, :, 0, 0] = torch.tensor([2.0, 0.0, 0.0])  # the consensus' direction, at another length
    features[0, :, 0, 1] = torch.tensor([0.0, 1.0, 0.0])  # orthogonal to it
    opened, closed = gate(features, consensus).flatten().tolist()
    assert opened == pytest.approx(torch.sigmoid(torch.tensor(7.0)).item())
    assert closed == pytest.approx(torch.sigmoid(torch.tensor(-3.0)).item())


def test_with_the_consensus_gate_one_photo_gets_another_map_in_another_group(tiny_config):
    model = GCoNetPlus(tiny_config.replace(consensus_gate=True, cem_k=10.0)).eval()
    photo, group_a, group_b = torch.randn(1, 3, 64, 64), torch.randn(2, 3, 64, 64), torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        in_a = model(torch.cat([photo, group_a]), return_intermediates=True)
        in_b = model(torch.cat([photo, group_b]))
    gate = in_a.intermediates.consensus_gate
    assert gate.shape == (3, 1, 2, 2) and ((gate > 0) & (gate < 1)).all()
    assert not torch.allclose(in_a.saliency[0], in_b.saliency[0])  # the group reaches the decoder's every input
    images, masks, class_ids = two_groups(2, 64)
    model.train()
    output = model(images)
    assert output.consensus_gate.shape == (len(images), 1, 2, 2)  # for the gate loss
    GCoNetLoss(model.config)(output, masks, class_ids).total.backward()
    assert model.consensus_gate.sharpness.grad is not None and model.consensus_gate.offset.grad is not None
    with pytest.raises(ConfigError, match="consensus_gate=True needs use_gam=True"):
        make_config("tiny", consensus_gate=True, use_gam=False, use_gcm=False)
