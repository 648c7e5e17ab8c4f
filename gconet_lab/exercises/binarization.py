"""Exercise 2: differentiable binarization with its overflow fallback (Sec. 3.4, Eq. 3).

The student writes ``f(probability, threshold, k=300.0, k_fallback=50.0) -> (map, k_used)`` with
M = 1 / (1 + exp(-k (P - T))); when exp overflows anywhere in the batch the whole map is
recomputed with ``k_fallback``.  Reference: :func:`gconet_lab.models.cem.differentiable_binarization`.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from gconet_lab.exercises.feedback import call_student, expect, expect_shape, expect_tensor, passed
from gconet_lab.models.cem import differentiable_binarization

NAME = "differentiable_binarization"
Binarization = Callable[..., tuple[Tensor, float]]


def cases() -> dict[str, tuple[Tensor, Tensor, dict[str, float]]]:
    """Named (P, T, keyword arguments) inputs, the overflow case among them."""
    generator = torch.Generator().manual_seed(0)
    probability = torch.rand(2, 1, 4, 4, generator=generator)
    close = (probability + 0.1 * (torch.rand(2, 1, 4, 4, generator=generator) - 0.5)).clamp(0, 1)
    overflow = close.clone()
    overflow[1, 0, 2, 3] = probability[1, 0, 2, 3] + 0.5  # P - T = -0.5: exp(300 * 0.5) overflows float32
    return {
        "P - T within +-0.05 (2, 1, 4, 4), default k": (probability, close, {}),
        "P = T everywhere (1, 1, 3, 3), default k": (torch.full((1, 1, 3, 3), 0.4), torch.full((1, 1, 3, 3), 0.4), {}),
        "one pixel with P - T = -0.5 (2, 1, 4, 4): exp(150) overflows, so k falls back to 50": (probability, overflow, {}),
        "a gentle k=10 with P - T in [-1, 1] (2, 1, 4, 4)": (probability, torch.rand(2, 1, 4, 4, generator=generator), {"k": 10.0}),
        "the overflow case with k=400, k_fallback=20": (probability, overflow, {"k": 400.0, "k_fallback": 20.0}),
    }


def check_differentiable_binarization(function: Binarization) -> None:
    """Compare ``function``'s map, its k and its gradient w.r.t. P with the reference on every input."""
    for on, (probability, threshold, options) in cases().items():
        student_p = probability.clone().requires_grad_(True)
        result = call_student(function, NAME, on, student_p, threshold.clone(), **options)
        expect(isinstance(result, tuple) and len(result) == 2, f"{NAME} should return a pair (map, k_used); received {type(result).__name__}", on)
        received, k_used = result
        reference_p = probability.clone().requires_grad_(True)
        expected, expected_k = differentiable_binarization(reference_p, threshold, **options)
        expect_shape(received, tuple(expected.shape), "the map M", on)
        expect(float(k_used) == expected_k, f"the k actually used should be {expected_k:g}, received {float(k_used):g}", on)
        expect_tensor(received, expected, "the map M", on, atol=1e-5)
        expect(received.requires_grad, "M must stay differentiable with respect to P (it is trained through Eq. 3)", on)
        received.sum().backward()
        expected.sum().backward()
        expect_tensor(student_p.grad, reference_p.grad, "the gradient dM/dP", on, atol=1e-3, rtol=1e-3)
    passed(NAME, list(cases()))
