"""Arguments shared by ``certify``, ``predict`` and ``attack``; loading what they run on; their manifest."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smoothcert.cli._args import nonnegative_int, positive_float, positive_int, probability

if TYPE_CHECKING:  # the heavy modules load in prepare(), so that `--help` stays fast
    import torch
    from torch import nn

    from smoothcert.certify.runner import Examples
    from smoothcert.runtime import distributed

AUTOCAST_CHOICES = ("bfloat16", "float16")  # smoothcert.certify.rewrites.AUTOCAST_DTYPES (a test keeps them equal)


def add_common(parser: argparse.ArgumentParser, default_n: int) -> None:
    parser.add_argument("checkpoint", nargs="+",
                        help="checkpoint file, or run directory holding checkpoint.pt; several: their ensemble")
    parser.add_argument("--dataset", help="dataset name (default: the checkpoint's)")
    parser.add_argument("--data-dir", help="directory of the dataset's files (default: the run's, "
                                           "$SMOOTHCERT_DATA_DIR, the user cache; docs/data.md)")
    parser.add_argument("--download", action="store_true",
                        help="fetch the dataset (mnist, cifar10) if no place holds it; checksums verified")
    parser.add_argument("--split", default="test", choices=["train", "test"])
    parser.add_argument("--out", required=True, help="output TSV; FILE.tsv.json holds the manifest")
    parser.add_argument("--sigma", type=positive_float, help="noise level (default: the checkpoint's training sigma)")
    parser.add_argument("--n", type=positive_int, default=default_n, help=f"noise samples (default {default_n})")
    parser.add_argument("--alpha", type=probability, default=0.001, help="failure probability (default 0.001)")
    parser.add_argument("--batch-size", type=positive_int, default=1000,
                        help="rows of every forward pass (default 1000; the last one padded)")
    parser.add_argument("--skip", type=positive_int, default=1, help="take indices 0, K, 2K, ...")
    parser.add_argument("--max", type=nonnegative_int, default=None, help="certify at most M examples (a count)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="noise seed; example idx uses (seed, idx)")
    parser.add_argument("--device", default="auto",
                        help="auto (default), cpu, cuda, cuda:K (under torchrun: rank r uses cuda:K+r)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_denoiser_arguments(parser)
    group = parser.add_argument_group("speed and numerics (docs/benchmarks.md)")
    group.add_argument("--engine", choices=["packed", "plain"], default="packed",
                       help="packed (default): several examples' noise samples share forward passes, same results; "
                            "plain: one example at a time")
    group.add_argument("--channels-last", action="store_true",
                       help="opt-in: run the whole model channels-last (faster convolutions, other roundings; "
                            "recorded in the manifest)")
    group.add_argument("--compile", action="store_true", help="opt-in: torch.compile the model (recorded)")
    group.add_argument("--autocast", choices=AUTOCAST_CHOICES,
                       help="opt-in: run the model under autocast in this dtype (recorded as the manifest's dtype)")
    group.add_argument("--ensemble-aggregate", choices=["logits", "softmax"], default="logits",
                       help="several checkpoints: average the members' logits (default) or softmax")
    group.add_argument("--ensemble-exit", action="store_true",
                       help="several checkpoints, softmax: stop evaluating members once the rest cannot change the "
                            "vote (same votes, fewer member passes)")
    group.add_argument("--tf32", action="store_true",
                       help="opt-in on CUDA: TF32 matmuls and convolutions (off by default; recorded)")


def add_denoiser_arguments(parser: argparse.ArgumentParser) -> None:
    """``--denoiser``, ``--diffusion`` (``--diffusion-steps``, ``--diffusion-dtype``): a denoiser before the model."""
    parts = parser.add_argument_group("a denoiser in front of the classifier (denoised smoothing)")
    parts.add_argument("--denoiser", metavar="RUN", help="a trained denoiser (run directory or checkpoint) applied "
                                                         "to the noisy input before the classifier")
    parts.add_argument("--diffusion", metavar="DIR", help="a local diffusers DDPM directory (UNet + scheduler) used "
                                                          "as a one-shot denoiser (Carlini et al. 2023)")
    parts.add_argument("--diffusion-steps", type=positive_int, default=1,
                       help="denoising steps of --diffusion (default 1: one shot)")
    parts.add_argument("--diffusion-dtype", choices=("bfloat16", "float16"),
                       help="opt-in: run the diffusion network in this dtype (recorded)")


@dataclass
class Prepared:
    """What a certifying command runs on: the checkpoint, the model as it runs, the examples, the manifest."""

    ckpt: dict[str, Any]
    model: nn.Module
    fast: nn.Module
    num_classes: int
    sigma: float
    device: torch.device
    examples: Examples
    indices: list[int]
    manifest: dict[str, Any]
    ctx: distributed.Context


def prepare(args: argparse.Namespace) -> Prepared:
    """Load the checkpoint and dataset, make the model fast (exact rewrites, opt-ins), and build the manifest.

    Warns (rank 0) of a sigma on the wrong scale, and notes a certification sigma other than the training one.
    """
    from smoothcert.certify.rewrites import prepare_model, tune_allocator
    from smoothcert.certify.rows import select_indices
    from smoothcert.certify.runner import Examples
    from smoothcert.checkpoints.legacy import sigma_or_error
    from smoothcert.cli._model import load_model_and_data
    from smoothcert.cli._warnings import note_sigma, warn_sigma
    from smoothcert.errors import UserError
    from smoothcert.runtime import distributed

    ctx = distributed.from_env()
    first, *others = args.checkpoint
    ckpt, model, data, device = load_model_and_data(first, args.dataset, args.split, args.data_dir,
                                                    distributed.device_name(args.device, ctx), download=args.download)
    sigma = sigma_or_error(ckpt, args.sigma)
    if ctx.is_main:
        warn_sigma(sigma)
        note_sigma(sigma, ckpt["sigma"])
    ensemble_fields: dict[str, Any] = {}
    if args.denoiser or args.diffusion:
        if others:
            raise UserError("give one classifier with --denoiser or --diffusion, not an ensemble")
        from smoothcert.checkpoints.composite import build_base_model

        model, parts = build_base_model(first, denoiser=args.denoiser, diffusion=args.diffusion,
                                        diffusion_steps=args.diffusion_steps, diffusion_dtype=args.diffusion_dtype,
                                        sigma=sigma, device=device)
        ensemble_fields["base_model"] = parts
    if others or args.ensemble_exit:
        model, ensemble_fields = _ensemble(args, ckpt, model, device)
    if device.type == "cpu":
        tune_allocator()
    fast, fields = prepare_model(model, device, channels_last=args.channels_last, compile=args.compile,
                                 autocast=args.autocast, tf32=args.tf32)
    manifest = {**base_manifest(args, ckpt, data.info.name, sigma, device), **fields, **ensemble_fields}
    return Prepared(ckpt, model, fast, data.info.num_classes, sigma, device,
                    Examples(data.images, data.labels, device, args.seed),
                    select_indices(len(data), args.skip, args.max), manifest, ctx)


def base_manifest(args: argparse.Namespace, ckpt: dict[str, Any], dataset: str, sigma: float,
                  device: torch.device) -> dict[str, Any]:
    """The fields shared by every certification manifest (the index set included: split, skip, max)."""
    import torch

    from smoothcert import __version__
    from smoothcert.checkpoints.store import checkpoint_path, file_sha256

    path = checkpoint_path(args.checkpoint[0] if isinstance(args.checkpoint, list) else args.checkpoint)
    return {
        "command": args.command,
        "checkpoint_path": str(Path(path).resolve()),
        "checkpoint_sha256": file_sha256(path),
        "arch": ckpt["arch"],
        "method": ckpt["method"],
        "train_sigma": None if ckpt["sigma"] is None else float(ckpt["sigma"]),
        "dataset": dataset,
        "split": args.split,
        "skip": args.skip,
        "max": args.max,
        "sigma": sigma,
        "n": args.n,
        "alpha": args.alpha,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "dtype": "float32",
        "device": device.type,
        "smoothcert_version": __version__,
        "torch_version": torch.__version__,
    }


def _ensemble(args: argparse.Namespace, ckpt: dict[str, Any], model: nn.Module,
              device: torch.device) -> tuple[nn.Module, dict[str, Any]]:
    """The ensemble of every ``args.checkpoint`` (members checked to fit the first) and its manifest fields."""
    from smoothcert.checkpoints.store import checkpoint_path, file_sha256, load_checkpoint, model_from_checkpoint
    from smoothcert.errors import UserError
    from smoothcert.models.ensemble import Ensemble

    if args.ensemble_exit and args.ensemble_aggregate != "softmax":
        raise UserError("--ensemble-exit needs bounded member outputs: add --ensemble-aggregate softmax")
    members, described = [model], []
    for path in args.checkpoint:
        member = ckpt if path == args.checkpoint[0] else load_checkpoint(path)
        for key in ("dataset", "num_classes", "input_shape"):
            if member[key] != ckpt[key]:
                raise UserError(f"ensemble member {path} has {key} {member[key]!r}, the first member "
                                f"{ckpt[key]!r}; give members trained for the same task")
        if path != args.checkpoint[0]:
            members.append(model_from_checkpoint(member).to(device).eval())
        described.append({"sha256": file_sha256(checkpoint_path(path)), "arch": member["arch"],
                          "method": member["method"], "train_sigma": member["sigma"]})
    fields = {"ensemble": {"members": described, "aggregate": args.ensemble_aggregate,
                           "exit": args.ensemble_exit}}
    return Ensemble(members, aggregate=args.ensemble_aggregate, exit_margin=args.ensemble_exit), fields
