"""Training recipes: the paper's five GCoNet+ rows of Table 3, and ``cpu-copypaste`` for this project's CPU model.

Every recipe is the ``paper`` preset (VGG16-BN at 256 x 256, Adam lr 3e-4, betas (0.9, 0.99),
N = min(#A, #B, 32), 320 epochs; Sec. 4.3) trained on one training set or a combination:
Train-1 DUTS_class, Train-2 COCO-9k, Train-3 COCO-SEG (Sec. 4.1). A combination pools the groups of
its sets in one sampler; groups of the same name share one class and are never paired. (The official
script instead zips a DUTS_class and a COCO-SEG loader and adds both batches' losses in each step,
difference C1 in :mod:`gconet_lab.studies.paper_vs_code`.) :attr:`Recipe.expected` holds the Table 3 numbers the run should approach
on CoCA, CoSOD3k and CoSal2015, in the keys of :mod:`gconet_lab.metrics` (maxE, S, maxF, MAE).

``cpu-copypaste`` is this project's CPU recipe: the ``cpu`` preset with a learning-rate schedule, the
ImageNet encoder frozen with its BatchNorm statistics and cut after its last 1/16 stage, GAM with a
cosine affinity, and every training image cropped around its object, trained on copy-paste groups,
COCO128 groups and the synthetic training groups (why: ``docs/experiments.md``). At 128 pixels it trains in ten minutes, so the main job
and the notebooks' variants train it; ``cpu-copypaste-224``, the same recipe at 224 pixels (three
times the time), is the recipe of the model that ships with the package (:mod:`gconet_lab.engine.shipped`).
The copy-paste groups are those of :func:`gconet_lab.pipeline.prepare_default_data`, half of them
photo sessions (all images on one background photo).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gconet_lab.config import GCoNetConfig, make_config

TABLE3_TEST_SETS = ("CoCA", "CoSOD3k", "CoSal2015")
CPU_RECIPE = "cpu-copypaste"  # the notebooks' variants' recipe (128 px)
MAIN_JOB_RECIPE = "cpu-cogroups"  # the main job's: the same with real-photo class groups (128 px)
SHIPPED_RECIPE = "cpu-copypaste-224"  # the shipped model's: the same at 224 px


@dataclass(frozen=True)
class Recipe:
    """A training recipe: the preset, its configuration changes, the training sets, and for a Table 3
    row the scores the paper reports."""

    name: str
    label: str
    sets: tuple[str, ...]
    table3: tuple[tuple[float, float, float, float], ...] = ()  # per test set, in table3_metrics() order
    preset: str = "paper"
    options: tuple[tuple[str, Any], ...] = ()  # configuration overrides, as (name, value) pairs

    @property
    def config_options(self) -> dict[str, Any]:
        return dict(self.options)

    def config(self, **overrides: Any) -> GCoNetConfig:
        """The recipe's preset with its options, then ``overrides`` on top."""
        return make_config(self.preset, **{**self.config_options, **overrides})

    @property
    def expected(self) -> dict[str, dict[str, float]]:
        """``{test set: {metric: value}}`` from Table 3."""
        return {test: dict(zip(table3_metrics(), row, strict=True)) for test, row in zip(TABLE3_TEST_SETS, self.table3)}

    @property
    def groups(self) -> int:
        """Training groups (Sec. 4.1), i.e. two-group batches per epoch (before groups of one image are left out)."""
        # imported here: it loads torch, which the command line's --help does without
        from gconet_lab.data.sources.benchmarks import BENCHMARKS

        return sum(BENCHMARKS[name].n_groups for name in self.sets)


# Why each choice, and the runs tried and not kept: docs/experiments.md (section named after each comment's #anchor).
# The shapes teach the group test and help the photos too (#synthetic-training-groups); half the CopyPaste groups
# are photo sessions, so that a recurring background is not taken for the object (#shared-background).
_CPU_SETS = ("CopyPaste", "COCO128-SEG", "Synthetic_train")
_CPU_OPTIONS = (
    ("epochs", 8),
    ("lr_schedule", "cosine"), ("warmup_steps", 50),  # a constant rate trains far worse (#learning-rate-schedule)
    ("freeze_backbone", True),  # as the official code (C5): better and faster in a few hundred steps (#frozen-encoder)
    ("freeze_backbone_bn", True), ("zoom_p", 1.0),  # the maps cover whole objects (#frozen-batchnorm-and-crops)
    # GAM reads a 1/16 grid, as with the paper's VGG16, where the classes can be told apart (#encoder-at-116)
    ("encoder", "efficientnet_lite0_s16"), ("decoder_channels", 160),
    ("gam_affinity", "cosine"), ("gam_temperature", 0.05),  # dot products follow the largest features (#gam-affinity)
)

RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe("train-1", "Train-1", ("DUTS_class",),
               ((0.786, 0.691, 0.574, 0.113), (0.881, 0.828, 0.807, 0.068), (0.917, 0.875, 0.876, 0.054))),
        Recipe("train-2", "Train-2", ("COCO-9k",),
               ((0.798, 0.717, 0.605, 0.098), (0.877, 0.819, 0.796, 0.075), (0.902, 0.853, 0.857, 0.073))),
        Recipe("train-3", "Train-3", ("COCO-SEG",),
               ((0.787, 0.712, 0.602, 0.100), (0.875, 0.820, 0.793, 0.075), (0.899, 0.853, 0.852, 0.071))),
        Recipe("train-1,2", "Train-1,2", ("DUTS_class", "COCO-9k"),
               ((0.808, 0.734, 0.626, 0.088), (0.894, 0.839, 0.822, 0.065), (0.919, 0.876, 0.880, 0.058))),
        Recipe("train-1,3", "Train-1,3", ("DUTS_class", "COCO-SEG"),
               ((0.814, 0.738, 0.637, 0.081), (0.901, 0.843, 0.834, 0.062), (0.924, 0.881, 0.891, 0.056))),
        # The CPU recipe (why each option: above _CPU_OPTIONS); the 224 px one is the shipped model's (#shared-background).
        Recipe("cpu-copypaste", "CPU copy-paste", _CPU_SETS, preset="cpu", options=_CPU_OPTIONS),
        Recipe("cpu-copypaste-224", "CPU copy-paste, 224 px", _CPU_SETS, preset="cpu",
               options=(*_CPU_OPTIONS, ("image_size", 224))),
        # The main job's: the CPU recipe plus real photos in the group of every class they show, batches whose two
        # groups share photos, the consensus gate and its loss (#the-group-on-real-photos), for the 3 epochs its
        # validation runs trained, which fit its 15 minutes with the two trainings side by side (#the-main-job-side-by-side).
        Recipe("cpu-cogroups", "CPU co-groups", (*_CPU_SETS, "COCO-extra-train"), preset="cpu",
               options=(*_CPU_OPTIONS, ("epochs", 3), ("shared_photo_p", 1.0), ("consensus_gate", True),
                        ("lambda_gate", 30.0))),
    )
}


def table3_metrics() -> tuple[str, ...]:
    """:data:`gconet_lab.metrics.METRICS` in Table 3's column order: maxE, S, maxF, MAE."""
    # imported here: gconet_lab.metrics loads numpy, which the command line's --help does without
    from gconet_lab.metrics import METRICS

    s, max_f, max_e, mae = METRICS
    return max_e, s, max_f, mae


def format_recipes() -> str:
    """A Markdown table of the Table 3 recipes: sets, steps per epoch, and the paper's scores."""
    columns = " / ".join(table3_metrics())
    header = "| Recipe | Sets | Batches per epoch | " + " | ".join(f"{t} {columns}" for t in TABLE3_TEST_SETS) + " |"
    lines = [header, "|" + "---|" * (3 + len(TABLE3_TEST_SETS))]
    for recipe in RECIPES.values():
        if not recipe.table3:
            continue
        scores = " | ".join(" / ".join(f"{v:.3f}" for v in row) for row in recipe.table3)
        lines.append(f"| `{recipe.name}` | {' + '.join(recipe.sets)} | {recipe.groups} | {scores} |")
    return "\n".join(lines)
