"""Build COCO-SEG-style co-saliency groups (the logic: :mod:`gconet_lab.data.sources.coco_groups`).

Examples::

    python data_scripts/coco_groups.py yolo /path/to/coco128-seg data_cache/cosod --set-name coco128
    python data_scripts/coco_groups.py coco-json instances_val2017.json val2017/ data_cache/cosod
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from gconet_lab.cli import run_script
from gconet_lab.data.layout import Skip
from gconet_lab.data.sources.coco import read_class_names, read_coco_json, read_yolo_seg
from gconet_lab.data.sources.coco_groups import write_groups
from gconet_lab.data.writer import add_writer_arguments


def _parser() -> argparse.ArgumentParser:
    """The command-line interface: yolo or coco-json, the input folders and the output root."""
    parser = argparse.ArgumentParser(
        description="Build COCO-SEG-style co-saliency groups (group = class, mask = union of the "
        "class's instances) in the CoSOD layout OUT/images/<set>/<class>/, OUT/gts/<set>/<class>/."
    )
    sub = parser.add_subparsers(dest="format", required=True)
    yolo = sub.add_parser(
        "yolo", help="YOLO-seg dataset: images/<split>, labels/<split>, classes.txt"
    )
    yolo.add_argument("root", type=Path, help="dataset root, e.g. coco128-seg")
    yolo.add_argument("out", type=Path, help="output root (e.g. data_cache/cosod, git-ignored)")
    yolo.add_argument("--split", default="train2017", help="sub-folder of images/ and labels/")
    coco = sub.add_parser("coco-json", help="COCO instance JSON plus its image folder")
    coco.add_argument("json", type=Path, help="instances_*.json")
    coco.add_argument("images", type=Path, help="folder holding the JSON's file_name images")
    coco.add_argument("out", type=Path, help="output root (e.g. data_cache/cosod, git-ignored)")
    for command in (yolo, coco):
        add_writer_arguments(command, "COCO-SEG")
        command.add_argument(
            "--min-area",
            type=float,
            default=0.05,
            help="least fraction of the image a class must cover (default 0.05)",
        )
        command.add_argument(
            "--min-group-size",
            type=int,
            default=4,
            help="drop groups with fewer images (default 4)",
        )
    return parser


def _run(args: argparse.Namespace) -> None:
    skipped: list[Skip] = []
    if args.format == "yolo":
        names = read_class_names(args.root / "classes.txt")
        images, skipped = read_yolo_seg(
            args.root / "images" / args.split, args.root / "labels" / args.split, len(names)
        )
        class_names: Mapping[int, str] = dict(enumerate(names))
    else:
        images, class_names = read_coco_json(args.json, args.images)
    report = write_groups(
        images, class_names, args.out, args.set_name, args.min_area, args.min_group_size, args.mode
    )
    print(report.summary())
    for skip in skipped:
        print(f"  skipped {skip.path}: {skip.reason}")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; a bad file or option value is one line naming it, exit status 2."""
    run_script(_parser(), _run, argv)


if __name__ == "__main__":
    main()
