"""Margin diagnostics of checkpoints: logit margin under noise and input-space margin (attack)."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

from smoothcert.cli._args import nonnegative_int, positive_float, positive_int
from smoothcert.cli._certify_args import add_denoiser_arguments
from smoothcert.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``margins`` arguments to ``parser``."""
    parser.add_argument("checkpoints", nargs="+", metavar="CKPT",
                        help="checkpoint files or run directories (several: one histogram each)")
    parser.add_argument("--dataset", help="dataset name (default: each checkpoint's)")
    parser.add_argument("--data-dir", help="directory of the dataset's files (default: see docs/data.md)")
    parser.add_argument("--download", action="store_true", help="fetch the dataset (mnist, cifar10) if missing")
    parser.add_argument("--split", default="test", choices=["train", "test"])
    parser.add_argument("--out", required=True, metavar="FILE.tsv",
                        help="margins TSV to write (refused if it exists); FILE.tsv.json holds the settings")
    parser.add_argument("--plot", metavar="OUT", help="histograms per checkpoint to OUT (.png, .svg, .pdf)")
    parser.add_argument("--name", nargs="+", metavar="NAME", help="one display name per checkpoint")
    parser.add_argument("--sigma", type=positive_float, help="noise level (default: each checkpoint's training sigma)")
    parser.add_argument("--num-noise", type=positive_int, default=100,
                        help="noise draws per example for the logit margin and the vote (default 100)")
    parser.add_argument("--skip", type=positive_int, default=1, help="take indices 0, K, 2K, ...")
    parser.add_argument("--max", type=nonnegative_int, default=None, help="at most M examples (a count)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="example idx draws noise from (seed, idx)")
    parser.add_argument("--batch-size", type=positive_int, default=32, help="examples per batch (default 32)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:K")
    parser.add_argument("--no-attack", action="store_true", help="skip the input-space margin")
    parser.add_argument("--eps-max", type=positive_float,
                        help="largest eps of the attack grid, L2 in [0,1]-pixel units (default 4 sigma)")
    parser.add_argument("--eps-steps", type=positive_int, default=16,
                        help="grid eps_max/K, 2 eps_max/K, ..., eps_max of K values (default 16)")
    parser.add_argument("--attack-steps", type=positive_int, default=20, help="PGD steps (default 20)")
    parser.add_argument("--attack-noise", type=positive_int, default=8,
                        help="noise draws in the attacked soft smoothed classifier (default 8)")
    parser.add_argument("--eval-noise", type=positive_int, default=100,
                        help="draws voting on whether the attack flipped the prediction (default 100)")
    parser.add_argument("--no-clip", action="store_true", help="do not keep attacked inputs in [0, 1]")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_denoiser_arguments(parser)  # the same denoiser in front of every checkpoint


def _check(args: argparse.Namespace) -> tuple[Path, Path, list[str]]:
    out = Path(args.out)
    meta = Path(str(out) + ".json")
    for path in (out, meta):
        if path.exists():
            raise UserError(f"{path} exists; margins never overwrite results: choose another --out "
                            "or move the old file away")
    if args.plot:
        from smoothcert.analysis._figure import plot_format

        plot_format(args.plot)
    names = args.name or [Path(c).stem if Path(c).is_file() else Path(c).name for c in args.checkpoints]
    if len(names) != len(args.checkpoints):
        raise UserError(f"--name got {len(names)} names for {len(args.checkpoints)} checkpoints; "
                        "give one name per checkpoint")
    if len(set(names)) != len(names):
        raise UserError(f"checkpoints need distinct names, got {names}; pass --name")
    return out, meta, names


def run(args: argparse.Namespace) -> int:
    """Compute the margins of each checkpoint, write the TSV, its manifest and the plot.

    Raises:
        UserError: An existing ``--out``, a bad plot extension or name count,
            or a checkpoint that does not fit the dataset.
    """
    from smoothcert.analysis._figure import write_output
    from smoothcert.analysis.margin_files import format_margin_summary, margins_tsv
    from smoothcert.analysis.margins import margin_rows
    from smoothcert.certify.rows import select_indices
    from smoothcert.checkpoints.legacy import sigma_or_error
    from smoothcert.checkpoints.store import checkpoint_path, file_sha256
    from smoothcert.cli._model import load_model_and_data
    from smoothcert.runtime.progress import progress

    out, meta, names = _check(args)
    tables, models = {}, []
    for ckpt_arg, name in zip(args.checkpoints, names, strict=True):
        ckpt, model, data, device = load_model_and_data(ckpt_arg, args.dataset, args.split, args.data_dir,
                                                        args.device, download=args.download)
        sigma = sigma_or_error(ckpt, args.sigma)
        base_model = None
        if args.denoiser or args.diffusion:
            from smoothcert.checkpoints.composite import build_base_model

            model, base_model = build_base_model(ckpt_arg, denoiser=args.denoiser, diffusion=args.diffusion,
                                                 diffusion_steps=args.diffusion_steps,
                                                 diffusion_dtype=args.diffusion_dtype, sigma=sigma, device=device)
        attack = None
        if not args.no_attack:
            eps_max = args.eps_max if args.eps_max is not None else 4 * sigma
            grid = [eps_max * (k + 1) / args.eps_steps for k in range(args.eps_steps)]
            attack = {"grid": grid, "steps": args.attack_steps, "attack_noise": args.attack_noise,
                      "eval_noise": args.eval_noise, "clip": None if args.no_clip else (0.0, 1.0)}
        indices = select_indices(len(data), args.skip, args.max)
        tables[name] = margin_rows(
            model, data.images, data.labels, indices, sigma=sigma, num_noise=args.num_noise,
            seed=args.seed, batch_size=args.batch_size, attack=attack, device=device,
            progress=functools.partial(progress, desc=f"margins {name}", disable=args.quiet, unit="batch"))
        path = checkpoint_path(ckpt_arg)
        models.append({"name": name, "checkpoint_path": str(path.resolve()), "checkpoint_sha256": file_sha256(path),
                       "arch": ckpt["arch"], "method": ckpt["method"],
                       "train_sigma": None if ckpt["sigma"] is None else float(ckpt["sigma"]),
                       "dataset": data.info.name, "sigma": sigma, "attack": attack, "base_model": base_model})
    manifest = {"command": "margins", "models": models, "split": args.split, "num_noise": args.num_noise,
                "skip": args.skip, "max": args.max, "seed": args.seed, "device": str(device),
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_output(out, margins_tsv(tables).encode("utf-8"))
    write_output(meta, json.dumps(manifest, indent=2).encode("utf-8"))
    print(format_margin_summary(tables, "markdown"))
    print(f"wrote {out}", file=sys.stderr)
    if args.plot:
        from smoothcert.analysis.margin_plot import plot_margins

        plot_margins(tables, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
