"""Fetch a dataset (mnist, cifar10) from its published files, checksums verified; resumable."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``download`` arguments to ``parser``."""
    parser.add_argument("dataset", metavar="DATASET", help="mnist or cifar10")
    parser.add_argument("--data-dir", metavar="DIR",
                        help="where to put the files (default: $SMOOTHCERT_DATA_DIR/DATASET if set, else the user "
                             "cache ~/.cache/smoothcert/DATASET)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or messages")


def run(args: argparse.Namespace) -> int:
    """Download ``args.dataset`` into its directory; verified files already there are not fetched again."""
    from smoothcert.data.fetch import download_dataset
    from smoothcert.data.locations import download_dir

    directory = download_dataset(args.dataset, download_dir(args.dataset, args.data_dir), quiet=args.quiet)
    if not args.quiet:
        print(f"{args.dataset} is in {directory}", file=sys.stderr)
    return 0
