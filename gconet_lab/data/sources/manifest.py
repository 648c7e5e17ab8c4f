"""Check the raw data by content: the SHA-256 of every file the project uses.

``raw_data.sha256`` (committed beside this module, in the format of ``sha256sum``, so
``sha256sum -c`` also reads it from a data root) lists ``<hex digest>  <source>/<relative path>``
for every file of iCoseg's 28 groups, coco128-seg and coco-extra; ``data_scripts/raw_data.py manifest``
regenerates it from a trusted copy. A freshly extracted download, ``../shared/data``, a cached
copy or a folder given by the user is accepted only when every listed file is there with the
listed content; files not listed (other iCoseg groups) are ignored.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MANIFEST = Path(__file__).with_name("raw_data.sha256")
SHOWN_PROBLEMS = 5


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(path: str | Path = MANIFEST) -> dict[str, str]:
    """``{relative path: hex digest}`` from a ``sha256sum``-style file."""
    entries = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        digest, relative = line.split("  ", 1)
        entries[relative] = digest
    return entries


def files_of(source: str, manifest: dict[str, str]) -> dict[str, str]:
    """The entries of one source (``icoseg``, ``coco128-seg``), relative to that source's folder."""
    prefix = f"{source}/"
    return {path[len(prefix):]: digest for path, digest in manifest.items() if path.startswith(prefix)}


def mismatches(folder: str | Path, expected: dict[str, str]) -> list[str]:
    """``"<path> (missing)"`` or ``"<path> (content differs)"`` for every listed file not as listed."""
    folder = Path(folder)
    problems = []
    for relative, digest in sorted(expected.items()):
        path = folder / relative
        if not path.is_file():
            problems.append(f"{relative} (missing)")
        elif sha256_of(path) != digest:
            problems.append(f"{relative} (content differs)")
    return problems


def describe_mismatches(problems: list[str], total: int) -> str:
    """One line naming the first few files that do not match the manifest."""
    shown = ", ".join(problems[:SHOWN_PROBLEMS])
    more = f" and {len(problems) - SHOWN_PROBLEMS} more" if len(problems) > SHOWN_PROBLEMS else ""
    return f"{len(problems)} of {total} files do not match the manifest {MANIFEST.name}: {shown}{more}"


def write_manifest(data_root: str | Path, sources: tuple[str, ...], path: str | Path = MANIFEST) -> int:
    """Write the digests of every file under ``data_root/<source>/`` to ``path``; returns the count."""
    data_root = Path(data_root)
    lines = []
    for source in sources:
        for file in sorted(p for p in (data_root / source).rglob("*") if p.is_file()):
            relative = file.relative_to(data_root).as_posix()
            if "\n" in relative or "\\" in relative:
                raise ValueError(f"{file}: a file name sha256sum would escape")
            lines.append(f"{sha256_of(file)}  {relative}\n")
    Path(path).write_text("".join(lines), encoding="utf-8")
    return len(lines)
