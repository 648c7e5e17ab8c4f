"""Generate every exercise template from its solution notebook, the one source of each exercise.

    python notebooks/make_exercises.py           # rewrite notebooks/exercises/NN_*.ipynb
    python notebooks/make_exercises.py --check   # exit 1, naming them, if committed templates are stale

Edit only ``notebooks/exercises/solutions/NN_*.ipynb``. In a solution notebook:

* the code cell tagged ``exercise`` holds the solution, and its metadata ``exercise_template``
  the code the student starts from (the same signature, the TODO steps, a ``raise
  NotImplementedError("TODO: ...")``);
* the code cell tagged ``check`` calls the exercise's checker from :mod:`gconet_lab.exercises`.

The template is the solution notebook with the exercise cell's code replaced by its template; the
check cell tagged ``raises-exception`` and holding the checker's "not implemented yet" failure
(computed by running the template's cells up to it, which only import and define functions); and
every later code cell tagged ``nbval-skip`` without outputs, since those need the student's answer.
Cells before the check keep the solution's stored outputs (the same code gives the same output).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import sys
from pathlib import Path

import nbformat

EXERCISES = Path(__file__).resolve().parent / "exercises"
SOLUTIONS = EXERCISES / "solutions"
TEMPLATE_KEY = "exercise_template"


def tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.metadata.get("tags", []))


def check_cell_index(notebook: nbformat.NotebookNode, source: Path) -> int:
    """Index of the one cell tagged ``check``, after the one tagged ``exercise`` that has a template."""
    exercise = [i for i, cell in enumerate(notebook.cells) if "exercise" in tags(cell)]
    check = [i for i, cell in enumerate(notebook.cells) if "check" in tags(cell)]
    if len(exercise) != 1 or len(check) != 1 or exercise[0] > check[0]:
        raise ValueError(f"{source}: needs one cell tagged 'exercise' followed by one tagged 'check'")
    if TEMPLATE_KEY not in notebook.cells[exercise[0]].metadata:
        raise ValueError(f"{source}: the cell tagged 'exercise' has no '{TEMPLATE_KEY}' metadata")
    return check[0]


def checker_failure(cells: list[nbformat.NotebookNode]) -> nbformat.NotebookNode:
    """Run the template's code cells up to and including the check; its failure as a notebook error output."""
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for cell in cells[:-1]:
            if cell.cell_type == "code":
                exec(compile(cell.source, "template", "exec"), namespace)  # noqa: S102 (our own notebooks)
        try:
            exec(compile(cells[-1].source, "check", "exec"), namespace)  # noqa: S102
        except Exception as error:  # the checker's verdict is the output we store
            name = type(error).__name__
            return nbformat.v4.new_output("error", ename=name, evalue=str(error), traceback=[f"{name}: {error}"])
    raise ValueError("the checker passed on the template: the exercise cell's template must not solve it")


def template_of(solution: nbformat.NotebookNode, source: Path) -> nbformat.NotebookNode:
    """The student's notebook generated from ``solution`` (see the module doc)."""
    check = check_cell_index(solution, source)
    template = copy.deepcopy(solution)
    for index, cell in enumerate(template.cells):
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if TEMPLATE_KEY in cell.metadata:
            cell.source = cell.metadata.pop(TEMPLATE_KEY)
            cell.outputs = []
        if index > check:
            cell.metadata["tags"] = ["nbval-skip"]
            cell.outputs, cell.execution_count = [], None
    check_cell = template.cells[check]
    check_cell.metadata["tags"] = [*tags(check_cell), "raises-exception"]
    check_cell.outputs = [checker_failure(template.cells[: check + 1])]
    return template


def generated_templates() -> dict[Path, str]:
    """Every template path under ``notebooks/exercises/`` with the text generated for it."""
    solutions = sorted(SOLUTIONS.glob("*.ipynb"))
    if not solutions:
        raise FileNotFoundError(f"no solution notebooks in {SOLUTIONS}")
    return {EXERCISES / path.name: nbformat.writes(template_of(nbformat.read(path, as_version=4), path)) + "\n"
            for path in solutions}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report templates that differ from their solution")
    args = parser.parse_args(argv)
    stale = []
    for path, text in generated_templates().items():
        if not path.exists() or path.read_text() != text:
            stale.append(path)
            if not args.check:
                path.write_text(text)
    for path in stale:
        print(f"{'stale' if args.check else 'wrote'} {path.relative_to(EXERCISES.parent)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
