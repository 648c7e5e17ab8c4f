"""The ablation rows (Tables 1-2) build what they claim; runs are trained once, scored and tabulated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gconet_lab.config import make_config
from gconet_lab.data import index_set
from gconet_lab.engine.recipes import CPU_RECIPE, RECIPES, Recipe
from gconet_lab.losses import GCoNetLoss
from gconet_lab.models import GCoNetPlus
from gconet_lab.studies.ablation import (
    ABLATION_ROWS,
    FIGURE_11,
    METRICS,
    PAPER_SETS,
    SWITCHES,
    TABLE_COMPONENTS,
    ablation_table,
    group_differences,
    plot_ablation,
    qualitative_rows,
    rows_named,
    run_ablation,
)

# The rows' switches on the tiny preset, trained on the "Train" set of the fixtures below
TINY_RECIPE = Recipe("tiny-test", "tiny test", ("Train",), preset="tiny")
# The Eq. 11 term each component adds to a training step (BN adds none).
LOSS_TERM = {"HL": "iou", "RACM": "racm", "GST": "gst"}


def switched_off(row) -> set[str]:
    """The components whose switch the row's configuration turns off (against the full GCoNet+)."""
    config, full = row.config(TINY_RECIPE), make_config("tiny")
    return {component for component, switch in SWITCHES.items() if getattr(config, switch) != getattr(full, switch)}


@pytest.mark.parametrize("row", ABLATION_ROWS, ids=lambda row: f"T{row.table}-{row.paper_id}")
def test_each_row_switches_off_exactly_the_unticked_components(row):
    unticked = {c for c in TABLE_COMPONENTS[row.table] if c not in row.ticks and c in SWITCHES}
    absent_by_construction = set(TABLE_COMPONENTS[2]) if row.table == 1 else set()  # Table 1 has no RACM/CEM/GST
    assert switched_off(row) == unticked | absent_by_construction
    assert row.ticks <= set(TABLE_COMPONENTS[row.table])


@pytest.mark.parametrize("row", ABLATION_ROWS, ids=lambda row: f"T{row.table}-{row.paper_id}")
def test_each_row_builds_a_model_with_exactly_its_modules_and_loss_terms(row):
    config = row.config(TINY_RECIPE)
    model = GCoNetPlus(config).train()
    images = torch.randn(4, 3, 64, 64)
    losses = GCoNetLoss(config)(model(images), (images[:, :1] > 0).float(), torch.tensor([0, 0, 1, 1]))
    off = switched_off(row)
    assert {LOSS_TERM[c] for c in LOSS_TERM if c not in off} == set(losses.terms) & set(LOSS_TERM.values())
    assert hasattr(model, "cem") == ("CEM" not in off)
    decoder_has_bn = any(isinstance(m, torch.nn.BatchNorm2d) for m in model.decoder.modules())
    assert decoder_has_bn == ("BN" not in off)


def test_rows_sharing_a_name_are_the_same_model_with_the_same_paper_numbers():
    by_name: dict[str, list] = {}
    for row in ABLATION_ROWS:
        by_name.setdefault(row.name, []).append(row)
    assert [name for name, rows in by_name.items() if len(rows) > 1] == ["baseline"]
    first, second = by_name["baseline"]
    assert (first.table, first.paper_id, second.table, second.paper_id) == (1, 5, 2, 1)
    assert first.overrides == second.overrides and first.paper == second.paper


def test_paper_numbers_are_complete_and_in_range():
    for row in ABLATION_ROWS:
        assert set(row.paper) == set(PAPER_SETS)
        for scores in row.paper.values():
            assert set(scores) == set(METRICS)
            assert 0.5 < scores["S"] < 1 and 0.5 < scores["maxE"] < 1 and 0.5 < scores["maxF"] < 1 and 0 < scores["MAE"] < 0.2
    full = rows_named(["gconet_plus"])[0]
    assert full.paper["CoCA"] == {"maxE": 0.786, "S": 0.691, "maxF": 0.574, "MAE": 0.113}  # Table 2 ID 5 = Table 3 Train-1


def test_figure_11_columns_are_table_2_rows_in_order():
    assert [(row.table, row.paper_id) for row in rows_named(FIGURE_11)] == [(2, 1), (2, 2), (2, 3), (2, 5)]


@pytest.fixture
def tiny_data(write_cosod_set):
    write_cosod_set({"ant": 4, "bee": 4, "cat": 4}, set_name="Train", size=(40, 48), seed=0)
    return write_cosod_set({"dog": 3, "eel": 2, "fox": 3}, set_name="Test", size=(40, 48), seed=1)


def run_tiny(rows, data, runs, **kwargs):
    return run_ablation(rows, data, runs, TINY_RECIPE, epochs=1, test_set="Test", **kwargs)


@pytest.mark.slow
def test_run_ablation_trains_each_row_once_and_reuses_cached_runs(tiny_data, tmp_path):
    rows = rows_named(["baseline", "racm"]) + [ABLATION_ROWS[3]]  # Table 1's baseline: the same run again
    first = run_tiny(rows, tiny_data, tmp_path / "runs")
    assert [record.row for record in first] == rows
    assert [record.cached for record in first] == [False, False, False]  # the repeated row was run once, in this call
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["baseline", "racm"]
    assert all(record.steps == 3 and record.scores["n"] == 8 for record in first)  # 3 groups -> 3 steps; 8 test images
    assert first[0].scores == first[2].scores
    log_lines = (tmp_path / "runs" / "racm" / "log.jsonl").read_text().count("\n")
    again = run_tiny(rows, tiny_data, tmp_path / "runs")
    assert all(record.cached for record in again)
    assert (tmp_path / "runs" / "racm" / "log.jsonl").read_text().count("\n") == log_lines
    assert [record.scores for record in again] == [record.scores for record in first]


@pytest.mark.slow
def test_test_groups_keeps_the_first_groups(tiny_data, tmp_path):
    (record,) = run_tiny(rows_named(["gconet_plus"]), tiny_data, tmp_path / "runs", test_groups=2)
    assert record.scores["n"] == 5  # dog (3) + eel (2)


@pytest.mark.slow
def test_table_and_plot_show_every_row(tiny_data, tmp_path):
    records = run_tiny(rows_named(["baseline", "racm_cem"]), tiny_data, tmp_path / "runs")
    lines = ablation_table(records, paper_set="CoCA").splitlines()
    assert len(lines) == 2 + len(records)
    assert lines[2].startswith("| 2 | 1 | none | 3 |") and lines[3].startswith("| 2 | 3 | RACM, CEM | 3 |")
    assert lines[3].endswith("| 0.686 | 0.565 | 0.779 | 0.117 |")  # Table 2 ID 3 on CoCA, as S, maxF, maxE, MAE
    differences = group_differences(records[1], records[0], "S")
    sizes = [group["n"] for group in records[0].per_group]
    assert len(differences) == 3  # dog, eel, fox
    assert np.average(differences, weights=sizes) == pytest.approx(records[1].scores["S"] - records[0].scores["S"])
    figure = plot_ablation(records)
    assert len(figure.axes) == len(METRICS)
    baseline_bars = [patch.get_height() for patch in figure.axes[0].patches[::2]]  # first row of every source
    assert baseline_bars == [0.0] * (1 + len(PAPER_SETS))


def test_qualitative_rows_have_the_image_the_mask_and_one_map_per_model(tiny_data):
    models = {"a": GCoNetPlus(make_config("tiny")).eval(), "b": GCoNetPlus(make_config("tiny", use_cem=False)).eval()}
    rows, titles = qualitative_rows(models, index_set(tiny_data, "Test").groups[:2], 64, per_group=2)
    assert titles == ["dog", "dog", "eel", "eel"]
    assert list(rows[0]) == ["image", "ground truth", "a", "b"]
    assert rows[0]["a"].shape == rows[0]["ground truth"].shape == rows[0]["image"].shape[:2] == (40, 48)


def test_a_row_is_the_cpu_recipe_with_its_switches_by_default():
    row = rows_named(["racm"])[0]
    recipe = RECIPES[CPU_RECIPE]
    config = row.config()
    assert config == make_config(recipe.preset, **recipe.config_options, **row.overrides)
    assert (config.lr_schedule, config.use_racm, config.use_cem) == (recipe.config_options["lr_schedule"], True, False)
