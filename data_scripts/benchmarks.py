"""The CoSOD benchmarks of GCoNet+: list them, check and unpack an archive (the logic:
:mod:`gconet_lab.data.sources.benchmarks`).

    python data_scripts/benchmarks.py list
    python data_scripts/benchmarks.py info CoCA
    python data_scripts/benchmarks.py verify ~/Downloads/CoCA.zip --name CoCA
    python data_scripts/benchmarks.py extract ~/Downloads/CoCA.zip --name CoCA --dest data_cache
    python data_scripts/benchmarks.py fetch CoCA --url https://host/CoCA.zip --dest data_cache
"""

from __future__ import annotations

import argparse
import urllib.parse
from pathlib import Path, PurePosixPath

from gconet_lab.cli import run_script
from gconet_lab.data.sources.benchmarks import BENCHMARKS, extract_and_verify, verify_archive
from gconet_lab.data.sources.download import download
from gconet_lab.data.sources.registry import RemoteFile


def _parser() -> argparse.ArgumentParser:
    """The command-line interface: list, info, verify, extract, fetch."""
    parser = argparse.ArgumentParser(description="CoSOD benchmark registry and archive checks.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the benchmark sets and their expected sizes")
    info = sub.add_parser("info", help="describe one set and how to obtain it")
    info.add_argument("name", choices=sorted(BENCHMARKS))
    for command in ("verify", "extract"):
        p = sub.add_parser(command, help=f"{command} a local .zip/.tar(.gz) archive of one set")
        p.add_argument("archive", type=Path)
        p.add_argument(
            "--name", required=True, help="set folder name inside the archive, e.g. CoCA"
        )
        p.add_argument("--sha256", help="expected SHA-256 of the archive")
        if command == "extract":
            p.add_argument("--dest", type=Path, required=True, help="data root to unpack into")
    fetch = sub.add_parser("fetch", help="download from a plain URL, verify and unpack")
    fetch.add_argument("name", help="set folder name inside the archive, e.g. CoCA")
    fetch.add_argument(
        "--url", help="plain http(s) URL of an archive (Drive/Baidu pages do not work)"
    )
    fetch.add_argument("--dest", type=Path, required=True, help="data root to unpack into")
    fetch.add_argument("--sha256", help="expected SHA-256 of the archive")
    return parser


def _fetch(name: str, url: str | None, dest: Path) -> Path:
    """Download the archive of ``name`` from a plain URL, or exit with the manual instructions."""
    if url is None:
        known = BENCHMARKS.get(name)
        raise SystemExit(known.instructions() if known else f"no --url given for {name}")
    file_name = PurePosixPath(urllib.parse.urlparse(url).path).name or f"{name}.zip"
    return download(RemoteFile(file_name, url), dest)


def _run(args: argparse.Namespace) -> None:
    if args.command == "list":
        for b in BENCHMARKS.values():
            images = b.n_images or "~200k"
            print(f"{b.name:<10} {b.role:<5} groups={b.n_groups} images={images}  {b.description}")
    elif args.command == "info":
        b = BENCHMARKS[args.name]
        print(f"{b.name} ({b.role}): {b.description}")
        print(f"groups={b.n_groups} images={b.n_images}\n{b.instructions()}")
    elif args.command == "verify":
        report = verify_archive(args.archive, args.name, args.sha256)
        print(report.summary())
        raise SystemExit(0 if report.ok else 1)
    else:
        archive = (
            args.archive if args.command == "extract" else _fetch(args.name, args.url, args.dest)
        )
        root, indexed = extract_and_verify(archive, args.name, args.dest, args.sha256)
        counts = f"{len(indexed.groups)} groups, {indexed.num_images} images"
        print(f"{indexed.name}: {counts} under {root}")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; a bad archive or download is one line naming it, exit status 2."""
    run_script(_parser(), _run, argv)


if __name__ == "__main__":
    main()
