"""gconet_lab.engine.checkpoint: checkpoints of other models or options, non-finite weights, killed saves,
no code run from a file."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from gconet_lab.config import make_config
from gconet_lab.engine.checkpoint import atomic_save, read_training_checkpoint
from gconet_lab.models import CheckpointError, GCoNetPlus, load_official_checkpoint
from gconet_lab.models.weights import gconet_plus

from conftest import random_batches, tiny_trainer, write_checkpoint

PROJECT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_checkpoint_of_another_model_is_refused_naming_the_file(tmp_path):
    from torchvision.models import resnet18

    path = tmp_path / "resnet18.pth"
    torch.save(resnet18().state_dict(), path)
    with pytest.raises(CheckpointError, match=r"resnet18\.pth does not fit this GCoNet\+ model"):
        gconet_plus(path)


@pytest.mark.slow
def test_checkpoint_with_an_unknown_option_is_refused_naming_the_file(tmp_path):
    trainer = tiny_trainer(random_batches(2), tmp_path)
    trainer.fit()
    payload = read_training_checkpoint(tmp_path / "checkpoint.pt")
    payload["config"]["use_hyper_drive"] = True  # e.g. a checkpoint of a newer gconet-lab
    torch.save(payload, tmp_path / "newer.pt")
    with pytest.raises(CheckpointError, match=r"newer\.pt.*unknown configuration option 'use_hyper_drive'"):
        gconet_plus(tmp_path / "newer.pt")


def test_a_checkpoint_with_non_finite_weights_is_refused_naming_the_file(tmp_path):
    model = GCoNetPlus(make_config("tiny"))
    next(module for module in model.modules() if isinstance(module, torch.nn.BatchNorm2d)).running_var.fill_(math.nan)
    path = write_checkpoint(tmp_path / "diverged.pt", model)
    with pytest.raises(CheckpointError, match=r"diverged\.pt.*non-finite weights"):
        gconet_plus(path)


SAVE_IN_A_LOOP = """
import sys, torch
from gconet_lab.engine.checkpoint import atomic_save
weights = torch.empty(8_000_000)  # 32 MB: each save takes a while
for generation in range(10_000):
    weights.fill_(generation)
    atomic_save({"generation": generation, "weights": weights}, sys.argv[1])
    print(generation, flush=True)
"""


@pytest.mark.slow
def test_process_killed_mid_save_leaves_the_previous_checkpoint_loadable(tmp_path):
    path = tmp_path / "checkpoint.pt"
    child = subprocess.Popen([sys.executable, "-c", SAVE_IN_A_LOOP, str(path)], cwd=PROJECT,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "0"  # one complete checkpoint exists
        while True:  # freeze the child; kill it only if it is in the middle of writing a save
            child.send_signal(signal.SIGSTOP)
            leftovers = list(tmp_path.glob(".checkpoint.pt.*.tmp"))
            if leftovers and leftovers[0].stat().st_size > 0:
                break
            child.send_signal(signal.SIGCONT)
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert leftovers[0].exists()  # the half-written temporary file, never the checkpoint itself
    payload = torch.load(path, weights_only=True)
    assert torch.equal(payload["weights"], torch.full((8_000_000,), float(payload["generation"])))
    atomic_save({"generation": -1}, path)
    assert not leftovers[0].exists()  # the next save clears what the killed one left


class _CreatesAFile:
    """Unpickling this calls ``open(path, "w")``: a stand-in for any code a crafted file could run."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_crafted_checkpoint_cannot_run_code(tmp_path, cli_error):
    evidence = tmp_path / "code_ran"
    crafted = tmp_path / "crafted.pt"
    torch.save({"format": "gconet_lab/1", "model": _CreatesAFile(evidence)}, crafted)
    official = tmp_path / "official.pth"
    torch.save({"state_dict": {"bb.conv1.0.weight": torch.zeros(1)}, "meta": _CreatesAFile(evidence)}, official)
    for load in (gconet_plus, read_training_checkpoint,
                 lambda path: load_official_checkpoint(GCoNetPlus(make_config("tiny")), path)):
        for path in (crafted, official):
            with pytest.raises(CheckpointError, match="could run code; refused"):
                load(path)
    Image.new("RGB", (8, 8)).save(tmp_path / "photo.png")
    line = cli_error(["predict", "--checkpoint", str(crafted), "--images", str(tmp_path), "--out", str(tmp_path / "m")])
    assert "crafted.pt" in line
    assert not evidence.exists()


@pytest.mark.slow
def test_training_checkpoints_and_shipped_models_hold_only_plain_values(tmp_path):
    trainer = tiny_trainer(random_batches(1), tmp_path, epochs=2)
    trainer.fit(1)
    payload = torch.load(tmp_path / "checkpoint.pt", weights_only=True)  # no allow-list needed
    trainer.resume()  # the RNG state as stored restores
    shipped = {"config": payload["config"], "class_names": ["a", "b"],
               "model": {k: v.half() for k, v in payload["model"].items()}}
    torch.save(shipped, tmp_path / "model.pt")
    assert torch.load(tmp_path / "model.pt", weights_only=True)["class_names"] == ["a", "b"]
