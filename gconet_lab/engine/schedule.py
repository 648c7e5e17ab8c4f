"""Learning-rate schedules: the paper's constant rate, or linear warm-up then cosine decay.

The paper trains with a constant Adam learning rate (Sec. 4.3). A short CPU training gains from
the usual schedule of small-data fine-tuning: a linear warm-up over the first ``warmup_steps``
(the heads start from random weights while the encoder is pretrained), then a cosine decay to
zero, so the last steps average out the noise of two-group batches instead of following it.
The factor depends on the step alone, so a resumed run continues on the same schedule.
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine")


def learning_rate_factor(step: int, total_steps: int, schedule: str = "constant", warmup_steps: int = 0) -> float:
    """The multiplier of the base learning rate at ``step`` (0-based) of ``total_steps``.

    >>> learning_rate_factor(0, 100, "cosine", warmup_steps=10)
    0.1
    >>> round(learning_rate_factor(55, 100, "cosine", warmup_steps=10), 3)
    0.5
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
