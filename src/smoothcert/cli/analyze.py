"""Certified-accuracy tables, ACR, abstention, groups, envelope and plots from certification TSVs."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from smoothcert.cli import _analysis_args as common
from smoothcert.cli._args import positive_float, positive_int
from smoothcert.errors import UserError

DEFAULT_RADII = common.DEFAULT_RADII
# analysis.tables.FORMATS, written here so that `analyze --help` does not import numpy (a test keeps them equal)
FORMATS = ("markdown", "latex", "csv", "json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``analyze`` arguments to ``parser``."""
    parser.add_argument("files", nargs="+", metavar="FILE.tsv",
                        help="certification TSVs (ours or the original papers')")
    common.add_radii(parser)
    parser.add_argument("--format", choices=FORMATS, default="markdown",
                        help="table format (default: %(default)s)")
    parser.add_argument("--name", nargs="+", metavar="NAME",
                        help="display names, one per file (default: file name without .tsv)")
    parser.add_argument("--abstention", action="store_true",
                        help="also compare where the runs abstain (matched by idx; needs 2+ files)")
    parser.add_argument("--envelope", action="store_true",
                        help="also report the best certified accuracy per radius and which run "
                             "reaches it, and draw it on --plot")
    common.add_groups(parser)
    parser.add_argument("--plot", metavar="OUT",
                        help="also write certified accuracy vs radius to OUT (.png, .svg, .pdf)")
    parser.add_argument("--max-radius", type=positive_float, metavar="R",
                        help="right end of the --plot x axis (default: the largest radius)")
    parser.add_argument("--hist", metavar="OUT",
                        help="also write a histogram of the certified radii to OUT (.png, .svg, .pdf)")
    parser.add_argument("--bins", type=positive_int, default=30, help="--hist bins (default 30)")


def _check(args: argparse.Namespace) -> list[float]:
    radii = common.radii(args.radii)
    common.check_group_flags(args)
    if args.plot or args.hist:
        from smoothcert.analysis.plots import plot_format

        for out in (args.plot, args.hist):
            if out:
                plot_format(out)
    if args.abstention and len(args.files) < 2:
        raise UserError("--abstention compares two or more runs; pass at least two TSVs")
    return radii


def run(args: argparse.Namespace) -> int:
    """Print the tables for ``args.files`` to stdout; write the plots if asked.

    All input is checked and every table computed before anything is printed
    or written. The summary table comes first, unchanged by the other flags;
    with ``--format json`` the extra results are further keys of the one JSON
    object (``abstention``, ``envelope``, ``groups``).

    Returns:
        0 on success.

    Raises:
        UserError: A negative or non-finite radius, a ``--name`` count that
            differs from the number of files, an unsupported plot extension,
            an unreadable TSV, runs with no common idx under ``--abstention``,
            or a bad group spec.
    """
    from smoothcert.analysis import (
        abstention_overlap,
        envelope,
        format_envelope,
        format_groups,
        format_overlap,
        format_table,
        group_summary,
        load_results,
        summarize,
    )
    from smoothcert.analysis._render import section
    from smoothcert.analysis.abstention import overlap_to_json
    from smoothcert.analysis.envelope import envelope_to_json
    from smoothcert.analysis.tables import json_safe

    radii = _check(args)
    results = common.renamed([load_results(f) for f in args.files], args.name)
    summaries = [summarize(r, radii) for r in results]
    groups = common.groups(args, results)
    extras: list[tuple[str, str, object]] = []  # (json key, title, value)
    if args.abstention:
        ov = abstention_overlap(results)
        extras.append(("abstention", "", ov))  # format_overlap titles its own tables
    if args.envelope:
        extras.append(("envelope", "envelope: best certified accuracy per radius",
                       envelope(results, radii)))
    if groups is not None:
        extras.append(("groups", "groups: mean ± std over runs (ddof=1)",
                       [group_summary(g, radii) for g in groups]))
    if args.format == "json":
        out = json.loads(format_table(summaries, radii, "json"))
        to_json: dict[str, Callable[[Any], object]] = {"abstention": overlap_to_json, "envelope": envelope_to_json,
                                                       "groups": lambda v: v}
        out.update({key: json_safe(to_json[key](value)) for key, _, value in extras})
        text = json.dumps(out, allow_nan=False)
    else:
        render = {"abstention": lambda v: format_overlap(v, args.format),
                  "envelope": lambda v: format_envelope(v, args.format),
                  "groups": lambda v: format_groups(v, radii, args.format)}
        parts = [format_table(summaries, radii, args.format)]
        parts += [section(title, render[key](value), args.format) if title else render[key](value)
                  for key, title, value in extras]
        text = "\n\n".join(parts)
    print(text)
    if args.plot:
        from smoothcert.analysis.plots import plot_certified_accuracy

        plot_certified_accuracy(results, args.plot, max_radius=args.max_radius, envelope=args.envelope)
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.hist:
        from smoothcert.analysis.plots import plot_radius_histogram

        plot_radius_histogram(results, args.hist, bins=args.bins)
        print(f"wrote {args.hist}", file=sys.stderr)
    return 0
