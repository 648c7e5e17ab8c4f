"""Making a shipped model: :func:`export_weights` and :func:`render_model_card`.

A trained model ships as three files in ``gconet_lab/weights/`` and one line of
:class:`~gconet_lab.models.weights.GCoNetWeights` (which loads it, with :func:`~gconet_lab.models.weights.gconet_plus`):

1. ``export_weights("runs/<name>/checkpoint.pt", "gconet_lab/weights/<name>.pt")``: the model of a
   training checkpoint in half precision, without optimizer or position, plain types only;
2. ``<name>.json``: its model card (data, command, recipe, seed, steps, epochs, wall time, machine,
   torch, precision, ``size_bytes``, ``sha256``, ``metric_names``, ``metrics`` measured on the
   exported file with :func:`~gconet_lab.inference.evaluate.evaluate_model`, notes);
3. ``<name>.md``: ``render_model_card(card)`` (a test checks both against the weights);
4. ``NAME = ("<name>.pt", "<sha256>", <image size>)`` in ``GCoNetWeights``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from gconet_lab.engine.checkpoint import read_training_checkpoint
from gconet_lab.models.weights import WEIGHTS_FORMAT


def export_weights(checkpoint: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write a training checkpoint's model as shipped weights: half precision, no optimizer, plain types."""
    payload = read_training_checkpoint(checkpoint)
    state = {name: tensor.half() if tensor.is_floating_point() else tensor for name, tensor in payload["model"].items()}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": WEIGHTS_FORMAT, "config": payload["config"], "class_names": payload["class_names"],
                "model": state}, out)
    return out


def render_model_card(card: dict[str, Any]) -> str:
    """The Markdown model card (``<name>.md``) of a card dict."""
    lines = [f"# Model card: `{card['name']}`", "", card["summary"], "", "| | |", "|---|---|"]
    for key in ("data", "command", "recipe", "seed", "steps", "epochs", "wall_time", "machine", "torch", "precision",
                "size_bytes", "sha256"):
        lines.append(f"| {key.replace('_', ' ')} | {card[key]} |")
    lines += ["", "Metrics (official protocol; test sets never seen in training):", "",
              "| test set | images | " + " | ".join(card["metric_names"]) + " |",
              "|---|---|" + "---|" * len(card["metric_names"])]
    for test_set, scores in card["metrics"].items():
        lines.append(f"| {test_set} | {scores['n']} | " + " | ".join(f"{scores[m]:.4f}" for m in card["metric_names"]) + " |")
    lines += ["", card["notes"], ""]
    return "\n".join(lines)
