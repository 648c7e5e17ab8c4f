"""Download one file over HTTP(S) with a progress bar, resuming a partial download (HTTP Range).

The bytes go to ``<file>.part`` first and the file is renamed only once complete, so an interrupted
download never looks finished. A later call (or the next attempt of the same call, when the
connection broke mid-file) asks the server for the missing bytes only (``Range: bytes=N-``);
a server that ignores Range answers 200 and the download starts over.

Why not ``torch.hub.download_url_to_file``: it writes to a fresh randomly named temporary file and
deletes it on any failure, so it cannot resume (no Range request), and it knows one address, so no
mirror; the archives' files are checked afterwards against ``raw_data.sha256``, so its ``hash_prefix``
would add nothing.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from gconet_lab.data.sources.registry import RemoteFile

CHUNK = 1 << 16
TIMEOUT_S = 30


class DownloadError(RuntimeError):
    """No address of a file could be downloaded; the message names them and the manual alternative."""


class _Interrupted(Exception):
    """The connection ended before the whole body arrived (worth resuming)."""


def download(remote: RemoteFile, folder: str | Path, attempts: int = 3, progress: bool = True) -> Path:
    """``folder/<file name>``, downloaded from the first address that works unless it is already there.

    A connection cut mid-file is resumed up to ``attempts`` times per address; an address that
    cannot be reached at all (offline, refused, HTTP error) moves on to the next (a mirror).
    """
    dest = Path(folder) / remote.file_name
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in remote.addresses():
        try:
            _fetch(url, dest, attempts, progress)
            return dest
        except (OSError, http.client.HTTPException, _Interrupted) as error:
            failures.append(f"{url} ({_reason(error)})")
    raise DownloadError(
        f"cannot download {'; '.join(failures)}. Without internet: fetch {remote.file_name} "
        f"elsewhere and put it at {dest}"
    )


def _reason(error: BaseException) -> str:
    """The short cause of a failed request: 'HTTP 404 Not Found', 'Connection refused', ..."""
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        error = error.reason if isinstance(error.reason, BaseException) else error
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def _fetch(url: str, dest: Path, attempts: int, progress: bool) -> None:
    """Download ``url`` into ``dest`` via ``dest.part``, resuming after a broken connection."""
    partial = dest.with_name(dest.name + ".part")
    for attempt in range(1, attempts + 1):
        try:
            _resume(url, partial, progress)
            break
        except (_Interrupted, http.client.IncompleteRead, ConnectionError, TimeoutError):
            if attempt == attempts:
                raise
    partial.replace(dest)


def _resume(url: str, partial: Path, progress: bool) -> None:
    """Append the bytes of ``url`` that ``partial`` lacks; raise :class:`_Interrupted` if cut short."""
    start = partial.stat().st_size if partial.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code != 416 or not start:  # 416: the range starts at or past the end
            raise
        partial.unlink()
        raise _Interrupted("stale partial download") from error
    with response:
        if response.status != 206:
            start = 0  # the server sent the whole file
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        with open(partial, "ab" if start else "wb") as handle, tqdm(
            total=total, initial=start, unit="B", unit_scale=True, desc=partial.name[: -len(".part")],
            disable=not progress,
        ) as bar:
            for chunk in iter(lambda: response.read(CHUNK), b""):
                handle.write(chunk)
                bar.update(len(chunk))
    if total is not None and partial.stat().st_size != total:
        raise _Interrupted(f"{partial.stat().st_size} of {total} bytes")
