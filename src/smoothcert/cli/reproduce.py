"""Reproduce a paper's table: train each recipe, certify, compare with the published numbers.

``smoothcert reproduce mnist`` follows the MNIST protocol of Jeong & Shin (2020):
the shipped LeNet recipes ``mnist/<method>_<sigma>`` (:mod:`smoothcert.recipes`), certification of every
20th test image (500 images) with N0=100, N=100,000, alpha=0.001. Every step
resumes, so an interrupted reproduction continues where it stopped.

The table (``OUT/table.md``) covers every ``<method>_<sigma>.tsv`` in OUT, not
only this call's. With ``--published DIR`` (the authors' per-image TSVs, one
directory per setting: ``DIR/<method>_<sigma>/<one file per run>``) it adds a
comparison on the same images as ours, which is the fair one for a reduced run.

With ``--mode sequential`` each setting is certified by sequential
certification (``certify --mode sequential``, same alpha guarantee) at the table's
radii instead of CERTIFY: certified accuracy at those radii with about a tenth
of the samples, no ACR. That is how all 500 images fit on a CPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

from smoothcert.cli._args import nonnegative_int, positive_float, positive_int
from smoothcert.errors import UserError
from smoothcert.recipes import list_recipes
from smoothcert.reproduce.mnist_published import PUBLISHED_ACR, RADII

ALPHA = 0.001


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paper", choices=["mnist"], help="which table to reproduce")
    parser.add_argument("--out", default="results/mnist", help="results directory (default results/mnist)")
    parser.add_argument("--configs", default=None, metavar="DIR",
                        help="recipes as DIR/mnist/<method>_<sigma>.yaml (default: the recipes shipped with "
                             "smoothcert)")
    parser.add_argument("--data-dir", default=None,
                        help="directory of the MNIST IDX files (default: $SMOOTHCERT_DATA_DIR/mnist, "
                        "then the user cache; see docs/data.md)")
    parser.add_argument("--methods", nargs="+", default=list(PUBLISHED_ACR), choices=list(PUBLISHED_ACR))
    parser.add_argument("--sigmas", nargs="+", type=positive_float, default=[0.25, 0.5, 1.0])
    parser.add_argument("--n0", type=positive_int, default=100)
    parser.add_argument("--n", type=positive_int, default=100_000, help="certification samples (paper: 100,000)")
    parser.add_argument("--skip", type=positive_int, default=20, help="every K-th test image (paper: 20)")
    parser.add_argument("--max", type=nonnegative_int, default=None, help="certify at most M images (reduced runs)")
    parser.add_argument("--mode", choices=["certify", "sequential"], default="certify",
                        help="certify: CERTIFY with N samples (the paper's; gives ACR); sequential: decide the "
                             "target radii with at most N samples each (about 10x fewer on average; no ACR)")
    parser.add_argument("--radii", type=positive_float, nargs="+", metavar="R", default=None,
                        help="sequential: target radii (default: those of 0.25, ..., 2.0 that N samples can "
                             "certify at the setting's sigma, i.e. up to 3.81 sigma for N = 100,000)")
    parser.add_argument("--batch-size", type=positive_int, default=10_000)
    parser.add_argument("--epochs", type=positive_int, default=None, help="override the recipe's epochs")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--published", default=None, metavar="DIR",
                        help="the authors' per-image TSVs as DIR/<method>_<sigma>/<run files>: adds a comparison "
                             "on the same images as ours")
    parser.add_argument("--table-only", action="store_true",
                        help="train and certify nothing: rewrite OUT/table.md from the TSVs already there")


def _recipe(configs: Path | None, method: str, sigma: float) -> str:
    """The ``--config`` value for one setting: a file under ``configs``, or a shipped recipe's name."""
    for stem in (f"{method}_{sigma}", f"{method}_{sigma:g}"):
        if configs is None and f"mnist/{stem}" in list_recipes():
            return f"mnist/{stem}"
        if configs is not None and (configs / "mnist" / f"{stem}.yaml").is_file():
            return str(configs / "mnist" / f"{stem}.yaml")
    if configs is None:
        raise UserError(f"no shipped recipe mnist/{method}_{sigma}; pass --configs DIR of the recipes")
    raise UserError(f"no recipe {configs / 'mnist' / f'{method}_{sigma}.yaml'}; pass --configs DIR of the recipes")


def target_radii(n: int, sigma: float) -> list[float]:
    """The table's radii above 0 that ``n`` samples can certify at ``sigma`` (:func:`~smoothcert.stats.max_radius`)."""
    from smoothcert.stats import max_radius

    reachable = max_radius(n, ALPHA, sigma)
    return [r for r in RADII if 0 < r <= reachable]


def _mode_arguments(args: argparse.Namespace, sigma: float) -> list[str]:
    if args.mode == "certify":
        return ["--n", str(args.n)]
    radii = args.radii or target_radii(args.n, sigma)
    if not radii:
        raise UserError(f"no radius of the table can be certified at sigma {sigma:g} with --n {args.n}; "
                        "pass a larger --n or --radii")
    return ["--mode", "sequential", "--n-max", str(args.n), "--radii", *(f"{r:g}" for r in radii)]


def _call(argv: list[str]) -> None:
    from smoothcert.cli.main import parse_args

    args = parse_args(argv)
    args._run(args)


def run(args: argparse.Namespace) -> int:
    import torch

    from smoothcert._io import atomic_write_text
    from smoothcert.reproduce.paper_mnist import comparison_table, ordering_table, same_images_table

    out, configs = Path(args.out), (Path(args.configs) if args.configs else None)
    published = Path(args.published) if args.published else None
    if published is not None and not published.is_dir():
        raise UserError(f"--published {published}: not a directory")
    recipes = {} if args.table_only else {(m, s): _recipe(configs, m, s) for m in args.methods for s in args.sigmas}
    modes = {sigma: _mode_arguments(args, sigma) for (_, sigma) in recipes}  # refused before any training
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    timings_file = out / "timings.json"
    for (method, sigma), recipe in recipes.items():
        name = f"{method}_{sigma:g}"
        run_dir, tsv = out / "runs" / name, out / f"{name}.tsv"
        began = time.perf_counter()
        train = ["train", "--config", recipe, "--out", str(run_dir), "--resume", "--device", device]
        train += ["--data-dir", args.data_dir] if args.data_dir else []
        train += ["--epochs", str(args.epochs)] if args.epochs else []
        print(f"[reproduce] {name}: training ({recipe})", file=sys.stderr)
        _call(train)
        trained = time.perf_counter()
        certify = ["certify", str(run_dir), "--out", str(tsv), "--n0", str(args.n0), "--alpha", str(ALPHA),
                   "--skip", str(args.skip), "--batch-size", str(args.batch_size), "--device", device,
                   *modes[sigma]]
        certify += ["--data-dir", args.data_dir] if args.data_dir else []
        certify += ["--max", str(args.max)] if args.max is not None else []
        print(f"[reproduce] {name}: certifying", file=sys.stderr)
        _call(certify)
        # read just before writing, so another reproduce call on OUT (other settings) keeps its entries
        timings = json.loads(timings_file.read_text()) if timings_file.is_file() else {}
        entry = timings.setdefault(name, {})
        entry.setdefault("train_s", round(trained - began, 1))  # first (real) training time is kept
        entry["certify_s_last_call"] = round(time.perf_counter() - trained, 1)
        atomic_write_text(timings_file, json.dumps(timings, indent=2))
    table = comparison_table(out)
    if published is not None:
        table += "\n\n" + same_images_table(out, published)
    ordering = ordering_table(out, published)
    if ordering:
        table += "\n\n" + ordering
    device_name = torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or "cpu"
    timed = "; wall times in timings.json" if (out / "timings.json").is_file() else ""
    footer = (f"\n\nEach run's images, mode, N0, N and alpha are in its manifest (<method>_<sigma>.tsv.json){timed}.\n"
              if args.table_only else
              f"\n\nCertification ({args.mode}): every {args.skip}th test image (the first `images` of them: a run "
              f"certified with --max has fewer than 500), N0={args.n0}, N={args.n}"
              f"{' at most per image' if args.mode == 'sequential' else ''}, alpha={ALPHA}; "
              f"device: {device} ({device_name}); wall times in timings.json.\n")
    atomic_write_text(out / "table.md", table + footer)
    print(table + footer)
    return 0
