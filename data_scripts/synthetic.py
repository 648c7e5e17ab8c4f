"""Write the synthetic co-saliency set (the logic: :mod:`gconet_lab.data.sources.synthetic`).

Example::

    python data_scripts/synthetic.py data_cache/cosod --n-groups 12 --images-per-group 10
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gconet_lab.cli import run_script
from gconet_lab.data.sources.synthetic import CLASSES, generate


def _parser() -> argparse.ArgumentParser:
    """The command-line interface: the output root, the number and size of the groups."""
    parser = argparse.ArgumentParser(
        description="Write a synthetic co-saliency dataset (train and test splits, CoSOD layout) "
        "whose co-salient class can only be told from the group: every image also holds equally "
        "salient distractor objects of other classes."
    )
    parser.add_argument("out", type=Path, help="output root (e.g. data_cache/cosod, git-ignored)")
    parser.add_argument(
        "--n-groups", type=int, default=12, help=f"groups = classes, 2..{len(CLASSES)} (default 12)"
    )
    parser.add_argument(
        "--images-per-group", type=int, default=10, help="images per group and split (default 10)"
    )
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--prefix", default="Synthetic", help="sets are <prefix>_train, <prefix>_test"
    )
    return parser


def _run(args: argparse.Namespace) -> None:
    written = generate(
        args.out, args.n_groups, args.images_per_group, args.size, args.seed, args.prefix
    )
    for set_name, groups in written.items():
        print(f"{set_name}: {len(groups)} groups x {args.images_per_group} images -> {args.out}")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; a bad option value is one line, exit status 2."""
    run_script(_parser(), _run, argv)


if __name__ == "__main__":
    main()
