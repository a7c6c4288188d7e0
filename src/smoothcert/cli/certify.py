"""CERTIFY every K-th example of a dataset; rerunning with the same arguments resumes."""

from __future__ import annotations

import argparse
import sys

from smoothcert.certify_run import CERTIFY_COLUMNS, certify_row, run_rows, select_indices
from smoothcert.cli._args import positive_int
from smoothcert.cli._certify_args import add_common, base_manifest
from smoothcert.cli._model import load_model_and_data
from smoothcert.cli._warnings import warn_futile
from smoothcert.engine.legacy import sigma_or_error
from smoothcert.smooth import Smooth


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser, default_n=100_000)
    parser.add_argument("--n0", type=positive_int, default=100, help="selection samples (default 100)")


def run(args: argparse.Namespace) -> int:
    ckpt, model, data, device = load_model_and_data(args.checkpoint, args.dataset, args.split, args.data_dir, args.device)
    sigma = sigma_or_error(ckpt, args.sigma)
    warn_futile(args.n, args.alpha, sigma, getattr(args, "radii", None) or ())
    smooth = Smooth(model, data.info.num_classes, sigma)
    manifest = {**base_manifest(args, ckpt, data.info.name, sigma, device), "n0": args.n0}
    indices = select_indices(len(data), args.skip, args.max)

    def compute(idx: int) -> dict[str, object]:
        x = data.images[idx].to(device)
        return certify_row(smooth, x, int(data.labels[idx]), idx, n0=args.n0, n=args.n, alpha=args.alpha,
                           batch_size=args.batch_size, seed=args.seed)

    out = run_rows(args.out, manifest, CERTIFY_COLUMNS, indices, compute, desc="certify", quiet=args.quiet)
    print(f"wrote {out}", file=sys.stderr)
    return 0
