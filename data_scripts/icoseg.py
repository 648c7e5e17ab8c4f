"""Convert iCoseg, as distributed, into the CoSOD layout (the logic: :mod:`gconet_lab.data.sources.icoseg`).

Example::

    python data_scripts/icoseg.py /path/to/icoseg data_cache/cosod
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gconet_lab.data.sources.icoseg import convert_icoseg
from gconet_lab.data.writer import add_writer_arguments


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description="Convert iCoseg (images/ + ground_truth/ group folders) into the CoSOD layout "
        "OUT/images/<set>/<group>/ and OUT/gts/<set>/<group>/ with safe group folder names."
    )
    parser.add_argument("source", type=Path, help="iCoseg folder holding images/ and ground_truth/")
    parser.add_argument("out", type=Path, help="output root (e.g. data_cache/cosod, git-ignored)")
    add_writer_arguments(parser, "iCoseg")
    args = parser.parse_args(argv)
    try:
        report = convert_icoseg(args.source, args.out, args.set_name, args.mode)
    except (ValueError, OSError) as error:  # DataError is a ValueError: a bad file or folder, named in the message
        parser.exit(2, f"{parser.prog}: error: {error}\n")
    print(report.summary())


if __name__ == "__main__":
    main()
