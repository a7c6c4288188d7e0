"""Time of one training step of each registered method, relative to gaussian on the same batch.

Every method in ``smoothcert.methods.list_methods()`` (whatever is registered,
with its default options unless ``--options`` says otherwise) trains a fresh
copy of the same model on the same batch: ``method(model, x, y)``, backward,
SGD step, exactly what the training loop does per step. ``set_epoch`` is
called with ``--epoch`` (default 100) so warm-ups and deferred terms are over
and every method pays its full cost. Rounds are interleaved across methods
(``--steps`` steps each per round) so a change in the machine's load hits all
alike; the ratio to gaussian is the median over rounds of the per-round ratio.
Example::

    .venv/bin/python benchmarks/train_step.py --arch digits_cnn --batch-size 64 --rounds 7
    .venv/bin/python benchmarks/train_step.py --options consistency.num_noise=4 macer.num_noise=4
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import time

import torch

from smoothcert.methods import create_method, list_methods
from smoothcert.models import create_model
from smoothcert.train.config import parse_override

SHAPES = {"digits_cnn": (1, 8, 8), "lenet": (1, 28, 28), "mlp": (1, 4, 4), "cifar_resnet20": (3, 32, 32)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="digits_cnn", choices=sorted(SHAPES))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--sigma", type=float, default=0.5)
    parser.add_argument("--methods", nargs="+", default=None, help="default: every registered method")
    parser.add_argument("--options", nargs="*", default=[], metavar="method.key=value",
                        help="method options, e.g. consistency.num_noise=4")
    parser.add_argument("--epoch", type=int, default=100, help="set_epoch value (past every warm-up)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per method and round")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    options: dict[str, dict[str, object]] = {}
    for text in args.options:
        keys, value = parse_override(text)
        options.setdefault(keys[0], {})[".".join(keys[1:])] = value
    names = ["gaussian", *(m for m in (args.methods or list_methods()) if m != "gaussian")]
    shape = SHAPES[args.arch]
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(args.batch_size, *shape, generator=gen)
    y = torch.randint(0, 10, (args.batch_size,), generator=gen)
    torch.manual_seed(0)
    base = create_model(args.arch, 10, shape, (0.5,), (0.25,))
    # A method with a pre-pass (CAT-RS) reads one row per training image: rows of a made-up smoothed
    # prediction (its cost is that of the pass, not of a step), looked up by the batch's indices.
    rows = torch.softmax(3 * torch.randn(args.batch_size, 10, generator=gen), dim=1)
    extra = {"indices": torch.arange(args.batch_size)}
    runs = {}
    for name in names:
        method = create_method(name, sigma=args.sigma, **options.get(name, {}))
        method.set_epoch(args.epoch)
        if hasattr(method, "smoothed_prediction_spec"):
            method.set_smoothed_prediction(rows)
        model = copy.deepcopy(base).train()
        runs[name] = (method, model, torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9))

    def step(name: str) -> None:
        method, model, optimizer = runs[name]
        terms = method(model, x, y, **(extra if hasattr(method, "smoothed_prediction_spec") else {}))
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()

    for name in names:  # warm-up
        step(name)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.rounds):
        for name in names:
            began = time.perf_counter()
            for _ in range(args.steps):
                step(name)
            seconds[name].append((time.perf_counter() - began) / args.steps)
    print(f"# {platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}; {args.arch}, "
          f"batch {args.batch_size}, sigma {args.sigma}; medians over {args.rounds} interleaved rounds of "
          f"{args.steps} steps")
    print(f"{'method':24s} {'options':60s} {'ms/step':>8s} {'x gaussian':>10s}")
    for name in names:
        ratio = statistics.median(s / g for s, g in zip(seconds[name], seconds["gaussian"], strict=True))
        shown = ", ".join(f"{k}={v}" for k, v in runs[name][0].options().items() if k != "sigma")
        print(f"{name:24s} {shown[:60]:60s} {statistics.median(seconds[name]) * 1e3:8.2f} {ratio:10.2f}")


if __name__ == "__main__":
    main()
