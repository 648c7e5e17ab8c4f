"""Live training curves in a notebook: a Trainer callback (``gconet_lab.engine.train``) that redraws the loss plot.

    live = LiveLossCurves(every=10)
    train(config, data_dir, out_dir, callbacks=[live])

Every ``every`` steps the cell's output is replaced (``clear_output(wait=True)``, so it does not
flicker) by :func:`gconet_lab.lab.viz.metric_plots.loss_curves` of all records so far: one curve per term of Eq. 11.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
from IPython.display import clear_output, display

from gconet_lab.lab.viz.metric_plots import loss_curves


class LiveLossCurves:
    """Collects each step's record and redraws the per-term loss curves every ``every`` steps."""

    def __init__(self, every: int = 10, smooth: int = 1) -> None:
        self.every = every
        self.smooth = smooth
        self.history: list[dict[str, Any]] = []

    def __call__(self, record: dict[str, Any]) -> None:
        self.history.append(record)
        if len(self.history) % self.every == 0:
            self.redraw()

    def redraw(self) -> None:
        """Replace the cell's output with the curves of every record so far."""
        figure = loss_curves(self.history, smooth=self.smooth)
        figure.axes[0].set_title(f"step {self.history[-1]['step'] + 1}", fontsize=8)
        clear_output(wait=True)
        display(figure)
        plt.close(figure)
