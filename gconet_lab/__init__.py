"""gconet-lab: GCoNet+ (Zheng et al., T-PAMI 2023) to learn, reproduce and dissect.

The names most code starts from::

    from gconet_lab import GCoNetWeights, evaluate_model, gconet_plus, make_config

    model = gconet_plus(GCoNetWeights.DEFAULT)             # the shipped trained model
    scores = evaluate_model(model, "outputs/data", "iCoseg", "runs/eval")

They load on first use, so that ``import gconet_lab`` (and ``gconet-lab --help``) does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "GCoNetConfig": "gconet_lab.config",
    "make_config": "gconet_lab.config",
    "GCoNetPlus": "gconet_lab.models.gconet_plus",
    "GCoNetWeights": "gconet_lab.models.weights",
    "gconet_plus": "gconet_lab.models.weights",
    "evaluate_model": "gconet_lab.inference.evaluate",
}
__all__ = ["GCoNetConfig", "GCoNetPlus", "GCoNetWeights", "evaluate_model", "gconet_plus", "make_config"]

if TYPE_CHECKING:
    from gconet_lab.config import GCoNetConfig, make_config
    from gconet_lab.inference.evaluate import evaluate_model
    from gconet_lab.models.gconet_plus import GCoNetPlus
    from gconet_lab.models.weights import GCoNetWeights, gconet_plus


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gconet_lab' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
