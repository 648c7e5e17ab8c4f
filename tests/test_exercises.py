"""The exercises: templates are generated from the solutions, every template fails its checker, every
solution passes, wrong answers get useful feedback.

The student's code is taken from the notebooks themselves: the code cells before the first cell
tagged ``check`` are executed (they only define functions and import), then the named function or
class is checked.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from torch import nn

from gconet_lab import exercises
from gconet_lab.exercises import ExerciseFailed
from gconet_lab.models.gam import GAMOutput

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXERCISES = NOTEBOOKS / "exercises"
# notebook -> (the name the student defines, its checker)
CHECKED = {
    "01_gam_attention": ("group_affinity_attention", exercises.check_group_affinity_attention),
    "02_differentiable_binarization": ("differentiable_binarization", exercises.check_differentiable_binarization),
    "03_gst_loss": ("gst_loss", exercises.check_gst_loss),
    "04_replace_gam": ("GroupRelation", exercises.check_relation_module),
    "05_binarization_k_and_loss": ("uncertain_fraction", exercises.check_uncertain_fraction),
    "06_coco_group": ("class_mask", exercises.check_class_mask),
}


def student_code(path: Path, name: str):
    """``name`` as defined by the notebook's code cells that come before its first check."""
    namespace: dict = {}
    for cell in nbformat.read(path, as_version=4).cells:
        if "check" in cell.metadata.get("tags", []):
            return namespace[name]
        if cell.cell_type == "code":
            exec(compile(cell.source, f"{path.name}:cell", "exec"), namespace)  # noqa: S102 (our own notebooks)
    raise AssertionError(f"{path} has no cell tagged 'check'")


def test_every_exercise_has_a_template_a_solution_and_a_checker():
    templates = {p.stem for p in EXERCISES.glob("*.ipynb")}
    solutions = {p.stem for p in (EXERCISES / "solutions").glob("*.ipynb")}
    assert templates == solutions == set(CHECKED)


@pytest.mark.parametrize("notebook", sorted(CHECKED))
def test_template_fails_with_not_implemented_feedback(notebook):
    name, check = CHECKED[notebook]
    with pytest.raises(ExerciseFailed, match="not implemented yet"):
        check(student_code(EXERCISES / f"{notebook}.ipynb", name))


@pytest.mark.parametrize("notebook", sorted(CHECKED))
def test_solution_passes(notebook, capsys):
    name, check = CHECKED[notebook]
    check(student_code(EXERCISES / "solutions" / f"{notebook}.ipynb", name))
    assert "checks passed" in capsys.readouterr().out


def load_generator():
    spec = importlib.util.spec_from_file_location("make_exercises", NOTEBOOKS / "make_exercises.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_templates_are_the_ones_generated_from_the_solutions():
    generated = load_generator().generated_templates()
    assert {path.stem for path in generated} == set(CHECKED)
    stale = [path.name for path, text in generated.items() if path.read_text() != text]
    assert not stale, f"run `python notebooks/make_exercises.py`: {stale} differ from their solution"


def test_generator_refuses_a_template_that_solves_the_exercise():
    generator = load_generator()
    path = EXERCISES / "solutions" / "05_binarization_k_and_loss.ipynb"
    solution = nbformat.read(path, as_version=4)
    exercise = next(cell for cell in solution.cells if "exercise" in cell.metadata.get("tags", []))
    exercise.metadata[generator.TEMPLATE_KEY] = exercise.source  # a "template" that is the solution
    with pytest.raises(ValueError, match="checker passed on the template"):
        generator.template_of(solution, path)


@pytest.mark.parametrize("notebook", sorted(CHECKED))
def test_template_check_cells_expect_the_exception_and_solutions_do_not(notebook):
    def check_tags(path):
        return [c.metadata["tags"] for c in nbformat.read(path, as_version=4).cells if "check" in c.metadata.get("tags", [])]

    assert all("raises-exception" in tags for tags in check_tags(EXERCISES / f"{notebook}.ipynb"))
    assert not any("raises-exception" in tags for tags in check_tags(EXERCISES / "solutions" / f"{notebook}.ipynb"))


# --- deliberately wrong solutions: the feedback names the input and what differs ----------------


def attention_softmax_per_image(query, key):
    """Exercise 1 with the official code's per-image softmax instead of the paper's group softmax."""
    n, c, h, w = query.shape
    affinity = query.permute(0, 2, 3, 1).reshape(-1, c) @ key.permute(0, 2, 3, 1).reshape(-1, c).T
    group_affinity = affinity.view(n * h * w, n, h * w).amax(dim=2).mean(dim=1)
    return torch.softmax(group_affinity.view(n, h * w), dim=1).view(n, 1, h, w)


def binarization_without_fallback(probability, threshold, k=300.0, k_fallback=50.0):
    return torch.sigmoid(k * (probability - threshold)), k


def gst_one_sided(features, margin=1.0):
    """Exercise 3 with only the first triplet of Eq. 5."""
    group_1, group_2 = features.chunk(2)
    half = len(group_1) // 2
    if half == 0:
        raise ValueError("group of one")
    return torch.relu(torch.nn.functional.pairwise_distance(group_1[:half], group_1[-half:])
                      - torch.nn.functional.pairwise_distance(group_1[:half], group_2[:half]) + margin).mean()


class PerImageConsensus(nn.Module):
    """Exercise 4 with one consensus per image: (N, C, 1, 1) instead of the group's (1, C, 1, 1)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, features):
        return GAMOutput(consensus=self.scale * features.mean(dim=(2, 3), keepdim=True), attention=features.mean(1, keepdim=True))


class FirstImageConsensus(PerImageConsensus):
    """Right shapes, but the consensus comes from the first image only: the group's order matters."""

    def forward(self, features):
        consensus = self.scale * features[:1].mean(dim=(2, 3), keepdim=True)
        return GAMOutput(consensus=consensus, attention=features.mean(1, keepdim=True))


def uncertain_inclusive(maps, low=0.1, high=0.9):
    return ((maps >= low) & (maps <= high)).float().mean(dim=(1, 2, 3))


def mask_even_odd(polygons, height, width):
    """Exercise 6 with all polygons in one fill: overlapping instances cancel out."""
    import cv2

    mask = np.zeros((height, width), np.uint8)
    if polygons:
        cv2.fillPoly(mask, [np.round(p).astype(np.int32) for p in polygons], 1)
    return mask


def mask_pil(polygons, height, width):
    """Exercise 6 with another rasteriser than the reference's cv2: must pass."""
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (width, height), 0)
    for polygon in polygons:
        ImageDraw.Draw(canvas).polygon([tuple(point) for point in polygon], fill=1)
    return np.asarray(canvas, dtype=np.uint8)


@pytest.mark.parametrize(
    ("check", "wrong", "expected_words"),
    [
        (exercises.check_group_affinity_attention, attention_softmax_per_image, ["sum to 1 over the whole group", "sums to 3.0000", "a group of 3 images"]),
        (exercises.check_differentiable_binarization, binarization_without_fallback, ["k actually used should be 50", "received 300", "overflows"]),
        (exercises.check_gst_loss, gst_one_sided, ["the GST loss", "differs from the reference", "expected", "received", "two groups of 4 images"]),
        (exercises.check_relation_module, PerImageConsensus, ["consensus E has the wrong shape", "expected (1, 16, 1, 1)", "received (3, 16, 1, 1)"]),
        (exercises.check_relation_module, FirstImageConsensus, ["reordered group", "order [2, 0, 3, 1]"]),
        (exercises.check_uncertain_fraction, uncertain_inclusive, ["values exactly at low=0.1", "expected 0.25", "received 0.75"]),
        (exercises.check_class_mask, mask_even_odd, ["two overlapping squares", "pixel (row 32, col 32)", "is 0"]),
    ],
    ids=["softmax-per-image", "no-fallback", "gst-one-sided", "per-image-consensus", "order-dependent", "inclusive-bounds", "even-odd-fill"],
)
def test_wrong_solution_gets_specific_feedback(check, wrong, expected_words):
    with pytest.raises(ExerciseFailed) as failure:
        check(wrong)
    for words in expected_words:
        assert words in str(failure.value)


def test_a_crash_is_reported_with_its_input():
    def crashes(query, key):
        return query @ key  # shapes do not multiply

    with pytest.raises(ExerciseFailed, match=r"raised RuntimeError.*\n  on a group of 3 images"):
        exercises.check_group_affinity_attention(crashes)


def test_another_rasteriser_passes(capsys):
    exercises.check_class_mask(mask_pil)
    assert "all 4 checks passed" in capsys.readouterr().out


def test_feedback_renders_without_traceback_in_ipython():
    assert ExerciseFailed("on input x")._render_traceback_() == ["ExerciseFailed: on input x"]
