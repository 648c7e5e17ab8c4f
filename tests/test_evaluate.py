"""Prediction writing (official test protocol) and the centre-prior baseline."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from gconet_lab.config import make_config
from gconet_lab.inference.evaluate import centre_prior_map, predict_dataset, saliency_to_uint8
from gconet_lab.models import GCoNetPlus


def test_saliency_is_resized_with_align_corners_and_truncated():
    saliency = torch.tensor([[[0.0, 1.0]]])  # 1x1x2 map
    resized = saliency_to_uint8(saliency, (1, 3))
    assert resized.tolist() == [[0, 127, 255]]  # 0.5 * 255 = 127.5 truncates to 127
    assert resized.dtype == np.uint8


def test_centre_prior_peaks_in_the_middle():
    prior = centre_prior_map(31, 41)
    assert prior.shape == (31, 41) and prior[15, 20] == prior.max() == 255
    assert prior[0, 0] < prior[15, 0] < prior[15, 20]


def test_predict_dataset_writes_the_standard_layout(tmp_path):
    model = GCoNetPlus(make_config("tiny"))
    item = {"images": torch.randn(3, 3, 64, 64), "sizes": torch.tensor([[40, 50], [64, 64], [100, 30]]),
            "names": ["a", "b c", "d'e"], "group": "my group", "set_name": "Set"}
    predict_dataset(model, [item], tmp_path, progress=False)
    written = sorted(p.name for p in (tmp_path / "Set" / "my group").iterdir())
    assert written == ["a.png", "b c.png", "d'e.png"]
    assert Image.open(tmp_path / "Set" / "my group" / "d'e.png").size == (30, 100)


def test_centre_prior_is_written_at_each_original_size(write_cosod_set, tmp_path):
    from gconet_lab.data import index_set
    from gconet_lab.inference.evaluate import predict_centre_prior

    root = write_cosod_set({"cat": 2, "dog": 1}, size=(24, 40))
    predict_centre_prior(index_set(root, "Tiny").groups, tmp_path / "prior")
    written = sorted(p.relative_to(tmp_path / "prior").as_posix() for p in (tmp_path / "prior").rglob("*.png"))
    assert written == ["Tiny/cat/cat_00.png", "Tiny/cat/cat_01.png", "Tiny/dog/dog_00.png"]
    assert Image.open(tmp_path / "prior" / "Tiny" / "dog" / "dog_00.png").size == (40, 24)
