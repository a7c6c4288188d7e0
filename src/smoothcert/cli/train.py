"""Train a base classifier for smoothing (any registered method), resumable."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smoothcert.cli._args import nonnegative_float, nonnegative_int, positive_float, positive_int
from smoothcert.errors import UserError


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
    parser.add_argument("--data-dir", help="directory of the dataset's files (default: see docs/data.md)")
    parser.add_argument("--download", action="store_true",
                        help="fetch the dataset (mnist, cifar10) if no place holds it; checksums verified")
    parser.add_argument("--config", help="YAML file, or a shipped recipe's name <dataset>/<method>_<sigma> "
                                          "(e.g. mnist/consistency_0.5)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or epoch lines")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides, e.g. method_args.num_noise=4, arch_args.depth=8, "
                             "method_args.classifier=RUN, init=RUN")


def resume_argv(argv: Sequence[str]) -> list[str]:
    """The command line that continues an interrupted ``train ARGV``: ``argv`` with ``--resume``.

    Without ``--resume`` a run directory that holds a checkpoint (or a log) is
    refused, so rerunning ``argv`` as it was would not continue it. The flag goes
    before a ``--`` separator, where it is still a flag.
    """
    words = list(argv)
    if "--resume" in words:
        return words
    end = words.index("--") if "--" in words else len(words)
    return [*words[:end], "--resume", *words[end:]]


def run(args: argparse.Namespace) -> int:
    from smoothcert.cli._warnings import warn_sigma
    from smoothcert.runtime import distributed
    from smoothcert.train.config import resolve_config
    from smoothcert.train.trainer import train

    flags = {
        "dataset": args.dataset, "arch": args.arch, "method": args.method, "sigma": args.sigma,
        "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "optimizer": args.optimizer,
        "seed": args.seed, "device": args.device, "data_dir": args.data_dir,
    }
    config = resolve_config(args.config, flags, args.overrides)
    config["data_dir"] = _data_dir(config, args)
    main_rank = distributed.from_env().is_main
    if main_rank:
        warn_sigma(config["sigma"])
    with distributed.leaving_group_after():  # under torchrun (docs/distributed.md); a no-op otherwise
        path = train(config, args.out, resume=args.resume, quiet=args.quiet)
    if main_rank:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _data_dir(config: dict[str, Any], args: argparse.Namespace) -> str | None:
    """The directory training reads, recorded (absolute) in the run's config so that certify finds it again."""
    from smoothcert.data.locations import resolve_data_dir
    from smoothcert.runtime import distributed
    from smoothcert.train.config import load_yaml

    recorded = None
    if args.resume and (Path(args.out) / "config.yaml").is_file():
        try:
            recorded = load_yaml(Path(args.out) / "config.yaml").get("data_dir")
        except UserError:
            recorded = None  # the trainer reports a broken run directory
    quiet = args.quiet or not distributed.from_env().is_main
    found = resolve_data_dir(str(config["dataset"]), config["data_dir"], recorded, download=args.download, quiet=quiet)
    return os.path.abspath(found) if found is not None else config["data_dir"]
