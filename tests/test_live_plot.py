"""The live loss plot redraws every few steps with all the records so far."""

from __future__ import annotations

from gconet_lab.lab import live_plot


def test_live_loss_curves_redraw_every_n_steps_with_the_whole_history(monkeypatch):
    shown, cleared = [], []
    monkeypatch.setattr(live_plot, "display", lambda figure: shown.append(len(figure.axes[0].lines[0].get_xdata())))
    monkeypatch.setattr(live_plot, "clear_output", lambda wait: cleared.append(wait))
    live = live_plot.LiveLossCurves(every=10)
    for step in range(25):
        live({"step": step, "total": 5.0 / (step + 1), "bce": 1.0})
    assert shown == [10, 20] and cleared == [True, True]
    assert len(live.history) == 25
