"""``smoothcert analyze``: certified-accuracy tables, ACR, abstention, plots from TSVs."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys

from smoothcert.analysis import FORMATS, format_table, load_results, summarize
from smoothcert.errors import UserError

DEFAULT_RADII: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``analyze`` arguments to ``parser``."""
    parser.add_argument("files", nargs="+", metavar="FILE.tsv",
                        help="certification TSVs (ours or the original papers')")
    parser.add_argument("--radii", nargs="+", type=float, default=list(DEFAULT_RADII),
                        metavar="R", help="radii for certified accuracy (default: %(default)s)")
    parser.add_argument("--format", choices=FORMATS, default="markdown",
                        help="table format (default: %(default)s)")
    parser.add_argument("--plot", metavar="OUT",
                        help="also write certified accuracy vs radius to OUT (.png, .svg, .pdf)")
    parser.add_argument("--name", nargs="+", metavar="NAME",
                        help="display names, one per file (default: file name without .tsv)")


def run(args: argparse.Namespace) -> int:
    """Print the table for ``args.files`` to stdout; write the plot if asked.

    All input is checked before anything is printed or written.

    Returns:
        0 on success.

    Raises:
        UserError: A negative or non-finite radius, a ``--name`` count that
            differs from the number of files, an unsupported plot extension,
            or an unreadable TSV.
    """
    bad = [r for r in args.radii if not (math.isfinite(r) and r >= 0)]
    if bad:
        raise UserError(f"--radii must be finite numbers >= 0, got {bad[0]}; "
                        "e.g. --radii 0 0.25 0.5")
    radii = list(dict.fromkeys(float(r) for r in args.radii))  # drop repeats, keep order
    if args.name is not None and len(args.name) != len(args.files):
        raise UserError(f"--name got {len(args.name)} names for {len(args.files)} files; "
                        "give one name per file, in the same order")
    if args.plot:
        from smoothcert.analysis.plots import plot_format

        plot_format(args.plot)
    results = [load_results(f) for f in args.files]
    if args.name is not None:
        results = [dataclasses.replace(r, name=n) for r, n in zip(results, args.name)]
    print(format_table([summarize(r, radii) for r in results], radii, args.format))
    if args.plot:
        from smoothcert.analysis.plots import plot_certified_accuracy

        plot_certified_accuracy(results, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
