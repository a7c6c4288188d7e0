"""Ctrl-C: the command stops with status 130 and one line giving the exact command that continues it."""

from __future__ import annotations

import os
import shlex
import signal
import time
from pathlib import Path

from tests.integration._cli_server import CliServer

PREFIX = "error: interrupted; to resume, run: "


def test_ctrl_c_in_training_prints_the_command_that_resumes(cli: CliServer, tmp_path: Path) -> None:
    argv = ["train", "--dataset", "digits", "--arch", "digits_cnn", "--sigma", "0.25", "--out", "my run",
            "--epochs", "30", "--batch-size", "64", "--quiet"]
    pid = cli.spawn(argv, cwd=tmp_path)
    log, deadline = tmp_path / "my run" / "log.csv", time.monotonic() + 120
    while (not log.is_file() or len(log.read_text().splitlines()) < 3) and time.monotonic() < deadline:
        time.sleep(0.01)  # two epochs logged: interrupted mid-run, with a checkpoint behind it
    os.kill(pid, signal.SIGINT)
    result = cli.wait(pid)
    assert result.returncode == 130 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line == PREFIX + "smoothcert " + shlex.join([*argv, "--resume"])
    assert cli.run(argv, cwd=tmp_path).returncode == 2  # as it was, the command is refused: the run exists
    again = shlex.split(line.removeprefix(PREFIX))
    assert again[0] == "smoothcert"
    resumed = cli.run(again[1:], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    epochs = [row.split(",")[0] for row in log.read_text().splitlines()[1:]]
    assert epochs == [str(e) for e in range(1, 31)]
