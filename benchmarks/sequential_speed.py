"""Does sequential certification save time as it saves samples? CERTIFY vs sequential, same model and images.

For each checkpoint, certifies the same ``--examples`` test images with CERTIFY
(``n0`` + ``--n`` samples each) and with sequential certification at
``--radii`` (at most ``--n`` estimation samples), through the packed engine, in
``--rounds`` interleaved rounds (the same machine state for both), and prints
in one run:

* the sample ratio: CERTIFY's samples / sequential's samples (per image, mean);
* the time ratio: CERTIFY's wall time / sequential's (medians over rounds);
* their quotient, time ratio / sample ratio (1.0: the saving in samples is all
  a saving in time; the goal is >= 0.8).

Example (digits, a model trained here in seconds; then MNIST LeNet)::

    .venv/bin/python benchmarks/sequential_speed.py
    .venv/bin/python benchmarks/sequential_speed.py --checkpoint results/mnist/runs/gaussian_0.25 \\
        --data-dir DIR --radii 0.25 0.5 0.75 1.0 --examples 20
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from smoothcert.certify.packing import PackedSmooth
from smoothcert.certify.rewrites import prepare_model
from smoothcert.certify.seeds import example_generator
from smoothcert.checkpoints.store import load_checkpoint, model_from_checkpoint
from smoothcert.cli.main import main as cli
from smoothcert.data import create_dataset
from smoothcert.sequential import Schedule


def _digits_checkpoint(directory: Path) -> Path:
    out = directory / "digits"
    cli(["train", "--dataset", "digits", "--arch", "digits_cnn", "--sigma", "0.25", "--out", str(out),
         "--epochs", "40", "--quiet"])
    return out


def measure(path: Path, args: argparse.Namespace) -> dict[str, float]:
    ckpt = load_checkpoint(path)
    device = torch.device(args.device)
    model, _ = prepare_model(model_from_checkpoint(ckpt), device)
    data = create_dataset(str(ckpt["dataset"]), "test", args.data_dir)
    step = max(1, len(data) // args.examples)
    xs = [data.images[i * step].to(device) for i in range(args.examples)]
    sigma = float(ckpt["sigma"])
    engine = PackedSmooth(model, int(ckpt["num_classes"]), sigma, args.batch_size)
    schedule = Schedule.geometric(args.n, args.alpha)

    def items() -> list[tuple[torch.Tensor, torch.Generator]]:
        return [(x, example_generator(0, i, device)) for i, x in enumerate(xs)]

    times: dict[str, list[float]] = {"certify": [], "sequential": []}
    samples = 0.0
    for _ in range(args.rounds):
        for name in times:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            began = time.perf_counter()
            if name == "certify":
                list(engine.certify(items(), args.n0, args.n, args.alpha))
            else:
                certs = list(engine.sequential(items(), args.radii, args.n0, schedule))
                samples = statistics.mean(c.samples for c in certs)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times[name].append(time.perf_counter() - began)
    sample_ratio = (args.n0 + args.n) / samples
    time_ratio = statistics.median(times["certify"]) / statistics.median(times["sequential"])
    return {"sample_ratio": sample_ratio, "time_ratio": time_ratio, "quotient": time_ratio / sample_ratio,
            "certify_s_per_image": statistics.median(times["certify"]) / len(xs),
            "sequential_s_per_image": statistics.median(times["sequential"]) / len(xs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, nargs="*", help="run dirs or files (default: train digits)")
    parser.add_argument("--data-dir", help="dataset files (MNIST, CIFAR-10)")
    parser.add_argument("--radii", type=float, nargs="+", default=[0.25, 0.5, 0.75])
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--alpha", type=float, default=0.001)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--examples", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {args.device}")
    print("| checkpoint | sample ratio | time ratio | time / sample ratio | CERTIFY s/img | sequential s/img |")
    print("|---|--:|--:|--:|--:|--:|")
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.checkpoint or [_digits_checkpoint(Path(tmp))]:
            r = measure(path, args)
            print(f"| {path.name if args.checkpoint else 'digits_cnn (trained here)'} | {r['sample_ratio']:.1f} | "
                  f"{r['time_ratio']:.1f} | {r['quotient']:.2f} | {r['certify_s_per_image']:.3f} | "
                  f"{r['sequential_s_per_image']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
