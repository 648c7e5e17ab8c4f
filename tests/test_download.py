"""Raw data from its public source, without internet: archives built from ../shared/data are served
from a local HTTP server on 127.0.0.1 and `prepare` runs against it from an empty cache."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gconet_lab.cli import main as cli_main
from gconet_lab.data import DataError, index_set
from gconet_lab.data.sources import locate
from gconet_lab.data.sources.download import DownloadError, download
from gconet_lab.data.sources.locate import raw_data_root
from gconet_lab.data.sources.manifest import files_of, mismatches, read_manifest, sha256_of
from gconet_lab.data.sources.registry import (
    COCO128_SEG,
    COCO_EXTRA,
    DOWNLOAD_URL_ENV,
    ICOSEG,
    CocoPhotos,
    RawSource,
    RemoteFile,
)
from gconet_lab.data.sources.unpack import class_names_from_yolo_yaml, project_path
from gconet_lab.pipeline import COPY_PASTE_OPTIONS

from conftest import require_shared

EXTRA_GROUP = "999 A group the project does not use"


def _zip(path: Path | io.BytesIO, members: dict[str, bytes]) -> Path | io.BytesIO:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _archive_members(shared: Path, source: str, layout: dict[str, str]) -> dict[str, bytes]:
    """The files of ``shared/<source>`` named as the published archive names them (``layout`` reversed)."""
    members = {}
    for path in sorted(p for p in (shared / source).rglob("*") if p.is_file()):
        relative = path.relative_to(shared / source).as_posix()
        for inside, project in layout.items():
            if relative == project or relative.startswith(project + "/"):
                members[inside + relative[len(project):]] = path.read_bytes()
    return members


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared copy of the raw data (looked up before a test hides it)."""
    return require_shared("data")


@pytest.fixture(scope="session")
def published(shared_data: Path, tmp_path_factory) -> dict[str, bytes]:
    """file name -> bytes of the published files (two archives, a YAML, coco-extra's photos), from the shared copy."""
    folder = tmp_path_factory.mktemp("published")
    icoseg = _archive_members(shared_data, "icoseg", ICOSEG.layout)
    icoseg[f"dataset_public/images/{EXTRA_GROUP}/1.jpg"] = b"not used"
    coco = _archive_members(shared_data, "coco128-seg", COCO128_SEG.layout)
    coco["coco128-seg/README.txt"] = b"not used"
    names = (shared_data / "coco128-seg" / "classes.txt").read_text().splitlines()
    yaml = "path: coco128-seg\nnames:\n" + "".join(f"  {i}: {n}\n" for i, n in enumerate(names)) + "\ndownload: x\n"
    photos = {Path(relative).name: (shared_data / "coco-extra" / relative).read_bytes()
              for relative in COCO_EXTRA.photos.photos()}
    return {
        ICOSEG.archive.file_name: _zip(folder / "icoseg.zip", icoseg).read_bytes(),
        COCO128_SEG.archive.file_name: _zip(folder / "coco.zip", coco).read_bytes(),
        COCO128_SEG.class_names.file_name: yaml.encode(),
        **photos,
    }


class _Server(ThreadingHTTPServer):
    files: dict[str, bytes]
    requests: list[tuple[str, str | None]]
    cut: set[str]  # file names whose next full response breaks off halfway


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        name, ranged = self.path.lstrip("/"), self.headers.get("Range")
        self.server.requests.append((name, ranged))
        body = self.server.files.get(name)
        if body is None:
            self.send_error(404)
            return
        start = int(ranged.removeprefix("bytes=").split("-")[0]) if ranged else 0
        if start >= len(body):
            self.send_error(416)
            return
        self.send_response(206 if ranged else 200)
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if name in self.server.cut and not ranged:
            self.server.cut.discard(name)
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body[start:])

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(published):
    """A loopback HTTP server with Range support for the published files; stopped at the end."""
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests, httpd.cut = dict(published), [], set()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch) -> Path:
    """A user with no ../shared, no $GCONET_DATA and an empty cache; returns the cache folder."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("GCONET_SHARED", str(tmp_path / "no-shared"))
    monkeypatch.delenv("GCONET_DATA", raising=False)
    return tmp_path / "xdg" / "gconet-lab"


@pytest.fixture
def served(server, empty_cache, monkeypatch) -> _Server:
    monkeypatch.setenv(DOWNLOAD_URL_ENV, f"http://127.0.0.1:{server.server_port}/")
    return server


def _requested(server: _Server) -> list[str]:
    return [name for name, _ in server.requests]


@pytest.mark.slow
def test_prepare_downloads_unpacks_checks_and_uses_the_data(served, empty_cache, tmp_path) -> None:
    out = tmp_path / "out"
    cli_main(["prepare", "--out", str(out)])
    assert sorted(_requested(served)) == sorted(served.files)  # each published file fetched once
    manifest = read_manifest()
    for source in ("icoseg", "coco128-seg", "coco-extra"):
        on_disk = {p.relative_to(empty_cache / source).as_posix()
                   for p in (empty_cache / source).rglob("*") if p.is_file()}
        assert on_disk == set(files_of(source, manifest))  # the extra group and README.txt left out
    assert index_set(out, "iCoseg").groups and index_set(out, "COCO128-SEG").groups and index_set(out, "COCO-groups").groups
    photos = {name: {sample.stem for group in index_set(out, name).groups for sample in group.samples}
              for name in ("COCO-extra-train", "COCO-extra-val", "COCO-groups")}
    assert all(photos.values())  # the training groups, their validation split and the group test: disjoint photos
    assert not photos["COCO-extra-train"] & photos["COCO-extra-val"]
    assert not (photos["COCO-extra-train"] | photos["COCO-extra-val"]) & photos["COCO-groups"]
    groups = {p.name for p in (empty_cache / "icoseg" / "images").iterdir()}
    assert len(groups) == 28 and EXTRA_GROUP not in groups
    assert raw_data_root() == empty_cache and len(served.requests) == len(served.files)  # found in the cache next time
    # a set made with other options (an earlier version's) is made again; the others are kept
    marker, kept = out / ".prepared-CopyPaste", out / ".prepared-iCoseg"
    assert marker.read_text().strip() == repr(COPY_PASTE_OPTIONS)
    marker.write_text("done\n")
    deleted, kept_time = next((out / "images" / "CopyPaste").rglob("*.jpg")), kept.stat().st_mtime_ns
    deleted.unlink()
    cli_main(["prepare", "--out", str(out)])
    assert deleted.is_file() and marker.read_text().strip() == repr(COPY_PASTE_OPTIONS)
    assert kept.stat().st_mtime_ns == kept_time


def test_a_broken_connection_is_resumed_with_a_range_request(served, empty_cache) -> None:
    name = COCO128_SEG.archive.file_name
    served.cut.add(name)
    path = download(COCO128_SEG.archive.resolved(), empty_cache / "downloads", progress=False)
    half = len(served.files[name]) // 2
    assert served.requests == [(name, None), (name, f"bytes={half}-")]
    assert path.read_bytes() == served.files[name] and not path.with_name(name + ".part").exists()


def test_a_partial_download_left_by_an_earlier_run_is_resumed(served, empty_cache) -> None:
    name = COCO128_SEG.archive.file_name
    partial = empty_cache / "downloads" / f"{name}.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(served.files[name][:1000])
    path = download(COCO128_SEG.archive.resolved(), empty_cache / "downloads", progress=False)
    assert served.requests == [(name, "bytes=1000-")] and path.read_bytes() == served.files[name]


def test_a_partial_download_longer_than_the_file_starts_over(served, empty_cache) -> None:
    name = COCO128_SEG.class_names.file_name
    partial = empty_cache / "downloads" / f"{name}.part"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"x" * (len(served.files[name]) + 5))  # e.g. the file was replaced upstream
    path = download(COCO128_SEG.class_names.resolved(), empty_cache / "downloads", progress=False)
    assert served.requests == [(name, f"bytes={len(served.files[name]) + 5}-"), (name, None)]
    assert path.read_bytes() == served.files[name]


def test_the_mirror_is_tried_when_the_address_fails(server, tmp_path) -> None:
    base = f"http://127.0.0.1:{server.server_port}"
    name = COCO128_SEG.class_names.file_name
    remote = RemoteFile(name, f"{base}/moved/{name}", mirrors=(f"{base}/{name}",))
    path = download(remote, tmp_path, progress=False)
    assert _requested(server) == [f"moved/{name}", name] and path.read_bytes() == server.files[name]
    gone = RemoteFile("x.zip", f"{base}/x.zip", mirrors=(f"{base}/y.zip",))
    with pytest.raises(DownloadError, match=rf"{base}/x.zip \(HTTP 404 .*\); {base}/y.zip \(HTTP 404 "):
        download(gone, tmp_path, progress=False)
    assert not (tmp_path / "x.zip").exists() and not (tmp_path / "x.zip.part").exists()


def test_archive_folders_map_to_the_project_layout_even_inside_a_wrapper_folder() -> None:
    image = "dataset_public/images/009 Stonehenge/1.jpg"
    assert project_path(image, ICOSEG.layout) == "images/009 Stonehenge/1.jpg"
    assert project_path("CMU_Cornell_iCoseg_dataset/" + image, ICOSEG.layout) == "images/009 Stonehenge/1.jpg"
    assert project_path("dataset_public/images_subset/a/1.jpg", ICOSEG.layout) is None
    assert project_path("coco128-seg/LICENSE", COCO128_SEG.layout) == "LICENSE"


def test_a_file_from_a_plain_url(tmp_path) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(bytes(range(256)) * 100)
    path = download(RemoteFile("b.bin", source.as_uri()), tmp_path / "dl", progress=False)
    assert path == tmp_path / "dl" / "b.bin" and sha256_of(path) == sha256_of(source)


def _corrupt_one_image(served: _Server) -> str:
    """Change the last bytes of one image the project uses in the served iCoseg archive; returns its path."""
    name = ICOSEG.archive.file_name
    with zipfile.ZipFile(io.BytesIO(served.files[name])) as zipped:
        members = {info.filename: zipped.read(info) for info in zipped.infolist()}
    victim = next(m for m in members if m.endswith(".jpg") and EXTRA_GROUP not in m)
    members[victim] = members[victim][:-10] + b"0123456789"
    buffer = io.BytesIO()
    _zip(buffer, members)
    served.files[name] = buffer.getvalue()
    return victim.removeprefix("dataset_public/")


def test_a_corrupted_file_is_named_and_nothing_is_installed(served, empty_cache, tmp_path, capsys) -> None:
    victim = _corrupt_one_image(served)
    with pytest.raises(SystemExit) as stopped:
        cli_main(["prepare", "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err.splitlines()[-1]  # after the progress bar
    assert stopped.value.code == 2 and error.startswith("gconet-lab prepare: error: ")
    assert f"{victim} (content differs)" in error and ICOSEG.archive.file_name in error
    assert not (empty_cache / "icoseg").exists() and not (tmp_path / "out" / ".prepared-iCoseg").exists()


@pytest.mark.slow
def test_a_damaged_cached_copy_is_named(served, empty_cache) -> None:
    raw_data_root(progress=False)
    label = next((empty_cache / "coco128-seg" / "labels").rglob("*.txt"))
    label.write_text(label.read_text() + "0 0.1 0.1 0.2 0.1 0.2 0.2\n")
    label.with_name("gone.txt").unlink(missing_ok=True)
    (empty_cache / "coco128-seg" / "classes.txt").unlink()
    with pytest.raises(DataError, match=r"2 of \d+ files do not match") as error:
        raw_data_root(progress=False)
    assert f"labels/train2017/{label.name} (content differs)" in str(error.value)
    assert "classes.txt (missing)" in str(error.value)


def test_offline_the_error_names_the_address_and_the_manual_way(empty_cache, tmp_path, monkeypatch, capsys) -> None:
    with socket.socket() as probe:  # a loopback port with nothing listening: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(DOWNLOAD_URL_ENV, f"http://127.0.0.1:{port}")
    with pytest.raises(SystemExit) as stopped:
        cli_main(["prepare", "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err.splitlines()[-1]  # after the progress bar
    assert stopped.value.code == 2 and error.startswith("gconet-lab prepare: error: ")
    address = f"http://127.0.0.1:{port}/{ICOSEG.archive.file_name}"
    assert f"cannot download {address} (Connection refused)" in error
    assert str(empty_cache / "downloads" / ICOSEG.archive.file_name) in error


def test_an_archive_put_in_the_cache_by_hand_is_used_offline(served, empty_cache, monkeypatch) -> None:
    downloads = empty_cache / "downloads"
    photos = {Path(relative).name: Path(relative).parent.name for relative in COCO_EXTRA.photos.photos()}
    for name, data in served.files.items():  # archives in downloads/, photos in downloads/coco-extra/<split>/
        path = downloads / COCO_EXTRA.name / photos[name] / name if name in photos else downloads / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    monkeypatch.setenv(DOWNLOAD_URL_ENV, "http://127.0.0.1:9")  # would be refused
    assert raw_data_root(progress=False) == empty_cache and not served.requests


def test_explicit_folders_come_first_and_must_hold_the_data(served, shared_data, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GCONET_DATA", str(shared_data))
    assert raw_data_root(progress=False) == shared_data
    with pytest.raises(DataError, match=r"given as --source but holds no icoseg/, coco128-seg/, coco-extra/ folder"):
        raw_data_root(tmp_path, progress=False)
    monkeypatch.setenv("GCONET_DATA", str(tmp_path))
    with pytest.raises(DataError, match=r"given as \$GCONET_DATA"):
        raw_data_root(progress=False)
    monkeypatch.delenv("GCONET_DATA")
    monkeypatch.setenv("GCONET_SHARED", str(shared_data.parent))
    assert raw_data_root(progress=False) == shared_data
    assert not served.requests


def test_class_names_come_from_the_yolo_yaml(published, tmp_path) -> None:
    yaml = tmp_path / "coco128-seg.yaml"
    yaml.write_bytes(published[COCO128_SEG.class_names.file_name])
    names = class_names_from_yolo_yaml(yaml)
    assert len(names) == 80 and names[0] == "person" and names[-1] == "toothbrush"
    yaml.write_text("names:\n  0: a\n  2: c\n")
    with pytest.raises(DataError, match="class ids 0, 1, 2"):
        class_names_from_yolo_yaml(yaml)


def test_the_raw_data_script_lists_the_registry_and_stops_on_a_bad_folder(data_script, tmp_path, capsys) -> None:
    script = data_script("raw_data")
    script.main(["list"])
    listing = capsys.readouterr().out
    for raw in (ICOSEG, COCO128_SEG, COCO_EXTRA):
        assert raw.licence in listing
    assert ICOSEG.archive.url in listing and COCO128_SEG.archive.mirrors[0] in listing
    assert "421 photos, each from its coco_url" in listing
    with pytest.raises(SystemExit) as stopped:
        script.main(["fetch", "--source", str(tmp_path)])
    error = capsys.readouterr().err
    assert stopped.value.code == 2 and error.count("\n") == 1 and "holds no icoseg/" in error


def test_coco_extra_is_listed_photo_by_photo_and_matches_the_shared_copy(shared_data) -> None:
    expected = files_of("coco-extra", read_manifest())
    photos, annotations = COCO_EXTRA.photos.photos(), COCO_EXTRA.photos.annotations()
    assert len(photos) == 421 and set(expected) == set(photos) | set(annotations)
    for relative, remote in photos.items():  # images/<split>/<name> comes from http://images.cocodataset.org/<split>/<name>
        assert remote.url == f"http://images.cocodataset.org/{relative.removeprefix('images/')}"
    for relative, shipped in annotations.items():  # the shipped annotation files are the shared ones
        assert sha256_of(shipped) == expected[relative] == sha256_of(shared_data / "coco-extra" / relative)
    assert mismatches(shared_data / "coco-extra", expected) == []


def _tiny_photo_source(tmp_path: Path) -> tuple[RawSource, dict[str, bytes], dict[str, str]]:
    """A made-up source of two photos listed by a shipped val2017 JSON: (source, served files, manifest)."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    images = [{"id": i, "file_name": f"{i:03d}.jpg", "coco_url": f"http://unused.invalid/val2017/{i:03d}.jpg",
               "height": 4, "width": 4} for i in (1, 2)]
    annotations = shipped / "instances_val2017.json"
    annotations.write_text(json.dumps({"images": images, "annotations": [], "categories": []}))
    served = {image["file_name"]: bytes([image["id"]]) * 100 for image in images}
    source = RawSource("tiny", "two photos", "CC0", "-", photos=CocoPhotos(shipped, ("val2017",)))
    manifest = {f"tiny/images/val2017/{name}": hashlib.sha256(data).hexdigest() for name, data in served.items()}
    manifest["tiny/annotations/instances_val2017.json"] = sha256_of(annotations)
    return source, served, manifest


def test_coco_photos_are_downloaded_one_by_one_kept_and_checked(served, empty_cache, tmp_path, monkeypatch) -> None:
    source, files, manifest = _tiny_photo_source(tmp_path)
    served.files = files
    monkeypatch.setattr(locate, "RAW_SOURCES", {"tiny": source})
    monkeypatch.setattr(locate, "read_manifest", lambda: manifest)
    assert raw_data_root(progress=False) == empty_cache
    assert sorted(_requested(served)) == ["001.jpg", "002.jpg"]
    assert mismatches(empty_cache / "tiny", files_of("tiny", manifest)) == []
    assert (empty_cache / "downloads" / "tiny" / "val2017" / "001.jpg").read_bytes() == files["001.jpg"]
    shutil.rmtree(empty_cache / "tiny")  # installed again from the kept downloads, offline
    assert raw_data_root(progress=False) == empty_cache and len(served.requests) == 2
    shutil.rmtree(empty_cache / "tiny")
    (empty_cache / "downloads" / "tiny" / "val2017" / "002.jpg").unlink()
    served.files["002.jpg"] = b"changed upstream"
    with pytest.raises(DataError, match=r"downloads/tiny: 1 of 3 files .*images/val2017/002\.jpg \(content differs\)"):
        raw_data_root(progress=False)
    assert not (empty_cache / "tiny").exists()
