"""Parity with the official GCoNet+: load its state dict, reproduce its outputs (reference fixture).

The fixture holds the official model's outputs (random weights, random BN statistics) on CPU.  In
eval mode and for the GCM, ACM and pooled features we match to 1e-5.  The train-mode saliency and
RACM logits pass through ~20 BatchNorms that use batch statistics of random features and then the
k = 300 step, which amplifies float32 rounding ~1e3 times: the fixture itself is 3e-4 away from a
float64 evaluation of the same network.  There we check that we are no farther from the fixture
than the fixture is from exact arithmetic.
"""

from __future__ import annotations

import pytest
import torch

from conftest import require_shared
from gconet_lab.config import make_config
from gconet_lab.models import CheckpointError, GCoNetPlus, load_official_checkpoint


@pytest.fixture(scope="module")
def fixture():
    return torch.load(require_shared("reference/official_gconet_plus_fixture.pt"), map_location="cpu", weights_only=True)


def official_model(state_dict) -> GCoNetPlus:
    model = GCoNetPlus(make_config("paper", variant="official"))
    load_official_checkpoint(model, state_dict)
    return model


def test_eval_output_matches(fixture):
    model = official_model(fixture).eval()
    with torch.no_grad():
        saliency = model(fixture["eval_input"]).saliency
    assert (saliency - fixture["eval_output"]).abs().max() <= 1e-5


def test_train_outputs_match(fixture):
    model = official_model(fixture["state_dict"]).train()
    with torch.no_grad():
        out = model(fixture["train_input"])
    expected = fixture["train_output"]
    assert (out.gcm_logits - expected["gcm_logits"]).abs().max() <= 1e-5
    assert (out.class_logits - expected["class_logits"]).abs().max() <= 1e-5
    assert (out.pooled_features - expected["pooled_x5"]).abs().max() <= 1e-5
    with torch.no_grad():
        exact = official_model(fixture["state_dict"]).double().train()(fixture["train_input"].double())
    for ours, reference, name in ((out.saliency, exact.saliency, "saliency"), (out.racm_class_logits, exact.racm_class_logits, "racm_class_logits")):
        fixture_rounding = (expected[name].double() - reference).abs().max()
        assert (ours - expected[name]).abs().max() <= 1.5 * fixture_rounding, name
        assert fixture_rounding < 1e-3


def test_checkpoint_wrappers_and_prefixes_are_accepted(fixture):
    wrapped = {"state_dict": {f"module.{k}": v for k, v in fixture["state_dict"].items()}, "epoch": 3}
    official_model(wrapped)


def test_mismatching_checkpoint_lists_keys(fixture):
    model = GCoNetPlus(make_config("paper"))  # paper variant: 3x3 GAM embeddings, no mask head
    with pytest.raises(CheckpointError, match="shape mismatch.*gam.query.weight"):
        load_official_checkpoint(model, fixture["state_dict"])
    broken = dict(fixture["state_dict"])
    broken.pop("top_layer.conv_in.weight")
    broken["extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"missing \(1\): decoder.top_layer.conv_in.weight[\s\S]*unexpected \(1\): extra.weight"):
        load_official_checkpoint(official_model(fixture["state_dict"]), broken)


def test_parameter_count_matches_the_official_model_less_its_unused_modules():
    # 18,415,048 official parameters, of which 787,968 + 33 are never used (reference A.8, C.21)
    model = GCoNetPlus(make_config("paper", variant="official"))
    assert sum(p.numel() for p in model.parameters()) == 18_415_048 - 787_968 - 33


def test_any_checkpoint_loader_recognises_an_official_file(fixture, tmp_path):
    from gconet_lab.checkpoint import load_any_model

    torch.save({"state_dict": fixture["state_dict"]}, tmp_path / "official.pth")
    model = load_any_model(tmp_path / "official.pth")
    assert model.config.variant == "official" and not model.training
    with torch.no_grad():
        assert (model(fixture["eval_input"]).saliency - fixture["eval_output"]).abs().max() <= 1e-5
