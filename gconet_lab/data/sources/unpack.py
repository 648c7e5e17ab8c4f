"""Map a downloaded archive onto the layout the project reads.

Only the files the manifest lists are taken from the archive (iCoseg's archive has 38 groups, the
project uses 28), and the paths written come from the manifest, never from the archive, so a
hostile member name (``../x``, an absolute path) cannot write outside the target folder.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from gconet_lab.data.errors import DataError

_YAML_NAME = re.compile(r"^\s+(\d+):\s*['\"]?(.*?)['\"]?\s*$")


def project_path(member: str, layout: dict[str, str]) -> str | None:
    """The project-relative path of an archive member, or None when ``layout`` does not cover it.

    ``layout`` maps archive folders (or files) to project folders; one extra top folder wrapping
    the whole archive is tolerated.
    """
    parts = PurePosixPath(member).parts
    for name in ("/".join(parts), "/".join(parts[1:])):
        for inside, project in layout.items():
            if name == inside or name.startswith(inside + "/"):
                return project + name[len(inside):]
    return None


def unpack_zip(archive: str | Path, layout: dict[str, str], wanted: set[str], dest: str | Path) -> None:
    """Extract the members of ``archive`` whose project path is in ``wanted`` into ``dest`` (once each)."""
    dest = Path(dest)
    found = set()
    try:
        with zipfile.ZipFile(archive) as zipped:
            for info in zipped.infolist():
                relative = None if info.is_dir() else project_path(info.filename, layout)
                if relative not in wanted or relative in found:
                    continue
                target = dest / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(info) as source, open(target, "wb") as handle:
                    shutil.copyfileobj(source, handle)
                found.add(relative)
    except (zipfile.BadZipFile, EOFError) as error:
        raise DataError(archive, f"not a readable zip archive ({error}); delete it to download it again") from error


def class_names_from_yolo_yaml(path: str | Path) -> list[str]:
    """The ``names:`` of a YOLO dataset YAML (``  0: person`` lines), in class-id order."""
    names: dict[int, str] = {}
    inside = False
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("names:"):
            inside = True
        elif inside and (match := _YAML_NAME.match(line)):
            names[int(match.group(1))] = match.group(2)
        elif inside and line.strip() and not line.startswith((" ", "#")):
            break
    if not names or sorted(names) != list(range(len(names))):
        raise DataError(path, "no 'names:' block with class ids 0, 1, 2, ... in this YOLO dataset YAML")
    return [names[i] for i in range(len(names))]
