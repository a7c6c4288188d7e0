"""One self-contained HTML report of certify, predict and attack runs (tables, plots, manifests, configs, logs)."""

from __future__ import annotations

import argparse
import sys

from smoothcert.cli import _analysis_args as common
from smoothcert.cli._args import nonnegative_int
from smoothcert.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``report`` arguments to ``parser``."""
    parser.add_argument("inputs", nargs="+", metavar="RUN_OR_TSV",
                        help="result TSVs (certify, predict, attack), or run directories (their *.tsv, "
                             "config.yaml, log.csv)")
    parser.add_argument("--out", required=True, metavar="report.html", help="the HTML file to write")
    common.add_radii(parser)
    common.add_ci_level(parser)
    parser.add_argument("--name", nargs="+", metavar="NAME",
                        help="display names, one per TSV found (default: file name without .tsv)")
    common.add_groups(parser)
    parser.add_argument("--title", default="smoothcert report", help="page title")
    parser.add_argument("--log-lines", type=nonnegative_int, default=10,
                        help="last rows of each log.csv to show (default 10)")


def run(args: argparse.Namespace) -> int:
    """Write the report to ``args.out`` (atomically); nothing is written on an error.

    Raises:
        UserError: A missing input, a bad radius, ``--ci-level``, name count
            or group spec, an unreadable TSV, or an ``--out`` that is a
            directory or does not end in .html/.htm.
    """
    from smoothcert.analysis import load_run
    from smoothcert.analysis.intervals import check_level
    from smoothcert.analysis.report import build_report, collect_inputs, write_report
    from smoothcert.analysis.runs import labelled_runs

    radii = common.radii(args.radii)
    level = check_level(args.ci_level)
    common.check_group_flags(args)
    if not args.out.lower().endswith((".html", ".htm")):
        raise UserError(f"--out {args.out!r} must end in .html (the report is one HTML page)")
    tsvs, run_dirs = collect_inputs(args.inputs)
    results = common.renamed([load_run(p) for p in tsvs], args.name)
    groups = common.groups(args, labelled_runs(results)) if results else None
    document = build_report(results, run_dirs, radii, groups=groups, title=args.title,
                            log_lines=args.log_lines, level=level)
    write_report(args.out, document)
    for line in common.notes(results, radii):
        print(line, file=sys.stderr)
    print(f"wrote {args.out} ({len(results)} run(s), {len(run_dirs)} run director"
          f"{'y' if len(run_dirs) == 1 else 'ies'})", file=sys.stderr)
    return 0
