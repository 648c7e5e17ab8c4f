"""The raw data the project uses (iCoseg, coco128-seg, coco-extra): where it comes from, fetch it, check it.

    python data_scripts/raw_data.py list               # addresses, mirrors, sizes, licences, archive layouts
    python data_scripts/raw_data.py fetch              # find or download it (as `gconet-lab prepare` does)
    python data_scripts/raw_data.py fetch --source DIR # check a folder holding icoseg/, coco128-seg/, coco-extra/
    python data_scripts/raw_data.py manifest ../shared/data   # regenerate the SHA-256 manifest

The logic lives in :mod:`gconet_lab.data.sources`; ``manifest`` is run only when the files the
project uses change on purpose, from a trusted copy.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gconet_lab.cli import run_script
from gconet_lab.data.errors import DataError
from gconet_lab.data.sources.locate import raw_data_root
from gconet_lab.data.sources.manifest import MANIFEST, write_manifest
from gconet_lab.data.sources.registry import RAW_SOURCES


def _describe() -> str:
    """One paragraph per source."""
    paragraphs = []
    for raw in RAW_SOURCES.values():
        lines = [f"{raw.name}: {raw.description}", f"  licence: {raw.licence}", f"  homepage: {raw.homepage}"]
        for remote in (raw.archive, raw.class_names):
            if remote is not None:
                size = f"about {remote.approx_mb:g} MB" if remote.approx_mb else "size not published"
                lines.append(f"  {remote.file_name} ({size}): {' or '.join(remote.addresses())}")
        lines += [f"  archive {inside} -> {raw.name}/{project}" for inside, project in raw.layout.items()]
        if raw.photos is not None:
            photos = raw.photos.photos()
            first = next(iter(photos.values()))
            lines.append(f"  {len(photos)} photos, each from its coco_url (e.g. {first.url}) -> {raw.name}/images/<split>/")
            lines += [f"  shipped {shipped} -> {raw.name}/{project}" for project, shipped in raw.photos.annotations().items()]
        if raw.class_names is not None:
            lines.append(f"  names: of {raw.class_names.file_name} -> {raw.name}/classes.txt")
        paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs)


def _parser() -> argparse.ArgumentParser:
    """The command-line interface: list, fetch, manifest."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="where each source comes from, its size, licence and archive layout")
    fetch = sub.add_parser("fetch", help="find the raw data or download it into the user cache, checked")
    fetch.add_argument("--source", type=Path, help="folder holding icoseg/, coco128-seg/ and coco-extra/ to check")
    manifest = sub.add_parser("manifest", help="regenerate the SHA-256 manifest from a trusted copy")
    manifest.add_argument("data_root", type=Path, help="folder holding icoseg/, coco128-seg/ and coco-extra/")
    manifest.add_argument("--out", type=Path, default=MANIFEST, help="manifest to write (default: %(default)s)")
    return parser


def _run(args: argparse.Namespace) -> None:
    if args.command == "list":
        print(_describe())
    elif args.command == "fetch":
        print(raw_data_root(args.source))
    else:
        for name in RAW_SOURCES:
            if not (args.data_root / name).is_dir():
                raise DataError(args.data_root / name, "no such folder")
        print(f"{args.out}: {write_manifest(args.data_root, tuple(RAW_SOURCES), args.out)} files")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; a problem ends with one line and exit status 2."""
    run_script(_parser(), _run, argv)


if __name__ == "__main__":
    main()
