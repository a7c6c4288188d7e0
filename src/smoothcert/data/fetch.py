"""Downloading a dataset's files: resumable, verified, atomic, never twice.

For each file of the dataset's :class:`~smoothcert.data.sources.Source`:

* a file already in the directory is hashed: the right SHA-256 means nothing is
  fetched; another one is an error (the file is left as it is);
* otherwise the bytes go to ``NAME.part``. A ``.part`` left by an interrupted
  download is continued with an HTTP ``Range`` request; a server that ignores
  ``Range`` (answers 200) makes the file start over from byte 0;
* mirrors are tried in order; a connection that breaks keeps what arrived, so
  the next mirror, or a rerun, continues from there;
* the complete ``.part`` is hashed: the right SHA-256 renames it to ``NAME``
  (atomically, so ``NAME`` is only ever a verified file); a wrong one deletes
  it (after a resumed transfer the file is fetched once more from byte 0).

Archives are then unpacked (only the dataset's folder, member by member, each
written to a temporary and renamed; existing files are kept). One process at a
time downloads into a directory (an advisory lock on the directory itself), so
ranks of a ``torchrun`` job can all ask for the same dataset. Only the standard
library speaks HTTP.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tarfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from smoothcert import __version__
from smoothcert.data.layouts import holds
from smoothcert.data.sources import RemoteFile, Source, file_urls, get_source
from smoothcert.errors import UserError
from smoothcert.runtime.progress import byte_bar

CHUNK = 1 << 20
TIMEOUT_S = 60.0
_NETWORK_ERRORS = (OSError, http.client.HTTPException)  # URLError, timeouts, resets are OSErrors


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, lower-case hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _say(quiet: bool, message: str) -> None:
    if not quiet:
        print(message, file=sys.stderr)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "reason", None) or exc) or type(exc).__name__
    return " ".join(text.split())


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        yield
        return
    fd = os.open(directory, os.O_RDONLY)  # the directory itself is the lock: no file is left behind
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _first_byte(content_range: str | None) -> int | None:
    """``bytes START-END/TOTAL`` -> START (None when absent or malformed)."""
    if not content_range or not content_range.startswith("bytes "):
        return None
    start = content_range[6:].split("-", 1)[0].strip()
    return int(start) if start.isdigit() else None


def _transfer(url: str, part: Path, size: int | None, quiet: bool) -> str | None:
    """Fetch ``url`` into ``part``, continuing what is there; None when complete, else why it stopped."""
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:  # not a prefix of this file
        part.unlink()
        offset = 0
    if size is not None and offset == size:
        return None
    headers = {"User-Agent": f"smoothcert/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing past the end: the part may be whole, the checksum decides
            return None
        return f"HTTP {exc.code} {exc.reason}"
    except _NETWORK_ERRORS as exc:
        return _reason(exc)
    with response:
        if response.status == 206:
            if _first_byte(response.headers.get("Content-Range")) != offset:
                part.unlink()
                return f"the server sent another range than bytes={offset}- (the partial file was discarded)"
            start = offset
        else:  # the whole file: Range ignored, or none asked
            start = 0
        length = response.headers.get("Content-Length", "")
        total = start + int(length) if length.isdigit() else size
        received, reason = start, None
        with open(part, "ab" if start else "wb") as fh, \
                byte_bar(desc=part.name[: -len(".part")], total=total, initial=start, disable=quiet) as bar:
            while True:
                try:
                    block = response.read(CHUNK)
                except _NETWORK_ERRORS as exc:  # a write error below is the disk's, and is raised
                    reason = _reason(exc)
                    break
                if not block:
                    break
                fh.write(block)
                received += len(block)
                bar.update(len(block))
            fh.flush()
            os.fsync(fh.fileno())
    if reason is None and total is not None and received < total:
        reason = f"the connection closed after {received:,} of {total:,} bytes"
    return reason


def _fetch(file: RemoteFile, directory: Path, urls: list[str], quiet: bool) -> None:
    """Put the verified ``file`` in ``directory`` from the first of ``urls`` that serves it."""
    final, part = directory / file.name, directory / f"{file.name}.part"
    failures: list[str] = []
    for url in urls:
        for _ in range(2):  # a second pass only after a resumed transfer failed its checksum
            resumed = part.exists() and part.stat().st_size > 0
            if resumed:
                _say(quiet, f"{file.name}: resuming {part} at {part.stat().st_size:,} bytes from {url}")
            reason = _transfer(url, part, file.size, quiet)
            if reason is not None:
                failures.append(f"{url}: {reason}")
                break
            digest = sha256_file(part)
            if digest == file.sha256:
                os.replace(part, final)
                _say(quiet, f"{file.name}: fetched from {url}, SHA-256 verified")
                return
            part.unlink()
            if not resumed:
                failures.append(f"{url} sent a file with SHA-256 {digest}, not {file.sha256}; it was deleted")
                break
    kept = f"; {part} keeps {part.stat().st_size:,} bytes: rerun to resume" if part.exists() else "; rerun to retry"
    raise UserError(f"could not download {file.name} ({'; '.join(failures)}){kept}, or set $SMOOTHCERT_DOWNLOAD_URL "
                    "to a mirror")


def _ensure(file: RemoteFile, directory: Path, urls: list[str], quiet: bool) -> None:
    final = directory / file.name
    if not final.is_file():
        _fetch(file, directory, urls, quiet)
        return
    digest = sha256_file(final)
    if digest != file.sha256:
        raise UserError(f"{final} has SHA-256 {digest}, not the published {file.sha256}; it was left as it is: "
                        "move it away and rerun to download the published file")
    _say(quiet, f"{file.name}: already in {directory}, SHA-256 verified")


def _extract(archive: Path, directory: Path, folder: str, quiet: bool) -> None:
    """Unpack the regular files directly under ``folder/`` in the tar ``archive``; existing files are kept."""
    target = directory / folder
    target.mkdir(exist_ok=True)
    written = 0
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                if not member.isfile() or len(parts) != 2 or parts[0] != folder or parts[1] in (".", ".."):
                    continue
                path = target / parts[1]
                if path.exists():
                    continue
                source = tar.extractfile(member)
                if source is None:
                    continue
                temporary = path.with_name(f".{path.name}.part")
                with source, open(temporary, "wb") as out:
                    while block := source.read(CHUNK):
                        out.write(block)
                os.replace(temporary, path)
                written += 1
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise UserError(f"cannot unpack {archive} into {target} ({_reason(exc)}); free disk space or delete "
                        f"{archive} and rerun") from None
    _say(quiet, f"{archive.name}: unpacked {written} files into {target}")


def _make_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the data directory {directory} ({exc.strerror}); choose another "
                        "--data-dir") from None


def download_dataset(dataset: str, directory: str | Path, *, quiet: bool = False) -> Path:
    """Fetch, verify and unpack ``dataset`` into ``directory``; returns the directory.

    A directory that already holds the dataset in another form (decompressed
    files, unpacked folder) is left as it is. Verified files are never fetched
    again; see the module docstring for resumption, mirrors and checksums.

    Raises:
        UserError: the dataset cannot be downloaded, every mirror failed, a file
            does not match its checksum, or the directory cannot be written.

    Example:
        >>> download_dataset("mnist", Path.home() / ".cache/smoothcert/mnist")  # doctest: +SKIP
    """
    source: Source = get_source(dataset)
    directory = Path(directory)
    missing = [f for f in source.files if not (directory / f.name).is_file()]
    if missing and holds(dataset, directory):
        _say(quiet, f"{dataset}: {directory} already holds the dataset; nothing to fetch")
        return directory
    _make_directory(directory)
    try:
        with _locked(directory):
            for file in source.files:
                _ensure(file, directory, file_urls(source, file.name), quiet)
            if source.extract and not holds(dataset, directory):
                for file in source.files:
                    _extract(directory / file.name, directory, source.extract, quiet)
    except OSError as exc:  # the disk, not the network: full, read-only, permissions
        raise UserError(f"cannot write into {directory} ({_reason(exc)}); free disk space or choose another "
                        "--data-dir") from None
    return directory
