"""The bad-input catalogue (``docs/errors.md``): one ``error:`` line, status 2, no traceback, nothing touched.

Each case runs ``python -m smoothcert ...`` in its own process (forked from a
warm server, see ``_cli_server``; ``test_the_server_runs_what_python_m_runs``
checks that a cold ``python -m smoothcert`` prints the same) inside a fresh
copy of a directory of broken inputs, and checks that every file of that
directory is byte-identical afterwards and that no file appeared or vanished.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration._bad_inputs import CASES, MARKER, build_world, doc_entries, documented, matches_doc
from tests.integration._cli_server import CliServer

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors.md"


@pytest.fixture(scope="module")
def world(cli: CliServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_world(tmp_path_factory.mktemp("bad-inputs") / "world", cli.run)


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root`` -> "dir" or the SHA-256 of its bytes."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        found[rel] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def test_catalogue_is_large_and_documented() -> None:
    assert len(CASES) >= 25 and len({case.id for case in CASES}) == len(CASES)
    assert set(doc_entries(DOC.read_text(encoding="utf-8"))) == {case.id for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_gives_one_error_line(case, world: Path, cli: CliServer, tmp_path: Path) -> None:
    work = tmp_path / "w"
    shutil.copytree(world, work)
    before = snapshot(work)
    result = cli.run(case.argv, cwd=work)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and case.needle in lines[0], result.stderr
    assert snapshot(work) == before, "a file was created, changed or removed"
    assert not (work / MARKER).exists()
    documented_line = doc_entries(DOC.read_text(encoding="utf-8"))[case.id]
    assert matches_doc(documented_line, lines[0]), (
        f"docs/errors.md says\n  {documented_line}\nbut the command printed\n  {documented(case, lines[0])}")


def test_the_server_runs_what_python_m_runs(world: Path, cli: CliServer, tmp_path: Path) -> None:
    case = next(case for case in CASES if case.id == "ckpt-nan-logits")  # loads, builds, samples, cleans up
    runs = []
    for name, run in (("cold", None), ("warm", cli.run)):
        work = tmp_path / name
        shutil.copytree(world, work)
        if run is None:
            proc = subprocess.run([sys.executable, "-m", "smoothcert", *case.argv], cwd=work, capture_output=True,
                                  text=True, env={**os.environ, "SMOOTHCERT_PROGRESS": "0"})
            runs.append((proc.returncode, proc.stdout, proc.stderr))
        else:
            result = run(case.argv, cwd=work)
            runs.append((result.returncode, result.stdout, result.stderr))
    assert runs[0] == runs[1] and runs[0][0] == 2
