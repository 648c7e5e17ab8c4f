"""Convert iCoseg, as distributed, into the CoSOD layout (the logic: :mod:`gconet_lab.data.sources.icoseg`).

Example::

    python data_scripts/icoseg.py /path/to/icoseg data_cache/cosod
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gconet_lab.cli import run_script
from gconet_lab.data.sources.icoseg import convert_icoseg
from gconet_lab.data.writer import add_writer_arguments


def _parser() -> argparse.ArgumentParser:
    """The command-line interface: the iCoseg folder and the output root."""
    parser = argparse.ArgumentParser(
        description="Convert iCoseg (images/ + ground_truth/ group folders) into the CoSOD layout "
        "OUT/images/<set>/<group>/ and OUT/gts/<set>/<group>/ with safe group folder names."
    )
    parser.add_argument("source", type=Path, help="iCoseg folder holding images/ and ground_truth/")
    parser.add_argument("out", type=Path, help="output root (e.g. data_cache/cosod, git-ignored)")
    add_writer_arguments(parser, "iCoseg")
    return parser


def _run(args: argparse.Namespace) -> None:
    print(convert_icoseg(args.source, args.out, args.set_name, args.mode).summary())


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; a bad file or folder is one line naming it, exit status 2."""
    run_script(_parser(), _run, argv)


if __name__ == "__main__":
    main()
