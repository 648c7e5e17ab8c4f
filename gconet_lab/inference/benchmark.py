"""How fast GCoNet+ runs here: inference, a training step and the evaluation, measured side by side.

Inference follows the paper's protocol (Table 4: 3.5 ms per batch of two 256x256 images on an
A100, "250 fps"; difference C30): random input, a batch of 2, warm-up calls, then timed
repetitions, and the time per image is the time per call divided by the batch size. The official
script reads the host clock without synchronising the GPU; here CUDA is synchronised before every
clock reading, so the whole forward pass is counted.

On a shared machine the load changes while one measures. So candidates are timed **interleaved**
(repetition r runs every candidate once) and each is summarised by its median: a burst of load
slows every candidate alike and the ratio survives.

Each inference path (float32 eager, the float32 fast path and, asked for, the bfloat16 fast path)
and each training step (the contiguous float32 reference, the trainer's channels-last step, and
asked for, its bfloat16 autocast) also reports its FLOPs per image, counted once untimed, and the
fraction of the machine's peak FLOP/s it reaches (:mod:`gconet_lab.inference.flops`, which states
the peak assumed); a training step also reports the median time of each of its phases.
"""

from __future__ import annotations

import copy
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from gconet_lab.config import GCoNetConfig
from gconet_lab.engine.precision import autocast, native_precisions, resolve_precision
from gconet_lab.engine.train import make_optimizer
from gconet_lab.inference import BENCHMARK_TASKS
from gconet_lab.inference.fast_inference import make_fast_model, max_abs_difference
from gconet_lab.inference.flops import Peak, count_flops, estimate_peak
from gconet_lab.losses import GCoNetLoss
from gconet_lab.metrics import OfficialParity, check_official_parity, evaluate_folders, match_pairs
from gconet_lab.models import GCoNetPlus


@dataclass(frozen=True)
class Measurement:
    """The median time of one call of one implementation, and what that call processed."""

    task: str  # what is timed, e.g. "inference, batch of 2 at 256x256"
    implementation: str  # e.g. "eager" or "fast"
    seconds: list[float]  # every timed repetition, in order
    images_per_call: int
    peak_memory_mb: float | None = None  # CUDA only: torch's peak allocation during one call
    precision: str = "fp32"
    flops_per_image: float | None = None  # FLOPs of the call's convolutions and matrix products, per image
    phases: dict[str, float] | None = None  # a training step: median seconds of each phase of one call

    @property
    def median_seconds(self) -> float:
        return statistics.median(self.seconds)

    @property
    def ms_per_image(self) -> float:
        return 1000 * self.median_seconds / self.images_per_call

    @property
    def images_per_second(self) -> float:
        return self.images_per_call / self.median_seconds

    @property
    def gflops_per_second(self) -> float | None:
        """Achieved GFLOP/s: FLOPs per image x images per second (None without a FLOP count)."""
        return None if self.flops_per_image is None else self.flops_per_image * self.images_per_second / 1e9

    def as_row(self) -> dict[str, object]:
        """A flat record for tables (``pandas.DataFrame([m.as_row() for m in ...])``)."""
        return {
            "task": self.task, "implementation": self.implementation, "precision": self.precision,
            "repeats": len(self.seconds), "median_s": self.median_seconds, "ms_per_image": self.ms_per_image,
            "images_per_s": self.images_per_second, "peak_memory_mb": self.peak_memory_mb,
            "flops_per_image": self.flops_per_image, "gflops_per_s": self.gflops_per_second,
        } | {f"{phase}_s": seconds for phase, seconds in (self.phases or {}).items()}


@dataclass(frozen=True)
class Comparison:
    """A reference and a faster implementation of the same task, timed in one run.

    Several fast paths timed against one reference are several comparisons sharing that reference.
    """

    reference: Measurement
    fast: Measurement
    max_abs_difference: float  # largest difference of their outputs (maps or metric values)

    @property
    def speedup(self) -> float:
        """How many times faster the fast implementation is (ratio of medians)."""
        return self.reference.median_seconds / self.fast.median_seconds


# ------------------------------------------------------------------------------------ timing
def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that the clock reads the end of the computation."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(calls: dict[str, Callable[[], object]], repeats: int, warmup: int,
                     device: torch.device) -> dict[str, list[float]]:
    """Seconds per call of each candidate: ``warmup`` untimed rounds, then ``repeats`` timed ones.

    Every round runs each candidate once, in turn, so they share the load of the moment.
    """
    times: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(warmup + repeats):
        for name, call in calls.items():
            synchronize(device)
            started = time.perf_counter()
            call()
            synchronize(device)
            if round_ >= warmup:
                times[name].append(time.perf_counter() - started)
    return times


def peak_memory_mb(call: Callable[[], object], device: torch.device) -> float | None:
    """Peak memory torch allocates on the GPU during one call; None on CPU (no such counter)."""
    if device.type != "cuda":
        return None
    synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    call()
    synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


# ------------------------------------------------------------------------------------ the tasks
def benchmark_inference(model: GCoNetPlus, batch_size: int = 2, image_size: int | None = None, repeats: int = 10,
                        warmup: int = 2, compile: bool = False,
                        precisions: Iterable[str] = ("fp32",)) -> list[Comparison]:
    """The float32 eager forward (``model.eval()``) against :func:`make_fast_model` in each of ``precisions``.

    All paths are timed interleaved on the same random input, and each comparison holds the largest
    difference of that path's maps from the eager ones; FLOPs are counted once per path, untimed.
    ``batch_size=2`` is the paper's protocol; a test group is one batch, so ``batch_size=N`` times
    the prediction of one whole group of N images.
    """
    device = next(model.parameters()).device
    size = image_size or model.config.image_size
    model.eval()
    images = torch.randn(batch_size, 3, size, size, device=device)

    def eager() -> object:
        with torch.inference_mode():
            return model(images)

    fast_paths = {precision: make_fast_model(model, compile=compile, precision=precision) for precision in precisions}
    calls = {"eager": eager} | {precision: partial(fast, images) for precision, fast in fast_paths.items()}
    times = time_interleaved(calls, repeats, warmup, device)
    task = f"inference, batch of {batch_size} at {size}x{size}"

    def measure(name: str, implementation: str, precision: str) -> Measurement:
        return Measurement(task, implementation, times[name], batch_size, peak_memory_mb(calls[name], device),
                           precision, count_flops(calls[name]) / batch_size)

    reference = measure("eager", "eager", "fp32")
    return [Comparison(reference, measure(precision, fast_name(precision, compile), precision),
                       max_abs_difference(model, fast, images))
            for precision, fast in fast_paths.items()]


def fast_name(precision: str, compile: bool) -> str:
    """How the report names a fast path: ``fast``, ``fast bf16``, ``fast + compile``, ..."""
    return "fast" + (f" {precision}" if precision != "fp32" else "") + (" + compile" if compile else "")


TRAINING_PHASES = ("forward", "loss", "backward", "optimizer")
# A training step's FLOPs: the forward's plus a backward of twice as many (each product of the forward
# gives one for the input's gradient and one for the weight's). Counted this way because torch's flop
# counter charges a grouped (depthwise) convolution's backward as if it were dense: 16x the forward
# for EfficientNet-Lite0. An upper bound with a frozen encoder, which needs no weight gradients.
BACKWARD_FLOPS_FACTOR = 3


def benchmark_training_step(config: GCoNetConfig, group_size: int = 4, repeats: int = 3, warmup: int = 1,
                            device: torch.device | str = "cpu",
                            precisions: Iterable[str] = ("fp32",)) -> list[Comparison]:
    """One training step on two random groups of ``group_size`` (Eq. 16): forward, Eq. 11, backward, Adam.

    The reference is the float32 step in torch's default (contiguous) memory layout; against it, the
    trainer's step (channels-last, :func:`~gconet_lab.engine.train.channels_last_layout`) in each of
    ``precisions``. Every candidate trains its own copy of one random model on the same batch, timed
    interleaved, with the median of each phase (:data:`TRAINING_PHASES`) beside the total; FLOPs are
    those of the forward and Eq. 11, counted once untimed, times :data:`BACKWARD_FLOPS_FACTOR`. The
    difference is that of the first step's loss, which every candidate computes from the same weights.
    """
    device = torch.device(device)
    template = GCoNetPlus(config).to(device).train()
    n, size = group_size, config.image_size
    images = torch.randn(2 * n, 3, size, size, device=device)
    masks = (torch.rand(2 * n, 1, size, size, device=device) > 0.5).float()
    class_ids = torch.tensor([0] * n + [1] * n, device=device)
    candidates = {("eager", "fp32"): torch.contiguous_format}
    candidates |= {(f"channels-last{'' if p == 'fp32' else ' ' + p}", p): torch.channels_last for p in precisions}
    criterion, steps, phases, first_loss = GCoNetLoss(config), {}, {}, {}
    for (name, precision), layout in candidates.items():
        model = copy.deepcopy(template).to(memory_format=layout)
        batch = images.contiguous(memory_format=layout)
        with torch.no_grad(), autocast(device, precision):
            first_loss[name] = float(criterion(model(batch), masks, class_ids).total)
        phases[name] = {phase: [] for phase in TRAINING_PHASES}
        steps[name] = phased_training_step(model, criterion, make_optimizer(model, config), batch, masks, class_ids,
                                           precision, phases[name])
    with torch.no_grad():  # the forward and Eq. 11, on a copy (train-mode BatchNorm updates its statistics)
        counted = copy.deepcopy(template)
        flops_per_image = BACKWARD_FLOPS_FACTOR * count_flops(lambda: criterion(counted(images), masks, class_ids)) / (2 * n)
    times = time_interleaved(steps, repeats, warmup, device)
    task = f"training step, 2 groups of {n} at {size}x{size}"

    def measure(name: str, precision: str) -> Measurement:
        medians = {phase: statistics.median(seconds[warmup:]) for phase, seconds in phases[name].items()}
        return Measurement(task, name, times[name], 2 * n, peak_memory_mb(steps[name], device), precision,
                           flops_per_image, medians)

    reference = measure("eager", "fp32")
    return [Comparison(reference, measure(name, precision), abs(first_loss[name] - first_loss["eager"]))
            for name, precision in candidates if name != "eager"]


def phased_training_step(model: GCoNetPlus, criterion: GCoNetLoss, optimizer: torch.optim.Optimizer,
                         images: torch.Tensor, masks: torch.Tensor, class_ids: torch.Tensor, precision: str,
                         phases: dict[str, list[float]]) -> Callable[[], None]:
    """A training step that appends the seconds of each of its phases to ``phases``."""
    device = images.device

    def step() -> None:
        marks = [time.perf_counter()]

        def mark() -> None:
            synchronize(device)
            marks.append(time.perf_counter())

        optimizer.zero_grad(set_to_none=True)
        with autocast(device, precision):
            output = model(images)
            mark()
            loss = criterion(output, masks, class_ids).total
            mark()
        loss.backward()
        mark()
        optimizer.step()
        mark()
        for phase, start, end in zip(TRAINING_PHASES, marks, marks[1:]):
            phases[phase].append(end - start)

    return step


@dataclass(frozen=True)
class EvaluationBenchmark:
    whole_set: Measurement  # evaluate_folders on every image of the set
    official_parity: OfficialParity | None  # the evaluator against the official evaluator's numbers


def benchmark_evaluation(pred_root: str | Path, gt_root: str | Path,
                         parity: tuple[str | Path, str | Path] | None = None) -> EvaluationBenchmark:
    """Time :func:`evaluate_folders` on a whole predicted set; check the evaluator against official numbers.

    ``parity`` is (parity set folder, its masks folder), see :mod:`gconet_lab.metrics.parity`: the
    numbers a fast evaluator gives are only worth timing if they are the official evaluator's. The
    timing is a single run: files are read each time.
    """
    relpaths = match_pairs(pred_root, gt_root).matched
    started = time.perf_counter()
    evaluate_folders(pred_root, gt_root, progress=False)
    whole = Measurement(f"official evaluation, all {len(relpaths)} images at original size", "gconet_lab.metrics",
                        [time.perf_counter() - started], len(relpaths))
    return EvaluationBenchmark(whole, check_official_parity(*parity) if parity else None)


# ------------------------------------------------------------------------------------ context
def describe_environment(device: torch.device | str = "cpu") -> dict[str, object]:
    """What the numbers depend on: device, torch version, threads, load, peak memory of the process."""
    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    peak_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return {
        "device": f"{device.type} ({name})", "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(), "load_average_1min": os.getloadavg()[0], "python": sys.version.split()[0],
        "process_peak_rss_mb": peak_rss_kb / 1024, "native_precisions": native_precisions(device),
    }


# ------------------------------------------------------------------------------------ all at once
TASKS = BENCHMARK_TASKS


@dataclass(frozen=True)
class BenchmarkReport:
    """Everything :func:`run_benchmark` measured, with the environment it was measured in."""

    environment: dict[str, object]
    comparisons: list[Comparison]
    measurements: list[Measurement]  # those with nothing to compare against
    official_parity: OfficialParity | None = None  # the evaluator checked against the official numbers
    peak: Peak | None = None  # the machine's peak FLOP/s by precision, for the fraction of peak

    def row(self, measurement: Measurement) -> dict[str, object]:
        """``measurement.as_row()`` with the peak of its precision and the fraction of it reached (None: unknown)."""
        peak = self.peak.gflops.get(measurement.precision) if self.peak else None
        achieved = measurement.gflops_per_second
        fraction = None if peak is None or achieved is None else achieved / peak
        return measurement.as_row() | {"peak_gflops": peak, "fraction_of_peak": fraction}

    def rows(self) -> list[dict[str, object]]:
        """One flat record per measurement; a fast one carries its speed-up and output difference."""
        rows, previous = [], None
        for comparison in self.comparisons:
            if comparison.reference is not previous:  # the fast paths of one task share its reference
                rows.append(self.row(comparison.reference))
            previous = comparison.reference
            rows.append(self.row(comparison.fast) | {"speedup": comparison.speedup,
                                                     "max_abs_difference": comparison.max_abs_difference})
        return rows + [self.row(measurement) for measurement in self.measurements]

    def format(self) -> str:
        """A plain-text table for the terminal, with the peak FLOP/s assumed for the fraction of peak."""
        env = self.environment
        header = (f"{env['device']}, torch {env['torch']}, {env['threads']} threads ({env['cpus']} CPUs), "
                  f"load average {env['load_average_1min']:.1f}, process peak RSS {env['process_peak_rss_mb']:.0f} MB")
        lines = [header, f"native precisions here: {', '.join(env['native_precisions'])}"]
        lines.append(f"{'task':<52} {'implementation':<20} {'reps':>4} {'median s':>9} {'ms/image':>9} "
                     f"{'images/s':>9} {'peak MB':>8} {'speed-up':>8} {'max |diff|':>10} {'GFLOP/image':>11} "
                     f"{'GFLOP/s':>8} {'of peak':>7}")

        def cell(value: float | None, spec: str) -> str:
            return "-" if value is None else format(value, spec)

        rows = self.rows()
        for row in rows:
            speedup = f"{row['speedup']:.2f}x" if "speedup" in row else "-"
            gflop = None if row["flops_per_image"] is None else row["flops_per_image"] / 1e9
            lines.append(
                f"{row['task']:<52} {row['implementation']:<20} {row['repeats']:>4} {row['median_s']:>9.3f} "
                f"{row['ms_per_image']:>9.1f} {row['images_per_s']:>9.1f} {cell(row['peak_memory_mb'], '.0f'):>8} "
                f"{speedup:>8} {cell(row.get('max_abs_difference'), '.1e'):>10} {cell(gflop, '.2f'):>11} "
                f"{cell(row['gflops_per_s'], '.1f'):>8} {cell(row['fraction_of_peak'], '.1%'):>7}")
        for row in rows:
            if "forward_s" in row:
                lines.append(f"  {row['implementation']} step phases (median s): "
                             + ", ".join(f"{phase} {row[f'{phase}_s']:.3f}" for phase in TRAINING_PHASES))
        if any(row["flops_per_image"] is not None for row in rows):
            lines.append("of peak = (FLOPs per image / seconds per image) / peak FLOP/s; "
                         + (self.peak.assumption if self.peak else "no peak estimated for this device (--peak-gflops)"))
        if self.official_parity is not None:
            lines.append(self.official_parity.format())
        return "\n".join(lines)


def run_benchmark(config: GCoNetConfig, device: torch.device | str = "cpu", tasks: Iterable[str] = TASKS,
                  batch_size: int = 2, group_size: int = 4, repeats: int = 5, warmup: int = 2, compile: bool = False,
                  predictions: str | Path | None = None, masks: str | Path | None = None,
                  parity: tuple[str | Path, str | Path] | None = None, precision: str = "fp32",
                  peak: Peak | None = None) -> BenchmarkReport:
    """Inference (paper protocol, then one whole group), a training step and the evaluation of a set.

    The model has random weights: speed does not depend on them. ``predictions`` and ``masks``
    (``<root>/<group>/<name>.png``) are needed for the ``evaluation`` task only; ``parity``
    (see :func:`benchmark_evaluation`) also checks the evaluator's numbers against the official ones.
    ``precision`` (:mod:`gconet_lab.engine.precision`'s words, resolved on ``device``) adds its fast
    path to the inference task and its autocast step to the training task, beside the float32 ones;
    one the device would only emulate raises :class:`~gconet_lab.engine.precision.PrecisionUnsupportedError`
    before anything is timed.
    ``peak`` (GFLOP/s by precision) defaults to :func:`~gconet_lab.inference.flops.estimate_peak`.
    """
    tasks = set(tasks)
    if unknown := tasks - set(TASKS):
        raise ValueError(f"unknown tasks {sorted(unknown)}; choose from {TASKS}")
    device = torch.device(device)
    precisions = tuple(dict.fromkeys(("fp32", resolve_precision(precision, device))))
    comparisons, measurements, official_parity = [], [], None
    if "inference" in tasks:
        model = GCoNetPlus(config).to(device).eval()
        for size in dict.fromkeys((batch_size, group_size)):
            comparisons += benchmark_inference(model, size, repeats=repeats, warmup=warmup, compile=compile,
                                               precisions=precisions)
    if "training" in tasks:
        comparisons += benchmark_training_step(config, group_size, max(1, repeats // 2), 1, device, precisions)
    if "evaluation" in tasks:
        if predictions is None or masks is None:
            raise ValueError("the evaluation task needs the predictions and masks folders")
        evaluation = benchmark_evaluation(predictions, masks, parity)
        measurements.append(evaluation.whole_set)
        official_parity = evaluation.official_parity
    return BenchmarkReport(describe_environment(device), comparisons, measurements, official_parity,
                           peak or estimate_peak(device))


PLOT_SIZE = (9.0, 5.5)


def plot_report(report: BenchmarkReport, ax=None):
    """Milliseconds per image of every measurement as horizontal bars (log scale), speed-ups written beside."""
    import matplotlib.pyplot as plt

    rows = report.rows()
    if ax is None:
        ax = plt.subplots(figsize=PLOT_SIZE)[1]  # one size whatever the rows: stored outputs match on every machine
    labels = [f"{row['task']}\n{row['implementation']}" for row in rows]
    values = [row["ms_per_image"] for row in rows]
    colours = ["tab:green" if "speedup" in row else "tab:grey" for row in rows]
    ax.barh(range(len(rows)), values, color=colours)
    for y, row in enumerate(rows):
        if "speedup" in row:
            ax.annotate(f" {row['speedup']:.1f}x faster", (row["ms_per_image"], y), va="center")
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("milliseconds per image (median)")
    ax.set_title(f"{report.environment['device']}, {report.environment['threads']} threads")
    return ax
