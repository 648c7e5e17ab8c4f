"""Index co-saliency datasets stored in the CoSOD folder layout.

All CoSOD benchmarks used by GCoNet+ (Sec. 4.1: DUTS_class, COCO-9k, COCO-SEG for training;
CoCA, CoSOD3k, CoSal2015 for testing) are distributed in the same layout::

    root/images/<set>/<group>/<name>.jpg|.jpeg|.png|.bmp
    root/gts/<set>/<group>/<name>.png

A *group* is a folder of images that share one co-salient object class; an image and its mask
are paired by file-name stem (``0001.jpg`` <-> ``0001.png``). :func:`index_dirs` also accepts any
pair of folders of group folders (e.g. iCoseg's ``images/`` and ``ground_truth/``).

The class of a group is its folder name, unless the set's image folder holds a *class file*
``images/<set>/classes.csv`` (:data:`CLASS_FILE`) with the columns ``group,class``, one row per
group whose class differs from its name: several groups may then share one class (e.g. the
copy-paste groups ``dog_1`` and ``dog_2`` of class ``dog``). The class, not the group, is what
the classifier learns and what the two-group sampler keeps apart (Eq. 16).

Rules, applied identically everywhere so results never depend on the file system:

* Only regular files with an image suffix (case-insensitive) count; masks may use the same
  suffixes. Hidden files (``.DS_Store``), ``Thumbs.db``, ``desktop.ini`` and other non-image
  files, images in formats this package does not read (``.tif``, ``.webp``, ...: named as such),
  anything that is not a regular file (a FIFO, socket or device named like an image would block
  the reader; a broken link or a link loop), and sub-folders inside a group folder, are *ignored*
  and listed in the report.
* A file or folder name that is not valid UTF-8 is an error showing its bytes (no CSV table, log
  or message could hold it).
* Groups and samples are sorted by name (Unicode code points), never in ``os.listdir`` order.
* Two files with the same stem in one folder (``a.jpg`` and ``a.png``) are an error: the
  pairing would be ambiguous.
* An image without a mask, a mask without an image, a group folder present on one side only,
  or a group with no pairs is an error naming the file; with ``on_missing="skip"`` it is left
  out and listed in :attr:`IndexReport.skipped` instead.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from gconet_lab.data.errors import DataError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
# Image formats found in downloaded sets that are not read here: reported by name, not as "not an image"
UNSUPPORTED_IMAGE_SUFFIXES = frozenset({".tif", ".tiff", ".webp", ".gif", ".jp2", ".ppm", ".pgm", ".heic", ".avif"})
NOT_REGULAR = "not a regular file (FIFO, socket, device, broken link or link loop)"
OnMissing = Literal["error", "skip"]
CLASS_FILE = "classes.csv"  # in images/<set>/: columns group,class (see the module docstring)


@dataclass(frozen=True)
class Sample:
    """One image of a group with its ground-truth mask."""

    image: Path
    mask: Path
    group: str
    stem: str


@dataclass(frozen=True)
class Group:
    """The images of one co-salient class inside one dataset (one test batch, Sec. 4.3).

    ``class_name`` defaults to the group's folder name ``name``.
    """

    name: str
    set_name: str
    samples: tuple[Sample, ...]
    class_name: str = ""

    def __post_init__(self) -> None:
        if not self.class_name:
            object.__setattr__(self, "class_name", self.name)

    def __len__(self) -> int:
        return len(self.samples)


@dataclass(frozen=True)
class Skip:
    """A file or folder left out of an index, and why."""

    path: Path
    reason: str


@dataclass
class IndexReport:
    """What indexing left out: ``skipped`` data (unpaired, empty) and ``ignored`` non-data."""

    skipped: list[Skip] = field(default_factory=list)
    ignored: list[Skip] = field(default_factory=list)

    def summary(self) -> str:
        """Human-readable multi-line account of every skipped and ignored path."""
        lines = [f"skipped {len(self.skipped)}, ignored {len(self.ignored)}"]
        lines += [f"  skipped {s.path}: {s.reason}" for s in self.skipped]
        lines += [f"  ignored {s.path}: {s.reason}" for s in self.ignored]
        return "\n".join(lines)


@dataclass(frozen=True)
class IndexedSet:
    """A dataset indexed into sorted groups, plus the report of what was left out."""

    name: str
    groups: tuple[Group, ...]
    report: IndexReport

    @property
    def num_images(self) -> int:
        return sum(len(group) for group in self.groups)


@dataclass(frozen=True)
class Pairing:
    """Result of pairing the file names of one group folder by stem."""

    pairs: tuple[tuple[str, str], ...]
    unmatched_images: tuple[str, ...]
    unmatched_masks: tuple[str, ...]


def is_data_file(name: str) -> bool:
    """Whether a file name is an image/mask file (not hidden, image suffix)."""
    return not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES


def ignore_reason(name: str) -> str:
    """Why a (regular) file that is not a data file is left out, for the reports."""
    suffix = Path(name).suffix.lower()
    if suffix in UNSUPPORTED_IMAGE_SUFFIXES and not name.startswith("."):
        return f"unsupported image format {suffix} (convert it to {', '.join(sorted(IMAGE_SUFFIXES))})"
    return "not an image file"


def by_stem(names: Iterable[str], where: str | Path) -> dict[str, str]:
    """Map stem -> file name, refusing two data files with the same stem."""
    result: dict[str, str] = {}
    for name in sorted(names):
        stem = Path(name).stem
        if stem in result:
            raise DataError(where, f"two files share the stem {stem!r}: {result[stem]}, {name}")
        result[stem] = name
    return result


def pair_by_stem(
    image_names: Iterable[str], mask_names: Iterable[str], images_where: str | Path,
    masks_where: str | Path | None = None,
) -> Pairing:
    """Pair the data files of one group folder by stem; non-data names are left out.

    ``images_where`` and ``masks_where`` (default: the same) name the image and the mask folder in
    the error raised for two files with the same stem, so it names the folder that holds them.
    """
    images = by_stem(filter(is_data_file, image_names), images_where)
    masks = by_stem(filter(is_data_file, mask_names), images_where if masks_where is None else masks_where)
    return Pairing(
        pairs=tuple((images[s], masks[s]) for s in sorted(images.keys() & masks.keys())),
        unmatched_images=tuple(images[s] for s in sorted(images.keys() - masks.keys())),
        unmatched_masks=tuple(masks[s] for s in sorted(masks.keys() - images.keys())),
    )


def _list_dir(folder: Path, report: IndexReport, kind: str) -> tuple[list[str], list[str]]:
    """(sub-folder names, file names) of ``folder``; hidden sub-folders are reported as ignored."""
    if not folder.is_dir():
        raise DataError(folder, f"{kind} folder does not exist")
    folders, files = [], []
    for entry in os.scandir(folder):
        check_name(entry.name, folder)
        entry_kind = _entry_kind(entry)
        if entry_kind == "folder" and entry.name.startswith("."):
            report.ignored.append(Skip(Path(entry.path), "hidden folder"))
        elif entry_kind == "folder":
            folders.append(entry.name)
        elif entry_kind == "file":  # follows links: a link to a regular file counts
            files.append(entry.name)
        else:
            report.ignored.append(Skip(Path(entry.path), NOT_REGULAR))
    return sorted(folders), sorted(files)


def _entry_kind(entry: os.DirEntry) -> str:
    """``folder``, ``file`` (links followed) or ``other``; a link loop (ELOOP) or an unreadable entry is ``other``."""
    try:
        return "folder" if entry.is_dir() else "file" if entry.is_file() else "other"
    except OSError:
        return "other"


def check_name(name: str, folder: str | Path) -> None:
    """Refuse a file or folder name that is not valid UTF-8: no table, log or message could hold it.

    Such a name (e.g. Latin-1 ``caf\\xe9`` from an old archive) reaches Python as surrogate escapes;
    the error shows its bytes.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise DataError(_printable(os.fspath(folder)), f"the name '{_printable(name)}' is not valid UTF-8; rename it") from None


def _printable(text: str) -> str:
    """``text`` with the bytes that are not UTF-8 shown as ``\\xNN``."""
    return os.fsencode(text).decode("utf-8", "backslashreplace")


def read_class_file(path: str | Path) -> dict[str, str]:
    """The ``group -> class`` rows of a class file (:data:`CLASS_FILE`); groups not listed keep their name."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != ["group", "class"]:
                raise DataError(path, f"header must be 'group,class', not {reader.fieldnames}")
            rows = [(row["group"] or "", row["class"] or "") for row in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(path, f"cannot read the class file ({error})") from error
    classes: dict[str, str] = {}
    for number, (group, class_name) in enumerate(rows, start=2):
        if not group.strip() or not class_name.strip():
            raise DataError(f"{path}:{number}", "empty group or class name")
        if group in classes:
            raise DataError(f"{path}:{number}", f"group {group!r} is listed twice")
        classes[group] = class_name
    return classes


def _index_group(
    name: str, images_dir: Path, gts_dir: Path, set_name: str, report: IndexReport,
    class_name: str = "",
) -> Group:
    """Pair one group folder; unpaired files go to ``report.skipped``."""
    image_dir, gt_dir = images_dir / name, gts_dir / name
    if not gt_dir.is_dir():
        report.skipped.append(Skip(image_dir, f"no mask folder {gt_dir}"))
        return Group(name, set_name, (), class_name)
    if not image_dir.is_dir():
        report.skipped.append(Skip(gt_dir, f"masks without an image folder {image_dir}"))
        return Group(name, set_name, (), class_name)
    sub_images, image_files = _list_dir(image_dir, report, "image group")
    sub_masks, mask_files = _list_dir(gt_dir, report, "mask group")
    for folder, subs, files in (
        (image_dir, sub_images, image_files),
        (gt_dir, sub_masks, mask_files),
    ):
        report.ignored += [Skip(folder / s, "sub-folder inside a group folder") for s in subs]
        report.ignored += [Skip(folder / f, ignore_reason(f)) for f in files if not is_data_file(f)]
    pairing = pair_by_stem(image_files, mask_files, image_dir, gt_dir)
    report.skipped += [
        Skip(image_dir / n, f"no mask (expected {gt_dir / Path(n).stem}.png)")
        for n in pairing.unmatched_images
    ]
    unsupported = {Path(f).stem: f for f in image_files if Path(f).suffix.lower() in UNSUPPORTED_IMAGE_SUFFIXES}
    report.skipped += [
        Skip(gt_dir / n, f"its image {image_dir / unsupported[Path(n).stem]} is in an {ignore_reason(unsupported[Path(n).stem])}"
             if Path(n).stem in unsupported else f"mask without an image in {image_dir}")
        for n in pairing.unmatched_masks
    ]
    samples = tuple(
        Sample(image_dir / image, gt_dir / mask, name, Path(image).stem)
        for image, mask in pairing.pairs
    )
    if not samples:
        report.skipped.append(Skip(image_dir, "group has no image/mask pairs"))
    return Group(name, set_name, samples, class_name)


def index_dirs(
    images_dir: str | Path,
    gts_dir: str | Path,
    set_name: str | None = None,
    on_missing: OnMissing = "error",
    skip_option: str | None = "on_missing='skip'",
) -> IndexedSet:
    """Index two parallel folders of group folders (images and masks) into groups.

    ``set_name`` defaults to the name of ``images_dir``. With ``on_missing="error"`` the first
    unpaired file or empty group raises :class:`DataError` naming it (and counting the rest) and
    suggesting ``skip_option``, the caller's way to skip them (``None``: the caller has none); with
    ``"skip"`` they are left out and listed in the returned report. A set with no pair at all is
    an error either way. A class file ``images_dir/classes.csv`` gives groups their class (module
    docstring); it may only name existing groups.
    """
    if on_missing not in ("error", "skip"):
        raise ValueError(f"on_missing must be 'error' or 'skip', not {on_missing!r}")
    images_dir, gts_dir = Path(images_dir), Path(gts_dir)
    report = IndexReport()
    image_groups, image_loose = _list_dir(images_dir, report, "images")
    mask_groups, mask_loose = _list_dir(gts_dir, report, "masks")
    classes = read_class_file(images_dir / CLASS_FILE) if CLASS_FILE in image_loose else {}
    report.ignored += [
        Skip(images_dir / n, "file outside any group folder") for n in image_loose if n != CLASS_FILE
    ]
    report.ignored += [Skip(gts_dir / n, "file outside any group folder") for n in mask_loose]
    name = set_name or images_dir.name
    folders = sorted(set(image_groups) | set(mask_groups))
    unknown = sorted(classes.keys() - set(folders))
    if unknown:
        raise DataError(images_dir / CLASS_FILE, f"names groups that do not exist: {', '.join(unknown)}")
    groups = [
        _index_group(group, images_dir, gts_dir, name, report, classes.get(group, ""))
        for group in folders
    ]
    if on_missing == "error" and report.skipped:
        first, rest = report.skipped[0], len(report.skipped) - 1
        more = f" (and {rest} more unpaired files or empty groups)" if rest else ""
        remedy = f"use {skip_option} to leave them out" if skip_option else "fix or remove them"
        raise DataError(first.path, f"{first.reason}{more}; {remedy}")
    kept = tuple(g for g in groups if g.samples)
    if not kept:
        raise DataError(images_dir, f"no group folder holds an image with its mask in {gts_dir}")
    return IndexedSet(name, kept, report)


def index_set(root: str | Path, set_name: str, on_missing: OnMissing = "error",
              skip_option: str | None = "on_missing='skip'") -> IndexedSet:
    """Index ``root/images/<set_name>`` against ``root/gts/<set_name>`` (see :func:`index_dirs`)."""
    root = Path(root)
    return index_dirs(root / "images" / set_name, root / "gts" / set_name, set_name, on_missing, skip_option)


def index_sets(
    root: str | Path, set_names: Sequence[str], on_missing: OnMissing = "error"
) -> list[IndexedSet]:
    """Index several sets of one root, e.g. ``["DUTS_class", "COCO-SEG"]`` for training."""
    return [index_set(root, name, on_missing) for name in set_names]


def list_sets(root: str | Path) -> list[str]:
    """Names of the sets that have both an ``images/`` and a ``gts/`` folder under ``root``."""
    root = Path(root)
    report = IndexReport()
    with_images = _list_dir(root / "images", report, "images")[0]
    with_masks = _list_dir(root / "gts", report, "masks")[0]
    return sorted(set(with_images) & set(with_masks))
