"""Arguments shared by ``certify`` and ``predict``, and the manifest they build."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from smoothcert import __version__
from smoothcert.cli._args import nonnegative_int, positive_float, positive_int, probability
from smoothcert.checkpoints.store import checkpoint_path, file_sha256


def add_common(parser: argparse.ArgumentParser, default_n: int) -> None:
    parser.add_argument("checkpoint", help="checkpoint file, or run directory holding checkpoint.pt")
    parser.add_argument("--dataset", help="dataset name (default: the checkpoint's)")
    parser.add_argument("--data-dir", help="directory of the dataset's files")
    parser.add_argument("--split", default="test", choices=["train", "test"])
    parser.add_argument("--out", required=True, help="output TSV; FILE.tsv.json holds the manifest")
    parser.add_argument("--sigma", type=positive_float, help="noise level (default: the checkpoint's training sigma)")
    parser.add_argument("--n", type=positive_int, default=default_n, help=f"noise samples (default {default_n})")
    parser.add_argument("--alpha", type=probability, default=0.001, help="failure probability (default 0.001)")
    parser.add_argument("--batch-size", type=positive_int, default=1000, help="noisy inputs per forward pass")
    parser.add_argument("--skip", type=positive_int, default=1, help="take indices 0, K, 2K, ...")
    parser.add_argument("--max", type=nonnegative_int, default=None, help="certify at most M examples (a count)")
    parser.add_argument("--seed", type=nonnegative_int, default=0, help="noise seed; example idx uses (seed, idx)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:K")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def base_manifest(args: argparse.Namespace, ckpt: dict[str, Any], dataset: str, sigma: float,
                  device: torch.device) -> dict[str, Any]:
    """The fields shared by every certification manifest."""
    path = checkpoint_path(args.checkpoint)
    return {
        "command": args.command,
        "checkpoint_path": str(Path(path).resolve()),
        "checkpoint_sha256": file_sha256(path),
        "arch": ckpt["arch"],
        "method": ckpt["method"],
        "train_sigma": None if ckpt["sigma"] is None else float(ckpt["sigma"]),
        "dataset": dataset,
        "split": args.split,
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
