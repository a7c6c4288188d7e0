"""PREDICT with abstention on every K-th example; rerunning with the same arguments resumes."""

from __future__ import annotations

import argparse
import sys

from smoothcert.cli._certify_args import add_common, prepare
from smoothcert.cli._warnings import warn_futile


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser, default_n=1000)


def run(args: argparse.Namespace) -> int:
    from smoothcert.certify.runner import PredictMode, run_mode

    run_ = prepare(args)
    if run_.ctx.is_main:
        warn_futile(args.n, args.alpha, run_.sigma, (), procedure="predict")
    out = run_mode(out=args.out, manifest=run_.manifest, mode=PredictMode(args.n, args.alpha), model=run_.fast,
                   num_classes=run_.num_classes, sigma=run_.sigma, examples=run_.examples, indices=run_.indices,
                   batch_size=args.batch_size, pack=args.engine == "packed", desc="predict", quiet=args.quiet)
    if run_.ctx.is_main:
        from smoothcert.analysis import print_predict_summary

        print_predict_summary(out)
        print(f"wrote {out}", file=sys.stderr)
    return 0
