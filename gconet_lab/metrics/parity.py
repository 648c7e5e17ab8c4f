"""Check the evaluator against numbers the official evaluator computed, not against ourselves.

A parity set is a folder holding ``pred/<group>/<name>.png`` predictions and
``official_metrics.json``: the S-measure, max F-measure, max E-measure and MAE that the official
GCoNet+ evaluator (eval-co-sod's metric code) reported on exactly those predictions against their
masks. :func:`check_official_parity` evaluates the same pairs with
:func:`~gconet_lab.metrics.evaluate_folders` and returns both sets of numbers side by side.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gconet_lab.data.errors import DataError
from gconet_lab.metrics.evaluator import METRICS
from gconet_lab.metrics.folders import evaluate_folders

OFFICIAL_KEYS = dict(zip(METRICS, ("S", "Fmax", "Emax", "MAE"), strict=True))
"""Our name of each dataset number -> the official evaluator's name in ``official_metrics.json``."""


@dataclass(frozen=True)
class OfficialParity:
    """Our dataset numbers and the official evaluator's on one parity set."""

    ours: dict[str, float]  # keys of OFFICIAL_KEYS
    official: dict[str, float]  # the same keys
    images: int

    @property
    def max_abs_difference(self) -> float:
        return max(abs(self.ours[key] - self.official[key]) for key in OFFICIAL_KEYS)

    def format(self) -> str:
        numbers = ", ".join(f"{key} {self.ours[key]:.6f} vs {self.official[key]:.6f}" for key in OFFICIAL_KEYS)
        return (f"evaluator vs the official evaluator on {self.images} images: {numbers}; "
                f"max |difference| {self.max_abs_difference:.1e}")


def check_official_parity(parity_dir: str | Path, mask_root: str | Path) -> OfficialParity:
    """Evaluate ``parity_dir/pred`` against ``mask_root`` and pair the numbers with ``official_metrics.json``."""
    parity_dir = Path(parity_dir)
    official_file = parity_dir / "official_metrics.json"
    if not official_file.is_file() or not (parity_dir / "pred").is_dir():
        raise DataError(parity_dir, "not a parity set: it needs pred/ and official_metrics.json")
    official = json.loads(official_file.read_text())
    evaluation = evaluate_folders(parity_dir / "pred", mask_root, progress=False)
    if evaluation.results["n"] != official["n"]:
        raise DataError(mask_root, f"pairs {evaluation.results['n']} of the parity set's predictions, "
                                   f"the official numbers are over {official['n']}")
    return OfficialParity({key: float(evaluation.results[key]) for key in OFFICIAL_KEYS},
                          {key: float(official[name]) for key, name in OFFICIAL_KEYS.items()}, int(official["n"]))


__all__ = ["OFFICIAL_KEYS", "OfficialParity", "check_official_parity"]
