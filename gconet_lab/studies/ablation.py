"""The ablation studies of GCoNet+ (Tables 1 and 2, Fig. 11) as runnable configurations.

Each row of the paper's two ablation tables is an :class:`AblationRow`: the components it ticks,
the configuration switches (:mod:`gconet_lab.config`) that build it, and the paper's numbers for
it. :func:`run_ablation` trains every row on the same data with the same seed (each checkpoint is
cached in its own folder, so a second call trains nothing), predicts the test set and scores it
with the official protocol; :func:`ablation_table` and :func:`plot_ablation` put the results beside
the paper's.

How the rows were read. The text copy of the paper lost the column of each tick mark; only the
number of ticks per row survives (ID 2: one, IDs 3 and 4: two, ID 5: three). Table 1 is read in the
order Sec. 4.4 introduces the changes (Net-Sim first, then BN, then the hybrid loss): ID 2 = Net-Sim,
ID 3 = Net-Sim + BN, ID 4 = Net-Sim + HL. Table 2 follows Fig. 11 (ID 2 = RACM, ID 3 = RACM + CEM),
so ID 4 = RACM + GST. Table 1's ID 5 and Table 2's ID 1 are the same model ("our new baseline",
identical numbers), and Table 1's rows have none of Table 2's components.

What cannot be run. Table 1's ID 1 is GCoNet itself (no Net-Sim: multi-convolution laterals and
multi-stage supervision), which this library does not build: Net-Sim is always on, so it is not a
switch and is not listed below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch

from gconet_lab.config import GCoNetConfig
from gconet_lab.data import Group, make_test_loader, read_image, read_mask
from gconet_lab.engine.recipes import CPU_RECIPE, RECIPES, TABLE3_TEST_SETS, Recipe
from gconet_lab.inference.evaluate import evaluate_model, predict_group
from gconet_lab.metrics import METRICS
from gconet_lab.pipeline import TEST_SET, train

PAPER_SETS = TABLE3_TEST_SETS  # the test sets of Tables 1-2, as of Table 3
TABLE_COMPONENTS = {1: ("Net-Sim", "BN", "HL"), 2: ("RACM", "CEM", "GST")}
# The configuration switch of each component; Net-Sim has none (always on, see the module docstring).
SWITCHES = {"BN": "use_bn", "HL": "hybrid_loss", "RACM": "use_racm", "CEM": "use_cem", "GST": "use_gst"}


def paper_scores(e_max: float, s_alpha: float, f_max: float, mae: float) -> dict[str, float]:
    """One data set's cell of Tables 1-2, typed in the paper's column order (E, S, F, MAE)."""
    return {"maxE": e_max, "S": s_alpha, "maxF": f_max, "MAE": mae}


@dataclass(frozen=True)
class AblationRow:
    """One row of Table 1 or 2: its ticks, its configuration, and the paper's numbers."""

    name: str  # folder name of its cached run
    label: str
    table: int
    paper_id: int
    ticks: frozenset[str]  # components ticked in the paper's row
    overrides: dict[str, Any]  # applied on top of a recipe: recipe.config(**overrides)
    paper: dict[str, dict[str, float]] = field(repr=False)  # {CoCA|CoSOD3k|CoSal2015: scores}

    def config(self, recipe: Recipe = RECIPES[CPU_RECIPE]) -> GCoNetConfig:
        """The row's switches applied to ``recipe``'s preset and options (by default the CPU recipe, the shipped model's at 128 px)."""
        return recipe.config(**self.overrides)


# Table 1's rows are built without Table 2's components (its ID 5 is Table 2's ID 1).
WITHOUT_TABLE2 = {"use_racm": False, "use_cem": False, "use_gst": False}
BASELINE_PAPER = {  # Table 1 ID 5 = Table 2 ID 1
    "CoCA": paper_scores(0.779, 0.681, 0.558, 0.119),
    "CoSOD3k": paper_scores(0.882, 0.828, 0.807, 0.068),
    "CoSal2015": paper_scores(0.913, 0.875, 0.877, 0.055),
}

TABLE1_ROWS = (
    AblationRow("netsim", "Net-Sim", 1, 2, frozenset({"Net-Sim"}), {**WITHOUT_TABLE2, "use_bn": False, "hybrid_loss": False}, {
        "CoCA": paper_scores(0.752, 0.676, 0.538, 0.100),
        "CoSOD3k": paper_scores(0.872, 0.815, 0.796, 0.063),
        "CoSal2015": paper_scores(0.895, 0.853, 0.858, 0.063)}),
    AblationRow("netsim_bn", "Net-Sim + BN", 1, 3, frozenset({"Net-Sim", "BN"}), {**WITHOUT_TABLE2, "hybrid_loss": False}, {
        "CoCA": paper_scores(0.747, 0.683, 0.556, 0.110),
        "CoSOD3k": paper_scores(0.884, 0.824, 0.806, 0.062),
        "CoSal2015": paper_scores(0.912, 0.868, 0.874, 0.051)}),
    AblationRow("netsim_hl", "Net-Sim + HL", 1, 4, frozenset({"Net-Sim", "HL"}), {**WITHOUT_TABLE2, "use_bn": False}, {
        "CoCA": paper_scores(0.774, 0.691, 0.562, 0.106),
        "CoSOD3k": paper_scores(0.879, 0.831, 0.806, 0.065),
        "CoSal2015": paper_scores(0.901, 0.867, 0.865, 0.062)}),
    AblationRow("baseline", "baseline", 1, 5, frozenset({"Net-Sim", "BN", "HL"}), WITHOUT_TABLE2,
                BASELINE_PAPER),
)

TABLE2_ROWS = (
    AblationRow("baseline", "baseline", 2, 1, frozenset(), WITHOUT_TABLE2, BASELINE_PAPER),
    AblationRow("racm", "+ RACM", 2, 2, frozenset({"RACM"}), {"use_cem": False, "use_gst": False}, {
        "CoCA": paper_scores(0.780, 0.684, 0.570, 0.120),
        "CoSOD3k": paper_scores(0.884, 0.829, 0.809, 0.067),
        "CoSal2015": paper_scores(0.912, 0.873, 0.875, 0.056)}),
    AblationRow("racm_cem", "+ RACM + CEM", 2, 3, frozenset({"RACM", "CEM"}), {"use_gst": False}, {
        "CoCA": paper_scores(0.779, 0.686, 0.565, 0.117),
        "CoSOD3k": paper_scores(0.881, 0.829, 0.805, 0.068),
        "CoSal2015": paper_scores(0.913, 0.872, 0.873, 0.057)}),
    AblationRow("racm_gst", "+ RACM + GST", 2, 4, frozenset({"RACM", "GST"}), {"use_cem": False}, {
        "CoCA": paper_scores(0.780, 0.683, 0.559, 0.118),
        "CoSOD3k": paper_scores(0.882, 0.831, 0.810, 0.068),
        "CoSal2015": paper_scores(0.914, 0.876, 0.876, 0.055)}),
    AblationRow("gconet_plus", "GCoNet+", 2, 5, frozenset({"RACM", "CEM", "GST"}), {}, {
        "CoCA": paper_scores(0.786, 0.691, 0.574, 0.113),
        "CoSOD3k": paper_scores(0.881, 0.828, 0.807, 0.068),
        "CoSal2015": paper_scores(0.917, 0.875, 0.876, 0.054)}),
)

ABLATION_ROWS = TABLE1_ROWS + TABLE2_ROWS
FIGURE_11 = ("baseline", "racm", "racm_cem", "gconet_plus")  # Fig. 11 (d)-(g); (c) is GCoNet, not built here


def rows_named(names: Sequence[str]) -> list[AblationRow]:
    """The rows called ``names``, in that order (``baseline``: Table 2's ID 1, the same model as Table 1's ID 5)."""
    by_name = {row.name: row for row in ABLATION_ROWS}  # later rows win: Table 2's baseline
    return [by_name[name] for name in names]


@dataclass(frozen=True)
class AblationRecord:
    """The result of one row: official-protocol scores on the test set and how it was trained."""

    row: AblationRow
    scores: dict[str, float]  # S, maxF, maxE, MAE (and n, the number of images)
    per_group: list[dict] = field(repr=False)  # the same metrics for each test group
    steps: int  # training steps in the checkpoint
    cached: bool  # True when the checkpoint was already complete and nothing was trained


def train_and_score(row: AblationRow, data_dir: Path, run_dir: Path, recipe: Recipe, epochs: int | None,
                    test_set: str, test_groups: int | None, progress: bool) -> AblationRecord:
    """Train one row (or load its complete checkpoint), then predict and score ``test_set`` (Sec. 4.2-4.3)."""
    trained = train(row.config(recipe), data_dir, run_dir, sets=recipe.sets, epochs=epochs, progress=progress)
    evaluation = evaluate_model(trained.model, data_dir, test_set, run_dir, groups=test_groups, progress=progress).evaluation
    return AblationRecord(row, evaluation.results, evaluation.per_group, trained.result.steps,
                          cached=not trained.result.history)


def run_ablation(rows: Sequence[AblationRow], data_dir: str | Path, runs_dir: str | Path,
                 recipe: Recipe = RECIPES[CPU_RECIPE], epochs: int | None = None, test_set: str = TEST_SET,
                 test_groups: int | None = None, progress: bool = False) -> list[AblationRecord]:
    """Train and evaluate ``rows``; one record per row, in order.

    Every row trains ``recipe`` (preset, options and sets; by default the CPU recipe) changed by
    the row's switches (same data, same seed) into ``runs_dir/<row.name>``; a complete checkpoint there
    is reused (``gconet_lab.lab.notebook.trained_variant`` uses the same folders and recipe), and rows
    sharing a name are run once. ``epochs`` defaults to the recipe's;
    ``test_groups`` keeps only the first groups of ``test_set`` (sorted by name).
    """
    data_dir, runs_dir = Path(data_dir), Path(runs_dir)
    done: dict[str, AblationRecord] = {}
    for row in rows:
        if row.name not in done:
            done[row.name] = train_and_score(row, data_dir, runs_dir / row.name, recipe, epochs, test_set, test_groups,
                                             progress)
    return [replace(done[row.name], row=row) for row in rows]


def ablation_table(records: Sequence[AblationRecord], paper_set: str = "CoSal2015") -> str:
    """A Markdown table: ticks, our scores, and the paper's scores on ``paper_set`` for each row."""
    header = ["table", "ID", "components", "steps", *[f"{m} (ours)" for m in METRICS], *[f"{m} ({paper_set})" for m in METRICS]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for record in records:
        row = record.row
        ticks = ", ".join(c for c in TABLE_COMPONENTS[row.table] if c in row.ticks) or "none"
        ours = [f"{record.scores[m]:.3f}" for m in METRICS]
        paper = [f"{row.paper[paper_set][m]:.3f}" for m in METRICS]
        lines.append("| " + " | ".join([str(row.table), str(row.paper_id), ticks, str(record.steps), *ours, *paper]) + " |")
    return "\n".join(lines)


def changes_from_reference(records: Sequence[AblationRecord], reference: str = "baseline") -> dict[str, np.ndarray]:
    """Each metric's change from the ``reference`` row, ours and per paper set: {"ours"|set: (rows, metrics)}."""
    base = next(record for record in records if record.row.name == reference)
    changes = {"ours": np.array([[r.scores[m] - base.scores[m] for m in METRICS] for r in records])}
    for name in PAPER_SETS:
        changes[name] = np.array([[r.row.paper[name][m] - base.row.paper[name][m] for m in METRICS] for r in records])
    return changes


def group_differences(record: AblationRecord, reference: AblationRecord, metric: str = "S") -> np.ndarray:
    """``metric`` of ``record`` minus that of ``reference`` on each test group (both scored on the same groups).

    Their spread says how much a change of the dataset mean could come from which groups were tested.
    """
    theirs = {group["group"]: group[metric] for group in reference.per_group}
    return np.array([group[metric] - theirs[group["group"]] for group in record.per_group])


def plot_ablation(records: Sequence[AblationRecord], reference: str = "baseline") -> plt.Figure:
    """One panel per metric: each row's change from the reference row, ours beside the paper's three sets."""
    changes = changes_from_reference(records, reference)
    labels = [f"T{r.row.table}-{r.row.paper_id}" for r in records]
    figure, axes = plt.subplots(1, len(METRICS), figsize=(3.2 * len(METRICS), 3.2), sharey=False)
    width = 0.8 / len(changes)
    positions = np.arange(len(records))
    for m, (axis, metric) in enumerate(zip(axes, METRICS, strict=True)):
        for k, (source, values) in enumerate(changes.items()):
            axis.bar(positions + (k - (len(changes) - 1) / 2) * width, values[:, m], width, label=source)
        axis.axhline(0, color="black", linewidth=0.6)
        axis.set_xticks(positions, labels, rotation=60, fontsize=7)
        axis.set_title(f"{metric} - {metric}({reference})" + (" (lower is better)" if metric == "MAE" else ""), fontsize=8)
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    return figure


def qualitative_rows(models: dict[str, torch.nn.Module], groups: Sequence[Group], image_size: int,
                     per_group: int = 2) -> tuple[list[dict[str, np.ndarray]], list[str]]:
    """Rows for :func:`gconet_lab.lab.viz.grids.prediction_grid` (Fig. 11): image, ground truth, one map per model.

    Each group is predicted as one batch, as at test time; its first ``per_group`` images are shown.
    """
    rows, titles = [], []
    for item in make_test_loader(groups, image_size):
        maps = {name: predict_group(model, item["images"], item["sizes"].tolist(), next(model.parameters()).device)
                for name, model in models.items()}
        for i in range(min(per_group, len(item["names"]))):
            row = {"image": read_image(item["image_paths"][i]), "ground truth": read_mask(item["mask_paths"][i])}
            rows.append(row | {name: group_maps[i] for name, group_maps in maps.items()})
            titles.append(item["group"][:24])
    return rows, titles
