"""The same four metrics computed with PySODMetrics 1.6.2, to show how conventions move numbers.

PySODMetrics (``py_sod_metrics``) is the toolbox many SOD papers use. It follows the MATLAB
conventions of the original metric code, not eval-co-sod, and so differs from the official
GCoNet+ numbers (read from both codes):

1. It binarises the ground truth (``gt > 128``) for *every* metric and min-max normalises the
   prediction for every metric, MAE included. The official MAE uses the raw prediction and
   the soft mask.
2. F and E use 256 integer levels of ``uint8(255 p)``, not 255 float thresholds.
3. The S-measure centroid is ``round(mean) + 1`` (MATLAB's 1-based convention). The official
   code splits one pixel earlier.
4. The E-measure special-cases an empty or all-foreground mask. The official code scores an
   empty mask at about 0.25.
5. It works in float64 with ``eps = 2.2e-16``, the official code in float32 with ``1e-20``.

With binary masks and no empty mask the two toolboxes agree to about 1e-6 on maxF and maxE.
S differs by about 1e-4 (the centroid). MAE differs by up to a few 1e-2 when predictions do not
span 0..255.

Two guards keep its numbers in [0, 1] on tiny images, as in ``official.py`` (every other number is
PySODMetrics' own): its E-measure divides by ``numel - 1 + 2.2e-16`` (4.5e15 for one pixel, 4/3
on a perfect 2x2 map) and is capped at 1, which for one pixel is Eq. 14's ``W x H = 1``; its
S-measure region term multiplies an empty quadrant's NaN SSIM by the quadrant's weight 0 (any 1xN
or Nx1 image, or a foreground only in the last row or column), and here that quadrant scores 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import py_sod_metrics as psm

from gconet_lab.metrics.evaluator import REPORTED_METRICS
from gconet_lab.metrics.folders import evaluate_folders

__all__ = ["PySODEvaluator", "compare_folders", "format_comparison"]


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """A float map in [0, 1] back to the 8-bit grey PySODMetrics expects (exact for k / 255)."""
    return np.rint(np.asarray(image, dtype=np.float64) * 255).astype(np.uint8)


class _BoundedSmeasure(psm.Smeasure):
    """PySODMetrics' S-measure, with an empty quadrant's SSIM 0 instead of NaN (its weight is 0)."""

    def ssim(self, pred: np.ndarray, gt: np.ndarray) -> float:
        return 0.0 if pred.size == 0 else super().ssim(pred, gt)


class _BoundedEmeasure(psm.Emeasure):
    """PySODMetrics' E-measure curve capped at 1: ``min(sum(phi) / (n - 1 + eps), 1)`` (Eq. 14)."""

    def cal_em_with_cumsumhistogram(self, pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
        return np.minimum(super().cal_em_with_cumsumhistogram(pred, gt), 1.0)


class PySODEvaluator:
    """Accumulate images with PySODMetrics. Inputs are float maps in [0, 1], as for the official."""

    def __init__(self) -> None:
        self._s = _BoundedSmeasure(alpha=0.5)
        self._f = psm.FmeasureV2(
            {"fm": psm.FmeasureHandler(with_dynamic=True, with_adaptive=False, beta=0.3)}
        )
        self._e = _BoundedEmeasure()
        self._mae = psm.MAE()

    def add(self, pred: np.ndarray, gt: np.ndarray) -> None:
        """Evaluate one image with each PySODMetrics class."""
        pred, gt = _to_uint8(pred), _to_uint8(gt)
        for metric in (self._s, self._f, self._e, self._mae):
            metric.step(pred=pred, gt=gt)

    def results(self) -> dict[str, float]:
        """S, maxF, meanF, maxE, meanE, MAE; maxima of the mean curves, as officially."""
        f_curve = self._f.get_results()["fm"]["dynamic"]
        e_curve = self._e.get_results()["em"]["curve"]
        return {
            "S": float(self._s.get_results()["sm"]),
            "maxF": float(f_curve.max()),
            "meanF": float(f_curve.mean()),
            "maxE": float(e_curve.max()),
            "meanE": float(e_curve.mean()),
            "MAE": float(self._mae.get_results()["mae"]),
        }


def compare_folders(
    pred_root: str | Path,
    gt_root: str | Path,
    groups: Iterable[str] | None = None,
    progress: bool = True,
) -> dict[str, dict[str, float]]:
    """Evaluate one folder pair with both toolboxes, from identical loader output.

    Returns ``{"official": {...}, "pysod": {...}}`` with the metrics in ``REPORTED_METRICS``.
    """
    pysod = PySODEvaluator()
    official = evaluate_folders(pred_root, gt_root, groups, progress, also=[pysod]).results
    return {
        "official": {name: official[name] for name in REPORTED_METRICS},
        "pysod": pysod.results(),
    }


def format_comparison(comparison: dict[str, dict[str, float]]) -> str:
    """A small text table of ``compare_folders`` output: metric, official, pysod, difference."""
    lines = [f"{'metric':<7}{'official':>10}{'pysod':>10}{'pysod-off':>11}"]
    for name in REPORTED_METRICS:
        official, pysod = comparison["official"][name], comparison["pysod"][name]
        lines.append(f"{name:<7}{official:>10.4f}{pysod:>10.4f}{pysod - official:>+11.4f}")
    return "\n".join(lines)
