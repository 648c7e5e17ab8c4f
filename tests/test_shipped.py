"""The shipped model: its file, its model card, and its metrics on iCoseg re-measured."""

from __future__ import annotations

import pytest
import torch

from gconet_lab.data.sources.manifest import sha256_of
from gconet_lab.engine.checkpoint import load_any_model
from gconet_lab.engine.recipes import CPU_RECIPE, RECIPES, SHIPPED_RECIPE
from gconet_lab.engine.shipped import (
    WEIGHTS_DIR,
    read_model_card,
    render_model_card,
    resolve_checkpoint,
    shipped_names,
)
from gconet_lab.inference.evaluate import evaluate_model
from gconet_lab.models.official_checkpoint import read_checkpoint_file

NAME = "cpu-copypaste-224"


def test_the_model_ships_with_its_card():
    assert NAME in shipped_names()
    card = read_model_card(NAME)
    path = WEIGHTS_DIR / f"{NAME}.pt"
    assert path.stat().st_size == card["size_bytes"] <= 20 * 1024**2
    assert sha256_of(path) == card["sha256"]
    assert (WEIGHTS_DIR / f"{NAME}.md").read_text(encoding="utf-8") == render_model_card(card)
    payload = read_checkpoint_file(path)  # weights_only: plain types only
    assert all(str(tensor.dtype) == "torch.float16" for tensor in payload["model"].values() if tensor.is_floating_point())


def test_the_shipped_configuration_is_its_recipes():
    """The card's command reproduces the model: its configuration is the recipe's (the class count comes
    from the data), and that recipe is the main job's CPU recipe at 224 pixels."""
    shipped = load_any_model(resolve_checkpoint(NAME)).config.to_dict()
    recipe = RECIPES[SHIPPED_RECIPE].config().to_dict()
    assert read_model_card(NAME)["recipe"].startswith(SHIPPED_RECIPE + " ")
    assert {name for name in recipe if shipped[name] != recipe[name]} == {"num_classes"}
    cpu = RECIPES[CPU_RECIPE]
    assert RECIPES[SHIPPED_RECIPE].sets == cpu.sets
    assert RECIPES[SHIPPED_RECIPE].config_options == {**cpu.config_options, "image_size": 224}


def test_short_name_resolves_on_the_command_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_checkpoint(NAME) == WEIGHTS_DIR / f"{NAME}.pt"
    assert resolve_checkpoint("runs/x/checkpoint.pt").as_posix() == "runs/x/checkpoint.pt"
    assert load_any_model(resolve_checkpoint(NAME)).config.encoder == "efficientnet_lite0_s16"


@pytest.mark.slow
def test_card_metrics_are_reproduced_on_icoseg(tmp_path, icoseg_root):
    from gconet_lab.data.sources.icoseg import convert_icoseg

    convert_icoseg(icoseg_root, tmp_path / "data", "iCoseg")
    card = read_model_card(NAME)
    model = load_any_model(resolve_checkpoint(NAME))
    scores = evaluate_model(model, tmp_path / "data", "iCoseg", tmp_path / "eval").evaluation.results
    assert scores["n"] == card["metrics"]["iCoseg"]["n"] == 481
    for metric in card["metric_names"]:
        assert scores[metric] == pytest.approx(card["metrics"]["iCoseg"][metric], abs=0.002), metric
    assert scores["S"] > 0.6 and scores["maxF"] > 0.6  # well above the centre prior (S 0.53, maxF 0.43)


def test_the_notebooks_model_is_the_shipped_one_unless_named(tmp_path, monkeypatch):
    from gconet_lab.engine.checkpoint import model_from_training_checkpoint
    from gconet_lab.pipeline import get_trained_model

    monkeypatch.delenv("GCONET_OFFICIAL_CHECKPOINT", raising=False)
    monkeypatch.delenv("GCONET_LAB_MODEL", raising=False)
    model = get_trained_model()  # nothing is trained: loading only
    shipped = read_checkpoint_file(WEIGHTS_DIR / f"{NAME}.pt")["model"]
    assert not model.training
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, shipped[name].to(tensor.dtype)), name
    # $GCONET_LAB_MODEL names another model: here a copy with its first weight changed
    payload = read_checkpoint_file(WEIGHTS_DIR / f"{NAME}.pt")
    first = next(name for name, tensor in payload["model"].items() if tensor.is_floating_point())
    payload["model"][first] = payload["model"][first] + 1
    torch.save(payload, tmp_path / "other.pt")
    monkeypatch.setenv("GCONET_LAB_MODEL", str(tmp_path / "other.pt"))
    other = get_trained_model()
    assert torch.equal(other.state_dict()[first], model_from_training_checkpoint(payload).state_dict()[first])
    assert not torch.equal(other.state_dict()[first], model.state_dict()[first])
