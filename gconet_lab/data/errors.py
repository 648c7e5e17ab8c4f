"""The one exception type of the data package.

Every problem with input files (unreadable, truncated, unpaired, badly laid out) is raised as
:class:`DataError`, and its message always starts with the path of the offending file or folder,
so a user can open exactly that file and see what is wrong.
"""

from __future__ import annotations

from pathlib import Path


class DataError(ValueError):
    """A data file or folder cannot be used; the message names it first."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")
