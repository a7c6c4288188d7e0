"""Crash-safe writes keep ordinary permissions."""

from __future__ import annotations

import os
from pathlib import Path

from smoothcert._io import atomic_write_text


def test_atomic_write_gives_umask_mode_and_keeps_existing_mode(tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        path = tmp_path / "a.txt"
        atomic_write_text(path, "one")
        assert path.stat().st_mode & 0o777 == 0o644 and path.read_text() == "one"
        path.chmod(0o600)
        atomic_write_text(path, "two")
        assert path.stat().st_mode & 0o777 == 0o600 and path.read_text() == "two"
        assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary left behind
    finally:
        os.umask(umask)
