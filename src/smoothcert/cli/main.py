"""Entry point of ``smoothcert`` and ``python -m smoothcert``.

A user's mistake (:class:`UserError`, bad flag) prints one ``error: ...`` line on
stderr and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from smoothcert import __version__
from smoothcert.errors import UserError

SUBCOMMANDS = ("train", "certify", "predict", "attack", "analyze", "budget", "margins", "report", "reproduce", "convert", "demo")


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one ``error:`` line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see '{self.prog} --help')", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = _Parser(prog="smoothcert", description="Certified robustness by randomized smoothing.")
    parser.add_argument("--version", action="version", version=f"smoothcert {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"smoothcert.cli.{name}")
        doc = (module.__doc__ or "").strip().splitlines()[0]
        sub = subparsers.add_parser(name, help=doc, description=doc)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; returns the exit status.

    A leading ``--`` is dropped, so ``smoothcert -- certify ...`` is ``smoothcert certify ...``:
    ``torchrun ... -m smoothcert -- certify ...`` needs the ``--`` to keep its own parser off
    our flags, and whether torchrun passes it on depends on the Python version's argparse.
    """
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["--"]:
        args_in = args_in[1:]
    parser = build_parser()
    args = parser.parse_args(args_in)
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
        print("error: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
