"""High-level steps shared by the command line, the main job and the notebooks.

* :func:`prepare_default_data` builds the default data: COCO groups and copy-paste groups from
  coco128-seg and a synthetic co-saliency set for training, iCoseg and COCO-groups (coco-extra's
  val2017 photos) for testing; the raw sets are found locally or downloaded once
  (:func:`~gconet_lab.data.sources.locate.raw_data_root`).
* :func:`train` trains one configuration on CoSOD-layout sets.
* :func:`train_recipe` trains a named recipe (e.g. the shipped model's, ``cpu-copypaste-224``).
"""

from __future__ import annotations

import functools
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gconet_lab.config import GCoNetConfig
from gconet_lab.data import AugmentConfig, index_set, make_train_loader
from gconet_lab.data.sources.coco import read_class_names, read_coco_json, read_yolo_seg
from gconet_lab.data.sources.coco_groups import write_groups
from gconet_lab.data.sources.copy_paste import PasteOptions, write_copy_paste
from gconet_lab.data.sources.icoseg import convert_icoseg
from gconet_lab.data.sources.locate import raw_data_root, shared_data_folder
from gconet_lab.data.sources.synthetic import generate as generate_synthetic
from gconet_lab.engine import distributed
from gconet_lab.engine.recipes import RECIPES
from gconet_lab.engine.train import Trainer, TrainResult
from gconet_lab.models import GCoNetPlus
from gconet_lab.models.gconet_plus import deepest_channels

TRAIN_SETS = ("COCO128-SEG", "Synthetic_train")
TEST_SET = "iCoseg"
COCO_GROUPS_SET = "COCO-groups"  # real photos in the group of every class they show: only the group tells (test only)
COCO_TRAIN_SET = "COCO-extra-train"  # coco-extra's train2017 photos in class groups, less the validation photos
COCO_VALIDATION_SET = "COCO-extra-val"  # every VALIDATION_EVERY-th of them: choosing between runs, never trained on
VALIDATION_EVERY = 4
COPY_PASTE_SET = "CopyPaste"  # one group per class with >= 2 usable cut-outs, 10 images of 256 px
COPY_PASTE_OPTIONS = PasteOptions(shared_background=0.5)  # half the groups are photo sessions (one background)


def shared_data_root() -> Path:
    """The read-only shared folder's data: ``$GCONET_SHARED/data``, else ``../shared/data`` beside the project."""
    folder = shared_data_folder()
    if folder is None:
        raise FileNotFoundError("no ../shared/data beside the project: set GCONET_SHARED to the folder that holds data/")
    return folder


def prepare_default_data(data_dir: str | Path = "outputs/data", source: str | Path | None = None, verbose: bool = True) -> Path:
    """Write the default sets in the CoSOD layout under ``data_dir`` (idempotent).

    The raw sets are looked up (``source`` first, see :func:`raw_data_root`), and downloaded when
    no folder has them, only while a set is still to be written.
    """
    data_dir = Path(data_dir)
    raw = functools.cache(lambda: raw_data_root(source))  # looked up once, and only if a set is to be written
    steps = {
        TEST_SET: lambda: convert_icoseg(raw() / "icoseg", data_dir, TEST_SET),
        "COCO128-SEG": lambda: _prepare_coco128(raw() / "coco128-seg", data_dir),
        COCO_GROUPS_SET: lambda: _prepare_coco_groups(raw() / "coco-extra", data_dir),
        COCO_TRAIN_SET: lambda: _prepare_coco_extra_train(raw() / "coco-extra", data_dir, COCO_TRAIN_SET),
        COCO_VALIDATION_SET: lambda: _prepare_coco_extra_train(raw() / "coco-extra", data_dir, COCO_VALIDATION_SET),
        "Synthetic": lambda: generate_synthetic(data_dir, n_groups=12, images_per_group=10, size=160, seed=0),
        COPY_PASTE_SET: lambda: write_copy_paste(raw() / "coco128-seg", data_dir, COPY_PASTE_SET, seed=0,
                                                 options=COPY_PASTE_OPTIONS),
    }
    # a marker holds what its set was made with: a set made with other options is made again
    made_with = {COPY_PASTE_SET: repr(COPY_PASTE_OPTIONS)}
    for name, step in steps.items():
        marker, signature = data_dir / f".prepared-{name}", made_with.get(name, "done")
        if marker.exists() and marker.read_text().strip() == signature:
            continue
        started = time.perf_counter()
        report = step()
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(signature + "\n")
        if verbose:
            summary = report.summary().splitlines()[0] if hasattr(report, "summary") else ""
            print(f"prepared {name} in {time.perf_counter() - started:.1f}s {summary}".rstrip())
    return data_dir


def _prepare_coco128(coco: Path, data_dir: Path):
    """COCO-SEG-style groups (one class per group, >= 2% of the image, >= 3 images) from coco128-seg."""
    class_names = dict(enumerate(read_class_names(coco / "classes.txt")))
    images, _ = read_yolo_seg(coco / "images" / "train2017", coco / "labels" / "train2017", len(class_names))
    return write_groups(images, class_names, data_dir, "COCO128-SEG", min_area=0.02, min_group_size=3)


def _prepare_coco_groups(coco_extra: Path, data_dir: Path):
    """COCO-SEG-style groups (Sec. 4.1) of coco-extra's val2017 photos, with coco128's filter (>= 2%, >= 3 images).

    A photo joins the group of every class it shows, masked with that class only: most photos sit in
    several groups with a different mask in each, so only the group tells which object counts.
    """
    images, class_names = read_coco_json(coco_extra / "annotations" / "instances_val2017.json",
                                         coco_extra / "images" / "val2017")
    return write_groups(images, class_names, data_dir, COCO_GROUPS_SET, min_area=0.02, min_group_size=3)


def _prepare_coco_extra_train(coco_extra: Path, data_dir: Path, set_name: str):
    """COCO-SEG-style groups of coco-extra's train2017 photos: the validation split or the rest.

    A photo is in the validation split when the CRC-32 of its file name is a multiple of
    :data:`VALIDATION_EVERY` (about one photo in that many, fixed whatever else the set holds): the
    split is by photo, so no photo of the validation groups is trained on in another group.
    """
    images, class_names = read_coco_json(coco_extra / "annotations" / "instances_train2017.json",
                                         coco_extra / "images" / "train2017")
    held_out = set_name == COCO_VALIDATION_SET
    chosen = [image for image in images if (zlib.crc32(image.path.name.encode()) % VALIDATION_EVERY == 0) == held_out]
    return write_groups(chosen, class_names, data_dir, set_name, min_area=0.02, min_group_size=3)


@dataclass
class TrainedModel:
    model: GCoNetPlus
    result: TrainResult | None
    class_names: list[str]


def train(config: GCoNetConfig, data_dir: str | Path, out_dir: str | Path, sets: tuple[str, ...] = TRAIN_SETS,
          epochs: int | None = None, device: str | None = None, progress: bool = True, callbacks=(),
          gam: Callable[[int], nn.Module] | None = None, accumulation: int = 1, sync_bn: bool = False,
          precision: str = "auto") -> TrainedModel:
    """Train ``config`` on ``sets`` of ``data_dir``; resumes from ``out_dir`` when a checkpoint is there.

    ``gam`` replaces GAM: it is called with the deepest encoder width and returns the relation
    module (e.g. a student's class, see :class:`~gconet_lab.models.GCoNetPlus`). Under ``torchrun``
    every process runs this with the same arguments and trains its share (:mod:`gconet_lab.engine.distributed`);
    each step learns from ``accumulation`` two-group batches per process. ``precision`` is
    :mod:`gconet_lab.engine.precision`'s (``auto``: float16 on CUDA, float32 on CPUs).
    """
    context = distributed.setup(device)
    try:
        indexed = [index_set(data_dir, name, skip_option=None) for name in sets]
        loader = make_train_loader(indexed, config.image_size, config.max_group_size, seed=config.seed,
                                   augment=AugmentConfig(zoom_p=config.zoom_p),
                                   rank=context.rank, world_size=context.world_size,
                                   shared_photo_p=config.shared_photo_p)
        class_names = list(loader.dataset.class_names)  # groups too small to split are already left out
        config = config.replace(num_classes=len(class_names))
        torch.manual_seed(config.seed)
        model = GCoNetPlus(config, gam=gam(deepest_channels(config)) if gam else None)
        trainer = Trainer(model, config, loader, out_dir, callbacks=callbacks, class_names=class_names,
                          progress=progress, accumulation=accumulation, context=context, sync_bn=sync_bn,
                          precision=precision)
        if context.is_main and progress:
            print(trainer.describe_scale())
        result = trainer.fit(epochs)
    finally:
        distributed.cleanup(context)
    return TrainedModel(model.eval(), result, class_names)


def train_recipe(recipe: str, data_dir: str | Path, out_dir: str | Path, epochs: int | None = None,
                 device: str | None = None, progress: bool = True, callbacks=(), **overrides) -> TrainedModel:
    """Train a recipe of :mod:`gconet_lab.engine.recipes` (its preset, options and sets), changed by ``overrides``.

    ``train_recipe("cpu-copypaste", data, out, use_gam=False, use_gcm=False)`` is the main job's
    recipe without GAM and GCM; ``epochs`` overrides the recipe's; ``callbacks`` as in :func:`train`.
    """
    chosen = RECIPES[recipe]
    return train(chosen.config(**overrides), data_dir, out_dir, chosen.sets, epochs=epochs, device=device, progress=progress, callbacks=callbacks)

