"""One group in memory and the ranking of its failures."""

from __future__ import annotations

import math

import pytest

from gconet_lab.config import make_config
from gconet_lab.models import GCoNetPlus
from gconet_lab.studies.analysis import (
    group_names,
    load_group_batch,
    predict_with_features,
    worst_images,
)


def test_load_group_and_predict_with_features(write_cosod_set):
    root = write_cosod_set({"a": 3, "b": 2}, size=(24, 32))
    assert group_names(root, "Tiny") == ["a", "b"]
    batch = load_group_batch(root, "Tiny", "a", image_size=64)
    assert len(batch) == 3 and batch.inputs.shape == (3, 3, 64, 64)
    assert batch.images[0].shape == (24, 32, 3) and batch.masks[0].shape == (24, 32)
    prediction = predict_with_features(GCoNetPlus(make_config("tiny")), batch)
    assert [m.shape for m in prediction.saliency] == [(24, 32)] * 3
    assert len(prediction.features_of(1)) == 6 and prediction.features_of(1)[-1].shape[-2:] == (64, 64)
    with pytest.raises(KeyError, match="groups: a, b"):
        load_group_batch(root, "Tiny", "c", image_size=64)


def test_worst_images_ranks_by_metric_direction_with_nan_first():
    records = [{"group": "g", "name": n, "S": s, "MAE": e} for n, s, e in
               (("a", 0.9, 0.05), ("b", 0.2, 0.4), ("c", math.nan, 0.1), ("d", 0.5, 0.2))]
    records.append({"group": "other", "name": "z", "S": 0.0, "MAE": 1.0})
    assert [r["name"] for r in worst_images(records, "g", "S")] == ["c", "b", "d", "a"]
    assert [r["name"] for r in worst_images(records, "g", "MAE")] == ["b", "d", "c", "a"]
    with pytest.raises(KeyError):
        worst_images(records, "missing")
