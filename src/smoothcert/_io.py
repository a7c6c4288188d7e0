"""Crash-safe file writing: write to a temporary name in the same directory, fsync, rename."""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(fh)`` on a temporary file, then rename it over ``path``.

    A crash at any moment leaves either the old file or the new one, never a
    half-written file. The temporary keeps ``path``'s suffix (some writers, such
    as matplotlib, choose the format from it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = _temporary_affixes(path)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=path.parent)
    try:
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def remove_leftover_temporaries(path: str | Path) -> list[Path]:
    """Delete the temporaries that killed :func:`atomic_write` calls for ``path`` left; return them.

    A process killed inside :func:`atomic_write` leaves its ``.STEM.XXXXXXXX SUFFIX.tmp``
    beside ``path`` (``path`` itself is intact). Only names of that pattern for
    this very ``path`` are touched. Call it only where one writer owns ``path``
    (a resumed training run): a live writer's temporary has the same shape.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    prefix, suffix = _temporary_affixes(path)
    leftovers = sorted(path.parent.glob(f"{glob.escape(prefix)}*{glob.escape(suffix)}"))
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    return leftovers


def _temporary_affixes(path: Path) -> tuple[str, str]:
    """How :func:`atomic_write` names the temporary for ``path``: ``.STEM.`` + random + ``SUFFIX.tmp``."""
    return f".{path.stem}.", f"{path.suffix}.tmp"


def atomic_write_text(path: str | Path, text: str) -> None:
    """:func:`atomic_write` for a UTF-8 string."""
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def _mode_for(path: Path) -> int:
    """The existing file's mode, else 0666 less the umask (what ``open`` would give)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
