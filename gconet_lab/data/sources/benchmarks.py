"""The real CoSOD benchmarks of GCoNet+: what they are, where to get them, and archive checks.

GCoNet+ trains on DUTS_class, COCO-9k or COCO-SEG ("Train-1/2/3") and tests on CoCA, CoSOD3k and
CoSal2015 (Sec. 4.1). The official README distributes all six, already in the CoSOD layout
``images/<set>/<group>/`` + ``gts/<set>/<group>/``, through a Google Drive folder (also Baidu),
which a plain HTTP request cannot fetch: download them by hand, then check and unpack them with
:func:`extract_and_verify` (command line: ``python data_scripts/benchmarks.py --help``).

:func:`verify_archive` always checks the structure (``images/<set>/`` and ``gts/<set>/`` with group
folders) and the image/mask pairing, the group and image counts where they are known, and a
SHA-256 checksum when you pass one (no checksums are published for these archives). The script's
``fetch`` downloads only from a plain URL you supply (resuming a partial download), never at import.
"""

from __future__ import annotations

import tarfile
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from gconet_lab.data.errors import DataError
from gconet_lab.data.layout import IndexedSet, index_set, is_data_file, pair_by_stem
from gconet_lab.data.sources.manifest import sha256_of

OFFICIAL_DATA = "https://drive.google.com/drive/folders/1jRJKv56QSa3gOp4w_64tVmzNMT_te-Kv"
_MANUAL = (
    "Download by hand from the GCoNet+ data folder on Google Drive ({url}) linked in the official "
    "README (github.com/ZhengPeng7/GCoNet_plus, 'Datasets preparation'; it also offers one "
    "datasets.zip with every set except COCO-SEG, which is separate). Then run "
    "`python data_scripts/benchmarks.py extract <archive> --name {name} --dest <data root>`."
)


@dataclass(frozen=True)
class Benchmark:
    """One benchmark set: role, description, expected size, and how to obtain it."""

    name: str
    role: str
    description: str
    n_groups: int | None
    n_images: int | None

    def instructions(self) -> str:
        """How to obtain the archive (by hand: no plain download URL is published)."""
        return _MANUAL.format(url=OFFICIAL_DATA, name=self.name)


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            "DUTS_class",
            "train",
            "DUTS training images regrouped by class, noisy samples "
            "removed (GICD, paper ref. [16]); Train-1 and the ablation training set",
            291,
            8250,
        ),
        Benchmark(
            "COCO-9k",
            "train",
            "COCO subset of 9,213 images in 65 groups (paper ref. [17]); Train-2",
            65,
            9213,
        ),
        Benchmark(
            "COCO-SEG",
            "train",
            "COCO subset of about 200k images (paper ref. [112]); "
            "Train-3; too big for the combined datasets.zip",
            78,
            None,
        ),
        Benchmark(
            "CoCA",
            "test",
            "Common Category Aggregation (paper ref. [16]): the hardest test "
            "set, more objects per image and more diverse backgrounds",
            80,
            1295,
        ),
        Benchmark("CoSOD3k", "test", "Large CoSOD benchmark (paper ref. [9])", 160, 3316),
        Benchmark(
            "CoSal2015",
            "test",
            "Classic co-saliency test set (paper ref. [7]); mostly one salient object per image",
            50,
            2015,
        ),
    )
}


@dataclass
class ArchiveReport:
    """Result of :func:`verify_archive`; ``problems`` is empty when the archive is usable."""

    archive: Path
    name: str
    prefix: str = ""
    n_groups: int = 0
    n_images: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self, limit: int = 20) -> str:
        """One status line, then up to ``limit`` problems."""
        status = "OK" if self.ok else f"FAILED ({len(self.problems)} problems)"
        lines = [
            f"{self.archive} [{self.name}]: {status}, {self.n_groups} groups, {self.n_images} pairs"
        ]
        lines += [f"  - {p}" for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  ... and {len(self.problems) - limit} more")
        return "\n".join(lines)


def archive_members(path: Path) -> list[str]:
    """Names of the regular files in a .zip or .tar(.gz) archive."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return [info.filename for info in archive.infolist() if not info.is_dir()]
    try:
        with tarfile.open(path) as archive:
            return [member.name for member in archive.getmembers() if member.isfile()]
    except (tarfile.TarError, OSError) as error:
        raise DataError(path, f"not a readable .zip or .tar(.gz) archive ({error})") from error


def _split_set(
    members: list[str], name: str, report: ArchiveReport
) -> dict[str, dict[str, list[str]]]:
    """side ('images' or 'gts') -> group -> file names under ``<prefix>/<side>/<name>/``."""
    tree: dict[str, dict[str, list[str]]] = {"images": defaultdict(list), "gts": defaultdict(list)}
    prefixes = set()
    for member in members:
        parts = PurePosixPath(member.removeprefix("./")).parts
        if member.startswith("/") or ".." in parts:
            report.problems.append(f"unsafe member path {member!r}")
            continue
        if any(part.startswith(".") or part == "__MACOSX" for part in parts):
            continue  # macOS resource forks and hidden files, never data
        for i in range(len(parts) - 2):
            if parts[i] in tree and parts[i + 1] == name:
                prefixes.add("/".join(parts[:i]))
                rest = parts[i + 2 :]
                if len(rest) == 2:
                    tree[parts[i]][rest[0]].append(rest[1])
                elif is_data_file(rest[-1]):
                    report.problems.append(f"{member}: not directly inside a group folder")
                break
    if len(prefixes) > 1:
        report.problems.append(f"several copies of the set under {sorted(prefixes)}")
    report.prefix = min(prefixes, default="")
    return tree


def verify_archive(path: str | Path, name: str, sha256: str | None = None) -> ArchiveReport:
    """Check a local archive of set ``name``: checksum, layout, pairing and known counts."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "archive does not exist")
    report = ArchiveReport(path, name)
    known = BENCHMARKS.get(name)
    if sha256 is not None:
        actual = sha256_of(path)
        if actual != sha256.lower():
            report.problems.append(f"SHA-256 mismatch: expected {sha256}, got {actual}")
    tree = _split_set(archive_members(path), name, report)
    if not tree["images"] or not tree["gts"]:
        report.problems.append(f"expected images/{name}/<group>/ and gts/{name}/<group>/ folders")
    for group in sorted(tree["images"].keys() | tree["gts"].keys()):
        where = f"{report.prefix}/images/{name}/{group}".lstrip("/")
        try:
            pairing = pair_by_stem(tree["images"].get(group, []), tree["gts"].get(group, []), where,
                                   f"{report.prefix}/gts/{name}/{group}".lstrip("/"))
        except DataError as error:
            report.problems.append(str(error))
            continue
        report.problems += [f"{where}/{f}: no mask" for f in pairing.unmatched_images]
        report.problems += [f"gts/{name}/{group}/{f}: no image" for f in pairing.unmatched_masks]
        if pairing.pairs:
            report.n_groups += 1
            report.n_images += len(pairing.pairs)
    if known and known.n_groups is not None and report.n_groups != known.n_groups:
        report.problems.append(f"{report.n_groups} groups, {name} has {known.n_groups}")
    if known and known.n_images is not None and report.n_images != known.n_images:
        report.problems.append(f"{report.n_images} images, {name} has {known.n_images}")
    return report


def extract_and_verify(
    path: str | Path, name: str, dest: str | Path, sha256: str | None = None
) -> tuple[Path, IndexedSet]:
    """Verify, then unpack into ``dest``; returns (data root, indexed set). Raises if it fails."""
    report = verify_archive(path, name, sha256)
    if not report.ok:
        raise DataError(path, "archive failed verification:\n" + report.summary())
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            archive.extractall(dest)
    else:
        with tarfile.open(path) as archive:
            archive.extractall(dest, filter="data")
    root = dest / report.prefix
    return root, index_set(root, name)
