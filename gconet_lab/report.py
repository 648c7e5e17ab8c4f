"""The main job: prepare the data, train GCoNet+ with and without its group modules, evaluate, and write a report.

Both models are trained from scratch with the main job's recipe (``cpu-cogroups``: the CPU recipe with
real photos in the group of every class they show, at 128 pixels, for the epochs that fit the job's
15 minutes on 2 cores). The report (``report.md`` with PNG figures) holds their official-protocol
metrics on iCoseg, ``Synthetic_test`` and ``COCO-groups``, beside the two shipped models' (GCoNet+ and
the same recipe without GAM and GCM) and a centre-prior baseline's, the pysodmetrics numbers, the
group-decision measure on the sets whose photos sit in several groups
(:mod:`gconet_lab.metrics.group_decision`), the training curves, and image / ground truth /
prediction for a few groups.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from gconet_lab.data import index_set, read_image, read_mask
from gconet_lab.engine.recipes import MAIN_JOB_RECIPE, RECIPES
from gconet_lab.engine.side_by_side import report_progress, run_side_by_side, side_by_side_workers
from gconet_lab.engine.train import select_device
from gconet_lab.inference.evaluate import CENTRE_PRIOR, DatasetScores, evaluate_model
from gconet_lab.inference.fast_inference import make_fast_model
from gconet_lab.lab.viz.grids import prediction_grid
from gconet_lab.lab.viz.metric_plots import loss_curves
from gconet_lab.metrics import METRICS
from gconet_lab.models.weights import GCoNetWeights, gconet_plus
from gconet_lab.pipeline import COCO_GROUPS_SET, TEST_SET, prepare_default_data, train_recipe

MAIN_JOB_EPOCHS = RECIPES[MAIN_JOB_RECIPE].config().epochs  # two trainings fit the 15 minutes on 2 cores
GROUP_TEST_SET = "Synthetic_test"  # shapes where only the group tells which object counts
MAIN_JOB_TEST_SETS = (TEST_SET, GROUP_TEST_SET, COCO_GROUPS_SET)  # COCO-groups: real photos, each in several groups
WITHOUT_GROUP_MODULES = {"use_gam": False, "use_gcm": False, "consensus_gate": False}  # the ablation twin's overrides
TRAINED_MODELS = {"GCoNet+": {}, "without GAM and GCM": WITHOUT_GROUP_MODULES}  # name: recipe overrides
TRAINED_MODEL_NAMES = tuple(TRAINED_MODELS)
SHIPPED_MODELS = {f"shipped {weights.model_name}": weights for weights in GCoNetWeights.shipped_pair()}


def markdown_table(scores: dict[str, DatasetScores]) -> str:
    header = "| model | " + " | ".join(f"{m} (official)" for m in METRICS) + " | " + " | ".join(f"{m} (pysod)" for m in METRICS) + " |"
    lines = [header, "|" + "---|" * (1 + 2 * len(METRICS))]
    for name, score in scores.items():
        official = [f"{score.evaluation.results[m]:.4f}" for m in METRICS]
        pysod = [f"{score.pysod[m]:.4f}" for m in METRICS]
        lines.append(f"| {name} | " + " | ".join(official + pysod) + " |")
    return "\n".join(lines)


def group_decision_table(scores: dict[str, DatasetScores]) -> str:
    """The group-decision measure per model, or "" when the set has no photo in two or more groups."""
    rows = {name: score.group_decision for name, score in scores.items() if score.group_decision is not None}
    if not rows:
        return ""
    lines = ["| model | photos in 2+ groups | pairs | map closer to its own mask | chance | Sα own | Sα other | own - other |",
             "|" + "---|" * 8]
    for name, measure in rows.items():
        lines.append(f"| {name} | {measure.photos} | {measure.pairs} | {measure.closer:.1%} | {measure.chance:.1%} | "
                     f"{measure.own:.4f} | {measure.other:.4f} | {measure.gap:+.4f} |")
    return "\n".join(lines)


def example_rows(data_dir: Path, predictions: dict[str, Path], groups: int = 3, per_group: int = 3):
    indexed = index_set(data_dir, TEST_SET)
    chosen = indexed.groups[:: max(1, len(indexed.groups) // groups)][:groups]
    rows, titles = [], []
    for group in chosen:
        for sample in group.samples[:per_group]:
            row = {"image": read_image(sample.image), "ground truth": (read_mask(sample.mask) * 255).astype(np.uint8)}
            for name, root in predictions.items():
                row[name] = read_mask(root / TEST_SET / group.name / f"{sample.stem}.png")
            rows.append(row)
            titles.append(group.name[:24])
    return rows, titles


@dataclass(frozen=True)
class TrainedScores:
    """One model trained by the main job: its loss history, its steps, and its scores on each test set."""

    history: list[dict]
    steps: int
    scores: dict[str, DatasetScores]


def count_step(record: dict) -> None:
    """A training callback: one step on the main job's bar of training steps (jobs side by side)."""
    report_progress()


def train_and_score(overrides: dict, data_dir: Path, run_dir: Path, epochs: int, device: str | None,
                    progress: bool) -> TrainedScores:
    """Train the main job's recipe changed by ``overrides`` in ``run_dir`` (resuming a run there), then score it."""
    trained = train_recipe(MAIN_JOB_RECIPE, data_dir, run_dir, epochs=epochs, device=device, progress=progress,
                           callbacks=(count_step,), **overrides)
    fast = make_fast_model(trained.model)  # the same maps, BatchNorm folded
    # never maps of an earlier run: evaluate_model scores exactly this run's
    scores = {test_set: evaluate_model(fast, data_dir, test_set, run_dir) for test_set in MAIN_JOB_TEST_SETS}
    return TrainedScores(trained.result.history, trained.result.steps, scores)


def score_shipped(weights: GCoNetWeights, data_dir: Path, test_set: str, out: Path, device: str | None) -> DatasetScores:
    """A shipped model's scores on one test set."""
    shipped = make_fast_model(gconet_plus(weights, device=device or "cpu"))
    return evaluate_model(shipped, data_dir, test_set, out / weights.model_name)


def score_centre_prior(data_dir: Path, test_set: str, out: Path) -> DatasetScores:
    return evaluate_model(CENTRE_PRIOR, data_dir, test_set, out / "centre_prior")


def run_main_job(out: str | Path = "outputs/demo", epochs: int | None = None, device: str | None = None) -> Path:
    """Everything the README's first command does; returns the path of the report.

    The two trainings, then the evaluations, run two at a time side by side on a CPU
    (:mod:`gconet_lab.engine.side_by_side`), one after the other on a GPU.
    """
    out = Path(out)
    started = time.perf_counter()
    data_dir = prepare_default_data(out / "data")
    epochs = epochs or MAIN_JOB_EPOCHS
    workers = side_by_side_workers(select_device(device), len(TRAINED_MODELS))
    jobs: dict[str, Callable[[], object]] = {  # side by side, the trainings' steps show on run_side_by_side's bar
        f"train {name}": partial(train_and_score, overrides, data_dir, out / f"run{index}", epochs, device, workers == 1)
        for index, (name, overrides) in enumerate(TRAINED_MODELS.items())
    }
    for row, weights in SHIPPED_MODELS.items():
        jobs |= {f"{row} on {test_set}": partial(score_shipped, weights, data_dir, test_set, out, device)
                 for test_set in MAIN_JOB_TEST_SETS}
    jobs |= {f"{CENTRE_PRIOR} on {test_set}": partial(score_centre_prior, data_dir, test_set, out)
             for test_set in MAIN_JOB_TEST_SETS}
    results = run_side_by_side(jobs, workers, desc="main job", progress_unit="training step")
    scores: dict[str, dict[str, DatasetScores]] = {name: {} for name in MAIN_JOB_TEST_SETS}
    histories, predictions, steps = {}, {}, {}
    for index, name in enumerate(TRAINED_MODELS):
        trained = results[f"train {name}"]
        histories[name], steps[name] = trained.history, trained.steps
        for test_set in MAIN_JOB_TEST_SETS:
            scores[test_set][name] = trained.scores[test_set]
        predictions[name] = out / f"run{index}" / "predictions"
    for row in (*SHIPPED_MODELS, CENTRE_PRIOR):
        for test_set in MAIN_JOB_TEST_SETS:
            scores[test_set][row] = results[f"{row} on {test_set}"]
    predictions[CENTRE_PRIOR] = out / "centre_prior" / "predictions"
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    rows, titles = example_rows(data_dir, predictions)
    prediction_grid(rows, ["image", "ground truth", *predictions], titles).savefig(figures / "examples.png", dpi=110)
    for index, history in enumerate(histories.values()):
        if history:
            loss_curves(history, smooth=10).savefig(figures / f"losses_run{index}.png", dpi=110)
    report = out / "report.md"
    report.write_text(render_report(scores, histories, steps, time.perf_counter() - started), encoding="utf-8")
    for test_set, rows_of_set in scores.items():
        print(f"{test_set}:\n{markdown_table(rows_of_set)}\n{group_decision_table(rows_of_set)}".rstrip())
    print(f"report written to {report}")
    return report


def render_report(scores: dict[str, dict[str, DatasetScores]], histories: dict[str, list], steps: dict[str, int],
                  seconds: float) -> str:
    """``scores[test set][model]``, each trained model's loss ``histories`` and ``steps`` (all its run's, resumed or
    not): the report's text, with the differences that answer its two questions."""
    icoseg, synthetic, coco_groups = scores[TEST_SET], scores[GROUP_TEST_SET], scores[COCO_GROUPS_SET]
    shipped, shipped_twin = SHIPPED_MODELS
    lines = [
        f"# gconet-lab main job: GCoNet+ (recipe {MAIN_JOB_RECIPE}) on iCoseg, {GROUP_TEST_SET} and {COCO_GROUPS_SET}",
        "",
        f"Both models trained from scratch for {' and '.join(map(str, steps.values()))} steps on the groups of "
        f"{' + '.join(RECIPES[MAIN_JOB_RECIPE].sets)} (recipe `{MAIN_JOB_RECIPE}`), in {seconds / 60:.1f} min for the whole job. Tested on iCoseg "
        f"({icoseg[CENTRE_PRIOR].evaluation.results['n']:.0f} photos with masks, never trained on), on "
        f"{GROUP_TEST_SET} (shapes where only the group tells which object counts) and on {COCO_GROUPS_SET} (COCO "
        "val2017 photos in the group of every class they show, masked with that class: real photos where only the "
        f"group tells). `{shipped}` is the model shipped with the package, `{shipped_twin}` the same recipe "
        "without GAM and GCM (their model cards say how they were trained).",
        "",
        "Official protocol (eval-co-sod: per-image mean over the dataset, 255 thresholds, soft GT, raw MAE) "
        "and, beside it, pysodmetrics' conventions.",
        "",
    ]
    for test_set, rows in scores.items():
        lines += [f"## {test_set}", "", markdown_table(rows), ""]
        if decision := group_decision_table(rows):
            lines += ["Does the group decide? Each photo in several groups has one map per group, scored (Sα) "
                      "against its mask in that group and in its other groups:", "", decision, ""]
    lines += [
        "## What the numbers say",
        "",
        f"- GCoNet+ vs centre prior on iCoseg: {differences(icoseg, TRAINED_MODEL_NAMES[0], CENTRE_PRIOR)}.",
        f"- GCoNet+ vs the same recipe without GAM and GCM on {GROUP_TEST_SET}: "
        f"{differences(synthetic, TRAINED_MODEL_NAMES[0], TRAINED_MODEL_NAMES[1])}; on iCoseg: "
        f"{differences(icoseg, TRAINED_MODEL_NAMES[0], TRAINED_MODEL_NAMES[1])}.",
        f"- The shipped pair, with vs without GAM and GCM, on {COCO_GROUPS_SET}: "
        f"{differences(coco_groups, shipped, shipped_twin)}; on iCoseg: {differences(icoseg, shipped, shipped_twin)}.",
        f"- Does the group decide on {COCO_GROUPS_SET}? Maps closer to their own group's mask: "
        + ", ".join(f"{name} {coco_groups[name].group_decision.closer:.1%}"
                    for name in (*TRAINED_MODEL_NAMES, *SHIPPED_MODELS, CENTRE_PRIOR))
        + f" (chance {coco_groups[CENTRE_PRIOR].group_decision.chance:.1%}).",
        "",
        "![examples](figures/examples.png)",
        "",
    ]
    for index, name in enumerate(histories):
        lines += [f"Training losses, {name} ({steps[name]} steps):", "", f"![losses](figures/losses_run{index}.png)", ""]
    return "\n".join(lines)


def differences(rows: dict[str, DatasetScores], model: str, baseline: str) -> str:
    """``S +0.1234, maxF ...``: ``model`` minus ``baseline`` in the official protocol."""
    ours, theirs = rows[model].evaluation.results, rows[baseline].evaluation.results
    return ", ".join(f"{m} {ours[m] - theirs[m]:+.4f}" for m in METRICS)
