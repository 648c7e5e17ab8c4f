"""Exercise 3: the Group-based Symmetric Triplet loss (Sec. 3.5, Eq. 4-5).

The student writes ``f(features, margin=1.0) -> loss``: features (2N, C) of two groups (group 1
first), each group split into halves A and B (the middle image left out when N is odd), and
L = L_tri(F1A, F1B, F2A) + L_tri(F2A, F2B, F1A).  A group of one cannot be split: ValueError.
Reference: :func:`gconet_lab.losses.gst.gst_loss`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from gconet_lab.exercises.feedback import ExerciseFailed, call_student, expect_tensor, passed
from gconet_lab.losses.gst import gst_loss

NAME = "gst_loss"


def cases() -> dict[str, tuple[Tensor, dict[str, float]]]:
    """Named (features, keyword arguments) inputs with losses on both sides of the hinge."""
    generator = torch.Generator().manual_seed(0)
    far_apart = torch.cat([torch.zeros(4, 5), torch.full((4, 5), 10.0)]) + 0.01 * torch.randn(8, 5, generator=generator)
    return {
        "two groups of 4 images, C=6 (8, 6), margin 1.0": (torch.randn(8, 6, generator=generator), {}),
        "two groups of 3 images (6, 4): the middle image of each group is left out": (torch.randn(6, 4, generator=generator), {}),
        "two groups of 2 images (4, 3), margin 0.1": (torch.randn(4, 3, generator=generator), {"margin": 0.1}),
        "two well separated groups of 4 (8, 5): every triplet satisfied, loss 0": (far_apart, {}),
    }


def check_gst_loss(function: Callable[..., Tensor]) -> None:
    """Compare ``function`` with Eq. 5 on every input of :func:`cases`; a group of one must raise ValueError."""
    for on, (features, options) in cases().items():
        received = call_student(function, NAME, on, features.clone(), **options)
        expect_tensor(received, gst_loss(features, **options), "the GST loss (a 0-dim tensor)", on)
    single = "two groups of one image (2, 4)"
    try:
        result = function(torch.randn(2, 4))
    except ValueError:
        pass
    except Exception as error:
        raise ExerciseFailed(f"{NAME} should raise ValueError (a group of one has no two halves), raised {type(error).__name__}: {error}\n  on {single}") from error
    else:
        raise ExerciseFailed(f"{NAME} should raise ValueError (a group of one has no two halves), returned {result!r}\n  on {single}")
    passed(NAME, [*cases(), f"{single} raises ValueError"])
