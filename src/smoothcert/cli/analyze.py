"""Certified-accuracy tables (with intervals), ACR, abstention, robust accuracy, groups, envelope and plots."""

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
# smoothcert.analysis.tables.FORMATS, written out so that building the parser imports no numpy
# (a test keeps them equal).
FORMATS: tuple[str, ...] = ("markdown", "latex", "csv", "json")
ATTACK_TITLE = "empirical robust accuracy (attack)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``analyze`` arguments to ``parser``."""
    parser.add_argument("files", nargs="+", metavar="FILE.tsv",
                        help="result TSVs of certify (CERTIFY or sequential), predict or attack "
                             "(ours or the original papers')")
    common.add_radii(parser)
    common.add_ci_level(parser)
    parser.add_argument("--format", choices=FORMATS, default="markdown",
                        help="table format (default: %(default)s)")
    parser.add_argument("--name", nargs="+", metavar="NAME",
                        help="display names, one per file (default: file name without .tsv)")
    parser.add_argument("--abstention", action="store_true",
                        help="also compare where the runs abstain (matched by idx; needs 2+ certify/predict files)")
    parser.add_argument("--envelope", action="store_true",
                        help="also report the best certified accuracy per radius and which run "
                             "reaches it, and draw it on --plot")
    common.add_groups(parser)
    parser.add_argument("--plot", metavar="OUT",
                        help="also write certified accuracy vs radius to OUT (.png, .svg, .pdf)")
    parser.add_argument("--max-radius", type=positive_float, metavar="R",
                        help="right end of the --plot x axis (default: past the largest radius and the "
                             "largest radius N allows)")
    parser.add_argument("--hist", metavar="OUT",
                        help="also write a histogram of the certified radii to OUT (.png, .svg, .pdf)")
    parser.add_argument("--bins", type=positive_int, default=30, help="--hist bins (default 30)")


def _check(args: argparse.Namespace) -> tuple[list[float], float]:
    from smoothcert.analysis.intervals import check_level

    radii = common.radii(args.radii)
    level = check_level(args.ci_level)
    common.check_group_flags(args)
    if args.plot or args.hist:
        from smoothcert.analysis.plots import plot_format

        for out in (args.plot, args.hist):
            if out:
                plot_format(out)
    if args.abstention and len(args.files) < 2:
        raise UserError("--abstention compares two or more runs; pass at least two TSVs")
    return radii, level


def _check_kinds(args: argparse.Namespace, n_labelled: int, n_certified: int) -> None:
    if args.abstention and n_labelled < 2:
        raise UserError("--abstention compares where certify or predict runs abstain; pass at least two such "
                        "TSVs (attack TSVs are not compared)")
    for flag, wanted in (("--envelope", args.envelope), ("--plot", args.plot), ("--hist", args.hist)):
        if wanted and n_certified == 0:
            raise UserError(f"{flag} needs certification TSVs (certify, CERTIFY or sequential); PREDICT and "
                            "attack TSVs have no radii")


def run(args: argparse.Namespace) -> int:
    """Print the tables for ``args.files`` to stdout; write the plots if asked.

    All input is checked and every table computed before anything is printed
    or written. Notes and warnings (sequential runs, runs whose settings or
    images differ) go to stderr. The summary table of CERTIFY, sequential and
    PREDICT runs comes first, then the attack runs' table, then the extra
    results; with ``--format json`` these are keys of the one JSON object
    (``runs``, ``attack``, ``abstention``, ``envelope``, ``groups``). With
    ``--format csv`` and groups, the summary is one CSV with a ``group``
    column (:func:`~smoothcert.analysis.groups.format_grouped_csv`).

    Returns:
        0 on success.

    Raises:
        UserError: A negative or non-finite radius, a ``--ci-level`` outside
            (0, 1), a ``--name`` count that differs from the number of files,
            an unsupported plot extension, an unreadable TSV, runs with no
            common idx under ``--abstention``, a bad group spec, or a flag
            that needs certification runs without any.
    """
    from smoothcert.analysis import (
        abstention_overlap,
        envelope,
        format_attack_table,
        format_envelope,
        format_grouped_csv,
        format_groups,
        format_overlap,
        format_table,
        group_summary,
        load_run,
        summarize,
        summarize_attack,
    )
    from smoothcert.analysis._render import section
    from smoothcert.analysis.abstention import overlap_to_json
    from smoothcert.analysis.envelope import envelope_to_json
    from smoothcert.analysis.runs import attack_runs, certification_runs, labelled_runs
    from smoothcert.analysis.tables import json_safe

    radii, level = _check(args)
    runs = common.renamed([load_run(f) for f in args.files], args.name)
    labelled, certified, attacks = labelled_runs(runs), certification_runs(runs), attack_runs(runs)
    _check_kinds(args, len(labelled), len(certified))
    summaries = [summarize(r, radii, level) for r in labelled]
    attack_summaries = [summarize_attack(r, level) for r in attacks]
    groups = common.groups(args, labelled)
    extras: list[tuple[str, str, object]] = []  # (json key, title, value)
    if args.abstention:
        extras.append(("abstention", "", abstention_overlap(labelled)))  # format_overlap titles its own tables
    if args.envelope:
        extras.append(("envelope", "envelope: best certified accuracy per radius", envelope(certified, radii)))
    one_csv = groups is not None and args.format == "csv"
    if groups is not None and not one_csv:
        extras.append(("groups", "groups: mean ± std over runs (ddof=1)",
                       [group_summary(g, radii) for g in groups]))
    if args.format == "json":
        out = json.loads(format_table(summaries, radii, "json"))
        if attacks:
            out["attack"] = json_safe(attack_summaries)
        to_json: dict[str, Callable[[Any], Any]] = {
            "abstention": overlap_to_json, "envelope": envelope_to_json, "groups": lambda v: v}
        out.update({key: json_safe(to_json[key](value)) for key, _, value in extras})
        text = json.dumps(out, allow_nan=False)
    else:
        render: dict[str, Callable[[Any], str]] = {
            "abstention": lambda v: format_overlap(v, args.format),
            "envelope": lambda v: format_envelope(v, args.format),
            "groups": lambda v: format_groups(v, radii, args.format)}
        parts = []
        if one_csv:
            parts.append(format_grouped_csv(groups, radii, level))  # type: ignore[arg-type]
        elif labelled or not attacks:
            parts.append(format_table(summaries, radii, args.format, level))
        if attacks:
            table = format_attack_table(attack_summaries, args.format, level)
            parts.append(section(ATTACK_TITLE, table, args.format) if parts else table)
        parts += [section(title, render[key](value), args.format) if title else render[key](value)
                  for key, title, value in extras]
        text = "\n\n".join(parts)
    for line in common.notes(runs, radii):
        print(line, file=sys.stderr)
    print(text)
    if args.plot:
        from smoothcert.analysis.plots import plot_certified_accuracy

        plot_certified_accuracy(certified, args.plot, max_radius=args.max_radius, envelope=args.envelope)
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.hist:
        from smoothcert.analysis.plots import plot_radius_histogram

        plot_radius_histogram(certified, args.hist, bins=args.bins)
        print(f"wrote {args.hist}", file=sys.stderr)
    return 0
