"""Parity with the official GCoNet+: load its state dict, reproduce its outputs.

Two fixtures made by running the official code on CPU (random weights, random BN statistics):
``official_gconet_plus_fixture.pt`` holds the weights, the inputs and the float32 outputs, and
``official_gconet_plus_fixture_float64.pt`` the same outputs computed in float64.  Every tolerance
below comes from the official code, never from our own forward pass:

* in float64 our forward must reproduce the official float64 outputs to float64 rounding;
* in float32 our forward may be as far from the official float64 outputs as the official float32
  run is (times a small margin).  That distance is large only for the train-mode saliency and
  RACM logits (~20 BatchNorms on batch statistics, then the k = 300 step of the CEM).
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from gconet_lab.config import make_config
from gconet_lab.models import CheckpointError, GCoNetPlus, load_official_checkpoint
from gconet_lab.models.weights import gconet_plus

from conftest import require_shared

pytestmark = pytest.mark.slow  # the paper-scale model: several seconds a test on 2 cores

FLOAT64_TOLERANCE = 1e-9  # measured: 4e-13 at most
FLOAT32_MARGIN = 1.5  # we may be 1.5x as far from float64 as the official float32 run
# The official output names of ``train_output`` and ours.
TRAIN_OUTPUTS = {"saliency": "saliency", "class_logits": "class_logits", "gcm_logits": "gcm_logits",
                 "racm_class_logits": "racm_class_logits", "pooled_x5": "pooled_features"}


@pytest.fixture(scope="module")
def fixture() -> dict:
    return torch.load(require_shared("reference/official_gconet_plus_fixture.pt"), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def fixture64() -> dict:
    path = require_shared("reference/official_gconet_plus_fixture_float64.pt")
    return torch.load(path, map_location="cpu", weights_only=False)


def official_model(state_dict: dict[str, Tensor]) -> GCoNetPlus:
    """The official GCoNet+ with ``state_dict``, in eval mode (what ``gconet_plus("<official>.pth")`` builds)."""
    model = GCoNetPlus(make_config("paper", variant="official"))
    load_official_checkpoint(model, state_dict)
    return model.eval()


@pytest.fixture(scope="module")
def train_outputs32(fixture) -> dict[str, Tensor]:
    model = official_model(fixture["state_dict"]).train()
    with torch.no_grad():
        out = model(fixture["train_input"])
    return {name: getattr(out, ours) for name, ours in TRAIN_OUTPUTS.items()}


def float32_bound(official32: Tensor, official64: Tensor) -> float:
    """How far a float32 forward may be from the official float64 output: the official float32 run's distance."""
    return FLOAT32_MARGIN * (official32.double() - official64).abs().max().item()


def within_official_float32_rounding(ours: Tensor, official32: Tensor, official64: Tensor) -> bool:
    return (ours.double() - official64).abs().max().item() <= float32_bound(official32, official64)


def test_float64_forward_reproduces_the_official_float64_outputs(fixture, fixture64):
    model = official_model(fixture["state_dict"]).double()
    with torch.no_grad():
        saliency = model(fixture["eval_input"].double()).saliency
        model.train()
        out = model(fixture["train_input"].double())
    assert (saliency - fixture64["eval_output"]).abs().max() <= FLOAT64_TOLERANCE
    for name, ours in TRAIN_OUTPUTS.items():
        assert (getattr(out, ours) - fixture64["train_output"][name]).abs().max() <= FLOAT64_TOLERANCE, name


def test_float32_eval_output_is_within_the_official_float32_rounding(fixture, fixture64):
    with torch.no_grad():
        saliency = official_model(fixture["state_dict"])(fixture["eval_input"]).saliency
    assert within_official_float32_rounding(saliency, fixture["eval_output"], fixture64["eval_output"])


@pytest.mark.parametrize("name", TRAIN_OUTPUTS)
def test_float32_train_outputs_are_within_the_official_float32_rounding(name, fixture, fixture64, train_outputs32):
    official32, official64 = fixture["train_output"][name], fixture64["train_output"][name]
    assert within_official_float32_rounding(train_outputs32[name], official32, official64)


def test_an_offset_in_the_train_mode_saliency_is_caught(fixture, fixture64, train_outputs32):
    # An error of 6e-4 in the train path must fail, whatever our own rounding is.
    official32, official64 = fixture["train_output"]["saliency"], fixture64["train_output"]["saliency"]
    assert not within_official_float32_rounding(train_outputs32["saliency"] + 6e-4, official32, official64)


def test_checkpoint_wrappers_and_prefixes_are_accepted(fixture):
    wrapped = {"state_dict": {f"module.{k}": v for k, v in fixture["state_dict"].items()}, "epoch": 3}
    with torch.no_grad():
        saliency = official_model(wrapped)(fixture["eval_input"]).saliency
    assert (saliency - fixture["eval_output"]).abs().max() <= 1e-5


def test_mismatching_checkpoint_lists_keys(fixture):
    model = GCoNetPlus(make_config("paper"))  # paper variant: 3x3 GAM embeddings, no mask head
    with pytest.raises(CheckpointError, match="shape mismatch.*gam.query.weight"):
        load_official_checkpoint(model, fixture["state_dict"])
    broken = dict(fixture["state_dict"])
    broken.pop("top_layer.conv_in.weight")
    broken["extra.weight"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match=r"missing \(1\): decoder.top_layer.conv_in.weight[\s\S]*unexpected \(1\): extra.weight"):
        official_model(broken)


def test_parameter_count_matches_the_official_model_less_its_unused_modules():
    # 18,415,048 official parameters, of which 787,968 + 33 are never used (difference C21)
    model = GCoNetPlus(make_config("paper", variant="official"))
    assert sum(p.numel() for p in model.parameters()) == 18_415_048 - 787_968 - 33


def test_the_builder_recognises_an_official_file(fixture, tmp_path):
    torch.save({"state_dict": fixture["state_dict"]}, tmp_path / "official.pth")
    model = gconet_plus(tmp_path / "official.pth")
    assert model.config == make_config("paper", variant="official") and not model.training
    with torch.no_grad():
        assert (model(fixture["eval_input"]).saliency - fixture["eval_output"]).abs().max() <= 1e-5
