"""CERTIFY every K-th example of a dataset; rerunning with the same arguments resumes."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from typing import Any

from smoothcert.certify.rows import CERTIFY_COLUMNS, certify_row, example_generator, select_indices
from smoothcert.cli._args import nonnegative_float, positive_int, probability
from smoothcert.cli._certify_args import add_common, base_manifest
from smoothcert.cli._engine_args import add_engine_arguments, fast_model, timed
from smoothcert.cli._model import load_model_and_data
from smoothcert.cli._warnings import warn_futile
from smoothcert.runtime import distributed
from smoothcert.checkpoints.legacy import sigma_or_error
from smoothcert.certify.packing import PackedSmooth
from smoothcert.certify.shards import run_sharded
from smoothcert.errors import UserError
from smoothcert.sequential import Schedule, certify_sequential
from smoothcert.smooth import Smooth

SEQUENTIAL_COLUMNS = ["idx", "label", "predict", "radius", "correct", "time", "samples", "p_lower", "count", "n"]
FIRST_LOOK, GROWTH, FUTILITY = 100, 2 ** 0.5, 0.001


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser, default_n=100_000)
    parser.add_argument("--n0", type=positive_int, default=100, help="selection samples (default 100)")
    parser.add_argument("--mode", choices=["certify", "sequential"], default="certify",
                        help="certify (default): CERTIFY with n samples; sequential: decide each of --radii, "
                             "stopping as soon as all are decided (docs/sequential.md)")
    parser.add_argument("--radii", type=nonnegative_float, nargs="+", metavar="R",
                        help="target radii: needed by --mode sequential; with CERTIFY only to warn of radii out of reach")
    parser.add_argument("--n-max", type=positive_int, help="sequential: at most this many estimation samples "
                                                           "per example (default: --n)")
    parser.add_argument("--futility", type=probability, default=FUTILITY,
                        help="sequential: abandon a target once even the upper confidence bound on p_A at this "
                             f"level could not certify it by --n-max (default {FUTILITY}); larger stops sooner on "
                             "inputs near a target's threshold, at some loss of power; never affects soundness")
    add_engine_arguments(parser)


def run(args: argparse.Namespace) -> int:
    ctx = distributed.from_env()
    device_name = distributed.device_name(args.device, ctx)
    ckpt, model, data, device = load_model_and_data(args.checkpoint, args.dataset, args.split, args.data_dir,
                                                    device_name)
    sigma = sigma_or_error(ckpt, args.sigma)
    sequential = args.mode == "sequential"
    if sequential and not args.radii:
        raise UserError("--mode sequential needs target radii, e.g. --radii 0.25 0.5 0.75 1.0")
    n_max = args.n_max or args.n
    if ctx.is_main:
        if sequential:
            warn_futile(n_max, args.alpha / 2, sigma, args.radii)  # the final look spends alpha / 2
        else:
            warn_futile(args.n, args.alpha, sigma, getattr(args, "radii", None) or ())
    fast, fields = fast_model(args, model, device)
    manifest = {**base_manifest(args, ckpt, data.info.name, sigma, device), "n0": args.n0, **fields}
    indices = select_indices(len(data), args.skip, args.max)
    label = lambda idx: int(data.labels[idx])  # noqa: E731
    image = lambda idx: data.images[idx].to(device)  # noqa: E731
    compute: Any = None
    stream: Any = None
    if sequential:
        manifest.update(mode="sequential", n=n_max, radii=list(args.radii),
                        schedule=f"geometric first={FIRST_LOOK} growth={GROWTH:.4g}", futility=args.futility)
        schedule = Schedule.geometric(n_max, args.alpha, first=min(FIRST_LOOK, n_max), growth=GROWTH)
        smooth = Smooth(fast, data.info.num_classes, sigma)
        columns = SEQUENTIAL_COLUMNS

        def compute(idx: int) -> dict[str, Any]:
            began = time.perf_counter()
            cert = certify_sequential(smooth, image(idx), args.radii, args.n0, schedule, args.batch_size,
                                      example_generator(args.seed, idx, device), args.futility)
            return {"idx": idx, "label": label(idx), "predict": cert.prediction, "radius": cert.radius,
                    "correct": int(cert.prediction == label(idx)), "time": round(time.perf_counter() - began, 6),
                    "samples": cert.samples, "p_lower": cert.p_lower, "count": cert.count, "n": cert.n}
    elif args.engine == "plain":
        smooth = Smooth(fast, data.info.num_classes, sigma)
        columns = CERTIFY_COLUMNS

        def compute(idx: int) -> dict[str, Any]:
            return certify_row(smooth, image(idx), label(idx), idx, n0=args.n0, n=args.n, alpha=args.alpha,
                               batch_size=args.batch_size, seed=args.seed)
    else:
        engine = PackedSmooth(fast, data.info.num_classes, sigma, args.batch_size)
        columns = CERTIFY_COLUMNS

        def stream(todo: list[int]) -> Iterator[dict[str, Any]]:
            items = ((image(idx), example_generator(args.seed, idx, device)) for idx in todo)
            certs = engine.certify(items, args.n0, args.n, args.alpha)
            yield from timed({"idx": idx, "label": label(idx), "predict": c.prediction, "radius": c.radius,
                              "correct": int(c.prediction == label(idx)), "time": 0.0, "p_lower": c.p_lower,
                              "count": c.count, "n": c.n} for idx, c in zip(todo, certs))

    ctx = distributed.init(device)
    with distributed.leaving_group_after():
        out = run_sharded(ctx, args.out, manifest, columns, indices, compute, stream, desc="certify",
                          quiet=args.quiet)
    if ctx.is_main:
        print(f"wrote {out}", file=sys.stderr)
    return 0
