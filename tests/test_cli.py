"""The command line: help a newcomer can read, and the prepare -> train -> evaluate path on real data."""

from __future__ import annotations

import pytest

from gconet_lab.cli import build_parser, main

from conftest import require_shared


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("demo", "prepare", "train", "evaluate", "predict", "benchmark"):
        assert command in text


def test_train_requires_data(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train"])
    assert "--data" in capsys.readouterr().err


@pytest.mark.slow
def test_prepare_train_evaluate_predict_on_real_data(tmp_path, capsys):
    shared = require_shared("data")
    data, run = tmp_path / "data", tmp_path / "run"
    main(["prepare", "--out", str(data), "--shared", str(shared)])
    main(["train", "--data", str(data), "--sets", "COCO128-SEG", "--out", str(run), "--preset", "tiny", "--epochs", "1"])
    main(["evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--data", str(data), "--set", "iCoseg", "--out", str(run / "eval")])
    out = capsys.readouterr().out
    assert "maxF" in out and (run / "eval" / "tables" / "iCoseg" / "per_image.csv").exists()
    assert len(list((run / "eval" / "predictions" / "iCoseg").rglob("*.png"))) == 481
    main(["predict", "--checkpoint", str(run / "checkpoint.pt"), "--images", str(shared / "icoseg" / "images" / "brown_bear"), "--out", str(tmp_path / "maps")])
    assert len(list((tmp_path / "maps").glob("*.png"))) == 5
