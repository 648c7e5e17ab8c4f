"""Exercise 1: GAM's affinity and attention (Sec. 3.2, Eq. 1).

The student writes ``f(query, key) -> attention``: embedded features theta(F), phi(F) of one group
(N, C, h, w) in, the attention map A_S (N, 1, h, w) out, with the paper's softmax over all N*h*w
pixels of the group.  Reference: :func:`gconet_lab.models.gam.group_affinity_attention`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from gconet_lab.exercises.feedback import call_student, expect, expect_shape, expect_tensor, passed
from gconet_lab.models.gam import group_affinity_attention

NAME = "group_affinity_attention"


def cases() -> dict[str, tuple[Tensor, Tensor]]:
    """Named (query, key) inputs: a typical group, a group of one, 1x1 maps, a non-square map."""
    generator = torch.Generator().manual_seed(0)

    def features(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=generator)

    return {
        "a group of 3 images, query and key (3, 8, 4, 5)": (features(3, 8, 4, 5), features(3, 8, 4, 5)),
        "a group of one image, query and key (1, 8, 3, 3)": (features(1, 8, 3, 3), features(1, 8, 3, 3)),
        "4 images of 1x1 pixel, query and key (4, 6, 1, 1)": (features(4, 6, 1, 1), features(4, 6, 1, 1)),
        "the same tensor as query and key (2, 4, 2, 6)": (features(2, 4, 2, 6),) * 2,
    }


def check_group_affinity_attention(function: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Compare ``function(query, key)`` with the paper's GAM attention on every input of :func:`cases`."""
    for on, (query, key) in cases().items():
        received = call_student(function, NAME, on, query.clone(), key.clone())
        expected = group_affinity_attention(query, key, softmax_over="group")
        expect_shape(received, tuple(expected.shape), "the attention map A_S", on)
        total = float(received.sum())
        expect(
            abs(total - 1.0) < 1e-4,
            f"the attention should sum to 1 over the whole group (one softmax over all N*h*w pixels), "
            f"but sums to {total:.4f}",
            on,
        )
        expect_tensor(received, expected, "the attention map A_S", on)
    passed(NAME, list(cases()))
