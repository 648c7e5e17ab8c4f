"""Data-parallel training: which draws each process trains, torchrun with gloo against one process, resume.

The main test launches a real two-process run with ``torchrun`` on the CPU (gloo); no GPU is used
here, so NCCL, mixed precision under DDP and SyncBatchNorm are not exercised by the suite.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gconet_lab.cli import main
from gconet_lab.config import make_config
from gconet_lab.data import index_set, make_train_loader
from gconet_lab.data.sampling import GroupPairSampler, draw_of_micro_batch
from gconet_lab.engine.checkpoint import read_training_checkpoint
from gconet_lab.engine.train import Trainer, read_log
from gconet_lab.models import GCoNetPlus

PROJECT = Path(__file__).resolve().parents[1]
GROUPS = {name: 2 for name in ("ant", "bee", "cat", "dog", "eel", "fox")}  # 6 two-group batches per epoch


def test_draw_of_micro_batch_by_hand():
    assert [draw_of_micro_batch(i, 0, 1) for i in range(3)] == [0, 1, 2]
    assert [draw_of_micro_batch(i, 1, 2) for i in range(3)] == [1, 3, 5]
    assert draw_of_micro_batch(3, 2, 4) == 14


@pytest.mark.parametrize("world_size, accumulation", [(1, 4), (2, 2), (4, 1)])
def test_a_step_trains_the_same_draws_whatever_splits_it(world_size, accumulation):
    for step in range(3):
        draws = {draw_of_micro_batch(step * accumulation + k, rank, world_size)
                 for rank in range(world_size) for k in range(accumulation)}
        assert draws == set(range(4 * step, 4 * step + 4))


def test_processes_share_an_epoch_equally_and_resume_from_any_draw():
    sizes, classes = [3, 4, 5, 2, 6, 3, 4], [0, 1, 2, 3, 4, 5, 6]
    whole = GroupPairSampler(sizes, classes, seed=1)
    whole.set_epoch(2)
    draws = list(whole)
    shares = []
    for rank in range(2):
        sampler = GroupPairSampler(sizes, classes, seed=1, rank=rank, world_size=2)
        sampler.set_epoch(2)
        shares.append(list(sampler))
        assert len(sampler) == 3
    assert shares == [draws[0:6:2], draws[1:6:2]]  # the 7th draw is left out: both take 3 steps
    sampler = GroupPairSampler(sizes, classes, seed=1, rank=1, world_size=2)
    sampler.set_epoch(2, start=3)
    assert list(sampler) == [draws[4], draws[6]]
    with pytest.raises(ValueError, match="rank must be in 0..1"):
        GroupPairSampler(sizes, classes, rank=2, world_size=2)


def tiny_trainer(root: Path, out: Path, accumulation: int, callbacks=()) -> Trainer:
    config = make_config("tiny", epochs=1)
    torch.manual_seed(0)
    loader = make_train_loader([index_set(root, "Tiny")], image_size=64, max_group_size=4, seed=0)
    return Trainer(GCoNetPlus(config), config, loader, out, device="cpu", callbacks=callbacks,
                   progress=False, accumulation=accumulation)


@pytest.mark.slow
def test_resume_inside_an_epoch_with_another_accumulation_continues_at_the_next_batch(write_cosod_set, tmp_path):
    root = write_cosod_set(GROUPS)

    def stop_after_first_step(record):
        raise KeyboardInterrupt

    assert tiny_trainer(root, tmp_path, 2, [stop_after_first_step]).fit().interrupted
    assert read_training_checkpoint(tmp_path / "checkpoint.pt")["batch_in_epoch"] == 2  # counted in batches, not steps
    trainer = tiny_trainer(root, tmp_path, 1)
    assert trainer.fit().steps == 1 + 4
    sampler, groups = trainer.loader.sampler, trainer.loader.dataset.groups
    sampler.set_epoch(0)
    pairs = [[groups[d.group_a].name, groups[d.group_b].name] for d in sampler]
    assert [r["groups"] for r in read_log(tmp_path)] == [pairs[0] + pairs[1], *pairs[2:]]


def test_an_epoch_shorter_than_one_step_is_refused(write_cosod_set, tmp_path):
    with pytest.raises(ValueError, match="6 two-group batches is shorter than one step of 1 processes x accumulation 8"):
        tiny_trainer(write_cosod_set(GROUPS), tmp_path, 8)


def train_command(root: Path, out: Path, epochs: int, accumulation: int = 1) -> list[str]:
    return ["train", "--data", str(root), "--sets", "Tiny", "--preset", "tiny", "--device", "cpu",
            "--epochs", str(epochs), "--accumulation", str(accumulation), "--out", str(out)]


@pytest.mark.slow
def test_two_gloo_processes_follow_one_process_with_accumulation_and_resume_in_one(write_cosod_set, tmp_path):
    root = write_cosod_set(GROUPS)
    environment = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
              "-m", "gconet_lab.cli", *train_command(root, tmp_path / "two", epochs=1)]
    run = subprocess.run(launch, check=False, cwd=PROJECT, env={**environment, "OMP_NUM_THREADS": "1"},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "2 processes (gloo) on cpu (float32) x accumulation 1 = 2 two-group batch(es)" in run.stdout
    assert len(read_log(tmp_path / "two")) == 3  # rank 0 alone logs: 6 batches, 2 per step

    # One thread here too, as in the workers: a different thread count changes float rounding, and Adam
    # turns rounding noise in near-zero gradients into full-size steps, so trajectories would part.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        main(train_command(root, tmp_path / "two", epochs=2, accumulation=2))  # the 2-process checkpoint, in 1 process
        main(train_command(root, tmp_path / "one", epochs=2, accumulation=2))  # 1 process all along
    finally:
        torch.set_num_threads(threads)
    two, one = read_log(tmp_path / "two"), read_log(tmp_path / "one")
    assert [r["groups"] for r in two] == [r["groups"] for r in one]
    assert [r["total"] for r in two] == pytest.approx([r["total"] for r in one], rel=1e-5)
    weights = [read_training_checkpoint(tmp_path / run / "checkpoint.pt")["model"] for run in ("two", "one")]
    for name, value in weights[1].items():
        if value.is_floating_point() and "running" not in name:  # running BN statistics: averaged vs sequential
            torch.testing.assert_close(weights[0][name], value, rtol=1e-4, atol=1e-6, msg=name)


def test_readme_shows_every_recipe_with_its_table3_numbers():
    from gconet_lab.engine.recipes import format_recipes

    assert format_recipes() in (PROJECT / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_recipe_on_the_command_line_trains_its_sets_and_prints_table3(write_cosod_set, tmp_path, capsys):
    root = write_cosod_set(GROUPS, set_name="COCO-9k")
    main(["train", "--recipe", "train-2", "--preset", "tiny", "--data", str(root), "--out", str(tmp_path / "run"),
          "--device", "cpu", "--epochs", "1", "--accumulation", "3"])
    out = capsys.readouterr().out
    assert "1 process on cpu (float32) x accumulation 3 = 3 two-group batch(es)" in out
    assert "Table 3, GCoNet+ Train-2: CoCA maxE 0.798 S 0.717 maxF 0.605 MAE 0.098" in out
    assert len(read_log(tmp_path / "run")) == 2


def test_a_non_finite_micro_batch_skips_its_whole_step(tmp_path):
    config = make_config("tiny", epochs=1)
    batches = [{"images": torch.randn(4, 3, 64, 64), "masks": (torch.rand(4, 1, 64, 64) > 0.5).float(),
                "class_ids": torch.tensor([0, 0, 1, 1]), "groups": ["a", "b"]} for _ in range(4)]
    trainer = Trainer(GCoNetPlus(config), config, batches, tmp_path, device="cpu", progress=False, accumulation=2)
    criterion, calls = trainer.criterion, []

    def nan_on_second_batch(output, masks, class_ids):
        losses = criterion(output, masks, class_ids)
        calls.append(1)
        losses.total = losses.total * math.nan if len(calls) == 2 else losses.total
        return losses

    trainer.criterion = nan_on_second_batch
    before = [p.detach().clone() for p in trainer.model.parameters()]
    with pytest.warns(RuntimeWarning, match="step 0: non-finite loss; update skipped"):
        trainer.train_step(batches[:2])
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))  # half a step is no step
    assert not trainer.train_step(batches[2:])["skipped"]
