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
    BenchmarkReport,
    Comparison,
    Measurement,
    benchmark_evaluation,
    benchmark_inference,
    benchmark_training_step,
    describe_environment,
    run_benchmark,
    time_interleaved,
)
from gconet_lab.inference.flops import Peak, count_flops
from gconet_lab.metrics import OFFICIAL_KEYS, evaluate_folders
from gconet_lab.models import GCoNetPlus


def test_time_interleaved_alternates_candidates_after_warmup():
    order: list[str] = []
    times = time_interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")}, 3, 1, torch.device("cpu"))
    assert order == ["a", "b"] * 4
    assert {name: len(values) for name, values in times.items()} == {"a": 3, "b": 3}


@pytest.mark.slow
def test_inference_comparisons_are_well_formed(native_bf16):
    model = GCoNetPlus(make_config("tiny")).eval()
    fp32, bf16 = benchmark_inference(model, batch_size=2, image_size=32, repeats=2, warmup=1, precisions=("fp32", "bf16"))
    assert fp32.reference is bf16.reference  # both fast paths timed against one eager run
    for measurement, name, precision in ((fp32.reference, "eager", "fp32"), (fp32.fast, "fast", "fp32"),
                                         (bf16.fast, "fast bf16", "bf16")):
        assert (measurement.implementation, measurement.precision) == (name, precision)
        assert len(measurement.seconds) == 2
        assert measurement.images_per_call == 2 and measurement.peak_memory_mb is None  # CPU
        assert measurement.ms_per_image == pytest.approx(1000 * measurement.median_seconds / 2)
    images = torch.randn(2, 3, 32, 32)
    assert fp32.reference.flops_per_image == count_flops(lambda: model(images)) / 2 > 0
    assert fp32.fast.flops_per_image == bf16.fast.flops_per_image == fp32.reference.flops_per_image  # same products
    assert fp32.speedup > 0 and 0 <= fp32.max_abs_difference <= 1e-5
    assert 0 < bf16.max_abs_difference < 0.05  # bf16 rounding (tests/test_precision.py)


def test_fraction_of_peak_is_achieved_flops_over_the_peak():
    task = "inference, batch of 2 at 256x256"
    eager = Measurement(task, "eager", [0.6, 0.5, 0.4], 2, flops_per_image=10e9)  # median 0.25 s per image
    fast = Measurement(task, "fast bf16", [0.2], 2, precision="bf16", flops_per_image=10e9)  # 0.1 s per image
    training = Measurement("training step", "eager", [1.0], 8)
    peak = Peak({"fp32": 100.0, "bf16": 200.0}, "peak = 1 thread x 1.00 GHz x FLOP/cycle/core (fp32 100, bf16 200)")
    report = BenchmarkReport({"device": "cpu (x)", "torch": "2", "threads": 1, "cpus": 2, "load_average_1min": 0.5,
                              "process_peak_rss_mb": 100, "native_precisions": ("fp32", "bf16")},
                             [Comparison(eager, fast, 0.01)], [training], peak=peak)
    rows = report.rows()
    assert rows[0]["gflops_per_s"] == pytest.approx(10 / 0.25) and rows[0]["fraction_of_peak"] == pytest.approx(0.4)
    assert rows[1]["gflops_per_s"] == pytest.approx(10 / 0.1) and rows[1]["fraction_of_peak"] == pytest.approx(0.5)
    assert rows[1]["peak_gflops"] == 200.0 and rows[1]["speedup"] == pytest.approx(2.5)
    assert rows[2]["flops_per_image"] is None and rows[2]["fraction_of_peak"] is None
    assert BenchmarkReport(report.environment, [], [eager]).rows()[0]["fraction_of_peak"] is None  # no peak known
    text = report.format()
    for column in ("speed-up", "max |diff|", "GFLOP/image", "GFLOP/s", "of peak"):
        assert column in text
    assert text.splitlines()[1] == "native precisions here: fp32, bf16"
    eager_line, fast_line, training_line = text.splitlines()[3:6]
    assert eager_line.split()[-3:] == ["10.00", "40.0", "40.0%"]
    assert fast_line.split()[-5:] == ["2.50x", "1.0e-02", "10.00", "100.0", "50.0%"]
    assert training_line.split()[-3:] == ["-", "-", "-"]
    assert "(FLOPs per image / seconds per image) / peak FLOP/s; peak = 1 thread x 1.00 GHz" in text


@pytest.mark.slow
def test_training_step_compares_the_trainers_layout_and_precisions(native_bf16):
    # Two things amplify rounding at random initialisation and would make the layouts' losses differ by
    # ~1%: train-mode BatchNorm over 1 x 1 features (at 128 px the deepest are 4 x 4), and the paper's
    # unscaled GAM softmax, whose near-one-hot attention flips with the summation order (the official
    # per-image softmax scaled by 1/sqrt(C) does not).
    config = make_config("tiny", image_size=128, gam_softmax="image", gam_scale=True)
    torch.manual_seed(0)
    fp32, bf16 = benchmark_training_step(config, group_size=2, repeats=2, warmup=1, precisions=("fp32", "bf16"))
    assert fp32.reference is bf16.reference and fp32.reference.implementation == "eager"
    assert (fp32.fast.implementation, bf16.fast.implementation) == ("channels-last", "channels-last bf16")
    for measurement in (fp32.reference, fp32.fast, bf16.fast):
        assert measurement.images_per_call == 4 and len(measurement.seconds) == 2
        assert "2 groups of 2 at 128x128" in measurement.task
        assert set(measurement.phases) == {"forward", "loss", "backward", "optimizer"}
        assert 0 < sum(measurement.phases.values()) <= 1.5 * max(measurement.seconds)
    assert fp32.reference.flops_per_image == fp32.fast.flops_per_image > 0
    assert fp32.max_abs_difference < 0.1  # the same loss (~200) to 5e-4 in another memory layout
    assert fp32.max_abs_difference < bf16.max_abs_difference  # bf16 rounds
    row = BenchmarkReport(describe_environment(), [fp32], []).rows()[1]
    assert row["backward_s"] == fp32.fast.phases["backward"]


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


@pytest.mark.slow
def test_report_rows_and_cli_records(tmp_path, capsys, monkeypatch, native_bf16):
    report = run_benchmark(make_config("tiny", image_size=32), tasks=["inference"], batch_size=2, group_size=3,
                           repeats=1, warmup=0, precision="bf16", peak=Peak({"fp32": 50.0}, "given"))
    rows = report.rows()
    assert [row["implementation"] for row in rows] == ["eager", "fast", "fast bf16"] * 2
    assert "speedup" in rows[1] and "speedup" not in rows[0]
    assert [row["peak_gflops"] for row in rows[:3]] == [50.0, 50.0, None]  # no bf16 peak given
    assert {"device", "torch", "threads", "load_average_1min"} <= set(report.environment)
    assert "threads" in report.format()
    with pytest.raises(ValueError, match="unknown tasks"):
        run_benchmark(make_config("tiny"), tasks=["inferense"])
    write_masks_and_predictions(tmp_path, np.random.default_rng(2))
    main(["benchmark", "--preset", "tiny", "--tasks", "evaluation", "--data", str(tmp_path), "--set", "x",
          "--predictions", str(tmp_path / "pred"), "--out", str(tmp_path / "out")])
    assert "official evaluation, all 6 images" in capsys.readouterr().out
    records = json.loads((tmp_path / "out" / "benchmark.json").read_text())
    assert records["environment"]["threads"] == torch.get_num_threads() and len(records["rows"]) == 1
    assert "official_parity" not in records  # the evaluator's correctness is gconet-lab check-evaluator's
    monkeypatch.setattr("gconet_lab.engine.precision.has_native_bf16", lambda device: True)
    main(["benchmark", "--preset", "tiny", "--tasks", "inference", "--device", "cpu", "--group-size", "2",
          "--repeats", "1", "--warmup", "0", "--precision", "bf16", "--peak-gflops", "40,80", "--out", str(tmp_path / "b")])
    assert "peak given: fp32 40, bf16 80 GFLOP/s" in capsys.readouterr().out
    records = json.loads((tmp_path / "b" / "benchmark.json").read_text())
    assert [row["implementation"] for row in records["rows"]] == ["eager", "fast", "fast bf16"]
    for row in records["rows"]:
        assert row["peak_gflops"] == {"fp32": 40, "bf16": 80}[row["precision"]]
        assert row["fraction_of_peak"] == pytest.approx(row["flops_per_image"] / (row["median_s"] / 2) / 1e9 / row["peak_gflops"])
    assert records["peak"]["gflops"] == {"fp32": 40, "bf16": 80}
    with pytest.raises(SystemExit) as exit_:
        main(["benchmark", "--tasks", "evaluation", "--data", str(tmp_path), "--set", "missing"])
    assert exit_.value.code == 2 and "gts/missing" in capsys.readouterr().err


def test_cli_times_the_training_step_of_the_configuration_asked_for(tmp_path, capsys):
    main(["benchmark", "--preset", "tiny", "--tasks", "training", "--group-size", "2", "--repeats", "2",
          "--warmup", "0", "--option", '{"image_size": 64, "freeze_backbone": true}', "--out", str(tmp_path)])
    text = capsys.readouterr().out
    assert "training step, 2 groups of 2 at 64x64" in text and "channels-last step phases (median s): forward" in text
    rows = json.loads((tmp_path / "benchmark.json").read_text())["rows"]
    assert [row["implementation"] for row in rows] == ["eager", "channels-last"]
    assert all(row["backward_s"] > 0 and row["flops_per_image"] > 0 for row in rows)
    with pytest.raises(SystemExit) as exit_:
        main(["benchmark", "--preset", "tiny", "--tasks", "training", "--option", '{"image_sise": 64}'])
    assert exit_.value.code == 2 and "--option: unknown configuration option 'image_sise'" in capsys.readouterr().err
