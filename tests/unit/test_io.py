"""Crash-safe writes keep ordinary permissions; the temporaries of killed writes are cleaned up."""

from __future__ import annotations

import os
from pathlib import Path

from smoothcert._io import atomic_write_text, remove_leftover_temporaries


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


def test_remove_leftover_temporaries_touches_only_that_files_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(b"intact")
    leftovers = [tmp_path / ".checkpoint.ab12_x9z.pt.tmp", tmp_path / ".checkpoint.q1w2e3r4.pt.tmp"]
    others = [tmp_path / ".config.ab12_x9z.yaml.tmp", tmp_path / ".checkpoint.ab12_x9z.tsv.tmp",
              tmp_path / "checkpoint.pt.tmp", tmp_path / ".checkpoint2.ab12_x9z.pt.tmp"]
    for path in [*leftovers, *others]:
        path.write_bytes(b"half")
    assert remove_leftover_temporaries(target) == sorted(leftovers)
    assert sorted(tmp_path.iterdir()) == sorted([target, *others])
    assert target.read_bytes() == b"intact"
    assert remove_leftover_temporaries(tmp_path / "missing" / "checkpoint.pt") == []
