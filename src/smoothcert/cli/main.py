"""Entry point of ``smoothcert`` and ``python -m smoothcert``.

A user's mistake (:class:`UserError`, bad flag) prints one ``error: ...`` line on
stderr and exits with status 2, without a traceback. An unknown flag is answered
with the closest flag of the subcommand; flags are never abbreviated (``--sig``
is not ``--sigma``), so a flag added later cannot change what a command means. Only the subcommand that runs is
imported (``smoothcert --help`` imports none), and each imports torch, numpy,
scipy or matplotlib inside its ``run()``, so help and bad flags answer at once.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from smoothcert import __version__
from smoothcert.errors import UserError

# Each subcommand and its one-line summary (the first line of its module's docstring; a test keeps them equal),
# written here so that listing the subcommands imports none of them.
SUBCOMMANDS: dict[str, str] = {
    "train": "Train a base classifier for smoothing (any registered method), resumable.",
    "certify": "CERTIFY every K-th example of a dataset, or decide target radii sequentially; rerunning resumes.",
    "predict": "PREDICT with abstention on every K-th example; rerunning with the same arguments resumes.",
    "attack": "Empirical robust accuracy: attack the smoothed classifier, then PREDICT on the attacked input.",
    "analyze": "Certified-accuracy tables (with intervals), ACR, abstention, robust accuracy, groups, envelope "
               "and plots.",
    "budget": "The Monte Carlo budget: largest certifiable radius for N, and samples needed for a radius.",
    "margins": "Margin diagnostics of checkpoints: logit margin under noise and input-space margin (attack).",
    "report": "One self-contained HTML report of certify, predict and attack runs (tables, plots, manifests, "
              "configs, logs).",
    "reproduce": "Reproduce a paper's table: train each recipe, certify, compare with the published numbers.",
    "convert": "Convert a checkpoint of the original randomized-smoothing code into a smoothcert checkpoint.",
    "demo": "The main job on bundled data: train Gaussian digits models at two sigmas, certify, tabulate, plot.",
    "download": "Fetch a dataset (mnist, cifar10) from its published files, checksums verified; resumable.",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one ``error:`` line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(2)


def _same_argv(argv: Sequence[str]) -> list[str]:
    return list(argv)


def _build(command: str | None) -> tuple[_Parser, _Parser | None]:
    parser = _Parser(prog="smoothcert", description="Certified robustness by randomized smoothing.", allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"smoothcert {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    chosen = None
    for name, summary in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=summary, description=summary, allow_abbrev=False)
        if name == command:
            module = importlib.import_module(f"smoothcert.cli.{name}")
            module.add_arguments(sub)
            sub.set_defaults(_run=module.run, _resume_argv=getattr(module, "resume_argv", _same_argv))
            chosen = sub
    return parser, chosen


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``smoothcert`` parser, with the arguments of ``command`` (whose module it imports) only.

    Every subcommand is listed with its summary; the others parse no arguments.
    ``build_parser()`` imports no subcommand module.
    """
    return _build(command)[0]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse a whole command line; a bad one is an ``error:`` line and ``SystemExit(2)``.

    An unknown flag is named with the subcommand's closest flag (``unrecognized
    argument --sigm; did you mean --sigma?``), as is an unknown subcommand.
    """
    command = next((word for word in argv if not word.startswith("-")), None)
    parser, sub = _build(command)
    if command is not None and sub is None:
        parser.error(f"unknown command {command!r}"
                     f"{_did_you_mean(command, list(SUBCOMMANDS)) or '; choose one of: ' + ', '.join(SUBCOMMANDS)}")
    args, extras = parser.parse_known_args(argv)
    if extras:
        (sub or parser).error(_unrecognized(extras, sub or parser))
    return args


def _unrecognized(extras: Sequence[str], parser: argparse.ArgumentParser) -> str:
    flag = next((word for word in extras if word.startswith("-") and not _is_number(word)), None)
    if flag is None:
        return f"unrecognized arguments: {' '.join(extras)}"
    name = flag.split("=", 1)[0]
    return f"unrecognized argument {name}{_did_you_mean(name, list(parser._option_string_actions))}"


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]}?" if close else ""


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def resume_command(argv: Sequence[str], resume_argv: Callable[[Sequence[str]], list[str]] = _same_argv) -> str:
    """The shell command that continues the interrupted ``argv``: ``resume_argv(argv)`` after the program name.

    A subcommand whose rerun needs another command line (``train``: ``--resume``)
    defines ``resume_argv``; the others resume when rerun as they were. Under
    torchrun (single node) the program is ``torchrun --nproc_per_node=K -m smoothcert``.
    """
    again = resume_argv(argv)
    world, local = os.environ.get("WORLD_SIZE"), os.environ.get("LOCAL_WORLD_SIZE")
    if world is None or local is None:
        program = "smoothcert"
    elif world == local:
        program = f"torchrun --nproc_per_node={local} -m smoothcert"
    else:
        program = "torchrun <the same torchrun options> -m smoothcert"
    return f"{program} {shlex.join(again)}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the exit status.

    A leading ``--`` is dropped, so ``smoothcert -- certify ...`` is ``smoothcert certify ...``:
    ``torchrun ... -m smoothcert -- certify ...`` needs the ``--`` to keep its own parser off
    our flags, and whether torchrun passes it on depends on the Python version's argparse.
    """
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["--"]:
        words = words[1:]
    args = parse_args(words)
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `smoothcert analyze ... | head`: the reader left, nothing is wrong
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        if os.environ.get("RANK", "0") == "0":  # under torchrun every rank is interrupted; one line is enough
            print(f"error: interrupted; to resume, run: {resume_command(words, args._resume_argv)}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
