"""Every command of README.md works as written.

The rule: every line of the README's ```` ```bash ```` blocks falls under exactly
one of these, and a line that falls under none fails the test (so a new command
cannot be added without saying how it is checked):

* **run**: a ``smoothcert ...`` line that needs no dataset files (nothing but
  the bundled digits). Run verbatim with bash, in order, in one scratch
  directory; each must exit 0. The README keeps these cheap (a minute in all).
* **parse** (not run; the command line is parsed by smoothcert's own parser and
  a ``--config`` recipe is resolved): lines with ``--data-dir`` (they need
  MNIST, CIFAR-10 or ImageNet files, which are not shipped) and ``torchrun``
  lines (several processes: ``tests/integration/test_distributed.py`` runs that
  form). For ``torchrun``, torchrun's own parser is applied first, so a missing
  ``--`` before the subcommand fails here.
* **skip**, each for a stated reason: ``make demo`` / ``make test`` (the
  suite itself; the demo at small settings is ``test_cli.py::test_demo_small``)
  and ``pip install`` lines (they change the environment and need the network).

Then the ```` ```python ```` blocks run, in one fresh interpreter, in the same
directory (they use the run the commands trained); a block that calls
``Smooth.from_checkpoint`` is skipped, with that reason, where the installed
smoothcert has no such method.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from smoothcert import Smooth
from smoothcert.cli.main import parse_args
from smoothcert.recipes import read_config
from tests.integration._doc_commands import ROOT, code_blocks, command_lines, run_line, run_python, shell_env

README = (ROOT / "README.md").read_text(encoding="utf-8")
SKIP = {"make demo": "the demo at full settings (test_cli.py::test_demo_small runs it small)",
        "make test": "the test suite itself", "make lint": "part of make test, which CI runs",
        "pip install": "changes the environment; needs the network"}


def classify(line: str) -> str:
    """``run``, ``parse`` or ``skip`` (see the module docstring); ``ValueError`` for a line no rule covers."""
    if any(line.startswith(prefix) for prefix in SKIP):
        return "skip"
    if line.startswith("torchrun ") or (line.startswith("smoothcert ") and "--data-dir" in shlex.split(line)):
        return "parse"
    if line.startswith("smoothcert "):
        return "run"
    raise ValueError(f"README command {line!r} is covered by no rule of tests/integration/test_readme.py")


LINES = [line for block in code_blocks(README, "bash") for line in command_lines(block)]


def smoothcert_argv(line: str) -> list[str]:
    """The argv smoothcert's ``main`` receives for ``line`` (after torchrun's parser, for a torchrun line)."""
    words = shlex.split(line)
    if words[0] == "smoothcert":
        return words[1:]
    from torch.distributed.run import get_args_parser

    launched = get_args_parser().parse_args(words[1:])
    assert launched.module and launched.training_script == "smoothcert", line
    return list(launched.training_script_args)


def test_every_readme_command_is_covered_by_a_rule() -> None:
    kinds = [classify(line) for line in LINES]
    assert kinds.count("run") >= 6 and kinds.count("parse") >= 4


@pytest.mark.parametrize("line", [line for line in LINES if classify(line) == "parse"])
def test_readme_command_parses(line: str) -> None:
    argv = smoothcert_argv(line)
    if argv[:1] == ["--"]:  # what main() drops (see cli/main.py)
        argv = argv[1:]
    args = parse_args(argv)  # a bad flag exits 2 here
    if getattr(args, "config", None):
        read_config(args.config)


@pytest.mark.slow  # the README's first run: trains twice, certifies twice, predicts, analyzes (~1 min)
def test_readme_commands_run_verbatim(tmp_path: Path) -> None:
    env = shell_env(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    for line in LINES:
        if classify(line) == "run":
            run_line(line, work, env)
    assert (work / "runs" / "g025" / "checkpoint.pt").is_file()
    assert (work / "acc.png").read_bytes()[:4] == b"\x89PNG"
    rows = (work / "runs" / "g025" / "certify.tsv").read_text().splitlines()
    assert rows[0].split("\t")[:6] == ["idx", "label", "predict", "radius", "correct", "time"] and len(rows) == 19
    blocks = code_blocks(README, "python")
    assert blocks, "the README has a Python example"
    if not hasattr(Smooth, "from_checkpoint") and any("from_checkpoint" in block for block in blocks):
        pytest.skip("the README's Python example uses Smooth.from_checkpoint, which this smoothcert does not have")
    run_python("\n".join(blocks), work, env)
