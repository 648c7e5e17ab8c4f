"""Short trainings for the exercises that compare models (4 and 5); they score them with :func:`~gconet_lab.inference.evaluate.evaluate_model`.

At full scale a run is the ``cpu`` preset on the default training sets; under the fast profile it
is the ``tiny`` preset at 32 x 32 with groups of 2, for one epoch of the synthetic set: enough to
check that everything runs, in seconds.
A run is trained from scratch in a temporary folder (a student's module may change between runs,
so there is no checkpoint to resume); only the model comes back.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

from torch import nn

from gconet_lab.config import make_config
from gconet_lab.lab.notebook import default_data, pick
from gconet_lab.models import GCoNetPlus
from gconet_lab.pipeline import TRAIN_SETS, train

FAST_SCALE = {"image_size": 32, "max_group_size": 2}  # the smallest model the fast profile trains


def quick_train(gam: Callable[[int], nn.Module] | None = None, epochs: int | None = None, **overrides) -> GCoNetPlus:
    """A briefly trained GCoNet+ with ``overrides`` (e.g. ``lambda_bce=0``) and GAM replaced by ``gam(channels)``."""
    config = make_config(pick(full="cpu", fast="tiny"), **{**pick(full={}, fast=FAST_SCALE), **overrides})
    with tempfile.TemporaryDirectory() as out:
        trained = train(config, default_data(), out, sets=pick(full=TRAIN_SETS, fast=("Synthetic_train",)),
                        epochs=epochs or pick(full=config.epochs, fast=1), progress=False, gam=gam)
    return trained.model.eval()
