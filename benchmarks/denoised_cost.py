"""Cost of a denoiser in front of a classifier: noise samples per second, seconds per certified image.

With ``--accuracy K --dataset D`` it also prints each base model's accuracy on the first K test images
under one seeded noise draw each (the base model's vote on one noisy copy; not a certificate).

For each base model (the classifier alone, behind each ``--denoiser``, behind ``--diffusion``), built by
:func:`smoothcert.checkpoints.composite.build_base_model` as certification builds it, times
``Smooth.sample_counts`` on one test-sized input in interleaved rounds (so a change in the machine's load
hits every model alike), and prints the median samples per second and the seconds one CERTIFY at
``--n0`` + ``--n`` samples would take. Example::

    OMP_NUM_THREADS=1 python benchmarks/denoised_cost.py results/mnist/denoised/runs/lenet_standard \
        --denoiser results/mnist/denoised/runs/dncnn_mse_0.25 --diffusion results/mnist/denoised/ddpm/model \
        --sigma 0.25 --samples 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from smoothcert import Smooth
from smoothcert.checkpoints.composite import build_base_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("classifier")
    parser.add_argument("--denoiser", nargs="*", default=[])
    parser.add_argument("--diffusion", nargs="*", default=[])
    parser.add_argument("--sigma", type=float, required=True)
    parser.add_argument("--samples", type=int, default=1000, help="noise samples timed per round and model")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--accuracy", type=int, default=0, help="also: accuracy under noise on K test images")
    parser.add_argument("--dataset", default=None, help="dataset of --accuracy (default: the classifier's)")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    models = {"classifier alone": build_base_model(args.classifier, sigma=args.sigma, device=device)}
    for path in args.denoiser:
        models[f"+ {path}"] = build_base_model(args.classifier, denoiser=path, sigma=args.sigma, device=device)
    for path in args.diffusion:
        models[f"+ diffusion {path}"] = build_base_model(args.classifier, diffusion=path, sigma=args.sigma,
                                                         device=device)
    classes = {name: int(parts["classifier"]["num_classes"]) for name, (_, parts) in models.items()}
    shape = tuple(next(iter(models.values()))[1]["classifier"]["input_shape"])
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0)).to(device)
    rates: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, (model, _) in models.items():
            smooth = Smooth(model, classes[name], args.sigma)
            smooth.sample_counts(x, min(args.batch_size, args.samples), args.batch_size)  # warm-up
            began = time.perf_counter()
            smooth.sample_counts(x, args.samples, args.batch_size, torch.Generator(device=device).manual_seed(1))
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            rates[name].append(args.samples / (time.perf_counter() - began))
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), device {device}, sigma {args.sigma}, {args.rounds} rounds")
    accuracy = _noisy_accuracy(args, models, device) if args.accuracy else {}
    extra = f" accuracy under noise, first {args.accuracy} test images |" if accuracy else ""
    print(f"| base model | samples/s | s per image at n0 + n = {args.n0 + args.n:,} |{extra}")
    print("|---|---|---|" + ("---|" if accuracy else ""))
    for name, values in rates.items():
        rate = statistics.median(values)
        cell = f" {accuracy[name]:.4f} |" if accuracy else ""
        print(f"| {name} | {rate:,.0f} | {(args.n0 + args.n) / rate:,.1f} |{cell}")
    return 0


def _noisy_accuracy(args: argparse.Namespace, models: dict, device: torch.device) -> dict[str, float]:
    from smoothcert.data import create_dataset

    first = next(iter(models.values()))[1]["classifier"]
    data = create_dataset(args.dataset or first["dataset"], "test", args.data_dir)
    x, y = data.images[: args.accuracy].to(device), data.labels[: args.accuracy].to(device)
    noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0)).to(device) * args.sigma
    found = {}
    with torch.inference_mode():
        for name, (model, _) in models.items():
            votes = torch.cat([model(batch).argmax(1) for batch in (x + noise).split(args.batch_size)])
            found[name] = float((votes == y).float().mean())
    return found


if __name__ == "__main__":
    raise SystemExit(main())
