"""The shipped model: its file, its model card, and its metrics on iCoseg re-measured."""

from __future__ import annotations

import pytest

from gconet_lab.engine.checkpoint import load_any_model
from gconet_lab.engine.shipped import (
    WEIGHTS_DIR,
    read_model_card,
    render_model_card,
    resolve_checkpoint,
    sha256_of,
    shipped_names,
)
from gconet_lab.inference.evaluate import evaluate_model
from gconet_lab.models.official_checkpoint import read_checkpoint_file

NAME = "cpu-copypaste"


def test_the_model_ships_with_its_card():
    assert NAME in shipped_names()
    card = read_model_card(NAME)
    path = WEIGHTS_DIR / f"{NAME}.pt"
    assert path.stat().st_size == card["size_bytes"] <= 20 * 1024**2
    assert sha256_of(path) == card["sha256"]
    assert (WEIGHTS_DIR / f"{NAME}.md").read_text(encoding="utf-8") == render_model_card(card)
    payload = read_checkpoint_file(path)  # weights_only: plain types only
    assert all(str(tensor.dtype) == "torch.float16" for tensor in payload["model"].values() if tensor.is_floating_point())


def test_short_name_resolves_on_the_command_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_checkpoint(NAME) == WEIGHTS_DIR / f"{NAME}.pt"
    assert resolve_checkpoint("runs/x/checkpoint.pt").as_posix() == "runs/x/checkpoint.pt"
    assert load_any_model(resolve_checkpoint(NAME)).config.encoder == "efficientnet_lite0"


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
