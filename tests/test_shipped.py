"""The shipped model: its file, its card, the builder and its weights enum, and its metrics on iCoseg re-measured."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gconet_lab import GCoNetPlus, GCoNetWeights, gconet_plus, make_config
from gconet_lab.data import prepare_image
from gconet_lab.data.sources.manifest import sha256_of
from gconet_lab.engine.checkpoint import save_training_checkpoint
from gconet_lab.engine.recipes import CPU_RECIPE, RECIPES, SHIPPED_RECIPE
from gconet_lab.engine.shipped import export_weights, render_model_card
from gconet_lab.engine.train import make_optimizer
from gconet_lab.inference.evaluate import evaluate_model
from gconet_lab.models import CheckpointError
from gconet_lab.models.official_checkpoint import read_checkpoint_file

NAME = "cpu-copypaste-224"
WEIGHTS = GCoNetWeights.CPU_COPYPASTE_224


def test_the_model_ships_with_its_card():
    assert GCoNetWeights.DEFAULT is WEIGHTS and WEIGHTS.model_name == NAME
    card = WEIGHTS.meta
    assert card["name"] == NAME and card["sha256"] == WEIGHTS.sha256 == sha256_of(WEIGHTS.path)
    assert WEIGHTS.path.stat().st_size == card["size_bytes"] <= 20 * 1024**2
    assert WEIGHTS.path.with_suffix(".md").read_text(encoding="utf-8") == render_model_card(card)
    payload = read_checkpoint_file(WEIGHTS.path)  # weights_only: plain types only
    assert all(str(tensor.dtype) == "torch.float16" for tensor in payload["model"].values() if tensor.is_floating_point())


def test_every_member_has_its_files_and_its_input_size():
    for weights in GCoNetWeights:
        assert weights.path.is_file() and weights.path.with_suffix(".json").is_file(), weights
        assert weights.image_size == read_checkpoint_file(weights.path)["config"]["image_size"], weights


def test_the_shipped_configuration_is_its_recipes():
    """The card's command reproduces the model: its configuration is the recipe's (the class count comes
    from the data), and that recipe is the main job's CPU recipe at 224 pixels."""
    shipped = gconet_plus(WEIGHTS).config.to_dict()
    recipe = RECIPES[SHIPPED_RECIPE].config().to_dict()
    assert WEIGHTS.meta["recipe"].startswith(SHIPPED_RECIPE + " ")
    assert {name for name in recipe if shipped[name] != recipe[name]} == {"num_classes"}
    cpu = RECIPES[CPU_RECIPE]
    assert RECIPES[SHIPPED_RECIPE].sets == cpu.sets
    assert RECIPES[SHIPPED_RECIPE].config_options == {**cpu.config_options, "image_size": 224}


def test_the_builder_takes_a_member_its_name_or_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # names resolve wherever the command runs
    model = gconet_plus(WEIGHTS)
    assert isinstance(model, GCoNetPlus) and not model.training and model.config.encoder == "efficientnet_lite0_s16"
    for name in (NAME, "DEFAULT", "CPU_COPYPASTE_224"):
        assert torch.equal(next(iter(gconet_plus(name).state_dict().values())), next(iter(model.state_dict().values())))
    random = gconet_plus(config=make_config("tiny"))
    assert random.config == make_config("tiny")
    with pytest.raises(ValueError, match="not both"):
        gconet_plus(WEIGHTS, config=make_config("tiny"))
    with pytest.raises(FileNotFoundError, match=f"runs/x/checkpoint.pt.*shipped models: {NAME}"):
        gconet_plus("runs/x/checkpoint.pt")


def test_a_changed_shipped_file_is_refused_naming_it(tmp_path, monkeypatch):
    data = bytearray(WEIGHTS.path.read_bytes())
    data[-1] ^= 1  # one bit flipped
    (tmp_path / WEIGHTS.file).write_bytes(bytes(data))
    monkeypatch.setattr("gconet_lab.models.weights.WEIGHTS_DIR", tmp_path)
    with pytest.raises(CheckpointError, match=rf"{WEIGHTS.file} does not match its SHA-256"):
        gconet_plus(WEIGHTS)


def test_transforms_are_the_models_preprocessing():
    image = np.random.default_rng(0).integers(0, 256, (40, 70, 3), dtype=np.uint8)
    preprocess = WEIGHTS.transforms()
    expected = prepare_image(image, WEIGHTS.image_size)
    assert torch.equal(preprocess(image), expected) and torch.equal(preprocess(Image.fromarray(image)), expected)
    assert expected.shape == (3, 224, 224)


def test_exported_weights_load_through_the_builder(tmp_path):
    model = GCoNetPlus(make_config("tiny")).eval()
    save_training_checkpoint(tmp_path / "checkpoint.pt", model=model, optimizer=make_optimizer(model, model.config),
                             scaler=None, config=model.config, epoch=1, step=0, batch_in_epoch=0, class_names=["a", "b"])
    exported = export_weights(tmp_path / "checkpoint.pt", tmp_path / "weights" / "tiny.pt")
    assert all(t.dtype == torch.float16 for t in read_checkpoint_file(exported)["model"].values() if t.is_floating_point())
    loaded = gconet_plus(exported)
    assert loaded.config == model.config and not loaded.training
    images = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        assert (loaded(images).saliency - model(images).saliency).abs().max() < 0.05  # weights rounded to float16


@pytest.mark.slow
def test_card_metrics_are_reproduced_on_icoseg(tmp_path, icoseg_root):
    from gconet_lab.data.sources.icoseg import convert_icoseg

    convert_icoseg(icoseg_root, tmp_path / "data", "iCoseg")
    card = WEIGHTS.meta
    scores = evaluate_model(gconet_plus(WEIGHTS), tmp_path / "data", "iCoseg", tmp_path / "eval").evaluation.results
    assert scores["n"] == card["metrics"]["iCoseg"]["n"] == 481
    for metric in card["metric_names"]:
        assert scores[metric] == pytest.approx(card["metrics"]["iCoseg"][metric], abs=0.002), metric
    assert scores["S"] > 0.6 and scores["maxF"] > 0.6  # well above the centre prior (S 0.53, maxF 0.43)


def test_the_notebooks_study_the_shipped_model_unless_named(tmp_path, monkeypatch):
    from gconet_lab.lab.notebook import studied_weights

    monkeypatch.delenv("GCONET_OFFICIAL_CHECKPOINT", raising=False)
    monkeypatch.delenv("GCONET_LAB_MODEL", raising=False)
    assert studied_weights() is GCoNetWeights.DEFAULT
    # $GCONET_LAB_MODEL names another model: here a copy with its first weight changed
    payload = read_checkpoint_file(WEIGHTS.path)
    first = next(name for name, tensor in payload["model"].items() if tensor.is_floating_point())
    payload["model"][first] = payload["model"][first] + 1
    torch.save(payload, tmp_path / "other.pt")
    monkeypatch.setenv("GCONET_LAB_MODEL", str(tmp_path / "other.pt"))
    other = gconet_plus(studied_weights())
    assert torch.equal(other.state_dict()[first], payload["model"][first].float())


def test_the_twin_is_the_same_recipe_without_gam_and_gcm():
    """The shipped pair differ only in the group modules: the ablation of GAM and GCM at full training length."""
    with_gam, without = GCoNetWeights.shipped_pair()
    assert with_gam is WEIGHTS and without.model_name == f"{NAME}-without-gam-gcm"
    card = without.meta
    assert card["sha256"] == without.sha256 == sha256_of(without.path) and card["size_bytes"] <= 12 * 1024**2
    assert without.path.with_suffix(".md").read_text(encoding="utf-8") == render_model_card(card)
    ours, twin = gconet_plus(with_gam).config.to_dict(), gconet_plus(without).config.to_dict()
    assert {name for name in ours if ours[name] != twin[name]} == {"use_gam", "use_gcm"}
    assert card["seed"] == WEIGHTS.meta["seed"] and card["steps"] == WEIGHTS.meta["steps"]
    model = gconet_plus(without)
    assert not hasattr(model, "gam") and not hasattr(model, "gcm_head")


def test_without_gam_a_photo_gets_one_map_whatever_its_group():
    model = gconet_plus(GCoNetWeights.CPU_COPYPASTE_224_WITHOUT_GAM_GCM)
    photo, group_a, group_b = (torch.randn(n, 3, 224, 224) for n in (1, 2, 3))
    with torch.no_grad():
        in_a, in_b = model(torch.cat([photo, group_a])).saliency[0], model(torch.cat([photo, group_b])).saliency[0]
    assert torch.allclose(in_a, in_b, atol=1e-5)
