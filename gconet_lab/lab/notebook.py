"""What every notebook starts with: the profile, the project's folders, the data and the trained model.

The notebooks run at two scales from the same cells:

* **full** (the default): what a user with time (or a GPU) runs;
* **fast** (``GCONET_LAB_FAST=1``, set by the test command): smaller inputs and fewer steps, so
  nbval can run every notebook in CI on 2 CPU cores.

A cell asks for a scale-dependent value with :func:`pick` (``steps = pick(full=300, fast=20)``) and
never tests the profile itself, so both scales run exactly the same code.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from gconet_lab.engine.recipes import CPU_RECIPE
from gconet_lab.models import GCoNetPlus
from gconet_lab.models.weights import GCoNetWeights
from gconet_lab.pipeline import prepare_default_data, train_recipe

FAST_PROFILE_ENV = "GCONET_LAB_FAST"
MODEL_ENV = "GCONET_LAB_MODEL"  # a shipped model's name or a checkpoint to study instead of the shipped model
OFFICIAL_CHECKPOINT_ENV = "GCONET_OFFICIAL_CHECKPOINT"  # an official GCoNet+ .pth to study instead
RECIPE = CPU_RECIPE  # the shipped model's recipe at 128 px: own_model and trained_variant train it
T = TypeVar("T")


def fast_profile() -> bool:
    """True when ``$GCONET_LAB_FAST`` is set to anything but ``""`` or ``"0"``."""
    return os.environ.get(FAST_PROFILE_ENV, "") not in ("", "0")


def pick(full: T, fast: T) -> T:
    """``fast`` under the fast profile, ``full`` otherwise."""
    return fast if fast_profile() else full


def project_root() -> Path:
    """The clone's root (the folder with ``pyproject.toml``), found from the working directory upwards."""
    start = Path.cwd().resolve()
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "gconet_lab").is_dir():
            return folder
    return Path(__file__).resolve().parents[2]


def outputs_dir() -> Path:
    """``<project>/outputs``: data, checkpoints and figures the notebooks write (git-ignored)."""
    return project_root() / "outputs"


def default_data() -> Path:
    """The embedded default sets in the CoSOD layout (built once, offline): iCoseg, COCO128-SEG, Synthetic."""
    return prepare_default_data(outputs_dir() / "data", verbose=False)


def own_model_dir() -> Path:
    """Where :func:`own_model` keeps its run: ``outputs/cpu_model`` (``cpu_model_fast``)."""
    return outputs_dir() / pick("cpu_model", "cpu_model_fast")


def variants_dir() -> Path:
    """Where :func:`trained_variant` keeps one folder per variant: ``outputs/variants`` (``variants_fast``)."""
    return outputs_dir() / pick("variants", "variants_fast")


def studied_weights() -> GCoNetWeights | str:
    """The weights the notebooks study with ``gconet_plus(studied_weights())``, loaded without training.

    :attr:`GCoNetWeights.DEFAULT`, the shipped model (see its model card), in both profiles; an
    official GCoNet+ ``.pth`` named by ``$GCONET_OFFICIAL_CHECKPOINT``, else another shipped model's
    name or a checkpoint named by ``$GCONET_LAB_MODEL``, instead.
    """
    return os.environ.get(OFFICIAL_CHECKPOINT_ENV) or os.environ.get(MODEL_ENV) or GCoNetWeights.DEFAULT


def own_model(epochs: int | None = None, progress: bool = True) -> GCoNetPlus:
    """The CPU recipe (the shipped model's at 128 px) trained here from scratch (once, then cached in :func:`own_model_dir`).

    ``epochs`` defaults to the recipe's (1 under the fast profile); a cached run is resumed until it
    has that many epochs.
    """
    trained = train_recipe(RECIPE, default_data(), own_model_dir(), epochs=epochs or pick(None, 1), progress=progress)
    return trained.model.eval()


def trained_variant(name: str, epochs: int | None = None, progress: bool = False, **overrides) -> GCoNetPlus:
    """The CPU recipe (the shipped model's at 128 px) changed by ``overrides`` (e.g. ``use_gam=False``), trained once and cached.

    Checkpoints live under ``outputs/variants/<name>`` (``variants_fast`` under the fast profile);
    ``epochs`` defaults to the recipe's (1 under the fast profile). A cached run with the same
    name but other overrides is refused with the options that differ.
    """
    trained = train_recipe(RECIPE, default_data(), variants_dir() / name, epochs=epochs or pick(None, 1),
                           progress=progress, **overrides)
    return trained.model.eval()


def setup(seed: int = 0) -> str:
    """Seed Python, NumPy and torch; returns a one-line description of the profile."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return f"profile: {'fast' if fast_profile() else 'full'}"


__all__ = ["FAST_PROFILE_ENV", "default_data", "fast_profile", "outputs_dir", "pick", "project_root", "setup", "own_model", "own_model_dir", "studied_weights", "trained_variant", "variants_dir"]
