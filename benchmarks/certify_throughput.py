"""Noise samples per second of smoothcert's certification path, and its speed ratios.

Three ways of spending the same noise samples (``--examples`` inputs, each
``--n0`` selection plus ``--n`` estimation samples) on the same model, timed in
interleaved rounds (so a change in the machine's load hits all three alike):

* **smoothcert**: what ``smoothcert certify`` runs: the model prepared by
  :func:`smoothcert.certify.rewrites.prepare_model` (exact speed-ups only,
  unless ``--channels-last``/``--compile``/``--autocast``) inside
  :class:`smoothcert.certify.packing.PackedSmooth`, one generator per example.
* **bare forward**: a loop of the original model's forward passes on the same
  number of noisy inputs, in batches of ``--batch-size``, inputs drawn once
  beforehand, under ``torch.inference_mode`` (no noise, no counting, no
  statistics: a floor for a loop that has to do those too).
* **one at a time**: a straightforward loop in the style of the original
  randomized-smoothing code, written here: per example and per batch,
  ``x.repeat``, ``randn_like``, the forward pass under ``torch.no_grad``,
  ``argmax().cpu().numpy()`` and counting in a Python loop.

Each contender runs in its own worker process, as it would in reality (the
``smoothcert`` one tunes the allocator as ``smoothcert certify`` does on CPU,
see :func:`smoothcert.certify.rewrites.tune_allocator`; ``--shared-allocator``
tunes it for all three, to separate that effect); the parent asks them for one
round at a time, so only one computes at any moment.

Prints samples/s per contender (median over rounds) and the ratios
smoothcert / one-at-a-time and smoothcert / bare-forward (medians of the
per-round ratios), and seconds per image at ``--n0`` + ``--n`` samples. Examples::

    .venv/bin/python benchmarks/certify_throughput.py --archs digits_cnn lenet --rounds 7
    # on a GPU, the papers' setting (N = 100,000), fp32 then bf16:
    .venv/bin/python benchmarks/certify_throughput.py --device cuda --archs lenet cifar_resnet110 \
        --n 100000 --examples 2 --batch-size 10000 --rounds 3 [--autocast bfloat16]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from smoothcert import stats
from smoothcert.certify.packing import PackedSmooth
from smoothcert.certify.rewrites import prepare_model, tune_allocator
from smoothcert.certify.seeds import example_generator
from smoothcert.models import create_model

SHAPES = {"digits_cnn": (1, 8, 8), "lenet": (1, 28, 28), "mlp": (1, 4, 4), "cifar_resnet20": (3, 32, 32),
          "cifar_resnet110": (3, 32, 32)}
DEFAULT_N = {"digits_cnn": 10_000, "lenet": 2_000, "mlp": 10_000, "cifar_resnet20": 1_000, "cifar_resnet110": 200}


def one_at_a_time(model: nn.Module, xs: torch.Tensor, n0: int, n: int, sigma: float, alpha: float,
                  batch_size: int, num_classes: int) -> list[tuple[int, float]]:
    """CERTIFY example by example, the way the original reference code is written."""

    def count_arr(arr: np.ndarray) -> np.ndarray:
        counts = np.zeros(num_classes, dtype=int)
        for idx in arr:
            counts[idx] += 1
        return counts

    def sample_noise(x: torch.Tensor, num: int) -> np.ndarray:
        with torch.no_grad():
            counts = np.zeros(num_classes, dtype=int)
            for _ in range(int(np.ceil(num / batch_size))):
                this_batch_size = min(batch_size, num)
                num -= this_batch_size
                batch = x.repeat((this_batch_size, 1, 1, 1))
                noise = torch.randn_like(batch) * sigma
                predictions = model(batch + noise).argmax(1)
                counts += count_arr(predictions.cpu().numpy())
            return counts

    model.eval()
    results = []
    for x in xs:
        c_hat = int(sample_noise(x, n0).argmax())
        n_a = int(sample_noise(x, n)[c_hat])
        p_lower = stats.clopper_pearson_lower(n_a, n, alpha)
        results.append((c_hat, stats.certified_radius(p_lower, sigma)) if p_lower >= 0.5 else (-1, 0.0))
    return results


def bare_forward(model: nn.Module, inputs: torch.Tensor, total: int) -> None:
    """``total`` rows through ``model`` in batches of ``len(inputs)`` (the last one shorter)."""
    model.eval()
    with torch.inference_mode():
        done = 0
        while done < total:
            size = min(len(inputs), total - done)
            model(inputs[:size])
            done += size


def smoothcert_path(engine: PackedSmooth, xs: torch.Tensor, n0: int, n: int, alpha: float) -> list[tuple[int, float]]:
    items = ((x, example_generator(0, i, x.device)) for i, x in enumerate(xs))
    return [(c.prediction, c.radius) for c in engine.certify(items, n0, n, alpha)]


def build(name: str, arch: str, args: argparse.Namespace) -> tuple[Callable[[], object], dict[str, object]]:
    """The contender ``name`` for ``arch``: a callable doing one round's work, and a description."""
    shape, device = SHAPES[arch], torch.device(args.device)
    torch.manual_seed(0)
    model = create_model(arch, 10, shape, (0.5,), (0.25,)).eval().to(device)
    xs = torch.rand(args.examples, *shape, generator=torch.Generator().manual_seed(1)).to(device)
    n = args.n or DEFAULT_N[arch]
    if name == "smoothcert":
        tuned = tune_allocator() if device.type == "cpu" else False  # as `smoothcert certify` does on CPU
        fast, fields = prepare_model(model, device, channels_last=args.channels_last,
                                     compile=args.compile, autocast=args.autocast)
        engine = PackedSmooth(fast, 10, args.sigma, args.batch_size)
        return (lambda: smoothcert_path(engine, xs, args.n0, n, args.alpha)), {**fields, "allocator_tuned": tuned}
    if name == "bare_forward":
        inputs = (torch.rand(args.batch_size, *shape) + args.sigma * torch.randn(args.batch_size, *shape)).to(device)
        return (lambda: bare_forward(model, inputs, args.examples * (args.n0 + n))), {}
    return (lambda: one_at_a_time(model, xs, args.n0, n, args.sigma, args.alpha, args.batch_size, 10)), {}


def worker(args: argparse.Namespace) -> None:
    """Serve timing requests for one contender: a line in, seconds of one round out."""
    name, arch = args.worker
    if args.shared_allocator:
        tune_allocator()
    run, info = build(name, arch, args)
    cuda = torch.device(args.device).type == "cuda"
    run()  # warm-up (and the engine's one-time probes, compilation)
    print(json.dumps(info), flush=True)
    for _ in sys.stdin:
        began = time.perf_counter()
        run()
        if cuda:
            torch.cuda.synchronize()  # the bare loop queues kernels without waiting for them
        print(time.perf_counter() - began, flush=True)


CONTENDERS = ("smoothcert", "bare_forward", "one_at_a_time")


def measure(arch: str, args: argparse.Namespace, argv: list[str]) -> dict[str, float]:
    """Interleaved rounds across one worker process per contender; prints and returns the ratios."""
    procs = {name: subprocess.Popen([sys.executable, __file__, *argv, "--worker", name, arch], text=True,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
             for name in CONTENDERS}
    try:
        infos = {name: json.loads(proc.stdout.readline()) for name, proc in procs.items()}
        seconds: dict[str, list[float]] = {name: [] for name in CONTENDERS}
        for _ in range(args.rounds):
            for name, proc in procs.items():  # one process computes at a time
                proc.stdin.write("run\n")
                proc.stdin.flush()
                seconds[name].append(float(proc.stdout.readline()))
    finally:
        for proc in procs.values():
            proc.stdin.close()
            proc.wait()
    n = args.n or DEFAULT_N[arch]
    total = args.examples * (args.n0 + n)
    rate = {name: total / statistics.median(t) for name, t in seconds.items()}
    vs_ref = statistics.median(r / s for r, s in zip(seconds["one_at_a_time"], seconds["smoothcert"], strict=True))
    vs_bare = statistics.median(b / s for b, s in zip(seconds["bare_forward"], seconds["smoothcert"], strict=True))
    print(f"{arch:10s} n0={args.n0} n={n} batch={args.batch_size} examples={args.examples} "
          f"engine={infos['smoothcert']}\n  samples/s: smoothcert {rate['smoothcert']:,.0f}  bare forward "
          f"{rate['bare_forward']:,.0f}  one-at-a-time {rate['one_at_a_time']:,.0f}\n  "
          f"smoothcert / one-at-a-time {vs_ref:.2f}x   smoothcert / bare forward {vs_bare:.2f}x\n  "
          f"seconds per image at {args.n0 + n:,} samples: smoothcert {(args.n0 + n) / rate['smoothcert']:.3g}  "
          f"one-at-a-time {(args.n0 + n) / rate['one_at_a_time']:.3g}", flush=True)
    return {"vs_one_at_a_time": vs_ref, "vs_bare_forward": vs_bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", nargs="+", default=["digits_cnn", "lenet"], choices=sorted(SHAPES))
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--n", type=int, default=None, help="estimation samples (default per arch)")
    parser.add_argument("--examples", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--sigma", type=float, default=0.5)
    parser.add_argument("--alpha", type=float, default=0.001)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--channels-last", action="store_true", help="opt-in: the whole model channels-last")
    parser.add_argument("--compile", action="store_true", help="opt-in: torch.compile")
    parser.add_argument("--autocast", choices=["bfloat16", "float16"], help="opt-in: autocast")
    parser.add_argument("--shared-allocator", action="store_true",
                        help="tune the allocator in every contender's process, not only smoothcert's")
    parser.add_argument("--worker", nargs=2, metavar=("CONTENDER", "ARCH"), help=argparse.SUPPRESS)
    argv = sys.argv[1:]
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        worker(args)
        return
    gpu = f", {torch.cuda.get_device_name(args.device)}" if torch.device(args.device).type == "cuda" else ""
    print(f"# {platform.machine()}, {os.cpu_count()} CPUs{gpu}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}; each contender in its own process; medians over {args.rounds} interleaved "
          f"rounds", flush=True)
    for arch in args.archs:
        measure(arch, args, argv)


if __name__ == "__main__":
    main()
