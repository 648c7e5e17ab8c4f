"""Learning-rate schedule: warm-up, cosine decay, and the trainer applying it step by step."""

from __future__ import annotations

import pytest
import torch

from gconet_lab.engine.schedule import learning_rate_factor
from gconet_lab.engine.train import Trainer
from gconet_lab.models import GCoNetPlus


def test_warmup_then_cosine_by_hand():
    assert learning_rate_factor(0, 100, "cosine", warmup_steps=4) == pytest.approx(0.25)
    assert learning_rate_factor(3, 100, "cosine", warmup_steps=4) == pytest.approx(1.0)
    assert learning_rate_factor(4, 100, "cosine", warmup_steps=4) == pytest.approx(1.0)
    assert learning_rate_factor(52, 100, "cosine", warmup_steps=4) == pytest.approx(0.5)  # half-way down the cosine
    assert learning_rate_factor(99, 100, "cosine", warmup_steps=4) < 0.01
    assert learning_rate_factor(50, 100) == 1.0  # the paper's constant rate
    with pytest.raises(ValueError, match="schedule"):
        learning_rate_factor(0, 10, "linear")


def square_batches(steps: int, n: int = 2, size: int = 64):
    generator = torch.Generator().manual_seed(0)
    return [{"images": torch.randn(2 * n, 3, size, size, generator=generator),
             "masks": (torch.rand(2 * n, 1, size, size, generator=generator) > 0.5).float(),
             "class_ids": torch.tensor([0] * n + [1] * n), "groups": ["a", "b"]} for _ in range(steps)]


@pytest.mark.slow
def test_trainer_follows_the_schedule(tmp_path, tiny_config):
    config = tiny_config.replace(lr_schedule="cosine", warmup_steps=2, epochs=1, use_racm=False, use_gst=False)
    trainer = Trainer(GCoNetPlus(config), config, square_batches(6), tmp_path, device="cpu", progress=False,
                      precision="fp32")
    history = trainer.fit().history
    expected = [config.lr * learning_rate_factor(step, 6, "cosine", 2) for step in range(6)]
    assert [record["lr"] for record in history] == pytest.approx(expected)
    assert trainer.optimizer.param_groups[-1]["lr"] == pytest.approx(expected[-1] * config.backbone_lr_scale)
