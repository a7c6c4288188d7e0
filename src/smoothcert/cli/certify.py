"""CERTIFY every K-th example of a dataset, or decide target radii sequentially; rerunning resumes."""

from __future__ import annotations

import argparse
import sys

from smoothcert.cli._args import nonnegative_float, positive_int, probability
from smoothcert.cli._certify_args import add_common, prepare
from smoothcert.cli._warnings import warn_futile
from smoothcert.errors import UserError

FIRST_LOOK, GROWTH, FUTILITY = 100, 2 ** 0.5, 0.001


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser, default_n=100_000)
    parser.add_argument("--n0", type=positive_int, default=100, help="selection samples (default 100)")
    parser.add_argument("--mode", choices=["certify", "sequential"], default="certify",
                        help="certify (default): CERTIFY with n samples; sequential: decide each of --radii, "
                             "stopping as soon as all are decided (docs/sequential.md)")
    parser.add_argument("--radii", type=nonnegative_float, nargs="+", metavar="R",
                        help="target radii: needed by --mode sequential; with CERTIFY only to warn of radii "
                             "out of reach")
    parser.add_argument("--n-max", type=positive_int, help="sequential: at most this many estimation samples "
                                                           "per example (default: --n)")
    parser.add_argument("--futility", type=probability, default=FUTILITY,
                        help="sequential: abandon a target once even the upper confidence bound on p_A at this "
                             f"level could not certify it by --n-max (default {FUTILITY}); larger stops sooner on "
                             "inputs near a target's threshold, at some loss of power; never affects soundness")


def run(args: argparse.Namespace) -> int:
    from smoothcert.certify.runner import CertifyMode, Mode, SequentialMode, run_mode
    from smoothcert.sequential import Schedule

    sequential = args.mode == "sequential"
    if sequential and not args.radii:
        raise UserError("--mode sequential needs target radii, e.g. --radii 0.25 0.5 0.75 1.0")
    run_ = prepare(args)
    n_max = args.n_max or args.n
    mode: Mode
    if sequential:
        schedule = Schedule.geometric(n_max, args.alpha, first=min(FIRST_LOOK, n_max), growth=GROWTH)
        mode = SequentialMode(list(args.radii), args.n0, schedule, args.futility, run_.sigma)
        run_.manifest.update(mode="sequential", n=n_max, radii=list(args.radii), futility=args.futility,
                             schedule=f"geometric first={FIRST_LOOK} growth={GROWTH:.4g}")
    else:
        mode = CertifyMode(args.n0, args.n, args.alpha, run_.sigma)
    run_.manifest["n0"] = args.n0
    if run_.ctx.is_main:  # sequential's final look spends alpha / 2
        warn_futile(n_max, args.alpha / 2, run_.sigma, args.radii) if sequential else \
            warn_futile(args.n, args.alpha, run_.sigma, args.radii or ())
    out = run_mode(out=args.out, manifest=run_.manifest, mode=mode, model=run_.fast, num_classes=run_.num_classes,
                   sigma=run_.sigma, examples=run_.examples, indices=run_.indices, batch_size=args.batch_size,
                   pack=args.engine == "packed", desc="certify", quiet=args.quiet)
    if run_.ctx.is_main:
        print(f"wrote {out}", file=sys.stderr)
    return 0
