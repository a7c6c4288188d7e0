"""The GPU check: correctness and speed of certification on one CUDA device, in one run (under 8 minutes).

Prints, for the device it runs on (its name first):

1. packed == plain, bit for bit, on CUDA in fp32 with TF32 off: CERTIFY, PREDICT
   and sequential certification of several inputs, engine vs one at a time;
2. training resume, bit for bit, on CUDA: 2 epochs straight vs 1 + 1 resumed
   (weights, and the CUDA noise stream carried by the checkpoint);
3. host synchronisations per input (``torch.cuda.set_sync_debug_mode``): the
   engine reads counts back once per round, never per forward pass;
4. seconds per image at N = 100,000 for LeNet on MNIST-shaped inputs and
   ResNet-110 on CIFAR-shaped inputs, fp32 and bf16, with and without
   ``torch.compile`` (the goals: <= 0.1 s for LeNet, <= 1.5 s for ResNet-110).

Run it as ``python benchmarks/gpu_check.py`` (or ``make gpu-check``); exits 1
if a correctness check fails. Needs a CUDA device; prints one line and exits 2
without one.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from smoothcert import Smooth
from smoothcert.certify.packing import PackedSmooth
from smoothcert.certify.rewrites import prepare_model
from smoothcert.certify.seeds import example_generator
from smoothcert.models import create_model
from smoothcert.sequential import Schedule, certify_sequential


def _items(xs: torch.Tensor, device: torch.device) -> list[tuple[torch.Tensor, torch.Generator]]:
    return [(x, example_generator(0, i, device)) for i, x in enumerate(xs)]


def check_packed_equals_plain(device: torch.device) -> bool:
    torch.manual_seed(0)
    model, _ = prepare_model(create_model("lenet", 10, (1, 28, 28), (0.1307,), (0.3081,)), device)
    xs = torch.rand(6, 1, 28, 28, device=device)
    engine = PackedSmooth(model, 10, 0.25, 1000)
    smooth = Smooth(model, 10, 0.25)
    gens = lambda i: example_generator(0, i, device)  # noqa: E731
    ok = list(engine.certify(_items(xs, device), 100, 10_000, 0.001)) == [
        smooth.certify(x, 100, 10_000, 0.001, 1000, gens(i)) for i, x in enumerate(xs)]
    ok &= list(engine.predict(_items(xs, device), 1000, 0.001)) == [
        smooth.predict(x, 1000, 0.001, 1000, gens(i)) for i, x in enumerate(xs)]
    schedule = Schedule.geometric(10_000, 0.001)
    ok &= list(engine.sequential(_items(xs, device), [0.25, 0.5], 100, schedule)) == [
        certify_sequential(smooth, x, [0.25, 0.5], 100, schedule, 1000, gens(i)) for i, x in enumerate(xs)]
    return bool(ok)


def check_training_resume(device: torch.device) -> bool:
    from smoothcert.checkpoints.store import load_checkpoint
    from smoothcert.cli.main import main

    base = ["train", "--dataset", "digits", "--arch", "digits_cnn", "--sigma", "0.25", "--device", str(device),
            "--batch-size", "64", "--quiet"]
    with tempfile.TemporaryDirectory() as tmp:
        main([*base, "--epochs", "2", "--out", f"{tmp}/straight"])
        main([*base, "--epochs", "1", "--out", f"{tmp}/resumed"])
        main([*base, "--epochs", "2", "--out", f"{tmp}/resumed", "--resume"])
        a, b = load_checkpoint(Path(tmp, "straight")), load_checkpoint(Path(tmp, "resumed"))
    same = all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    return same and torch.equal(a["cuda_rng_states"][0], b["cuda_rng_states"][0])


def syncs_per_input(device: torch.device, inputs: int = 16) -> tuple[float, float]:
    """Host synchronisations per input for CERTIFY (n = 20,000) and sequential certification."""
    model, _ = prepare_model(create_model("lenet", 10, (1, 28, 28)), device)
    xs = torch.rand(inputs, 1, 28, 28, device=device)
    engine = PackedSmooth(model, 10, 0.25, 1000)
    counts = []
    for run in (lambda: list(engine.certify(_items(xs, device), 100, 20_000, 0.001)),
                lambda: list(engine.sequential(_items(xs, device), [0.25], 100, Schedule.geometric(20_000, 0.001)))):
        run()  # warm-up (probe, allocator)
        torch.cuda.synchronize(device)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                run()
            finally:
                torch.cuda.set_sync_debug_mode("default")
        counts.append(sum("synchroniz" in str(w.message) for w in caught) / inputs)
    return counts[0], counts[1]


def seconds_per_image(arch: str, shape: tuple[int, ...], device: torch.device, *, autocast: str | None,
                      compile: bool, batch_size: int, images: int) -> float:
    model, _ = prepare_model(create_model(arch, 10, shape), device, autocast=autocast, compile=compile)
    engine = PackedSmooth(model, 10, 0.25, batch_size)
    xs = torch.rand(images + 1, *shape, device=device)
    list(engine.certify(_items(xs[:1], device), 100, 2 * batch_size, 0.001))  # warm-up: probe, compile
    torch.cuda.synchronize(device)
    began = time.perf_counter()
    list(engine.certify(_items(xs[1:], device), 100, 100_000, 0.001))
    torch.cuda.synchronize(device)
    return (time.perf_counter() - began) / images


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--images", type=int, default=3, help="images timed per setting (default 3)")
    parser.add_argument("--skip-compile", action="store_true", help="leave out the torch.compile settings")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("error: no CUDA device; the GPU check needs one", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    print(f"device: {torch.cuda.get_device_name(device)}; torch {torch.__version__}; CUDA {torch.version.cuda}")
    failures = 0
    for name, check in (("packed == plain (fp32, TF32 off)", check_packed_equals_plain),
                        ("training resume bit for bit", check_training_resume)):
        began = time.perf_counter()
        ok = check(device)
        failures += not ok
        print(f"{name}: {'OK' if ok else 'FAILED'} ({time.perf_counter() - began:.1f} s)", flush=True)
    certify_syncs, sequential_syncs = syncs_per_input(device)
    print(f"host syncs per input: CERTIFY {certify_syncs:.2f}, sequential {sequential_syncs:.2f}", flush=True)
    print("| model | inputs | dtype | compile | batch | s / image at N = 100,000 |")
    print("|---|---|---|---|--:|--:|")
    settings = [("lenet", (1, 28, 28), 10_000), ("cifar_resnet110", (3, 32, 32), 2_000)]
    for arch, shape, batch in settings:
        for autocast in (None, "bfloat16"):
            for compile in (False, True) if not args.skip_compile else (False,):
                times = [seconds_per_image(arch, shape, device, autocast=autocast, compile=compile,
                                           batch_size=batch, images=args.images) for _ in range(1)]
                print(f"| {arch} | {'x'.join(map(str, shape))} | {autocast or 'float32'} | {compile} | {batch} | "
                      f"{statistics.median(times):.3f} |", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
