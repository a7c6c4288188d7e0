"""The main job on bundled data: train Gaussian digits models at two sigmas, certify, tabulate, plot.

Runs the same code paths as ``smoothcert train``, ``certify`` and ``analyze``.
Rerunning with the same arguments reuses finished training and certification.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from smoothcert.cli._args import positive_float, positive_int, probability


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo_out", help="output directory (default demo_out)")
    parser.add_argument("--sigmas", type=positive_float, nargs="+", default=[0.25, 0.5])
    parser.add_argument("--n", type=positive_int, default=10_000, help="certification samples (default 10,000)")
    parser.add_argument("--n0", type=positive_int, default=100)
    parser.add_argument("--alpha", type=probability, default=0.001)
    parser.add_argument("--epochs", type=positive_int, default=40)
    parser.add_argument("--max", type=positive_int, default=None, help="certify at most M test images")
    parser.add_argument("--device", default="auto")


def _call(argv: list[str]) -> None:
    from smoothcert.cli.main import parse_args

    args = parse_args(argv)
    args._run(args)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    began = time.perf_counter()
    tsvs = []
    for sigma in args.sigmas:
        run_dir = out / f"digits_cnn_gaussian_sigma{sigma:g}"
        print(f"[demo] training digits_cnn, gaussian, sigma={sigma:g} -> {run_dir}", file=sys.stderr)
        _call(["train", "--dataset", "digits", "--arch", "digits_cnn", "--method", "gaussian",
               "--sigma", str(sigma), "--out", str(run_dir), "--epochs", str(args.epochs), "--batch-size", "64",
               "--lr", "0.05", "--device", args.device, "--resume", "lr_step=" + str(max(args.epochs // 2, 1))])
        tsv = out / f"certify_sigma{sigma:g}_n{args.n}.tsv"
        print(f"[demo] certifying the digits test set, N={args.n}, alpha={args.alpha} -> {tsv}", file=sys.stderr)
        argv = ["certify", str(run_dir), "--out", str(tsv), "--n0", str(args.n0), "--n", str(args.n),
                "--alpha", str(args.alpha), "--batch-size", str(min(args.n, 10_000)), "--device", args.device]
        _call(argv + (["--max", str(args.max)] if args.max else []))
        tsvs.append(str(tsv))
    plot = out / "certified_accuracy.png"
    _call(["analyze", *tsvs, "--radii", "0", "0.25", "0.5", "0.75", "1.0", "--plot", str(plot)])
    print(f"[demo] done in {time.perf_counter() - began:.1f} s; plot: {plot}", file=sys.stderr)
    return 0
