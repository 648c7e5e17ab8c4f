"""The command line: help a newcomer can read, and the prepare -> train -> evaluate path on real data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gconet_lab.cli import build_parser, main
from gconet_lab.metrics import OFFICIAL_KEYS, evaluate_folders

from conftest import require_shared, write_checkpoint


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("demo", "prepare", "train", "evaluate", "check-evaluator", "predict", "benchmark"):
        assert command in text


def test_train_requires_data(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train"])
    assert "--data" in capsys.readouterr().err


@pytest.mark.slow
def test_prepare_train_evaluate_predict_on_real_data(tmp_path, capsys):
    shared = require_shared("data")
    data, run = tmp_path / "data", tmp_path / "run"
    main(["prepare", "--out", str(data), "--source", str(shared)])
    main(["train", "--data", str(data), "--sets", "COCO128-SEG", "--out", str(run), "--preset", "tiny", "--epochs", "1"])
    main(["evaluate", "--checkpoint", str(run / "checkpoint.pt"), "--data", str(data), "--set", "iCoseg", "--out", str(run / "eval")])
    out = capsys.readouterr().out
    assert "maxF" in out and (run / "eval" / "tables" / "iCoseg" / "per_image.csv").exists()
    assert len(list((run / "eval" / "predictions" / "iCoseg").rglob("*.png"))) == 481
    main(["predict", "--checkpoint", str(run / "checkpoint.pt"), "--images", str(shared / "icoseg" / "images" / "brown_bear"), "--out", str(tmp_path / "maps")])
    assert len(list((tmp_path / "maps").glob("*.png"))) == 5


# --- user errors: one line naming the option or file, exit status 2 ------------------------------


def _bad_commands(root: Path, tmp_path: Path, checkpoint: Path) -> list[tuple[list[str], str]]:
    """(command line, what its one error line must say) for each kind of bad option or file."""
    train = ["train", "--data", str(root), "--sets", "Tiny", "--out", str(tmp_path / "run"), "--preset", "tiny"]
    predict = ["predict", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "maps")]
    evaluate = ["evaluate", "--checkpoint", str(checkpoint), "--data", str(root), "--out", str(tmp_path / "eval")]
    image = root / "images" / "Tiny" / "ant" / "ant_00.jpg"
    cut = tmp_path / "cut.pt"
    cut.write_bytes(b"PK\x03\x04 not a whole file")
    return [
        (train + ["--option", "{use_gst: false}"], "--option: not valid JSON"),
        (train + ["--option", "[1]"], "--option: must be a JSON object"),
        (train + ["--option", '{"use_gamm": false}'],
         "--option: unknown configuration option 'use_gamm'; did you mean 'use_gam'?"),
        (train + ["--option", '{"lr": "fast"}'], "--option: lr='fast' must be of type float"),
        (train + ["--option", '{"max_group_size": 0}'], "--option: max_group_size=0 must be positive"),
        (train + ["--accumulation", "0"], "--accumulation: must be at least 1"),
        (train + ["--accumulation", "9"], "use a smaller accumulation (--accumulation)"),
        (train + ["--epochs", "-1"], "--epochs: must be at least 1"),
        (train + ["--device", "tpu"], "--device: unknown device 'tpu'"),
        (train + ["--sync-bn", "--device", "cpu"], "(--sync-bn) needs CUDA"),
        (train + ["--epochs", "1", "--option", '{"lr": 0.1}'], "trained with a different configuration"),
        (["train", "--data", str(root), "--sets", "Solo", "--out", str(tmp_path / "run"), "--preset", "tiny"],
         "cannot form two-group training batches"),
        (predict + ["--images", str(image)], "--images takes a folder"),
        (predict + ["--images", str(tmp_path / "nowhere")], "the --images folder does not exist"),
        (predict + ["--images", str(root / "images" / "Tiny"), "--device", "cuda:99"], "--device"),
        (["predict", "--checkpoint", str(cut), "--images", str(root / "images" / "Tiny"), "--out", str(tmp_path / "maps")],
         "cannot read checkpoint"),
        (evaluate + ["--set", "Holes"], "use --skip-missing to leave them out"),
        (evaluate + ["--set", "Nowhere"], "Nowhere: images folder does not exist"),
        (["benchmark", "--group-size", "1"], "--group-size: must be at least 2"),
        (["benchmark", "--threads", "0"], "--threads: must be at least 1"),
        (["benchmark", "--repeats", "many"], "--repeats: 'many' is not a whole number"),
        (["check-evaluator", "--parity-set", str(tmp_path / "nowhere"), "--masks", str(tmp_path)],
         "--parity-set " + str(tmp_path / "nowhere") + ": no such folder"),
        (["check-evaluator", "--parity-set", str(tmp_path), "--masks", str(tmp_path)], "not a parity set"),
    ]


def test_every_user_error_is_one_line_naming_the_option_or_file(write_cosod_set, tmp_path, cli_error):
    root = write_cosod_set({"ant": 2, "bee": 2})
    write_cosod_set({"solo": 3}, set_name="Solo")  # one group: no two-group batch
    write_cosod_set({"cat": 2}, set_name="Holes")
    (root / "gts" / "Holes" / "cat" / "cat_00.png").unlink()  # an image without a mask
    checkpoint = write_checkpoint(tmp_path / "ck" / "checkpoint.pt")
    write_checkpoint(tmp_path / "run" / "checkpoint.pt")  # a run of another configuration in train's --out
    for argv, expected in _bad_commands(root, tmp_path, checkpoint):
        line = cli_error(argv)
        assert line.startswith(f"gconet-lab {argv[0]}: error: ") and expected in line, (argv, line)
        assert "on_missing" not in line


# --- check-evaluator ------------------------------------------------------------------------------


def test_check_evaluator_passes_within_the_tolerance_and_fails_beyond_it(tmp_path, capsys):
    rng = np.random.default_rng(0)
    parity, masks = tmp_path / "parity", tmp_path / "masks"
    for i in range(3):
        for folder, array in ((masks, (rng.random((12, 16)) > 0.6) * 255), (parity / "pred", rng.random((12, 16)) * 255)):
            (folder / "g").mkdir(parents=True, exist_ok=True)
            Image.fromarray(array.astype(np.uint8)).save(folder / "g" / f"{i}.png")
    ours = evaluate_folders(parity / "pred", masks, progress=False).results
    official = {name: ours[key] for key, name in OFFICIAL_KEYS.items()} | {"n": 3}
    (parity / "official_metrics.json").write_text(json.dumps(official))
    argv = ["check-evaluator", "--parity-set", str(parity), "--masks", str(masks)]
    main(argv)
    assert "evaluator vs the official evaluator on 3 images" in capsys.readouterr().out
    (parity / "official_metrics.json").write_text(json.dumps(official | {"Emax": official["Emax"] + 0.01}))
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 1 and "more than --tolerance 1e-06" in capsys.readouterr().err
    main(argv + ["--tolerance", "0.1"])
