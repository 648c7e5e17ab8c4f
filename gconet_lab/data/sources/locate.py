"""Find the raw data (iCoseg, coco128-seg, coco-extra), or download it into the user cache, checked by content.

:func:`raw_data_root` returns a folder holding ``icoseg/``, ``coco128-seg/`` and ``coco-extra/`` in the
layout of ``../shared/data/README.md``, looking in this order:

1. the folder passed as ``source`` (``gconet-lab prepare --source``);
2. ``$GCONET_DATA``;
3. ``../shared/data`` beside the project or the working directory (``$GCONET_SHARED/data`` when set);
4. the user cache, ``$XDG_CACHE_HOME/gconet-lab`` (default ``~/.cache/gconet-lab``); a source
   missing there is downloaded from its public address (:mod:`.registry`) into
   ``<cache>/downloads/``, unpacked and checked, then moved into place.

A folder given explicitly (1, 2) must hold every set. Whichever folder is used, every file the
project uses must match the committed manifest (:mod:`.manifest`), or a :class:`DataError` names
the files that do not. To work offline, put the archives into ``<cache>/downloads/`` (they are
unpacked instead of downloaded) and coco-extra's photos into ``<cache>/downloads/coco-extra/<split>/``,
or the unpacked folders into the cache or ``$GCONET_DATA``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tqdm import tqdm

from gconet_lab.data.errors import DataError
from gconet_lab.data.sources.download import download
from gconet_lab.data.sources.manifest import describe_mismatches, files_of, mismatches, read_manifest
from gconet_lab.data.sources.registry import RAW_SOURCES, CocoPhotos, RawSource
from gconet_lab.data.sources.unpack import class_names_from_yolo_yaml, unpack_zip

DATA_ENV = "GCONET_DATA"
SHARED_ENV = "GCONET_SHARED"
CACHE_NAME = "gconet-lab"


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/gconet-lab``, else ``~/.cache/gconet-lab``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / CACHE_NAME


def shared_folder() -> Path | None:
    """The read-only shared folder (``data/``, ``reference/``): ``$GCONET_SHARED`` when set, else the
    ``shared`` folder with a ``data/`` beside (or in) the working directory or the project; ``None`` without one."""
    if SHARED_ENV in os.environ:
        return Path(os.environ[SHARED_ENV])
    for base in (Path.cwd(), Path(__file__).resolve().parents[3]):
        for candidate in (base.parent / "shared", base / "shared"):
            if (candidate / "data").is_dir():
                return candidate
    return None


def shared_data_folder() -> Path | None:
    """``data/`` of :func:`shared_folder`, or ``None``."""
    shared = shared_folder()
    return None if shared is None else shared / "data"


def raw_data_root(source: str | Path | None = None, progress: bool = True) -> Path:
    """The checked folder holding every raw source's folder (see the module docstring for the order)."""
    manifest = read_manifest()
    explicit = (("--source", source), (f"${DATA_ENV}", os.environ.get(DATA_ENV)))
    for origin, folder in explicit:
        if folder:
            missing = [name for name in RAW_SOURCES if not (Path(folder) / name).is_dir()]
            if missing:
                raise DataError(folder, f"given as {origin} but holds no {'/, '.join(missing)}/ folder")
            return _checked(Path(folder), manifest)
    shared = shared_data_folder()
    if shared is not None and all((shared / name).is_dir() for name in RAW_SOURCES):
        return _checked(shared, manifest)
    cache = cache_root()
    for raw in RAW_SOURCES.values():
        if (cache / raw.name).is_dir():
            _check(cache / raw.name, files_of(raw.name, manifest), "delete the folder to download it again")
        else:
            _install(raw, cache, files_of(raw.name, manifest), progress)
    return cache


def _checked(root: Path, manifest: dict[str, str]) -> Path:
    """``root`` once every source under it matches the manifest."""
    for name in RAW_SOURCES:
        _check(root / name, files_of(name, manifest), "replace it with the published files")
    return root


def _check(folder: Path, expected: dict[str, str], remedy: str) -> None:
    """Raise a :class:`DataError` naming the files of ``folder`` that do not match ``expected``."""
    problems = mismatches(folder, expected)
    if problems:
        raise DataError(folder, f"{describe_mismatches(problems, len(expected))}; {remedy}")


def _install(raw: RawSource, cache: Path, expected: dict[str, str], progress: bool) -> None:
    """Download, unpack and check ``raw`` into ``cache/<name>`` (moved into place only when it matches)."""
    downloads = cache / "downloads"
    staging = cache / f".{raw.name}.unpacking"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        if raw.archive is not None:
            origin = download(raw.archive.resolved(), downloads, progress=progress)
            unpack_zip(origin, raw.layout, set(expected), staging)
        if raw.photos is not None:
            origin = _place_photos(raw.photos, downloads / raw.name, staging, progress)
        if raw.class_names is not None:
            names = class_names_from_yolo_yaml(download(raw.class_names.resolved(), downloads, progress=progress))
            (staging / "classes.txt").write_text("".join(f"{name}\n" for name in names), encoding="utf-8")
        problems = mismatches(staging, expected)
        if problems:
            raise DataError(origin, f"{describe_mismatches(problems, len(expected))}; "
                                    "delete it to download it again")
        staging.rename(cache / raw.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if progress:
        print(f"{raw.name}: {len(expected)} files checked, in {cache / raw.name}")


def _place_photos(photos: CocoPhotos, downloads: Path, staging: Path, progress: bool) -> Path:
    """Copy the shipped annotations and each photo (downloaded into ``downloads/<split>/`` once) into ``staging``.

    The photos stay in ``downloads``, so an interrupted run fetches only the ones still missing.
    Returns ``downloads``.
    """
    for relative, shipped in photos.annotations().items():
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shipped, staging / relative)
    for relative, remote in tqdm(photos.photos().items(), desc="photos", unit="photo", disable=not progress):
        path = download(remote.resolved(), downloads / Path(relative).parent.name, progress=False)
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, staging / relative)
    return downloads
