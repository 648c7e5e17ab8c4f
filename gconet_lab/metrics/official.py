"""The four GCoNet+ metrics for one image, exactly as the official evaluator computes them.

GCoNet+ reports S-measure, maximum F-measure, maximum E-measure and MAE (paper Sec. 4.2,
Eq. 12-15) and points to the eval-co-sod toolbox, whose ``evaluator.py`` defines them in code.
This module re-implements that code. The numbers agree with the official
evaluator to 1e-6, but the implementation is vectorised: the toolbox loops over 255
thresholds, and this module does the same work with one histogram per image.

Conventions of the official code that papers usually leave out, all kept here:

* Inputs are float32 in [0, 1], as ``ToTensor`` produces them from 8-bit PNGs.
* F, E and S first min-max normalise the prediction: ``(p - min) / (max - min + 1e-20)``.
  MAE does not.
* The ground truth stays soft (grey levels / 255) in F, E and MAE. Only the S-measure
  binarises it, at ``gt >= 0.5``.
* There are 255 thresholds, ``torch.linspace(0, 1 - 1e-10, 255)`` in float32. A pixel is
  foreground at threshold ``t`` when ``p >= t``.
* Divisions carry an ``eps = 1e-20``. An empty or all-foreground ground truth gets no special
  case.

One deliberate exception, so that one odd image cannot wreck a set's numbers: every per-image
number here (S, P, R, F, E at every threshold, MAE) lies in [0, 1], its mathematical range, whatever
the image size. The official code leaves it in three cases, and here:

* S-measure, a region of fewer than two pixels or an empty SSIM block (NaN officially): an empty
  region or block scores 0 (its weight is 0), one pixel has std 0 (``_object_score``, ``_ssim``).
* E-measure of a one-pixel image: ``g`` and ``fm`` are both 0, so ``phi = 1/4``, and the official
  ``numel - 1 + eps`` divisor gives 0.25 / 1e-20 = 2.5e19. Here it is 0.25, Eq. 14's ``W x H = 1``.
* E-measure of a near-perfect map with ``n >= 2`` pixels: the sum of ``n`` values of ``phi`` over
  ``n - 1`` reaches up to ``n / (n - 1)`` (4/3 for a perfect 2x2 map, 1 + 2e-5 at 224 x 224). Here
  the curve is capped at 1, the score of a perfect map (``_bounded_e``).

Every other number is the official one, to float32 precision: E for ``n >= 2`` wherever it is at
most 1, which is every threshold of every image of the parity set (its largest max E is 0.9975).

Inputs, normalisation, thresholds and the per-pixel E-measure terms are float32, as in the
official code, so every comparison (``p >= t``, ``gt >= 0.5``, ``mean(gt) == 0``) comes out the
same. Sums, means and the S-measure statistics are accumulated in float64 where torch uses
float32; the two agree to about 1e-7.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "THRESHOLDS",
    "ImageMetrics",
    "e_measure_curve",
    "evaluate_image",
    "f_measure_curve",
    "mae",
    "normalize_prediction",
    "precision_recall_curves",
    "s_measure",
]

EPS = 1e-20  # the official code's guard against division by zero
BETA2 = 0.3  # beta^2 of the F-measure: precision weighs more than recall (Eq. 13)
ALPHA = 0.5  # weight of the object term in the S-measure (Eq. 12)

# The official thresholds. They come from torch.linspace itself because, in float32, torch's
# values differ from i/254 in the last bit at some positions (10 of 255 with torch 2.x). A
# normalised 8-bit prediction can land exactly on a threshold (e.g. one spanning grey levels
# 1..255 takes the values j/254), so those bits decide which side such a pixel falls on.
THRESHOLDS: np.ndarray = torch.linspace(0, 1 - 1e-10, 255).numpy()
_NUM_THRESHOLDS = len(THRESHOLDS)
# THRESHOLDS followed by +inf, so that "the next threshold" exists for every index.
_NEXT_THRESHOLDS = np.append(THRESHOLDS, np.float32(np.inf))

_GT_LEVELS = 256  # an 8-bit mask has grey levels k / 255, k = 0..255
# Chunk size of the per-threshold E-measure fallback. It bounds memory to chunk x pixels.
_THRESHOLD_CHUNK = 16


# ----------------------------------------------------------------------------------------------
# Inputs


def _as_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check that ``pred`` and ``gt`` are HxW maps in [0, 1] of one shape; cast them to float32."""
    pred = np.asarray(pred, dtype=np.float32)
    gt = np.asarray(gt, dtype=np.float32)
    if pred.ndim != 2 or pred.shape != gt.shape:
        raise ValueError(
            f"pred and gt must be HxW maps of one shape, got {pred.shape} and {gt.shape}"
        )
    for values in (pred, gt):
        if not 0 <= values.min() <= values.max() <= 1:  # False for NaN too
            raise ValueError("pred and gt must hold values in [0, 1] (grey level / 255), not NaN")
    return pred, gt


def normalize_prediction(pred: np.ndarray) -> np.ndarray:
    """Min-max normalise a prediction to [0, 1] in float32: ``(p - min) / (max - min + 1e-20)``.

    This is the first step of the official F, E and S computations. A constant map becomes
    all zeros, because the eps keeps 0 / 0 from occurring.
    """
    pred = np.asarray(pred, dtype=np.float32)
    low, high = pred.min(), pred.max()
    return (pred - low) / (high - low + np.float32(EPS))


def _thresholds_passed(pred_norm: np.ndarray) -> np.ndarray:
    """For every pixel, the number of thresholds it reaches (``p >= t``). The result is 1..255.

    Each pixel gets a single number, so a histogram of these numbers gives the pixel counts at
    all 255 thresholds at once. The thresholds are almost exactly ``i / 254``, so
    ``floor(254 p)`` is the index of the last threshold at or below ``p``, give or take one.
    Two exact float32 comparisons with the true thresholds correct that estimate. The result
    equals ``(p[None] >= THRESHOLDS[:, None]).sum(0)``, about 5x faster than ``np.searchsorted``.
    """
    p = pred_norm.ravel()
    guess = (p * np.float32(254)).astype(np.intp)
    return guess + 1 + (p >= _NEXT_THRESHOLDS[guess + 1]) - (p < THRESHOLDS[guess])


def _pixels_reaching(passed: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Per threshold ``i``, how many pixels (or how much ``weights``) reach it, i.e. ``passed > i``.

    ``passed`` comes from :func:`_thresholds_passed`. Counting pixels per value of ``passed``
    and summing that histogram from the top gives, for threshold ``i``, all pixels with
    ``passed >= i + 1``.
    """
    histogram = np.bincount(passed, weights=weights, minlength=_NUM_THRESHOLDS + 1)
    from_the_top = np.cumsum(histogram[::-1])[::-1]
    return from_the_top[1:]


# ----------------------------------------------------------------------------------------------
# MAE (Eq. 15)


def mae(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean absolute error, ``mean |pred - gt|`` (Eq. 15).

    The official code uses the raw prediction (no min-max normalisation) and the soft ground
    truth. A prediction that never reaches 255 is therefore penalised here, and it would not
    be under PySODMetrics, which normalises first.
    """
    pred, gt = _as_pair(pred, gt)
    return float(np.abs(pred - gt).mean(dtype=np.float64))


# ----------------------------------------------------------------------------------------------
# F-measure (Eq. 13)


def _precision_recall(passed: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at every threshold, from :func:`_thresholds_passed` and a soft gt."""
    gt = gt.ravel()
    predicted = _pixels_reaching(passed)  # sum of the binary map
    true_positive = _pixels_reaching(passed, weights=gt)  # sum of binary map * soft gt
    precision = true_positive / (predicted + EPS)
    recall = true_positive / (gt.sum(dtype=np.float64) + EPS)
    return precision, recall


def _f_measure(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    """``F = (1 + b2) P R / (b2 P + R)`` with ``b2 = 0.3``. The 0/0 cases (P = R = 0) give 0."""
    with np.errstate(invalid="ignore"):
        f = (1 + BETA2) * precision * recall / (BETA2 * precision + recall)
    return np.where(np.isnan(f), 0.0, f)


def precision_recall_curves(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall of the normalised prediction at each of the 255 thresholds.

    At threshold ``t`` the prediction is binarised to ``B = p >= t``. With the soft ground
    truth ``G``: ``TP = sum(B * G)``, ``P = TP / (sum(B) + eps)``, ``R = TP / (sum(G) + eps)``.
    """
    pred, gt = _as_pair(pred, gt)
    return _precision_recall(_thresholds_passed(normalize_prediction(pred)), gt)


def f_measure_curve(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """F-measure at each of the 255 thresholds (Eq. 13, beta^2 = 0.3), shape (255,).

    The paper prints Eq. 13 with ``b2 (P + R)`` in the denominator. That is a typo: the code
    and the standard definition use ``b2 P + R``. A dataset's maxF is the maximum of the
    curve *averaged over images*, not the mean of per-image maxima (see ``OfficialEvaluator``).
    """
    return _f_measure(*precision_recall_curves(pred, gt))


# ----------------------------------------------------------------------------------------------
# E-measure (Eq. 14)


def _enhanced_alignment(g: np.ndarray, fm: np.ndarray) -> np.ndarray:
    """Per-pixel enhanced alignment ``phi = (1 + 2 g fm / (g^2 + fm^2 + eps))^2 / 4`` in float32.

    ``g`` and ``fm`` are the mean-subtracted ground truth and binary map. ``phi`` is 1 where
    they agree in sign and magnitude, and 0 where they are opposite. It is 0.25 where either
    is exactly 0, which is why an empty ground truth (``g = 0`` everywhere) scores about 0.25.
    """
    align = 2 * g * fm / (g * g + fm * fm + np.float32(EPS))
    return (align + 1) * (align + 1) / 4


def _gt_grey_levels(gt: np.ndarray) -> np.ndarray | None:
    """The 8-bit grey level (0..255) of every pixel, if the gt is exactly k / 255, else None."""
    levels = np.rint(gt.ravel() * 255).astype(np.intp)
    if np.array_equal(levels.astype(np.float32) / np.float32(255), gt.ravel()):
        return levels
    return None


def _e_sums_by_grey_level(
    passed: np.ndarray,
    levels: np.ndarray,
    g_of_level: np.ndarray,
    fm_in: np.ndarray,
    fm_out: np.ndarray,
) -> np.ndarray:
    """Sum of ``phi`` per threshold, for a gt of 8-bit grey levels. This is the fast path.

    ``phi`` of a pixel depends only on its grey level and on whether it reaches the threshold.
    A 256 x 256 histogram (grey level x ``passed``) therefore counts, for every level and
    threshold, the pixels inside and outside the binary map. The sum of ``phi`` becomes two
    (levels x thresholds) products of counts and ``phi`` values, over the levels present.
    """
    joint = np.bincount(
        levels * (_NUM_THRESHOLDS + 1) + passed, minlength=_GT_LEVELS * (_NUM_THRESHOLDS + 1)
    )
    joint = joint.reshape(_GT_LEVELS, _NUM_THRESHOLDS + 1)
    present = joint.any(axis=1)  # grey levels in this mask: only 2 for a binary one
    joint, g = joint[present], g_of_level[present, None]
    inside = np.cumsum(joint[:, ::-1], axis=1)[:, ::-1][:, 1:]  # (level, threshold) reaching it
    outside = joint.sum(axis=1, keepdims=True) - inside
    phi_in = _enhanced_alignment(g, fm_in[None, :])
    phi_out = _enhanced_alignment(g, fm_out[None, :])
    return (inside * phi_in + outside * phi_out).sum(axis=0)  # counts x float32 -> float64


def _e_sums_per_threshold(
    passed: np.ndarray, g: np.ndarray, fm_in: np.ndarray, fm_out: np.ndarray
) -> np.ndarray:
    """Sum of ``phi`` per threshold for an arbitrary soft gt: the general fallback.

    This is the official computation, pixel by pixel, done for 16 thresholds at a time.
    """
    sums = np.empty(_NUM_THRESHOLDS)
    for start in range(0, _NUM_THRESHOLDS, _THRESHOLD_CHUNK):
        index = np.arange(start, min(start + _THRESHOLD_CHUNK, _NUM_THRESHOLDS))
        inside = passed[None, :] > index[:, None]
        fm = np.where(inside, fm_in[index, None], fm_out[index, None])
        sums[index] = _enhanced_alignment(g[None, :], fm).sum(axis=1, dtype=np.float64)
    return sums


def _e_measure(passed: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """E-measure curve from :func:`_thresholds_passed` and the soft gt (see ``e_measure_curve``)."""
    n = gt.size
    binary_mean = _pixels_reaching(passed).astype(np.float32) / np.float32(n)
    fm_in, fm_out = 1 - binary_mean, -binary_mean  # B - mean(B) where B = 1 and where B = 0
    gt_mean = np.float32(gt.mean(dtype=np.float64))
    levels = _gt_grey_levels(gt)
    if levels is None:
        sums = _e_sums_per_threshold(passed, gt.ravel() - gt_mean, fm_in, fm_out)
    else:
        g_of_level = np.arange(_GT_LEVELS, dtype=np.float32) / np.float32(255) - gt_mean
        sums = _e_sums_by_grey_level(passed, levels, g_of_level, fm_in, fm_out)
    return _bounded_e(sums, n)


def _bounded_e(sums: np.ndarray, n: int) -> np.ndarray:
    """``E = sum(phi) / (n - 1)``, the official divisor, capped at 1; ``sum(phi) / 1`` for ``n = 1``.

    Eq. 14 divides the sum of ``phi`` (each in [0, 1]) by ``W x H``; the official code divides by
    ``n - 1 + eps``, which is the same number in float64 for ``n >= 2`` and is kept. It lets a
    near-perfect map pass 1, up to ``n / (n - 1)`` (4/3 on a 2x2 image), so the curve is capped at
    1, the value of a perfect map. For one pixel, ``g`` and ``fm`` are both 0, ``phi = 1/4`` and the
    official ``0.25 / 1e-20`` is meaningless: Eq. 14's ``W x H = 1`` gives 0.25.
    """
    return np.minimum(sums / max(n - 1, 1), 1.0)


def e_measure_curve(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Enhanced-alignment measure at each of the 255 thresholds (Eq. 14), shape (255,).

    At threshold ``t``: ``B = p >= t``, ``fm = B - mean(B)``, ``g = G - mean(G)`` (soft G), and
    ``E = sum(phi(g, fm)) / (numel - 1 + eps)``. See ``_enhanced_alignment`` for ``phi``. Eq. 14
    divides by ``W x H``, the code by ``W x H - 1``; here E is capped at 1 and a one-pixel image
    scores 0.25 (see ``_bounded_e``). An empty ground truth gets no special case and scores about
    0.25 at every threshold. PySODMetrics instead returns the fraction of pixels predicted as
    background.
    """
    pred, gt = _as_pair(pred, gt)
    return _e_measure(_thresholds_passed(normalize_prediction(pred)), gt)


# ----------------------------------------------------------------------------------------------
# S-measure (Eq. 12)


def _object_score(values: np.ndarray) -> float:
    """``O = 2 mean / (mean^2 + 1 + std + eps)`` over one region, with the unbiased std.

    The official code gives NaN for a region of fewer than two pixels (torch's mean of nothing
    and unbiased std of one value). Here an empty region scores 0 (its weight in ``So`` is 0
    anyway) and a one-pixel region has std 0, so a tiny or almost empty mask stays finite.
    """
    if values.size == 0:
        return 0.0
    mean = values.mean(dtype=np.float64)
    std = values.std(dtype=np.float64, ddof=1) if values.size > 1 else 0.0
    return float(2 * mean / (mean * mean + 1 + std + EPS))


def _s_object(pred_norm: np.ndarray, fg: np.ndarray) -> float:
    """Object-aware similarity ``So = u O(p on fg) + (1 - u) O(1 - p on bg)``, u = fg fraction."""
    u = fg.mean(dtype=np.float64)
    return float(u * _object_score(pred_norm[fg]) + (1 - u) * _object_score(1 - pred_norm[~fg]))


def _centroid(fg: np.ndarray) -> tuple[int, int]:
    """0-based (column X, row Y) of the foreground centroid, rounded half to even.

    The official code computes ``X = round(sum_j j * colsum_j / sum(fg))`` in float32 with
    0-based ``j`` (its ``+ 1e-20`` changes nothing). PySODMetrics adds 1 (the MATLAB
    convention), so its quadrants are one pixel off. An empty foreground uses the image centre
    ``round(cols / 2), round(rows / 2)``.
    """
    rows, cols = fg.shape
    total = int(fg.sum())
    if total == 0:
        return round(cols / 2), round(rows / 2)
    column_mass = int(fg.sum(axis=0) @ np.arange(cols))
    row_mass = int(fg.sum(axis=1) @ np.arange(rows))
    x = np.round(np.float32(column_mass) / np.float32(total))
    y = np.round(np.float32(row_mass) / np.float32(total))
    return int(x), int(y)


def _ssim(pred: np.ndarray, gt: np.ndarray) -> float:
    """Whole-block SSIM ``4 x y s_xy / ((x^2 + y^2)(s_x^2 + s_y^2))``, (co)variances over N - 1.

    Its special cases follow the code: a zero numerator gives 1 if the denominator is also 0
    (two constant blocks) and 0 otherwise. An empty block (NaN in torch) gives 0: its area
    weight in ``Sr`` is 0.
    """
    n = pred.size
    if n == 0:
        return 0.0
    x, y = pred.mean(dtype=np.float64), gt.mean(dtype=np.float64)
    dx, dy = pred - x, gt - y
    sigma_x2 = (dx * dx).sum() / (n - 1 + EPS)
    sigma_y2 = (dy * dy).sum() / (n - 1 + EPS)
    sigma_xy = (dx * dy).sum() / (n - 1 + EPS)
    numerator = 4 * x * y * sigma_xy
    denominator = (x * x + y * y) * (sigma_x2 + sigma_y2)
    if numerator != 0:
        return float(numerator / (denominator + EPS))
    return 1.0 if denominator == 0 else 0.0


def _s_region(pred_norm: np.ndarray, fg: np.ndarray) -> float:
    """Region-aware similarity ``Sr``: SSIM of the 4 blocks around the centroid, area-weighted."""
    x, y = _centroid(fg)
    rows, cols = fg.shape
    area = rows * cols
    w_top_left = x * y / area
    w_top_right = (cols - x) * y / area
    w_bottom_left = x * (rows - y) / area
    weights = (w_top_left, w_top_right, w_bottom_left, 1 - w_top_left - w_top_right - w_bottom_left)
    blocks = [(slice(0, y), slice(0, x)), (slice(0, y), slice(x, cols)),
              (slice(y, rows), slice(0, x)), (slice(y, rows), slice(x, cols))]  # fmt: skip
    return sum(
        w * _ssim(pred_norm[b], fg[b].astype(np.float32))
        for w, b in zip(weights, blocks, strict=True)
    )


def _s_measure(pred_norm: np.ndarray, gt: np.ndarray) -> float:
    """S-measure of a normalised prediction and a soft gt (see ``s_measure``)."""
    y = np.float32(gt.mean(dtype=np.float64))  # the float32 mean that decides the cases
    if y == 0:
        return 1 - float(pred_norm.mean(dtype=np.float64))
    if y == 1:
        return float(pred_norm.mean(dtype=np.float64))
    fg = gt >= 0.5
    q = ALPHA * _s_object(pred_norm, fg) + (1 - ALPHA) * _s_region(pred_norm, fg)
    return 0.0 if q < 0 else q


def s_measure(pred: np.ndarray, gt: np.ndarray) -> float:
    """Structure measure ``S = a So + (1 - a) Sr`` with ``a = 0.5`` (Eq. 12), clamped at 0.

    The cases follow the official code:

    * ``mean(G) == 0`` on the *soft* gt: ``S = 1 - mean(p)`` (predict nothing).
    * ``mean(G) == 1``: ``S = mean(p)``.
    * Otherwise the gt is binarised at ``G >= 0.5`` (grey level >= 128) and ``So`` and ``Sr``
      are combined.

    A degenerate foreground (a single foreground or background pixel, a soft gt whose values
    are all below 0.5, a centroid in row or column 0) gives NaN in the official code, which
    makes the whole dataset's S NaN; here it gives the finite value of the same formula with
    empty regions scoring 0 and one-pixel regions a std of 0 (see the module docstring).
    """
    pred, gt = _as_pair(pred, gt)
    return _s_measure(normalize_prediction(pred), gt)


# ----------------------------------------------------------------------------------------------
# All four at once


@dataclass(frozen=True)
class ImageMetrics:
    """Everything the official evaluator computes for one image.

    Curves have one value per threshold of ``THRESHOLDS``.
    """

    s: float
    mae: float
    precision: np.ndarray
    recall: np.ndarray
    f_curve: np.ndarray
    e_curve: np.ndarray

    @property
    def max_f(self) -> float:
        """This image's best F-measure over the thresholds."""
        return float(self.f_curve.max())

    @property
    def max_e(self) -> float:
        """This image's best E-measure over the thresholds."""
        return float(self.e_curve.max())


def evaluate_image(pred: np.ndarray, gt: np.ndarray) -> ImageMetrics:
    """S, MAE and the P/R/F/E curves of one image. Normalisation and binarisation are shared."""
    pred, gt = _as_pair(pred, gt)
    pred_norm = normalize_prediction(pred)
    passed = _thresholds_passed(pred_norm)
    precision, recall = _precision_recall(passed, gt)
    return ImageMetrics(
        s=_s_measure(pred_norm, gt),
        mae=mae(pred, gt),
        precision=precision,
        recall=recall,
        f_curve=_f_measure(precision, recall),
        e_curve=_e_measure(passed, gt),
    )
