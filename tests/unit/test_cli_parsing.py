"""The command line's answers to a mistyped command: closest flag or subcommand, no abbreviations, resume line."""

from __future__ import annotations

import pytest

from smoothcert.cli.main import main, parse_args, resume_command
from smoothcert.cli.train import resume_argv

BUDGET = ["budget", "--n", "100", "--sigma", "1"]


def error_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    return line


@pytest.mark.parametrize("extra,line", [
    (["--sigm", "1"], "error: unrecognized argument --sigm; did you mean --sigma? (see 'smoothcert budget --help')"),
    (["--alhpa=0.01"], "error: unrecognized argument --alhpa; did you mean --alpha? (see 'smoothcert budget --help')"),
    (["--sig", "1"], "error: unrecognized argument --sig; did you mean --sigma? (see 'smoothcert budget --help')"),
    (["--zzz"], "error: unrecognized argument --zzz (see 'smoothcert budget --help')"),
    (["7"], "error: unrecognized arguments: 7 (see 'smoothcert budget --help')"),
])
def test_unknown_flag_names_the_closest_one(extra: list[str], line: str, capsys) -> None:
    assert error_line([*BUDGET, *extra], capsys) == line


def test_flags_are_not_abbreviated(capsys) -> None:
    # argparse would otherwise read --radi as --radius: a flag added later could change the meaning
    assert "did you mean --radius?" in error_line([*BUDGET, "--radi", "0.5"], capsys)
    assert parse_args([*BUDGET, "--radius", "0.5"]).radius == [0.5]


@pytest.mark.parametrize("word,line", [
    ("certfy", "error: unknown command 'certfy'; did you mean certify? (see 'smoothcert --help')"),
    ("xyzzy", "error: unknown command 'xyzzy'; choose one of: train, certify, predict, attack, analyze, budget, "
              "margins, report, reproduce, convert, demo, download (see 'smoothcert --help')"),
])
def test_unknown_command_names_the_closest_one(word: str, line: str, capsys) -> None:
    assert error_line([word, "--out", "x"], capsys) == line


def test_train_resumes_with_resume_added_once() -> None:
    argv = ["train", "--dataset", "digits", "--sigma", "0.25", "--out", "run", "lr=0.1"]
    assert resume_argv(argv) == [*argv, "--resume"]
    assert resume_argv([*argv, "--resume"]) == [*argv, "--resume"]
    assert resume_argv(["train", "--out", "run", "--", "lr=0.1"]) == ["train", "--out", "run", "--resume", "--",
                                                                      "lr=0.1"]


def test_resume_command_is_a_shell_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORLD_SIZE", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    argv = ["train", "--out", "my run", "--sigma", "0.25"]
    assert resume_command(argv, resume_argv) == "smoothcert train --out 'my run' --sigma 0.25 --resume"
    assert resume_command(["certify", "run", "--out", "c.tsv"]) == "smoothcert certify run --out c.tsv"
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert resume_command(argv, resume_argv).startswith("torchrun --nproc_per_node=4 -m smoothcert train --out")
