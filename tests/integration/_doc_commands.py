"""Reading the code blocks of a Markdown document and running them as a user would.

Commands run through ``bash -c`` exactly as written, in a scratch directory, with
``smoothcert`` and ``python`` on ``PATH`` meaning the interpreter and package
under test (small shims in front of ``PATH``), so that a document's commands are
checked verbatim, globs and continuation lines included.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import smoothcert

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_SRC = Path(smoothcert.__file__).resolve().parents[1]


def code_blocks(text: str, language: str) -> list[str]:
    """The bodies of the fenced blocks opened by ```` ```language ````, in order."""
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def command_lines(block: str) -> list[str]:
    """A shell block's commands: continuation lines joined, blank and comment-only lines dropped."""
    joined = re.sub(r"\\\n\s*", "", block)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def shell_env(tmp: Path) -> dict[str, str]:
    """The environment of a user who installed the package under test: ``smoothcert`` and ``python`` on PATH."""
    bin_dir = tmp / "_bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, target in (("python", f'exec "{sys.executable}" "$@"'),
                         ("smoothcert", f'exec "{sys.executable}" -m smoothcert "$@"')):
        shim = bin_dir / name
        shim.write_text(f"#!/bin/sh\n{target}\n")
        shim.chmod(0o755)
    path = os.pathsep.join([str(PACKAGE_SRC), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": path,
            "OMP_NUM_THREADS": "1", "SMOOTHCERT_PROGRESS": "0", "MPLBACKEND": "Agg"}


def run_line(line: str, cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run one command line with bash; fail the test with its output unless it exits 0."""
    proc = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert proc.returncode == 0, f"`{line}` exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def run_python(code: str, cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (registries start empty); fail the test unless it exits 0."""
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert proc.returncode == 0, f"the snippets failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc
