"""Evaluate a folder of predictions against a folder of masks, the way the official loader does.

Both trees are laid out as ``<root>/<group>/<name>.<ext>``. The official ``EvalDataset``
(eval-co-sod's ``dataloader.py``) pairs files by identical relative path and drops files present in only one tree;
:func:`match_pairs` pairs them by group folder and file-name stem with the rule training uses
(:func:`gconet_lab.data.layout.pair_by_stem`: any image suffix, in any letter case), so a mask that
training reads is scored. The unpaired files are listed in the :class:`Pairing`.
It opens both files as 8-bit grey (PIL ``'L'``). If the sizes differ it resizes the *prediction*
to the mask's size with PIL bilinear, and ``ToTensor`` turns grey levels into float32 ``k / 255``.
The mask is never binarised by the loader.

One deliberate exception: masks are read with :func:`gconet_lab.data.io.read_mask`, which gives the
same ``k / 255`` for every 8-bit mask except those saved with values {0, 1} (read as 0 and 1, where
the official loader would see an empty mask) and 16-bit masks (``k / 65535``). Training reads
masks the same way, so a set scores as it trains.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from gconet_lab.data.io import read_mask
from gconet_lab.data.layout import is_data_file, pair_by_stem
from gconet_lab.metrics.evaluator import OfficialEvaluator

__all__ = ["Evaluation", "Pairing", "evaluate_files", "evaluate_folders", "load_pair", "match_pairs", "write_tables"]


def _grey_to_unit_float(image: Image.Image) -> np.ndarray:
    """An 8-bit grey image as float32 ``k / 255``, which is what ``ToTensor`` computes."""
    return np.asarray(image, dtype=np.float32) / np.float32(255)


def load_pair(pred_path: str | Path, gt_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Load a (prediction, mask) pair as float32 HxW maps in [0, 1], like the official loader.

    If the sizes differ, the prediction is resized to the mask's size with PIL bilinear
    *after* conversion to grey. This matters when a model writes 256x256 maps.
    """
    gt = read_mask(gt_path)
    with Image.open(pred_path) as pred_file:
        pred = pred_file.convert("L")
    height, width = gt.shape
    if pred.size != (width, height):
        pred = pred.resize((width, height), Image.Resampling.BILINEAR)
    return _grey_to_unit_float(pred), gt


@dataclass(frozen=True)
class Pairing:
    """Relative paths ``"group/name.ext"``: (prediction, mask) pairs, and the files of only one tree."""

    matched: list[tuple[str, str]]
    pred_only: list[str]
    gt_only: list[str]

    def describe(self) -> str:
        """One line with the three counts, for logs."""
        return (
            f"{len(self.matched)} pairs matched, {len(self.pred_only)} predictions without a mask, "
            f"{len(self.gt_only)} masks without a prediction"
        )


def _group_files(root: Path, groups: list[str] | None) -> dict[str, list[str]]:
    """Image file names (regular files only) per group folder of ``root``, optionally only ``groups``."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    return {
        folder.name: [p.name for p in folder.iterdir() if p.is_file() and is_data_file(p.name)]
        for folder in root.iterdir()
        if folder.is_dir() and not folder.name.startswith(".") and (groups is None or folder.name in groups)
    }


def match_pairs(
    pred_root: str | Path, gt_root: str | Path, groups: Iterable[str] | None = None
) -> Pairing:
    """Pair the ``<group>/<name>.<ext>`` files of both trees by group and stem. Raises if there are none."""
    groups = None if groups is None else list(groups)
    preds, masks = _group_files(Path(pred_root), groups), _group_files(Path(gt_root), groups)
    matched, pred_only, gt_only = [], [], []
    for group in sorted(preds.keys() | masks.keys()):
        pairing = pair_by_stem(preds.get(group, []), masks.get(group, []),
                               Path(pred_root) / group, Path(gt_root) / group)
        matched += [(f"{group}/{pred}", f"{group}/{mask}") for pred, mask in pairing.pairs]
        pred_only += [f"{group}/{name}" for name in pairing.unmatched_images]
        gt_only += [f"{group}/{name}" for name in pairing.unmatched_masks]
    if not matched:
        only = "" if groups is None else f" in groups {groups}"
        raise FileNotFoundError(
            f"no <group>/<name>{only} exists in both {pred_root} ({len(pred_only)} images) "
            f"and {gt_root} ({len(gt_only)} masks)"
        )
    return Pairing(matched, pred_only, gt_only)


@dataclass(frozen=True)
class Evaluation:
    """Everything ``evaluate_folders`` computes. The results and tables are plain Python values."""

    results: dict[str, float]  # S, maxF, meanF, maxE, meanE, MAE, n
    per_image: list[dict]  # group, name, S, maxF, maxE, MAE
    per_group: list[dict]  # group, S, maxF, meanF, maxE, meanE, MAE, n
    curves: dict[str, np.ndarray]  # threshold, precision, recall, f_measure, e_measure
    pairing: Pairing


def evaluate_folders(
    pred_root: str | Path,
    gt_root: str | Path,
    groups: Iterable[str] | None = None,
    progress: bool = True,
    also: Iterable[Any] = (),
) -> Evaluation:
    """Evaluate every prediction that has a mask, with the official protocol.

    ``groups`` restricts the evaluation to these group folders. With ``progress``, the pairing
    counts are printed to stderr and a progress bar is shown. ``also`` takes other evaluators
    with an ``add(pred, gt)`` method (e.g. ``PySODEvaluator``): they get the same loaded pairs,
    so each file is read once however many toolboxes score it.
    """
    pairing = match_pairs(pred_root, gt_root, groups)
    if progress:
        print(pairing.describe(), file=sys.stderr)
    return evaluate_files(pred_root, gt_root, pairing, progress, also)


def evaluate_files(
    pred_root: str | Path,
    gt_root: str | Path,
    pairing: Pairing,
    progress: bool = True,
    also: Iterable[Any] = (),
) -> Evaluation:
    """Evaluate exactly the ``pairing.matched`` (prediction, mask) files, with the official protocol.

    An image whose metrics are not finite raises ``ValueError`` naming it.
    """
    evaluator, others = OfficialEvaluator(), list(also)
    for pred_path, gt_path in tqdm(pairing.matched, desc="evaluating", unit="img", disable=not progress):
        pred, gt = load_pair(Path(pred_root) / pred_path, Path(gt_root) / gt_path)
        evaluator.add(pred, gt, name=pred_path)
        for other in others:
            other.add(pred, gt)
    return Evaluation(
        results=evaluator.results(),
        per_image=evaluator.per_image(),
        per_group=evaluator.per_group(),
        curves=evaluator.curves(),
        pairing=pairing,
    )


def _write_csv(rows: list[dict], path: Path) -> None:
    """Write dicts with identical keys as a CSV table (floats at full precision)."""
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_tables(evaluation: Evaluation, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``per_image.csv`` and ``per_group.csv`` into ``out_dir`` and return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    per_image, per_group = out_dir / "per_image.csv", out_dir / "per_group.csv"
    _write_csv(evaluation.per_image, per_image)
    _write_csv(evaluation.per_group, per_group)
    return per_image, per_group
