"""The code of docs/python_api.md and docs/extending.md runs as printed.

Each document's ```` ```python ```` blocks run in order in one fresh interpreter
(so registrations start from the built-in ones), in a scratch directory. A
block whose first line is ``# file: NAME`` is not run but written to ``NAME``,
as the document asks the reader to do; docs/extending.md's other blocks are
also saved as ``my_extensions.py``, the module the document tells the reader to
put them in. Then the document's ```` ```bash ```` lines run verbatim (see
``_doc_commands``). A block that calls ``Smooth.from_checkpoint`` runs on its
own, on the digits run of ``conftest.digits_run`` placed at ``runs/g025``, and
is skipped, with that reason, where ``Smooth`` has no ``from_checkpoint``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smoothcert import Smooth
from tests.integration._doc_commands import ROOT, code_blocks, command_lines, run_line, run_python, shell_env

FILE_MARK = "# file: "


def _blocks(doc: str) -> tuple[list[str], dict[str, str], list[str]]:
    """(blocks to run, files to write, blocks that need ``Smooth.from_checkpoint``) of ``docs/<doc>``."""
    run, files, loading = [], {}, []
    for block in code_blocks((ROOT / "docs" / doc).read_text(encoding="utf-8"), "python"):
        first = block.splitlines()[0]
        if first.startswith(FILE_MARK):
            files[first.removeprefix(FILE_MARK).strip()] = block
        elif "from_checkpoint" in block:
            loading.append(block)
        else:
            run.append(block)
    return run, files, loading


def test_python_api_snippets_run(tmp_path: Path) -> None:
    run, files, loading = _blocks("python_api.md")
    assert len(run) >= 5 and not files and len(loading) == 1
    out = run_python("\n".join(run), tmp_path, shell_env(tmp_path)).stdout
    assert "Certificate(prediction=1, radius=0.4" in out
    assert "base model returned logits of shape (20, 2) for a batch of 10 inputs" in out


@pytest.mark.skipif(not hasattr(Smooth, "from_checkpoint"), reason="Smooth.from_checkpoint is not in this smoothcert")
def test_python_api_from_checkpoint_snippet_runs(digits_run: Path, tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "g025").symlink_to(digits_run, target_is_directory=True)
    _, _, loading = _blocks("python_api.md")
    out = run_python("import torch\n" + "\n".join(loading), tmp_path, shell_env(tmp_path)).stdout
    assert out.startswith("label ") and "certified radius" in out


@pytest.mark.slow  # trains the toy model and certifies 20 points through the launcher (~15 s)
def test_extending_snippets_and_commands_run(tmp_path: Path) -> None:
    run, files, loading = _blocks("extending.md")
    assert len(run) == 3 and set(files) == {"my_smoothcert.py"} and not loading
    env = shell_env(tmp_path)
    out = run_python("\n".join(run), tmp_path, env).stdout
    assert "GaussianLabelSmoothing(sigma=0.25, smoothing=0.2)" in out
    (tmp_path / "my_extensions.py").write_text("\n".join(run))
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    lines = [line for block in code_blocks((ROOT / "docs" / "extending.md").read_text(), "bash")
             for line in command_lines(block)]
    assert len(lines) == 3
    outputs = [run_line(line, tmp_path, env).stdout for line in lines]
    config = (tmp_path / "runs" / "blobs" / "config.yaml").read_text()
    assert "method: gaussian_label_smoothing" in config and "smoothing: 0.2" in config
    rows = (tmp_path / "runs" / "blobs" / "certify.tsv").read_text().splitlines()
    assert len(rows) == 21
    correct = sum(int(row.split("\t")[4]) for row in rows[1:])
    assert correct >= 18, rows  # blobs 0.7 apart with spread 0.05: the smoothed classifier gets nearly all right
    assert "| certify | 20 |" in outputs[2] and "r=0.2" in outputs[2]  # analyze's table of the 20 rows
