"""PREDICT with abstention on every K-th example; rerunning with the same arguments resumes."""

from __future__ import annotations

import argparse
import sys

from smoothcert.certify.rows import PREDICT_COLUMNS, predict_row, run_rows, select_indices
from smoothcert.cli._certify_args import add_common, base_manifest
from smoothcert.cli._model import load_model_and_data
from smoothcert.cli._warnings import warn_futile
from smoothcert.checkpoints.legacy import sigma_or_error
from smoothcert.smooth import Smooth


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser, default_n=1000)


def run(args: argparse.Namespace) -> int:
    ckpt, model, data, device = load_model_and_data(args.checkpoint, args.dataset, args.split, args.data_dir, args.device)
    sigma = sigma_or_error(ckpt, args.sigma)
    warn_futile(args.n, args.alpha, sigma, (), procedure="predict")
    smooth = Smooth(model, data.info.num_classes, sigma)
    manifest = base_manifest(args, ckpt, data.info.name, sigma, device)
    indices = select_indices(len(data), args.skip, args.max)

    def compute(idx: int) -> dict[str, object]:
        x = data.images[idx].to(device)
        return predict_row(smooth, x, int(data.labels[idx]), idx, n=args.n, alpha=args.alpha,
                           batch_size=args.batch_size, seed=args.seed)

    out = run_rows(args.out, manifest, PREDICT_COLUMNS, indices, compute, desc="predict", quiet=args.quiet)
    print(f"wrote {out}", file=sys.stderr)
    return 0
