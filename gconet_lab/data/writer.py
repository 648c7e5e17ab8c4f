"""Write converted data in the CoSOD folder layout (used by the scripts in ``data_scripts/``).

The layout is the one :mod:`gconet_lab.data.layout` reads::

    out/images/<set>/<group>/<name>.<ext>     image, copied or symlinked unchanged
    out/gts/<set>/<group>/<name>.png          mask, 8-bit PNG with values 0 and 255

Every function here overwrites its target, so running a conversion twice gives the same tree.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

PlaceMode = Literal["copy", "symlink"]

_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)
}


def safe_name(name: str) -> str:
    """A readable folder name that needs no quoting in shells or CSV and is valid on Windows.

    Mapping, in order: accents are folded to ASCII (``Zürich`` -> ``Zurich``); whitespace runs
    become ``_``; every character other than ``A-Z a-z 0-9 _ - .`` is removed (commas,
    apostrophes, quotes, slashes, colons, parentheses, ...); repeated ``_`` collapse; leading and
    trailing ``_ - .`` are stripped; Windows device names (``CON``, ``NUL``, ``COM1``...) get
    ``_`` appended to their base name.
    Example: ``"012 Stonehenge-Sou'wester, (UK)"`` -> ``"012_Stonehenge-Souwester_UK"``.
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    underscored = re.sub(r"\s+", "_", ascii_name.strip())
    cleaned = re.sub(r"_+", "_", re.sub(r"[^A-Za-z0-9_.-]", "", underscored)).strip("_-.")
    if not cleaned:
        raise ValueError(
            f"group name {name!r} has no letters or digits to build a folder name from"
        )
    base, dot, extension = cleaned.partition(".")
    if base.upper() in _WINDOWS_RESERVED:
        cleaned = f"{base}_{dot}{extension}"
    return cleaned


def safe_names(names: Iterable[str]) -> dict[str, str]:
    """Map each original name to :func:`safe_name`, refusing two names that would collide.

    Names that differ only in letter case also collide (Windows and macOS file systems).
    """
    mapping: dict[str, str] = {}
    taken: dict[str, str] = {}
    for name in sorted(set(names)):
        safe = safe_name(name)
        clash = taken.get(safe.lower())
        if clash is not None:
            raise ValueError(f"group names {clash!r} and {name!r} both map to folder {safe!r}")
        taken[safe.lower()] = name
        mapping[name] = safe
    return mapping


def write_groups_csv(path: str | Path, set_name: str, mapping: Mapping[str, str]) -> None:
    """Record original -> safe group names of one set in a CSV (columns: set, original, safe).

    Rows of other sets already in the file are kept, rows of ``set_name`` are replaced.
    """
    path = Path(path)
    rows: list[dict[str, str]] = []
    if path.exists():
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.DictReader(handle) if row["set"] != set_name]
    rows += [{"set": set_name, "original": o, "safe": s} for o, s in mapping.items()]
    rows.sort(key=lambda row: (row["set"], row["original"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["set", "original", "safe"])
        writer.writeheader()
        writer.writerows(rows)


def write_class_file(path: str | Path, classes: Mapping[str, str]) -> None:
    """Write a set's class file (group -> class, columns ``group,class``; see :mod:`gconet_lab.data.layout`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["group", "class"])
        writer.writerows(sorted(classes.items()))


def write_mask_png(mask: np.ndarray, path: str | Path) -> None:
    """Save a mask as an 8-bit PNG with values 0/255, thresholding soft values at 0.5."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    binary = (np.asarray(mask, dtype=np.float32) >= 0.5).astype(np.uint8) * 255
    Image.fromarray(binary, mode="L").save(path)


def place_file(src: str | Path, dst: str | Path, mode: PlaceMode = "copy") -> None:
    """Copy ``src`` to ``dst``, or symlink it (absolute target), replacing whatever ``dst`` was."""
    if mode not in ("copy", "symlink"):
        raise ValueError(f"mode must be 'copy' or 'symlink', not {mode!r}")
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    if mode == "copy":
        shutil.copyfile(src, dst)
    else:
        os.symlink(os.path.abspath(src), dst)


def sample_paths(
    out: str | Path, set_name: str, group: str, stem: str, suffix: str
) -> tuple[Path, Path]:
    """(image path, mask path) of one sample in the CoSOD layout under ``out``.

    Each of ``set_name``, ``group`` and ``stem`` must be one folder or file name: a ``/``, ``..`` or an
    absolute path would write outside ``out`` (``ValueError``).
    """
    for kind, name in (("set name", set_name), ("group name", group), ("file name", stem)):
        check_one_name(name, kind)
    out = Path(out)
    return (
        out / "images" / set_name / group / f"{stem}{suffix}",
        out / "gts" / set_name / group / f"{stem}.png",
    )


def check_one_name(name: str, kind: str) -> None:
    """Raise ``ValueError`` unless ``name`` is one folder or file name (not empty, ``.``, ``..``; no ``/``, ``\\``, NUL)."""
    if name in ("", ".", "..") or any(c in name for c in ("/", "\\", "\0")):
        raise ValueError(f"{kind} {name!r} must be one folder name (no '/', '\\' or '..'): it would be written "
                         "outside the output folder")


MAX_GENERATED_SIDE = 4096  # a generated image's side; 100000 would ask for a 30 GB image


def check_generated_side(size: int) -> None:
    """Raise ``ValueError`` unless a generated image's side ``size`` is in 32..MAX_GENERATED_SIDE pixels."""
    if not 32 <= size <= MAX_GENERATED_SIDE:
        raise ValueError(f"size must be at least 32 pixels (to draw recognisable shapes) and at most "
                         f"{MAX_GENERATED_SIDE}, not {size}")


def add_writer_arguments(parser: argparse.ArgumentParser, default_set_name: str) -> None:
    """The ``--set-name`` and ``--mode`` options shared by the converters in ``data_scripts/``."""
    parser.add_argument(
        "--set-name", default=default_set_name, help=f"set folder name (default: {default_set_name})"
    )
    parser.add_argument(
        "--mode",
        choices=["copy", "symlink"],
        default="copy",
        help="copy the images (default) or symlink them to the source files",
    )
