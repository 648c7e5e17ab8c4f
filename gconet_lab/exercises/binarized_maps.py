"""Exercise 5: how binarized are the maps? (Sec. 3.4 and Fig. 6)

The paper argues that a steep k in Eq. 3 and the IoU term of the hybrid loss (Eq. 9-10) push the
predicted maps towards 0 and 1, while BCE alone leaves uncertain grey values.  The measure used
here: the fraction of each map's pixels that are *uncertain*, strictly between ``low`` and ``high``.
The student writes ``f(maps, low=0.1, high=0.9) -> fractions``: maps (B, 1, H, W) in [0, 1] in,
one fraction per map (B,) out.  Reference: the library's
:func:`~gconet_lab.models.cem.uncertain_fraction`, which notebook 05 measures with.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from gconet_lab.exercises.feedback import call_student, expect_tensor, passed
from gconet_lab.models.cem import uncertain_fraction

NAME = "uncertain_fraction"


def cases() -> dict[str, tuple[Tensor, dict[str, float]]]:
    """Named (maps, keyword arguments) inputs: binary, grey, the thresholds themselves, a random batch."""
    generator = torch.Generator().manual_seed(0)
    return {
        "a binary map (1, 1, 4, 4) of 0s and 1s": ((torch.rand(1, 1, 4, 4, generator=generator) > 0.5).float(), {}),
        "a flat grey map (1, 1, 3, 3) of 0.5": (torch.full((1, 1, 3, 3), 0.5), {}),
        "values exactly at low=0.1 and high=0.9 (1, 1, 2, 2): not uncertain": (torch.tensor([0.1, 0.9, 0.5, 0.0]).view(1, 1, 2, 2), {}),
        "a batch of 3 random maps (3, 1, 8, 6): one fraction per map": (torch.rand(3, 1, 8, 6, generator=generator), {}),
        "a batch of 2 random maps with low=0.2, high=0.6": (torch.rand(2, 1, 5, 5, generator=generator), {"low": 0.2, "high": 0.6}),
    }


def check_uncertain_fraction(function: Callable[..., Tensor]) -> None:
    """Compare ``function`` with :func:`uncertain_fraction` on every input of :func:`cases`."""
    for on, (maps, options) in cases().items():
        received = call_student(function, NAME, on, maps.clone(), **options)
        expect_tensor(received, uncertain_fraction(maps, **options), "the fractions (one per map)", on)
    passed(NAME, list(cases()))
