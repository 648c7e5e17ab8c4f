"""Jobs side by side in worker processes (gconet_lab.engine.side_by_side), as the main job runs them."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest
import torch

from gconet_lab.engine import side_by_side
from gconet_lab.engine.interrupts import terminate_as_interrupt
from gconet_lab.engine.side_by_side import cpu_cores, report_progress, run_side_by_side, side_by_side_workers


def where_it_ran(barrier=None) -> tuple[int, int]:
    """The process and its torch threads; with a barrier, only once the other job runs too."""
    if barrier is not None:
        barrier.wait(timeout=120)
    return os.getpid(), torch.get_num_threads()


def fail(message: str) -> None:
    raise ValueError(message)


def test_two_workers_run_the_jobs_at_once_each_with_its_share_of_the_cores():
    with multiprocessing.get_context("spawn").Manager() as manager:
        barrier = manager.Barrier(2)  # neither job returns until both run: side by side, not one after the other
        results = run_side_by_side({"b": partial(where_it_ran, barrier), "a": partial(where_it_ran, barrier)}, workers=2)
    assert list(results) == ["b", "a"]  # the order of the jobs given
    (pid_b, threads_b), (pid_a, threads_a) = results.values()
    assert len({pid_a, pid_b, os.getpid()}) == 3
    assert threads_a == threads_b == max(1, cpu_cores() // 2)


def test_one_worker_runs_the_jobs_here_with_this_process_threads():
    results = run_side_by_side({"x": where_it_ran, "y": where_it_ran}, workers=1)
    assert list(results.values()) == [(os.getpid(), torch.get_num_threads())] * 2


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_job_raises_in_the_caller(workers):
    with pytest.raises(ValueError, match="diverged"):
        run_side_by_side({"ok": where_it_ran, "bad": partial(fail, "the model diverged")}, workers=workers)


def test_no_workers_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        run_side_by_side({"x": where_it_ran}, workers=0)


def test_a_gpu_runs_one_job_at_a_time_a_cpu_as_many_as_its_cores():
    assert side_by_side_workers(torch.device("cuda"), jobs=2) == 1
    assert side_by_side_workers(torch.device("cpu"), jobs=2) == min(2, cpu_cores())
    assert side_by_side_workers(torch.device("cpu"), jobs=1) == 1


def save_when_stopped(folder: str, name: str) -> None:
    """A job that, like a training, writes its checkpoint when SIGTERM or Ctrl-C stops it."""
    with terminate_as_interrupt():
        (Path(folder) / f"{name}.started").write_text(str(os.getpid()))
        try:
            time.sleep(300)
        except KeyboardInterrupt:
            (Path(folder) / f"{name}.saved").touch()
            raise


def test_sigterm_to_the_caller_stops_every_job_as_if_it_ran_alone(tmp_path):
    caller = tmp_path / "caller.py"
    caller.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from functools import partial\n"
        "from gconet_lab.engine.side_by_side import run_side_by_side\n"
        "from test_side_by_side import save_when_stopped\n"
        "if __name__ == '__main__':\n"
        f"    run_side_by_side({{n: partial(save_when_stopped, {str(tmp_path)!r}, n) for n in 'ab'}}, workers=2)\n"
    )
    process = subprocess.Popen([sys.executable, str(caller)], stderr=subprocess.DEVNULL)
    started = [tmp_path / "a.started", tmp_path / "b.started"]
    try:
        deadline = time.monotonic() + 120
        while not all(path.exists() for path in started) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert all(path.exists() for path in started), "the two jobs never ran side by side"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) != 0
        assert (tmp_path / "a.saved").exists() and (tmp_path / "b.saved").exists()  # no work lost
        for path in started:  # and no worker left behind
            with pytest.raises(ProcessLookupError):
                os.kill(int(path.read_text()), 0)
    finally:  # a failed check leaves nothing running
        process.kill()
        for path in started:
            if path.exists():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(path.read_text()), signal.SIGKILL)


def count_to(units: int) -> int:
    for _ in range(units):
        report_progress()
    return units


def test_the_progress_that_jobs_report_reaches_the_callers_bar(monkeypatch):
    bars = []

    class RecordedBar(side_by_side.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(side_by_side, "tqdm", RecordedBar)
    run_side_by_side({"a": partial(count_to, 3), "b": partial(count_to, 4)}, workers=2, progress_unit="step")
    jobs_bar, steps_bar = bars
    assert (jobs_bar.n, steps_bar.n) == (2, 7)
    report_progress()  # outside a worker: nothing to count, no error
