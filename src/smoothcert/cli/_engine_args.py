"""How ``certify`` (and ``predict``) run the model: engine, opt-in speed-ups, torchrun."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from smoothcert.certify.rewrites import AUTOCAST_DTYPES, prepare_model, tune_allocator


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("speed (docs/benchmarks.md)")
    group.add_argument("--engine", choices=["packed", "plain"], default="packed",
                       help="packed (default): several examples' noise samples share forward passes, same results; "
                            "plain: one example at a time through Smooth")
    group.add_argument("--channels-last", action="store_true",
                       help="opt-in: run the whole model channels-last (faster convolutions, other roundings; "
                            "recorded in the manifest)")
    group.add_argument("--compile", action="store_true", help="opt-in: torch.compile the model (recorded)")
    group.add_argument("--autocast", choices=sorted(AUTOCAST_DTYPES),
                       help="opt-in: run the model under autocast in this dtype (recorded as the manifest's dtype)")


def fast_model(args: argparse.Namespace, model: nn.Module, device: torch.device) -> tuple[nn.Module, dict[str, Any]]:
    """The model as it will run, and the manifest fields that describe it."""
    if device.type == "cpu":
        tune_allocator()
    return prepare_model(model, device, channels_last=args.channels_last, compile=args.compile,
                         autocast=args.autocast)


def timed(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Rows with ``time`` = wall seconds since the previous row.

    With the packed engine examples finish in groups (their remainder samples
    share forward passes), so one row of a group carries the group's time and
    the others nearly none: per-row times are lumpy, their sum is the run's time.
    ``--engine plain`` times every example alone.
    """
    began = time.perf_counter()
    for row in rows:
        now = time.perf_counter()
        row["time"] = round(now - began, 6)
        began = now
        yield row


Stream = Callable[[list[int]], Iterator[dict[str, Any]]]
