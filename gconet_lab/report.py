"""The main job: prepare the embedded data, train, evaluate on iCoseg, and write a report.

The report (``report.md`` with PNG figures) holds the official-protocol metrics of the trained
``cpu`` preset, of the same model without GAM and GCM, and of a centre-prior baseline, the
pysodmetrics numbers beside them, the training curves, and image / ground truth / prediction for a
few groups.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from gconet_lab.config import make_config
from gconet_lab.data import index_set, make_test_loader, read_image, read_mask
from gconet_lab.data.writer import safe_name
from gconet_lab.inference.evaluate import (
    DatasetScores,
    predict_centre_prior,
    predict_dataset,
    predicted_pairing,
    score_predictions,
)
from gconet_lab.lab.viz.grids import prediction_grid
from gconet_lab.lab.viz.metric_plots import loss_curves
from gconet_lab.pipeline import TEST_SET, prepare_default_data, train

METRIC_COLUMNS = ("S", "maxF", "maxE", "MAE")


def markdown_table(scores: dict[str, DatasetScores]) -> str:
    header = "| model | " + " | ".join(f"{m} (official)" for m in METRIC_COLUMNS) + " | " + " | ".join(f"{m} (pysod)" for m in METRIC_COLUMNS) + " |"
    lines = [header, "|" + "---|" * (1 + 2 * len(METRIC_COLUMNS))]
    for name, score in scores.items():
        official = [f"{score.evaluation.results[m]:.4f}" for m in METRIC_COLUMNS]
        pysod = [f"{score.pysod[m]:.4f}" for m in METRIC_COLUMNS]
        lines.append(f"| {name} | " + " | ".join(official + pysod) + " |")
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


def run_main_job(out: str | Path = "outputs/demo", epochs: int | None = None, device: str | None = None) -> Path:
    """Everything the README's first command does; returns the path of the report."""
    out = Path(out)
    started = time.perf_counter()
    data_dir = prepare_default_data(out / "data")
    gconet = make_config("cpu")
    variants = {"GCoNet+ (cpu preset)": gconet, "without GAM and GCM": gconet.replace(use_gam=False, use_gcm=False)}
    histories, predictions = {}, {}
    test_set = index_set(data_dir, TEST_SET)
    test_loader = make_test_loader(test_set, gconet.image_size)
    for index, (name, config) in enumerate(variants.items()):
        run_dir = out / f"run{index}"
        trained = train(config, data_dir, run_dir, epochs=epochs, device=device)
        histories[name] = trained.result.history
        predictions[name] = predict_dataset(trained.model, test_loader, run_dir / "predictions", device=next(trained.model.parameters()).device)
    predictions["centre prior"] = predict_centre_prior(test_set.groups, out / "centre_prior")
    gt_root = data_dir / "gts" / TEST_SET
    scores = {name: score_predictions(root / TEST_SET, gt_root, out / "tables" / safe_name(name),
                                      pairing=predicted_pairing(test_set.groups))  # never maps of an earlier run
              for name, root in predictions.items()}
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    rows, titles = example_rows(data_dir, predictions)
    prediction_grid(rows, ["image", "ground truth", *predictions], titles).savefig(figures / "examples.png", dpi=110)
    for index, history in enumerate(histories.values()):
        if history:
            loss_curves(history, smooth=10).savefig(figures / f"losses_run{index}.png", dpi=110)
    report = out / "report.md"
    report.write_text(render_report(scores, histories, time.perf_counter() - started), encoding="utf-8")
    print(markdown_table(scores))
    print(f"report written to {report}")
    return report


def render_report(scores: dict[str, DatasetScores], histories: dict[str, list], seconds: float) -> str:
    ours, baseline = scores["GCoNet+ (cpu preset)"].evaluation.results, scores["centre prior"].evaluation.results
    lines = [
        "# gconet-lab main job: GCoNet+ (cpu preset) on iCoseg",
        "",
        f"Trained on COCO128-SEG groups + the synthetic co-saliency set, tested on iCoseg "
        f"({scores['centre prior'].evaluation.results['n']:.0f} images with masks). Total time {seconds / 60:.1f} min.",
        "",
        "Official protocol (eval-co-sod: per-image mean over the dataset, 255 thresholds, soft GT, raw MAE) "
        "and, beside it, pysodmetrics' conventions:",
        "",
        markdown_table(scores),
        "",
        f"GCoNet+ vs centre prior: S {ours['S'] - baseline['S']:+.4f}, maxF {ours['maxF'] - baseline['maxF']:+.4f}, "
        f"maxE {ours['maxE'] - baseline['maxE']:+.4f}, MAE {ours['MAE'] - baseline['MAE']:+.4f}.",
        "",
        "![examples](figures/examples.png)",
        "",
    ]
    for index, name in enumerate(histories):
        lines += [f"Training losses, {name} ({len(histories[name])} steps):", "", f"![losses](figures/losses_run{index}.png)", ""]
    return "\n".join(lines)
