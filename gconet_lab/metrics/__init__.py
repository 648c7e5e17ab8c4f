"""Evaluation of co-salient object detection with the official GCoNet+ protocol.

* ``official``: the four metrics of one image (S, F and E curves, MAE), reproducing the
  eval-co-sod evaluator that GCoNet+ cites (paper Sec. 4.2). The code is vectorised over
  thresholds.
* ``evaluator``: dataset aggregation (``OfficialEvaluator``). maxF and maxE are maxima of
  curves averaged over images.
* ``folders``: the official loader and folder pairing, plus CSV tables.
* ``parity``: our numbers against the official evaluator's own on a parity set.
* ``group_decision``: for photos in several groups, is each map closer to its own group's mask?
* ``pysod``: the same numbers from PySODMetrics, to compare conventions.

Typical use::

    from gconet_lab.metrics import evaluate_folders, write_tables
    evaluation = evaluate_folders("preds/CoCA", "data/CoCA/gt")
    print(evaluation.results)  # {'S': ..., 'maxF': ..., 'maxE': ..., 'MAE': ..., ...}
    write_tables(evaluation, "outputs/CoCA")
"""

from gconet_lab.metrics.evaluator import METRICS, REPORTED_METRICS, OfficialEvaluator, summarize
from gconet_lab.metrics.folders import (
    Evaluation,
    Pairing,
    evaluate_files,
    evaluate_folders,
    load_pair,
    match_pairs,
    write_tables,
)
from gconet_lab.metrics.group_decision import GroupDecision, group_decision
from gconet_lab.metrics.official import (
    THRESHOLDS,
    ImageMetrics,
    e_measure_curve,
    evaluate_image,
    f_measure_curve,
    mae,
    normalize_prediction,
    precision_recall_curves,
    s_measure,
)
from gconet_lab.metrics.parity import OFFICIAL_KEYS, OfficialParity, check_official_parity
from gconet_lab.metrics.pysod import PySODEvaluator, compare_folders, format_comparison

__all__ = [
    "METRICS",
    "OFFICIAL_KEYS",
    "REPORTED_METRICS",
    "THRESHOLDS",
    "Evaluation",
    "GroupDecision",
    "ImageMetrics",
    "OfficialEvaluator",
    "OfficialParity",
    "Pairing",
    "PySODEvaluator",
    "check_official_parity",
    "compare_folders",
    "e_measure_curve",
    "evaluate_files",
    "evaluate_folders",
    "evaluate_image",
    "f_measure_curve",
    "format_comparison",
    "group_decision",
    "load_pair",
    "mae",
    "match_pairs",
    "normalize_prediction",
    "precision_recall_curves",
    "s_measure",
    "summarize",
    "write_tables",
]
