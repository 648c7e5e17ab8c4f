"""The differences between the GCoNet+ paper and its official code: the one source of truth.

:data:`DIFFERENCES` (read from ``paper_vs_code.json`` beside this file) holds every known difference, each with a stable id (``C1`` ... ``C31``; the
code's comments cite these ids), what the paper says, what the official code does, where (file and
line of the official GCoNet_plus repository at commit 6adfe2a, unless another repository is named),
and either the :class:`~gconet_lab.config.GCoNetConfig` options that switch it
(``variant="official"`` sets them all) or where the library stands. Everything else is generated
from it: ``docs/paper_vs_code.md`` and the README's summary (``python docs/make_paper_vs_code.py``;
``tests/test_paper_vs_code.py`` checks both are current) and notebook 11's tables
(:func:`difference_rows`). :func:`copy_matching_weights` gives two variants the same weights
wherever their layers agree, so that a comparison isolates the one difference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from gconet_lab.config import OFFICIAL_OVERRIDES, OFFICIAL_RECIPE, make_config


@dataclass(frozen=True)
class Difference:
    """One difference between the paper and the official code."""

    id: str  # "C6": stable, cited by the code's comments
    topic: str
    paper: str  # what the paper says (section, equation)
    code: str  # what the official code does
    source: str  # official file:line
    options: tuple[str, ...] = ()  # the options that switch it, when it is one
    library: str = ""  # where the library stands, when it is not an option

    def __post_init__(self) -> None:
        if bool(self.options) == bool(self.library):
            raise ValueError(f"{self.id}: give either the options that switch it or where the library stands")


DIFFERENCES_FILE = Path(__file__).with_suffix(".json")  # the table itself: data, one record per difference


def read_differences(path: Path = DIFFERENCES_FILE) -> tuple[Difference, ...]:
    """The differences stored in ``path`` (JSON records with :class:`Difference`'s fields), in order."""
    records = json.loads(path.read_text(encoding="utf-8"))
    return tuple(Difference(**{**record, "options": tuple(record.get("options", ()))}) for record in records)


DIFFERENCES: tuple[Difference, ...] = read_differences()


DIFFERENCE_IDS = {difference.id: difference for difference in DIFFERENCES}
NOT_OPTIONS: tuple[tuple[str, str], ...] = tuple((d.id, d.library) for d in DIFFERENCES if not d.options)
"""(id, where the library stands) for every difference that is not an option."""


def difference_options() -> list[str]:
    """Every option named in :data:`DIFFERENCES`, in table order."""
    return [option for difference in DIFFERENCES for option in difference.options]


def difference_rows(preset: str = "paper") -> list[dict[str, Any]]:
    """One row per option: the difference's id, its topic, the paper value and the official value.

    Values are read from ``make_config(preset)`` and ``make_config(preset, variant="official")``,
    so the table always shows what the library actually runs. (The ``cpu`` and ``tiny`` presets
    keep their own training scale: the recipe rows C2-C4 then show equal values.)
    """
    paper, official = make_config(preset), make_config(preset, variant="official")
    return [{"row": difference.id, "topic": difference.topic, "option": option,
             "paper": getattr(paper, option), "official": getattr(official, option)}
            for difference in DIFFERENCES for option in difference.options]


def official_option_names() -> set[str]:
    """Every option that ``variant="official"`` changes."""
    return set(OFFICIAL_OVERRIDES) | set(OFFICIAL_RECIPE)


def cell(text: str) -> str:
    """``text`` as one Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown() -> str:
    """``docs/paper_vs_code.md``: every difference with the paper's choice, the code's, the source and the switch."""
    lines = [
        "# The GCoNet+ paper vs its official code",
        "",
        "Generated from `gconet_lab/studies/paper_vs_code.py` (`DIFFERENCES`) by `python docs/make_paper_vs_code.py`;",
        "edit the module, not this file. Sources are files and lines of the official GCoNet_plus repository",
        "(commit 6adfe2a) unless another repository is named. `make_config(..., variant=\"official\")` sets",
        "every option of the last column; each can also be set alone.",
        "",
        "| Id | Topic | Paper | Official code | Source | Option, or the library |",
        "|---|---|---|---|---|---|",
    ]
    for d in DIFFERENCES:
        switch = ", ".join(f"`{option}`" for option in d.options) if d.options else d.library
        lines.append(f"| {d.id} | {cell(d.topic)} | {cell(d.paper)} | {cell(d.code)} | {cell(d.source)} | {cell(switch)} |")
    return "\n".join(lines) + "\n"


def render_readme_summary() -> str:
    """The README's short table: the differences that are options, with their options."""
    lines = ["| Id | Difference | Options (`variant=\"official\"` sets them all) |", "|---|---|---|"]
    for d in DIFFERENCES:
        if d.options:
            lines.append(f"| {d.id} | {cell(d.topic)} | {', '.join(f'`{option}`' for option in d.options)} |")
    return "\n".join(lines) + "\n"


def copy_matching_weights(source: nn.Module, target: nn.Module) -> list[str]:
    """Copy every parameter and buffer of ``source`` into ``target`` where name and shape agree.

    Returns the names of ``target``'s entries that kept their own values (layers that exist only
    in ``target`` or have another shape there), i.e. exactly where the two models differ.
    """
    source_state = source.state_dict()
    target_state = target.state_dict()
    kept = []
    for name, value in target_state.items():
        if name in source_state and source_state[name].shape == value.shape:
            target_state[name] = source_state[name].clone()
        else:
            kept.append(name)
    target.load_state_dict(target_state)
    return kept


__all__ = [
    "DIFFERENCES", "DIFFERENCE_IDS", "Difference", "NOT_OPTIONS", "copy_matching_weights", "difference_options",
    "difference_rows", "official_option_names", "render_markdown", "render_readme_summary",
]
