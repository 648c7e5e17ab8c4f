"""The one way to build a GCoNet+: :func:`gconet_plus`, and the trained weights that ship with the package.

The shape is torchvision's (``resnet50(weights=ResNet50_Weights.DEFAULT)``)::

    from gconet_lab import GCoNetWeights, gconet_plus

    weights = GCoNetWeights.DEFAULT
    model = gconet_plus(weights)                            # eval mode, float32
    preprocess = weights.transforms()                       # resize + ImageNet normalisation
    maps = model(torch.stack([preprocess(image) for image in group])).saliency
    weights.meta["metrics"]["iCoseg"]                       # the model card

``gconet_plus`` takes ``None`` (random initialisation of ``config``), a :class:`GCoNetWeights` member or
its name (``"cpu-copypaste-224"``, ``"DEFAULT"``), or the path of a checkpoint: a gconet-lab training
checkpoint or exported weights (:func:`gconet_lab.engine.shipped.export_weights`), or an official
GCoNet+ ``.pth`` (loaded into the ``paper`` preset with ``variant="official"``).

Each shipped model is three files in ``gconet_lab/weights/``: ``<name>.pt``, the weights in half
precision with their configuration (plain types only: it loads with ``torch.load(weights_only=True)``);
``<name>.json``, its model card (:attr:`GCoNetWeights.meta`); ``<name>.md``, the card for people.
A new shipped model is one line of :class:`GCoNetWeights` and its three files. Weights are stored in
float16 and loaded into a float32 model: the rounding moves the maps far less than the metrics' last
printed digit (the card's metrics are measured on the half-precision file itself).
"""

from __future__ import annotations

import functools
import json
import os
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from gconet_lab.config import ConfigError, GCoNetConfig, make_config
from gconet_lab.data.sources.manifest import sha256_of
from gconet_lab.data.transforms import prepare_image
from gconet_lab.models.gconet_plus import GCoNetPlus
from gconet_lab.models.official_checkpoint import (
    CheckpointError,
    check_finite_weights,
    load_official_checkpoint,
    read_checkpoint_file,
)

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
CHECKPOINT_FORMAT = "gconet_lab/1"  # a training checkpoint (gconet_lab.engine.checkpoint): model, optimizer, position
WEIGHTS_FORMAT = "gconet_lab/weights-1"  # a trained model alone (gconet_lab.engine.shipped.export_weights)


class ImageTransform:
    """The preprocessing a model expects: an RGB image (uint8 array or PIL image) to its normalised (3, S, S) tensor."""

    def __init__(self, image_size: int) -> None:
        self.image_size = image_size

    def __call__(self, image: np.ndarray | Image.Image) -> torch.Tensor:
        if isinstance(image, Image.Image):
            image = np.asarray(image.convert("RGB"))
        return prepare_image(image, self.image_size)

    def __repr__(self) -> str:
        return f"ImageTransform(resize to {self.image_size}x{self.image_size}, ImageNet mean and std)"


class GCoNetWeights(Enum):
    """Trained GCoNet+ weights shipped in ``gconet_lab/weights/``: file, its SHA-256, the input size it expects."""

    CPU_COPYPASTE_224 = ("cpu-copypaste-224.pt", "4fcd40b5d5874e3155037ec453dc89d2bcf476609af517bc9ba40537472c7d18", 224)
    # the same recipe without GAM and GCM: the ablation twin of CPU_COPYPASTE_224
    CPU_COPYPASTE_224_WITHOUT_GAM_GCM = (
        "cpu-copypaste-224-without-gam-gcm.pt", "b211b8ad2969e1dc20acdb2e9830840277dead0c4d3154e1b9123a482e183262", 224)
    DEFAULT = CPU_COPYPASTE_224

    def __init__(self, file: str, sha256: str, image_size: int) -> None:
        self.file, self.sha256, self.image_size = file, sha256, image_size

    @property
    def model_name(self) -> str:
        """The short name, e.g. ``cpu-copypaste-224`` (the command line's ``--checkpoint cpu-copypaste-224``)."""
        return Path(self.file).stem

    @property
    def path(self) -> Path:
        return WEIGHTS_DIR / self.file

    @property
    def meta(self) -> dict[str, Any]:
        """The model card (``<name>.json``): data, command, recipe, seed, steps, SHA-256, metrics, notes."""
        return _read_card(self.path.with_suffix(".json"))

    def transforms(self) -> ImageTransform:
        """The preprocessing of this model's inputs (:func:`gconet_lab.data.transforms.prepare_image` at its size)."""
        return ImageTransform(self.image_size)

    @classmethod
    def shipped_pair(cls) -> tuple[GCoNetWeights, GCoNetWeights]:
        """The default model and its ablation twin (the same recipe without GAM and GCM), to compare them."""
        return cls.CPU_COPYPASTE_224, cls.CPU_COPYPASTE_224_WITHOUT_GAM_GCM

    @classmethod
    def named(cls, name: str) -> GCoNetWeights | None:
        """The member called ``name`` (``"cpu-copypaste-224"``, ``"CPU_COPYPASTE_224"``, ``"DEFAULT"``), else ``None``."""
        if name in cls.__members__:
            return cls[name]
        return next((member for member in cls if member.model_name == name), None)


@functools.cache
def _read_card(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def gconet_plus(weights: GCoNetWeights | str | os.PathLike | None = None, config: GCoNetConfig | None = None,
                device: str | torch.device = "cpu") -> GCoNetPlus:
    """A GCoNet+ on ``device``: randomly initialised from ``config`` (default: the ``paper`` preset) when
    ``weights`` is ``None``, else in eval mode with ``weights`` (see the module docstring), whose
    configuration comes with them.

    A shipped file is checked against its SHA-256 first; every file is read with ``weights_only=True``.
    Raises :class:`CheckpointError` for a file that is not a GCoNet+ checkpoint, does not fit its
    configuration or holds non-finite weights, and :class:`FileNotFoundError` for a missing one.
    """
    if weights is None:
        return GCoNetPlus(config or make_config()).to(device)
    if config is not None:
        raise ValueError("give weights or config, not both: the weights come with their configuration")
    if isinstance(weights, str) and not Path(weights).exists():
        weights = GCoNetWeights.named(weights) or weights
    if isinstance(weights, GCoNetWeights):
        path = weights.path
        if sha256_of(path) != weights.sha256:
            raise CheckpointError(f"{path} does not match its SHA-256 in GCoNetWeights.{weights.name} "
                                  "(a changed or damaged file); restore it from the repository")
    else:
        path = Path(weights)
        if not path.exists():
            shipped = ", ".join(member.model_name for member in GCoNetWeights)
            raise FileNotFoundError(f"checkpoint {os.fspath(path)!r} does not exist (shipped models: {shipped})")
    payload = read_checkpoint_file(path)
    if isinstance(payload, dict) and payload.get("format") in (CHECKPOINT_FORMAT, WEIGHTS_FORMAT):
        model = _model_from_gconet_lab_payload(payload, path)
    else:
        model = GCoNetPlus(make_config("paper", variant="official"))
        load_official_checkpoint(model, payload, os.fspath(path))
    return model.eval().to(device)


def _model_from_gconet_lab_payload(payload: dict[str, Any], source: str | os.PathLike) -> GCoNetPlus:
    """The model a (read) gconet-lab checkpoint or weights file was made with."""
    try:
        config = GCoNetConfig.from_dict(payload["config"])
    except ConfigError as error:
        raise CheckpointError(f"{os.fspath(source)!r} was written with another configuration format: {error}") from error
    check_finite_weights(payload["model"], source)
    model = GCoNetPlus(config.replace(pretrained=False))  # the weights come from the file
    model.config = config
    try:
        model.load_state_dict(payload["model"])
    except RuntimeError as error:
        raise CheckpointError(f"{os.fspath(source)!r} does not fit its own configuration: {error}") from error
    return model
