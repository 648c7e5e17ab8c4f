"""Convert iCoseg, as distributed, into the CoSOD layout used by GCoNet+.

iCoseg (Batra et al., CVPR 2010) ships as ``images/<group name>/<id>.jpg`` and
``ground_truth/<group name>/<id>.png`` (1-bit PNGs). The conversion writes::

    OUT/images/iCoseg/<safe group>/<id>.jpg    (copied, or symlinked with --mode symlink)
    OUT/gts/iCoseg/<safe group>/<id>.png       (8-bit PNG, values 0/255)
    OUT/groups.csv                             (set, original, safe) for every group

Group names contain spaces, commas, apostrophes and parentheses; they become safe folder names by
the documented mapping of :func:`gconet_lab.data.writer.safe_name` (e.g. ``"022 Goose-Riverside
Cemetery, Marshalltown, Iowa-cmlburnett"`` -> ``"022_Goose-Riverside_Cemetery_Marshalltown_Iowa-
cmlburnett"``). Images without a mask are skipped and reported; ``Thumbs.db`` files and the
``markings`` sub-folder are ignored and reported. Running it again rewrites the same files.

Command line: ``python data_scripts/icoseg.py /path/to/icoseg data_cache/cosod``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gconet_lab.data.io import read_mask
from gconet_lab.data.layout import IndexReport, index_dirs
from gconet_lab.data.writer import PlaceMode, place_file, safe_names, sample_paths, write_groups_csv, write_mask_png


@dataclass(frozen=True)
class IcosegReport:
    """What a conversion wrote: safe group names with their image counts, and what it left out."""

    group_sizes: dict[str, int]
    names: dict[str, str]
    index_report: IndexReport

    @property
    def num_pairs(self) -> int:
        return sum(self.group_sizes.values())

    def summary(self) -> str:
        """Multi-line report for the console."""
        lines = [f"{len(self.group_sizes)} groups, {self.num_pairs} image/mask pairs written"]
        lines += [f"  {name}: {size}" for name, size in self.group_sizes.items()]
        lines.append(self.index_report.summary())
        return "\n".join(lines)


def convert_icoseg(
    source: str | Path, out: str | Path, set_name: str = "iCoseg", mode: PlaceMode = "copy"
) -> IcosegReport:
    """Convert the iCoseg folder ``source`` into ``out`` in the CoSOD layout; return the report."""
    source = Path(source)
    indexed = index_dirs(source / "images", source / "ground_truth", set_name, on_missing="skip")
    names = safe_names(group.name for group in indexed.groups)
    for group in indexed.groups:
        for sample in group.samples:
            suffix = sample.image.suffix.lower()
            image_path, mask_path = sample_paths(
                out, set_name, names[group.name], sample.stem, suffix
            )
            place_file(sample.image, image_path, mode)
            write_mask_png(read_mask(sample.mask), mask_path)
    write_groups_csv(Path(out) / "groups.csv", set_name, names)
    sizes = {names[group.name]: len(group) for group in indexed.groups}
    return IcosegReport(sizes, names, indexed.report)
