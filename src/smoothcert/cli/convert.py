"""Convert a checkpoint of the original randomized-smoothing code into a smoothcert checkpoint."""

from __future__ import annotations

import argparse
import sys

from smoothcert.cli._args import positive_float

# checkpoints.legacy.NORMALIZATIONS, written here so that `convert --help` does not import torch
# (a test keeps them equal)
NORMALIZATIONS = ("standardize", "center", "none")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("legacy", help="checkpoint.pth.tar of Cohen et al., Salman et al. or Jeong & Shin")
    parser.add_argument("--out", required=True, help="the smoothcert checkpoint to write (never overwritten)")
    parser.add_argument("--sigma", type=positive_float, help="the noise sigma it was trained with (recorded)")
    parser.add_argument("--normalization", choices=NORMALIZATIONS, default=None,
                        help="input normalization it was trained with: standardize (default; mean/std, "
                             "Cohen et al., Jeong & Shin), center (mean only: SmoothAdv's first release), none "
                             "(default for lenet/MNIST)")


def run(args: argparse.Namespace) -> int:
    from smoothcert.checkpoints.store import import_legacy

    path = import_legacy(args.legacy, args.out, sigma=args.sigma, normalization=args.normalization)
    print(f"wrote {path}", file=sys.stderr)
    return 0
