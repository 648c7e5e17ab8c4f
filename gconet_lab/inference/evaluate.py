"""Predict test groups and evaluate them with the official protocol (paper Sec. 4.2-4.3).

Each test group is predicted as one batch of all its images at the model's input size; every map is
resized to its image's original size with bilinear interpolation (align_corners=True) and written as
an 8-bit PNG by truncation, as the official ``test.py`` does, under ``<out>/<set>/<group>/<name>.png``.
The folder is then scored with :mod:`gconet_lab.metrics` (the eval-co-sod protocol) and, beside it,
with pysodmetrics, whose conventions give slightly different numbers; a set whose photos sit in
several groups also gets the group-decision measure (:mod:`gconet_lab.metrics.group_decision`).

:func:`evaluate_model` does both for one set, for a model or the centre-prior baseline, and is the one
evaluation every caller uses (the command line, the main job, the ablations, the exercises, the shipped
model's card). Its folder layout::

    <out>/predictions/<set>/<group>/<name>.png     the maps
    <out>/tables/<set>/per_image.csv, per_group.csv

Faults: a model whose maps are not finite (diverged weights) raises :class:`NonFiniteOutputError`
instead of writing black maps; a disk that fills up while a map is written leaves no partial file
and raises :class:`~gconet_lab.engine.storage.DiskFullError`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F
from tqdm.auto import tqdm

from gconet_lab.data import Group, image_size, index_set, make_test_loader
from gconet_lab.data.layout import IndexReport, OnMissing
from gconet_lab.engine.storage import DiskFullError, ensure_writable_folder, is_disk_full
from gconet_lab.metrics import Evaluation, Pairing, PySODEvaluator, evaluate_files, evaluate_folders, write_tables
from gconet_lab.metrics.group_decision import GroupDecision, group_decision


class NonFiniteOutputError(RuntimeError):
    """The model's maps hold NaN or inf: its weights diverged, or an input broke it."""


def saliency_to_uint8(saliency: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """One (1, h, w) map in [0, 1] -> (H, W) uint8 at the original size, truncating like the official test."""
    resized = F.interpolate(saliency[None].float(), size=size, mode="bilinear", align_corners=True)[0, 0]
    return (resized.clamp(0, 1) * 255).to(torch.uint8).cpu().numpy()


@torch.inference_mode()
def predict_group(model: torch.nn.Module, images: torch.Tensor, sizes: Iterable[tuple[int, int]], device: torch.device | str = "cpu") -> list[np.ndarray]:
    """Co-saliency maps of one group (one batch) at each image's original size, as uint8.

    The model computes in its own precision (no autocast here): a float32 model runs float32 on
    every device; :func:`~gconet_lab.inference.fast_inference.make_fast_model` gives it another.
    """
    model.eval()
    saliency = model(images.to(device)).saliency
    if not torch.isfinite(saliency).all():
        raise NonFiniteOutputError("the model's maps hold NaN or inf values (diverged weights?); nothing written")
    return [saliency_to_uint8(map_, (int(h), int(w))) for map_, (h, w) in zip(saliency, sizes, strict=True)]


def write_group(maps: list[np.ndarray], names: list[str], folder: Path) -> None:
    """Write ``<folder>/<name>.png`` for each map; on a full disk the partial file is removed (:class:`DiskFullError`)."""
    folder.mkdir(parents=True, exist_ok=True)
    for map_, name in zip(maps, names, strict=True):
        path = folder / f"{name}.png"
        try:
            Image.fromarray(map_).save(path)
        except OSError as error:
            path.unlink(missing_ok=True)
            if is_disk_full(error):
                raise DiskFullError(f"the disk holding {folder} is full: {path.name} was not written "
                                    "(no partial file left); free some space and run again") from None
            raise


def predict_dataset(model: torch.nn.Module, loader: Iterable[dict[str, Any]], out_dir: str | Path,
                    device: torch.device | str = "cpu", progress: bool = True) -> Path:
    """Write ``<out>/<set>/<group>/<name>.png`` for every group the loader yields; returns ``out``.

    ``out`` is checked for write access before the first group is predicted.
    """
    out_dir = ensure_writable_folder(out_dir)
    for item in tqdm(loader, desc="predicting groups", unit="group", disable=not progress):
        try:
            maps = predict_group(model, item["images"], item["sizes"].tolist(), device)
        except NonFiniteOutputError as error:
            raise NonFiniteOutputError(f"group {item['group']}: {error}") from None
        write_group(maps, item["names"], out_dir / item["set_name"] / item["group"])
    return out_dir


def centre_prior_map(height: int, width: int, sigma: float = 0.25) -> np.ndarray:
    """The centre-prior baseline: an isotropic Gaussian at the image centre (sigma in image sizes)."""
    ys = (np.arange(height) - (height - 1) / 2) / height
    xs = (np.arange(width) - (width - 1) / 2) / width
    distance = ys[:, None] ** 2 + xs[None, :] ** 2
    return (np.exp(-distance / (2 * sigma**2)) * 255).astype(np.uint8)


def predict_centre_prior(groups: Iterable[Group], out_dir: str | Path) -> Path:
    """Write the centre-prior map of every test image, in the same layout as :func:`predict_dataset`.

    Only the image sizes are needed, so they are read from the file headers, not decoded.
    """
    out_dir = ensure_writable_folder(out_dir)
    for group in groups:
        maps = [centre_prior_map(*image_size(sample.image)) for sample in group.samples]
        write_group(maps, [sample.stem for sample in group.samples], out_dir / group.set_name / group.name)
    return out_dir


CENTRE_PRIOR = "centre prior"
"""Give :func:`evaluate_model` this instead of a model to score the centre-prior baseline the same way."""


@dataclass
class DatasetScores:
    evaluation: Evaluation  # official protocol: results, per-image and per-group records, curves
    pysod: dict[str, float]  # the same metrics by pysodmetrics' conventions
    tables: tuple[Path, ...]  # per_image.csv, per_group.csv (none when evaluate_model kept no files)
    group_decision: GroupDecision | None  # None: no photo of the set is in two or more groups
    index_report: IndexReport = field(default_factory=IndexReport)  # what indexing the set skipped or ignored


def predicted_pairing(groups: Iterable[Group]) -> Pairing:
    """(prediction, mask) paths, relative to the set's folders, of every sample of ``groups``.

    These are the maps :func:`predict_dataset` writes for the set and the masks training pairs
    them with, so scoring with this pairing scores exactly the images of this run, whatever else
    the prediction folder holds.
    """
    return Pairing([(f"{group.name}/{sample.stem}.png", f"{group.name}/{sample.mask.name}")
                    for group in groups for sample in group.samples], [], [])


def score_predictions(pred_root: str | Path, gt_root: str | Path, table_dir: str | Path, progress: bool = True,
                      pairing: Pairing | None = None) -> DatasetScores:
    """Official metrics, pysodmetrics metrics, CSV tables and the group-decision measure for one predicted set.

    ``pairing`` (e.g. :func:`predicted_pairing`) says exactly which files to score; without it,
    every prediction with a mask in the two folders is scored (:func:`~gconet_lab.metrics.evaluate_folders`).
    """
    pysod = PySODEvaluator()
    if pairing is None:
        evaluation = evaluate_folders(pred_root, gt_root, progress=progress, also=[pysod])
    else:
        evaluation = evaluate_files(pred_root, gt_root, pairing, progress=progress, also=[pysod])
    return DatasetScores(evaluation, pysod.results(), write_tables(evaluation, table_dir),
                         group_decision(pred_root, gt_root, evaluation.pairing, progress=progress))


def evaluate_model(model: torch.nn.Module | Literal["centre prior"], data_dir: str | Path, set_name: str,
                   out_dir: str | Path | None = None, *, groups: int | None = None, on_missing: OnMissing = "skip",
                   skip_option: str | None = "on_missing='skip'", progress: bool = False) -> DatasetScores:
    """Predict the CoSOD-layout set ``data_dir/<set_name>`` with ``model`` and score it: the one evaluation of a model.

    ``model`` is a GCoNet+ (it runs on the device its weights are on, in its own precision) or
    :data:`CENTRE_PRIOR`. The maps and tables go to ``out_dir`` in the layout of the module docstring;
    without ``out_dir`` they go to a temporary folder that is removed (only the scores come back).
    ``groups`` keeps the set's first groups (sorted by name). Images without a mask are left out
    (``on_missing="skip"``, listed in ``index_report``) or refused (``"error"``, whose message names
    ``skip_option``). Exactly this run's maps are scored (:func:`predicted_pairing`), whatever else
    ``out_dir`` holds.
    """
    if out_dir is None:
        with tempfile.TemporaryDirectory() as scratch:
            scores = evaluate_model(model, data_dir, set_name, scratch, groups=groups, on_missing=on_missing,
                                    skip_option=skip_option, progress=progress)
        return replace(scores, tables=())
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    indexed = index_set(data_dir, set_name, on_missing=on_missing, skip_option=skip_option)
    chosen = indexed.groups[:groups]
    predictions = out_dir / "predictions"
    if isinstance(model, str):
        if model != CENTRE_PRIOR:
            raise ValueError(f"model must be a GCoNet+ or {CENTRE_PRIOR!r}, got {model!r}")
        predict_centre_prior(chosen, predictions)
    else:
        loader = make_test_loader(chosen, model.config.image_size)
        predict_dataset(model, loader, predictions, device=next(model.parameters()).device, progress=progress)
    scores = score_predictions(predictions / set_name, data_dir / "gts" / set_name, out_dir / "tables" / set_name,
                               progress=progress, pairing=predicted_pairing(chosen))
    return replace(scores, index_report=indexed.report)
