"""What a checker tells a student: which input, what was expected, what came back.

Every checker runs the student's code on a few named inputs and compares the result with the
library's reference implementation.  The first difference raises :class:`ExerciseFailed`, whose
message is the whole feedback; in a notebook it is shown without the checker's traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor


class ExerciseFailed(AssertionError):
    """A check failed; the message names the input, the expected and the received shape or value."""

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback: the feedback is the message, not the checker's frames."""
        return [f"{type(self).__name__}: {self}"]


def call_student(function: Callable[..., Any], name: str, on: str, *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``; a TODO left in place or a crash becomes feedback naming the input ``on``."""
    try:
        return function(*args, **kwargs)
    except NotImplementedError as error:
        raise ExerciseFailed(f"{name} is not implemented yet: replace the `raise NotImplementedError` in the TODO cell ({error})") from None
    except ExerciseFailed:
        raise
    except Exception as error:  # the student's bug, reported with the input that triggered it
        raise ExerciseFailed(f"{name} raised {type(error).__name__}: {error}\n  on {on}") from error


def expect_shape(received: Any, shape: tuple[int, ...], what: str, on: str) -> None:
    """``received`` must be a tensor of ``shape``."""
    if not isinstance(received, Tensor):
        raise ExerciseFailed(f"{what} should be a torch.Tensor, received {type(received).__name__}\n  on {on}")
    if tuple(received.shape) != tuple(shape):
        raise ExerciseFailed(f"{what} has the wrong shape\n  on {on}\n  expected {tuple(shape)}\n  received {tuple(received.shape)}")


def expect_tensor(received: Any, expected: Tensor, what: str, on: str, atol: float = 1e-5, rtol: float = 1e-4) -> None:
    """``received`` must be a finite tensor of ``expected``'s shape, equal to it within ``atol + rtol * |expected|``."""
    expect_shape(received, tuple(expected.shape), what, on)
    received = received.detach().float()
    if not torch.isfinite(received).all():
        raise ExerciseFailed(f"{what} holds {int((~torch.isfinite(received)).sum())} non-finite values (inf or nan)\n  on {on}")
    expected = expected.detach().float()
    wrong = (received - expected).abs() > atol + rtol * expected.abs()
    if wrong.any():
        index = tuple(int(i) for i in wrong.nonzero()[0])
        at = f" at index {index}" if index else ""
        raise ExerciseFailed(
            f"{what} differs from the reference{at} ({int(wrong.sum())} of {wrong.numel()} values differ)\n  on {on}\n"
            f"  expected {expected[index].item():.6g}\n  received {received[index].item():.6g}"
        )


def expect(condition: bool, message: str, on: str) -> None:
    """A property of the answer with its own explanation (e.g. "sums to 1 over the group")."""
    if not condition:
        raise ExerciseFailed(f"{message}\n  on {on}")


def passed(name: str, cases: list[str]) -> None:
    """Print the success message: the function and every input it was checked on."""
    print(f"{name}: all {len(cases)} checks passed")
    for case in cases:
        print(f"  ok  {case}")
