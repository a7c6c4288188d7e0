"""Train a base classifier for smoothing (any registered method), resumable."""

from __future__ import annotations

import argparse
import sys

from smoothcert.cli._args import nonnegative_float, nonnegative_int, positive_float, positive_int
from smoothcert.runtime import distributed
from smoothcert.train.config import resolve_config
from smoothcert.train.trainer import train


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", help="dataset name (digits, mnist, synthetic, ...)")
    parser.add_argument("--arch", help="architecture name (digits_cnn, lenet, mlp, ...; dncnn for a denoiser)")
    parser.add_argument("--method", help="training method (default gaussian; standard: no noise; "
                                         "denoise_mse, denoise_stability: a denoiser)")
    parser.add_argument("--sigma", type=nonnegative_float,
                        help="noise level sigma, in [0,1]-pixel units (> 0; none or 0 for method standard)")
    parser.add_argument("--out", required=True, help="run directory: checkpoint.pt, config.yaml, log.csv")
    parser.add_argument("--epochs", type=positive_int)
    parser.add_argument("--batch-size", type=positive_int)
    parser.add_argument("--lr", type=positive_float)
    parser.add_argument("--optimizer", choices=["sgd", "adam"])
    parser.add_argument("--seed", type=nonnegative_int)
    parser.add_argument("--device", help="auto (default), cpu, cuda, cuda:K")
    parser.add_argument("--data-dir", help="directory of the dataset's files (mnist, cifar10, ...)")
    parser.add_argument("--config", help="YAML recipe, e.g. configs/digits/gaussian_0.25.yaml")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides, e.g. method_args.num_noise=4, arch_args.depth=8, "
                             "method_args.classifier=RUN, init=RUN")


def run(args: argparse.Namespace) -> int:
    flags = {
        "dataset": args.dataset, "arch": args.arch, "method": args.method, "sigma": args.sigma,
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "optimizer": args.optimizer,
        "seed": args.seed, "device": args.device, "data_dir": args.data_dir,
    }
    config = resolve_config(args.config, flags, args.overrides)
    with distributed.leaving_group_after():  # under torchrun (docs/distributed.md); a no-op otherwise
        path = train(config, args.out, resume=args.resume, quiet=args.quiet)
    if distributed.from_env().is_main:
        print(f"wrote {path}", file=sys.stderr)
    return 0
