"""Regenerate ``gconet_lab/data/sources/raw_data.sha256`` from a trusted copy of the raw data.

The manifest lists the SHA-256 of every file of ``icoseg/`` and ``coco128-seg/`` the project uses;
downloads, ``../shared/data`` and cached copies are checked against it. Run it only when the data
the project uses changes on purpose::

    python data_scripts/raw_data_manifest.py ../shared/data
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gconet_lab.data.sources.manifest import MANIFEST, write_manifest
from gconet_lab.data.sources.registry import RAW_SOURCES


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_root", type=Path, help="folder holding icoseg/ and coco128-seg/")
    parser.add_argument("--out", type=Path, default=MANIFEST, help="manifest to write (default: %(default)s)")
    args = parser.parse_args(argv)
    for name in RAW_SOURCES:
        if not (args.data_root / name).is_dir():
            parser.exit(2, f"{parser.prog}: error: {args.data_root / name}: no such folder\n")
    count = write_manifest(args.data_root, tuple(RAW_SOURCES), args.out)
    print(f"{args.out}: {count} files")


if __name__ == "__main__":
    main()
