"""Trained GCoNet+ models that ship inside the package, usable by a short name.

``gconet-lab evaluate --checkpoint cpu-copypaste-224 ...`` or ``load_shipped_model("cpu-copypaste-224")`` runs a
trained model without training first. Each shipped model is two files in ``gconet_lab/weights/``:

* ``<name>.pt``: the weights in half precision (a few MB), with the configuration and class names,
  all plain types (it loads with ``torch.load(weights_only=True)``);
* ``<name>.json``: its model card: data, command, seed, steps, wall time, torch version, the
  SHA-256 of the ``.pt`` and its metrics; ``<name>.md`` is the same card rendered for people
  (:func:`render_model_card`; a test checks both against the weights).

Weights are stored in float16 and loaded back into a float32 model: rounding the weights to 11
significant bits moves the maps by far less than the metrics' last printed digit (the card's
metrics are measured on the shipped half-precision file itself).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from gconet_lab.engine.checkpoint import WEIGHTS_FORMAT, model_from_training_checkpoint, read_training_checkpoint
from gconet_lab.engine.recipes import SHIPPED_RECIPE
from gconet_lab.models.official_checkpoint import CheckpointError, read_checkpoint_file

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
DEFAULT_MODEL = SHIPPED_RECIPE
"""The shipped model the notebooks study (:func:`gconet_lab.pipeline.get_trained_model`), named after its recipe."""


def shipped_names() -> list[str]:
    """Short names of the models in :data:`WEIGHTS_DIR`, e.g. ``["cpu-copypaste-224"]``."""
    return sorted(path.stem for path in WEIGHTS_DIR.glob("*.pt"))


def resolve_checkpoint(name_or_path: str | os.PathLike) -> Path:
    """A shipped model's file for its short name; any other value is taken as a path."""
    text = os.fspath(name_or_path)
    if text in shipped_names() and not Path(text).exists():
        return WEIGHTS_DIR / f"{text}.pt"
    return Path(text)


def export_weights(checkpoint: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write a training checkpoint's model as shipped weights: half precision, no optimizer, plain types."""
    payload = read_training_checkpoint(checkpoint)
    state = {name: tensor.half() if tensor.is_floating_point() else tensor for name, tensor in payload["model"].items()}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": WEIGHTS_FORMAT, "config": payload["config"], "class_names": payload["class_names"],
                "model": state}, out)
    return out


def load_shipped_model(name: str = DEFAULT_MODEL, device: str | torch.device = "cpu"):
    """The shipped model ``name`` in eval mode (float32 weights rounded from the stored float16)."""
    path = WEIGHTS_DIR / f"{name}.pt"
    if not path.is_file():
        raise CheckpointError(f"no shipped model {name!r}; shipped: {', '.join(shipped_names()) or 'none'}")
    return model_from_training_checkpoint(read_checkpoint_file(path), path).to(device)


def read_model_card(name: str = DEFAULT_MODEL) -> dict[str, Any]:
    """The model card of a shipped model (``<name>.json``)."""
    return json.loads((WEIGHTS_DIR / f"{name}.json").read_text(encoding="utf-8"))


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
