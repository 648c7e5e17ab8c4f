"""Which images ``gconet-lab predict --images FOLDER`` reads, by one rule that the command states.

* A folder that holds image files is **one group**: its images are predicted together, and its
  sub-folders are ignored (listed).
* A folder without image files is a **folder of groups**: every sub-folder that holds images is a
  group (one batch, as in the paper's test protocol, Sec. 4.3); sub-folders without images are
  listed.

Either way the output folder is never read as input, files in formats this package does not read
(``.tif``, ``.webp``, ...) and anything that is not a regular file (a FIFO or device named like an
image would block the reader, a link loop) are listed, and a folder with nothing to predict, two
images of one stem (their maps would share one name) or a name that is not UTF-8 is a
:class:`~gconet_lab.data.DataError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gconet_lab.data.errors import DataError
from gconet_lab.data.layout import IMAGE_SUFFIXES, NOT_REGULAR, Skip, by_stem, check_name, ignore_reason, is_data_file


@dataclass
class PredictPlan:
    """The groups to predict (output sub-folder name, image paths), the rule used, and what was left out."""

    groups: list[tuple[str, list[Path]]]
    rule: str
    skipped: list[Skip] = field(default_factory=list)

    def describe(self) -> str:
        """The rule and what was left out, one line each."""
        return "\n".join([self.rule, *(f"  skipped {s.path}: {s.reason}" for s in self.skipped)])


def _images_in(folder: Path, skipped: list[Skip]) -> list[Path]:
    """The readable image files of ``folder``, sorted; unreadable formats and non-regular files go to ``skipped``.

    Two images with one stem (``a.jpg``, ``a.png``) are a :class:`DataError`: both maps would be ``a.png``.
    """
    images = []
    for path in sorted(folder.iterdir()):
        check_name(path.name, folder)
        if path.name.startswith(".") or path.is_dir():
            continue
        if not path.is_file():
            skipped.append(Skip(path, NOT_REGULAR))
        elif is_data_file(path.name):
            images.append(path)
        elif ignore_reason(path.name) != "not an image file":
            skipped.append(Skip(path, ignore_reason(path.name)))
    by_stem((path.name for path in images), folder)
    return images


def plan_prediction(images: str | Path, out: str | Path) -> PredictPlan:
    """Apply the module's rule to ``images``; ``out`` is left out of the input. Raises :class:`DataError`."""
    images, out = Path(images), Path(out)
    if not images.exists():
        raise DataError(images, "the --images folder does not exist")
    if not images.is_dir():
        raise DataError(images, "--images takes a folder of images (one group) or of group folders, not a file")
    if out.resolve() == images.resolve():
        raise DataError(out, "--out is the --images folder: the maps would overwrite the images; choose another --out")
    skipped: list[Skip] = []
    loose = _images_in(images, skipped)
    folders = [p for p in sorted(images.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    inputs = [p for p in folders if p.resolve() != out.resolve()]
    skipped += [Skip(p, "the --out folder") for p in folders if p not in inputs]
    if loose:
        skipped += [Skip(p, "sub-folder of a folder read as one group") for p in inputs]
        groups, rule = [("", loose)], f"{images}: one group of {len(loose)} images (it holds image files)"
    else:
        groups = []
        for folder in inputs:
            found = _images_in(folder, skipped)
            if found:
                groups.append((folder.name, found))
            else:
                skipped.append(Skip(folder, "no images"))
        rule = f"{images}: a folder of {len(groups)} groups (it holds no image files itself)"
    if not groups:
        raise DataError(images, f"nothing to predict: no {'/'.join(sorted(IMAGE_SUFFIXES))} images in it or "
                                f"in its sub-folders ({len(skipped)} files or folders skipped)")
    return PredictPlan(groups, rule, skipped)
