"""The benchmark returns well-formed records (no timing assertions: the machine's load decides those)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gconet_lab.cli import main
from gconet_lab.config import make_config
from gconet_lab.data import DataError
from gconet_lab.inference.benchmark import (
    benchmark_evaluation,
    benchmark_inference,
    benchmark_training_step,
    run_benchmark,
    time_interleaved,
)
from gconet_lab.metrics import OFFICIAL_KEYS, evaluate_folders
from gconet_lab.models import GCoNetPlus


def test_time_interleaved_alternates_candidates_after_warmup():
    order: list[str] = []
    times = time_interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, 3, 1, torch.device("cpu"))
    assert order == ["a", "b"] * 4
    assert {name: len(values) for name, values in times.items()} == {"a": 3, "b": 3}


def test_inference_comparison_is_well_formed():
    comparison = benchmark_inference(GCoNetPlus(make_config("tiny")), batch_size=2, image_size=32, repeats=2, warmup=1)
    for measurement, name in ((comparison.reference, "eager"), (comparison.fast, "fast")):
        assert measurement.implementation == name and len(measurement.seconds) == 2
        assert measurement.images_per_call == 2 and measurement.peak_memory_mb is None  # CPU
        assert measurement.ms_per_image == pytest.approx(1000 * measurement.median_seconds / 2)
    assert comparison.speedup > 0 and 0 <= comparison.max_abs_difference <= 1e-5


def test_training_step_record():
    measurement = benchmark_training_step(make_config("tiny", image_size=32), group_size=2, repeats=1, warmup=0)
    assert measurement.images_per_call == 4 and len(measurement.seconds) == 1
    assert "2 groups of 2" in measurement.task


def write_masks_and_predictions(root, rng):
    for group in ("bird", "cat"):
        for i in range(3):
            gt = (rng.random((20 + i, 30)) > 0.6).astype(np.uint8) * 255
            pred = rng.integers(0, 256, (20 + i, 30), dtype=np.uint8)
            for kind, array in (("gts/x", gt), ("pred", pred)):  # masks as <data>/gts/<set>
                (root / kind / group).mkdir(parents=True, exist_ok=True)
                Image.fromarray(array).save(root / kind / group / f"{i}.png")


def write_parity_set(root, official: dict[str, float], n: int) -> Path:
    """Move ``root/pred`` into a parity set ``root/parity`` whose "official" numbers are ``official`` over ``n`` images."""
    (root / "parity").mkdir(exist_ok=True)
    if (root / "pred").exists():
        (root / "pred").rename(root / "parity" / "pred")
    numbers = {OFFICIAL_KEYS[key]: value for key, value in official.items()} | {"n": n}
    (root / "parity" / "official_metrics.json").write_text(json.dumps(numbers))
    return root / "parity"


def test_evaluation_benchmark_reports_the_distance_to_the_official_numbers(tmp_path):
    write_masks_and_predictions(tmp_path, np.random.default_rng(1))
    masks = tmp_path / "gts" / "x"
    ours = evaluate_folders(tmp_path / "pred", masks, progress=False).results
    official = {key: ours[key] for key in OFFICIAL_KEYS} | {"maxE": ours["maxE"] + 0.01}  # one number off
    parity = write_parity_set(tmp_path, official, 6)
    result = benchmark_evaluation(parity / "pred", masks, parity=(parity, masks))
    assert result.whole_set.images_per_call == 6
    assert result.official_parity.max_abs_difference == pytest.approx(0.01, abs=1e-9)
    assert "maxE" in result.official_parity.format()
    assert benchmark_evaluation(parity / "pred", masks).official_parity is None
    write_parity_set(tmp_path, official, 7)  # the official numbers were over other images
    with pytest.raises(DataError, match="over 7"):
        benchmark_evaluation(parity / "pred", masks, parity=(parity, masks))
    with pytest.raises(DataError, match="not a parity set"):
        benchmark_evaluation(parity / "pred", masks, parity=(tmp_path, masks))


def test_report_rows_and_cli_records(tmp_path, capsys):
    report = run_benchmark(make_config("tiny", image_size=32), tasks=["inference"], batch_size=2, group_size=3,
                           repeats=1, warmup=0)
    rows = report.rows()
    assert [row["implementation"] for row in rows] == ["eager", "fast", "eager", "fast"]
    assert "speedup" in rows[1] and "speedup" not in rows[0]
    assert {"device", "torch", "threads", "load_average_1min"} <= set(report.environment)
    assert "threads" in report.format()
    with pytest.raises(ValueError, match="unknown tasks"):
        run_benchmark(make_config("tiny"), tasks=["inferense"])
    write_masks_and_predictions(tmp_path, np.random.default_rng(2))
    main(["benchmark", "--preset", "tiny", "--tasks", "evaluation", "--data", str(tmp_path), "--set", "x",
          "--predictions", str(tmp_path / "pred"), "--parity", "none", "--out", str(tmp_path / "out")])
    assert "official evaluation, all 6 images" in capsys.readouterr().out
    records = json.loads((tmp_path / "out" / "benchmark.json").read_text())
    assert records["environment"]["threads"] == torch.get_num_threads() and len(records["rows"]) == 1
    assert records["official_parity"] is None
    with pytest.raises(SystemExit) as exit_:
        main(["benchmark", "--tasks", "evaluation", "--data", str(tmp_path), "--set", "missing", "--parity", "none"])
    assert exit_.value.code == 2 and "gts/missing" in capsys.readouterr().err
