"""The public sources of the raw data the project uses, beside the benchmark registry.

:mod:`gconet_lab.data.sources.benchmarks` lists the CoSOD benchmarks, which must be fetched by hand; the three
small sets here have plain public addresses and are downloaded on demand by
:func:`gconet_lab.data.sources.locate.raw_data_root`. Each :class:`RawSource` says where its
files are, how large they are, under which licence, and how they map onto the layout the project
reads (``<data root>/<name>/...``, see :data:`RAW_SOURCES`): an archive whose folders are mapped
(iCoseg, coco128-seg), or single photos listed by COCO annotation files that ship with the
project (coco-extra, :class:`CocoPhotos`).

The environment variable ``GCONET_DOWNLOAD_URL`` replaces every address by
``$GCONET_DOWNLOAD_URL/<file name>`` (mirrors are then not used): a local copy of the archives
served over HTTP, as the tests do, or an institute's mirror.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from gconet_lab.data.errors import DataError

DOWNLOAD_URL_ENV = "GCONET_DOWNLOAD_URL"
SHIPPED_ANNOTATIONS = Path(__file__).with_name("coco_extra")  # official COCO annotation files, unchanged


@dataclass(frozen=True)
class RemoteFile:
    """One file to download: its canonical address, mirrors tried in turn, and approximate size."""

    file_name: str
    url: str
    mirrors: tuple[str, ...] = ()
    approx_mb: float | None = None

    def addresses(self) -> tuple[str, ...]:
        """The addresses to try, in order."""
        return (self.url, *self.mirrors)

    def resolved(self) -> RemoteFile:
        """This file, fetched from ``$GCONET_DOWNLOAD_URL/<file name>`` alone when that is set."""
        base = os.environ.get(DOWNLOAD_URL_ENV)
        return replace(self, url=f"{base.rstrip('/')}/{self.file_name}", mirrors=()) if base else self


@dataclass(frozen=True)
class CocoPhotos:
    """COCO photos downloaded one by one, as listed by COCO instance JSONs that ship with the project.

    For each split (``val2017``), ``folder/instances_<split>.json`` is copied to
    ``annotations/instances_<split>.json`` and every image it lists is downloaded from its
    ``coco_url`` to ``images/<split>/<file_name>`` (paths under ``<data root>/<source name>``).
    """

    folder: Path
    splits: tuple[str, ...]

    def annotations(self) -> dict[str, Path]:
        """Project path -> shipped annotation file, for every split."""
        return {f"annotations/instances_{split}.json": self.folder / f"instances_{split}.json" for split in self.splits}

    def photos(self) -> dict[str, RemoteFile]:
        """Project path -> the photo's address, for every image of every split's annotation file."""
        photos = {}
        for split in self.splits:
            path = self.folder / f"instances_{split}.json"
            try:
                images = json.loads(path.read_text(encoding="utf-8"))["images"]
                photos |= {f"images/{split}/{image['file_name']}": RemoteFile(image["file_name"], image["coco_url"])
                           for image in images}
            except (OSError, ValueError, KeyError, TypeError) as error:
                raise DataError(path, f"not a COCO instance file with a coco_url per image ({error!r})") from error
        return photos


@dataclass(frozen=True)
class RawSource:
    """A raw data set: what it is, its files, and how they map onto the project's folders.

    ``archive`` is a zip whose ``layout`` maps a folder inside it to the folder the project reads
    under ``<data root>/<name>``; archive members outside these folders are not extracted. An archive
    may wrap everything in one extra top folder (a re-zipped copy often does): it is skipped.
    ``class_names`` is a YOLO dataset YAML whose ``names:`` list becomes ``classes.txt``.
    ``photos`` are single files listed by shipped COCO annotations, instead of an archive.
    """

    name: str
    description: str
    licence: str
    homepage: str
    archive: RemoteFile | None = None
    layout: dict[str, str] = field(default_factory=dict)
    class_names: RemoteFile | None = None
    photos: CocoPhotos | None = None


ICOSEG = RawSource(
    name="icoseg",
    description="CMU-Cornell iCoseg (Batra et al., CVPR 2010): 38 groups, 643 Flickr photos with "
    "hand-drawn masks; the project tests on the 28 groups listed in the manifest (489 images)",
    licence="research dataset without a stated licence: research and teaching use, cite Batra et "
    "al. CVPR 2010; images under their Flickr owners' terms",
    homepage="http://chenlab.ece.cornell.edu/projects/touch-coseg/",
    archive=RemoteFile(
        "CMU_Cornell_iCoseg_dataset.zip",
        "http://chenlab.ece.cornell.edu/projects/touch-coseg/CMU_Cornell_iCoseg_dataset.zip",
        approx_mb=None,  # not published; the 28 groups used take 54 MB unpacked
    ),
    layout={
        "dataset_public/images": "images",
        "dataset_public/ground_truth": "ground_truth",
    },
)

COCO128_SEG = RawSource(
    name="coco128-seg",
    description="the first 128 COCO train2017 images with instance polygons, packaged by "
    "Ultralytics for YOLO segmentation",
    licence="packaging GPL-3.0 (LICENSE in the archive); COCO annotations CC BY 4.0; images "
    "under their Flickr licences",
    homepage="https://docs.ultralytics.com/datasets/segment/coco/",
    archive=RemoteFile(
        "coco128-seg.zip",
        "https://github.com/ultralytics/assets/releases/download/v0.0.0/coco128-seg.zip",
        mirrors=("https://ultralytics.com/assets/coco128-seg.zip",),
        approx_mb=7,
    ),
    layout={
        "coco128-seg/images": "images",
        "coco128-seg/labels": "labels",
        "coco128-seg/LICENSE": "LICENSE",
    },
    class_names=RemoteFile(
        "coco128-seg.yaml",
        "https://raw.githubusercontent.com/ultralytics/ultralytics/main/ultralytics/cfg/datasets/coco128-seg.yaml",
        approx_mb=0.002,
    ),
)

COCO_EXTRA = RawSource(
    name="coco-extra",
    description="421 original COCO 2017 photos (215 train2017, 206 val2017), none of them in coco128, with "
    "their official instance annotations; the val2017 photos make the COCO-groups test set",
    licence="COCO annotations CC BY 4.0 (COCO Consortium; shipped in gconet_lab/data/sources/coco_extra/); "
    "each image under the Flickr licence named by its license field",
    homepage="https://cocodataset.org",
    photos=CocoPhotos(SHIPPED_ANNOTATIONS, ("train2017", "val2017")),
)

RAW_SOURCES: dict[str, RawSource] = {source.name: source for source in (ICOSEG, COCO128_SEG, COCO_EXTRA)}
