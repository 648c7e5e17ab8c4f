"""Run independent jobs side by side in worker processes, each with an equal share of the CPU cores.

A small model does not keep two cores busy: on a 2-core CPU one PyTorch process trains or evaluates
the 128-pixel CPU model only about 1.3 times faster at 2 threads than at 1, and the metrics run on one
core whatever the threads. Two such jobs side by side at one thread each therefore finish sooner than
the same two one after the other at two threads (timings: ``docs/experiments.md#the-main-job-side-by-side``).
Two processes at two threads each would slow each other badly (OpenMP threads that wait for a busy
core), so every worker gets ``cores // workers`` threads.

Workers are *spawned* (a fresh interpreter, not a fork of one whose OpenMP pool already runs), so a
job must be picklable: a module-level function, or a :func:`functools.partial` of one. Results come
back in the order the jobs were given; the first job that raises stops the jobs not yet started and
raises in the caller. SIGTERM to the caller (``timeout``, a scheduler) is passed on to the workers, so
each job stops as it would alone (a training saves its checkpoint, :mod:`gconet_lab.engine.interrupts`);
Ctrl-C reaches the workers from the terminal itself. A job shows its progress with :func:`report_progress`
(e.g. once per training step): the caller counts it on a second bar, since the bars of two processes
would overwrite each other.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import TypeVar

import torch
from tqdm.auto import tqdm

from gconet_lab.engine.interrupts import Terminated, terminate_as_interrupt

T = TypeVar("T")

_progress: multiprocessing.Queue | None = None  # in a worker: where report_progress counts


def _start_worker(threads: int, progress: multiprocessing.Queue) -> None:
    global _progress
    torch.set_num_threads(threads)
    _progress = progress


def report_progress(units: int = 1) -> None:
    """Count ``units`` of a job's work on the caller's progress bar; outside a worker, nothing."""
    if _progress is not None:
        _progress.put(units)


def _count(progress: multiprocessing.Queue, bar: tqdm) -> None:
    """Move ``bar`` by every count that the workers have sent so far."""
    while True:
        try:
            bar.update(progress.get_nowait())
        except queue.Empty:
            return


def cpu_cores() -> int:
    """The cores this process may run on (fewer than the machine's in a container or under ``taskset``)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def side_by_side_workers(device: torch.device, jobs: int = 2) -> int:
    """How many ``jobs`` to run at once on ``device``: one at a time on a GPU (they would share it), else as
    many as there are cores, at most ``jobs``."""
    return 1 if device.type == "cuda" else max(1, min(jobs, cpu_cores()))


def run_side_by_side(jobs: Mapping[str, Callable[[], T]], workers: int, desc: str = "jobs",
                     progress_unit: str = "step") -> dict[str, T]:
    """Run every job of ``{name: job}`` in ``workers`` processes, each with ``cpu_cores() // workers`` threads.

    ``workers`` 1 runs them here, one after the other, with this process's threads. A progress bar
    counts the finished jobs and names the last one; with workers, a second one counts the units of
    work (``progress_unit``) that the jobs report (:func:`report_progress`).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if workers == 1:
        results = {}
        with tqdm(jobs.items(), desc=desc, unit="job", dynamic_ncols=True) as bar:
            for name, job in bar:
                bar.set_postfix_str(name)
                results[name] = job()
        return results
    threads = max(1, cpu_cores() // workers)
    context = multiprocessing.get_context("spawn")
    progress = context.Queue()
    before = set(multiprocessing.active_children())
    with (tqdm(total=len(jobs), desc=f"{desc} ({workers} side by side)", unit="job", dynamic_ncols=True) as bar,
          tqdm(desc=desc, unit=f" {progress_unit}s", dynamic_ncols=True) as units):
        with terminate_as_interrupt(), ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                                           initargs=(threads, progress)) as pool:
            futures: dict[Future, str] = {pool.submit(job): name for name, job in jobs.items()}
            try:
                pending = set(futures)
                while pending:
                    done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                    for future in done:
                        future.result()  # raises the job's error here, at once
                        bar.update(1)
                        bar.set_postfix_str(f"{futures[future]} done")
                    _count(progress, units)
                    bar.refresh()  # the elapsed time moves while a long job runs
            except BaseException as error:
                for future in futures:
                    future.cancel()
                if isinstance(error, Terminated):  # SIGTERM came to this process alone: the workers' turn
                    for worker in set(multiprocessing.active_children()) - before:
                        worker.terminate()
                raise  # leaving the pool waits for the workers to stop
        _count(progress, units)  # the workers have ended: every count has arrived
    return {name: future.result() for future, name in futures.items()}
