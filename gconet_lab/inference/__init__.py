"""Inference: predicting and scoring sets, the fast eval path, timing, predicting a folder of images."""

BENCHMARK_TASKS = ("inference", "training", "evaluation")
"""What :func:`gconet_lab.inference.benchmark.run_benchmark` times; here, where the command line's --help reads it without torch."""
