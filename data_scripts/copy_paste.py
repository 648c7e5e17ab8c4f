"""Generate copy-paste co-saliency groups from coco128-seg (see gconet_lab.data.sources.copy_paste).

Objects cut out of the coco128-seg photos along their instance polygons are pasted onto other
coco128 photos: every image of a group holds objects of the group's class (the mask) and of
other classes (distractors). Only the given COCO folder is read. Examples::

    python data_scripts/copy_paste.py --coco ../shared/data/coco128-seg --out data_cache/cosod
    python data_scripts/copy_paste.py --coco ../shared/data/coco128-seg --out data_cache/cosod \\
        --groups 100 --images-per-group 12 --size 320 --seed 1 --set-name CopyPaste_big --feather 3
    python data_scripts/copy_paste.py --coco ../shared/data/coco128-seg --out data_cache/cosod \\
        --shared-background 0.5   # the default data's: half the groups on one background photo each
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gconet_lab.cli import run_script
from gconet_lab.data.sources.copy_paste import PasteOptions, write_copy_paste


def _parser() -> argparse.ArgumentParser:
    """The command-line interface: the coco128-seg folder, the output root and the paste options."""
    parser = argparse.ArgumentParser(
        description="Write copy-paste co-saliency groups cut from coco128-seg instances in the "
        "CoSOD layout OUT/images/<set>/<group>/, OUT/gts/<set>/<group>/."
    )
    parser.add_argument(
        "--coco", type=Path, required=True, help="coco128-seg folder (classes.txt, images/, labels/)"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="output root (e.g. data_cache/cosod, git-ignored)"
    )
    parser.add_argument("--set-name", default="CopyPaste", help="set folder name (default: CopyPaste)")
    parser.add_argument(
        "--groups", type=int, default=None,
        help="number of groups (default: one per class with enough cut-outs; more groups than "
        "classes give several groups per class, named <class>_<k>, listed in the class file)",
    )
    parser.add_argument(
        "--images-per-group", type=int, default=10, help="images per group (default 10)"
    )
    parser.add_argument(
        "--size", type=int, default=256, help="side of the square images in pixels (default 256)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--split", default="train2017", help="sub-folder of images/ and labels/ (default train2017)"
    )
    parser.add_argument(
        "--min-instances", type=int, default=2, help="cut-outs a class needs to make a group (default 2)"
    )
    parser.add_argument(
        "--feather", type=float, default=0.0,
        help="largest Gaussian sigma in pixels of the blended paste edges (default 0: hard edges)",
    )
    parser.add_argument(
        "--object-size", type=float, nargs=2, default=(0.25, 0.6), metavar=("LOW", "HIGH"),
        help="long side of a pasted object as a fraction of the image side, drawn in [LOW, HIGH] (default 0.25 0.6)",
    )
    parser.add_argument(
        "--distractors", type=int, nargs=2, default=(1, 3), metavar=("LOW", "HIGH"),
        help="pasted objects of other classes per image, drawn in [LOW, HIGH] (default 1 3)",
    )
    parser.add_argument(
        "--shared-background", type=float, default=0.0, metavar="P",
        help="probability that all images of a group crop one background photo, a 'photo session' (default 0)",
    )
    return parser


def _run(args: argparse.Namespace) -> None:
    options = PasteOptions(min_instances=args.min_instances, feather=args.feather,
                           object_size=tuple(args.object_size), distractors=tuple(args.distractors),
                           shared_background=args.shared_background)
    report = write_copy_paste(
        args.coco, args.out, args.set_name, args.groups, args.images_per_group, args.size,
        args.seed, options, args.split,
    )
    print(report.summary().splitlines()[0])


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; a bad option or input file is one line on stderr, exit status 2."""
    run_script(_parser(), _run, argv)


if __name__ == "__main__":
    main()
