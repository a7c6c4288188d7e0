"""The training methods compared on digits at sigma = 0.5, same budget, several seeds.

Trains every method (``smoothcert train``) with the digits recipe's budget
(the recipe digits/gaussian_0.5: digits_cnn, SGD momentum 0.9, lr 0.05 x0.1
every ``epochs // 2`` epochs, batch 64, 40 epochs; only ``--method``, its
options and ``--seed`` differ), certifies the whole test split
(``smoothcert certify``: 360 images, N0 = 100, N = 10,000, alpha = 0.001), and
measures what each method costs to train:

* wall time per run: the sum of the per-epoch ``time`` column of ``log.csv``
  (the epoch's steps plus one noisy pass over the test set), and per step;
  CAT-RS also needs, before training, a Gaussian model at sigma 0.25 (trained
  here with configs/digits/gaussian_0.25.yaml and the first seed, into
  ``--out/gaussian025-seed<S>/``) and its smoothed-prediction pass over the
  training set: both are reported apart (``pretrain_s``, ``prepass_s``). As the
  authors used one pass for all their runs, every seed's run uses that model
  and the first seed's pass (copied into its run directory, where the trainer
  checks it against its record and reuses it);
* per step, measured here: a fresh model per method, the same batch of 64 training
  images, rounds of timed steps interleaved across methods (so a change in the
  machine's load hits every method alike), median ms per step.

Resumable: training and certification resume, finished runs are skipped, so
rerunning the same command continues where it stopped. Runs go to
``--out/<run>-seed<S>/`` (``checkpoint.pt``, ``config.yaml``, ``log.csv``,
``<run>-seed<S>.tsv`` and its manifest; the run names are the keys of ``RUNS``);
all of it, the checkpoint (about 120 kB) included, is copied to
``--results/<run>-seed<S>/``, with ``train_cost.tsv``, ``step_cost.tsv`` and
``cost.md`` beside them.

Usage (the analysis commands are in docs/digits_methods.md)::

    OMP_NUM_THREADS=1 SMOOTHCERT_PROGRESS=0 .venv/bin/python benchmarks/digits_methods.py
"""

from __future__ import annotations

import argparse
import csv
import math
import shutil
import statistics
import sys
import time
from pathlib import Path

import torch

from smoothcert._io import atomic_write_text
from smoothcert.checkpoints.store import load_checkpoint
from smoothcert.cli.main import main as smoothcert
from smoothcert.data import create_dataset
from smoothcert.methods import create_method
from smoothcert.models import create_model
from smoothcert.train.prepass import RESULT_NAME

RECIPE = "digits/gaussian_0.5"  # a shipped recipe (smoothcert.recipes)
PRETRAIN_RECIPE = "digits/gaussian_0.25"  # CAT-RS's pretrained model: Gaussian at sigma 0.25
FIRST_LR_STEP = "first_lr_step"  # an option value replaced by epochs // 2, the epoch of the lr decay
PRETRAINED = "pretrained"  # an option value replaced by the run directory of the seed's Gaussian sigma 0.25 model
SIGMA = 0.5
# Each run name: (training method, its options = the method_args of `smoothcert train`).
# The reasons for the values are in docs/digits_methods.md.
RUNS: dict[str, tuple[str, dict[str, object]]] = {
    "gaussian": ("gaussian", {}),
    "consistency": ("consistency", {"num_noise": 2, "lbd": 5.0, "eta": 0.5}),
    "smoothadv": ("smoothadv", {"num_noise": 4, "epsilon": 0.5, "num_steps": 4, "attack": "pgd", "warmup": 10}),
    # MACER's own defaults, robustness loss from the first step: collapses here (docs/digits_methods.md).
    "macer": ("macer", {"num_noise": 16, "beta": 16.0, "gamma": 8.0, "lbd": 12.0, "deferred_epochs": 0}),
    # The same with the robustness loss deferred to the first lr step, as Jeong & Shin (2020) ran MACER.
    "macer_deferred": ("macer", {"num_noise": 16, "beta": 16.0, "gamma": 8.0, "lbd": 12.0,
                                 "deferred_epochs": FIRST_LR_STEP}),
    "stability": ("stability", {"lbd": 2.0}),
    "consistency_smoothadv": ("consistency_smoothadv", {"num_noise": 4, "lbd": 1.0, "eta": 0.5, "epsilon": 0.5,
                                                        "num_steps": 4, "attack": "pgd", "warmup": 10}),
    # SmoothMix's MNIST sigma 0.5 recipe (m 4, T 4, eta 5, one-step adversary) with its step alpha halved to 0.5,
    # as smoothadv's epsilon above; CAT-RS's (m 4, T 4, lambda 1) with its epsilon halved to 0.5 likewise.
    "smoothmix": ("smoothmix", {"num_noise": 4, "num_steps": 4, "alpha": 0.5, "eta": 5.0, "mix_step": 1,
                                "warmup": 10}),
    "catrs": ("catrs", {"num_noise": 4, "epsilon": 0.5, "num_steps": 4, "lbd": 1.0, "pretrained": PRETRAINED,
                        "prior_samples": 10_000, "prior_batch": 1000}),
}


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/digits_methods", help="run directories (checkpoints)")
    parser.add_argument("--results", default="results/digits_methods",
                        help="copies of the run directories: checkpoints, TSVs, manifests, logs")
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS), help="run names (default all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=40, help="the same for every method (default 40)")
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--alpha", type=float, default=0.001)
    parser.add_argument("--step-rounds", type=int, default=7, help="interleaved rounds of the per-step timing")
    parser.add_argument("--step-count", type=int, default=10, help="timed steps per method and round")
    parser.add_argument("--cost-name", default="", help="suffix of the cost files (train_cost<NAME>.tsv, ...), so "
                        "that an invocation with some --runs keeps the files of an earlier one")
    return parser.parse_args(argv)


def _call(argv: list[str]) -> None:
    status = smoothcert(argv)
    if status != 0:
        raise SystemExit(f"smoothcert {argv[0]} failed with status {status}: {' '.join(argv)}")


def _lr_step(epochs: int) -> int:
    return max(epochs // 2, 1)


def _options(run: str, epochs: int, pretrained: Path | None = None) -> dict[str, object]:
    fill = {FIRST_LR_STEP: _lr_step(epochs), PRETRAINED: str(pretrained)}
    return {key: fill.get(value, value) if isinstance(value, str) else value for key, value in RUNS[run][1].items()}


def _needs_pretrained(run: str) -> bool:
    return PRETRAINED in RUNS[run][1].values()


def _pretrain(run_dir: Path, seed: int, epochs: int) -> None:
    _call(["train", "--config", PRETRAIN_RECIPE, "--seed", str(seed), "--epochs", str(epochs), "--device", "cpu",
           "--out", str(run_dir), "--resume", "--quiet", f"lr_step={_lr_step(epochs)}"])


def _share_pass(first: Path, run_dir: Path) -> None:
    """Copy the first seed's finished smoothed-prediction pass into ``run_dir`` (the trainer verifies and reuses it)."""
    source, target = first / RESULT_NAME, run_dir / RESULT_NAME
    if first != run_dir and source.exists() and not target.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _train(run_dir: Path, run: str, seed: int, epochs: int, pretrained: Path | None = None) -> None:
    method, options = RUNS[run][0], _options(run, epochs, pretrained)
    overrides = [f"method_args.{key}={value}" for key, value in options.items()]
    _call(["train", "--config", RECIPE, "--method", method, "--sigma", str(SIGMA), "--seed", str(seed),
           "--epochs", str(epochs), "--device", "cpu", "--out", str(run_dir), "--resume", "--quiet",
           f"lr_step={_lr_step(epochs)}", *overrides])


def _certify(run_dir: Path, tsv: Path, args: argparse.Namespace) -> None:
    _call(["certify", str(run_dir), "--out", str(tsv), "--n0", str(args.n0), "--n", str(args.n),
           "--alpha", str(args.alpha), "--batch-size", str(min(args.n, 10_000)), "--seed", "0",
           "--device", "cpu", "--quiet"])


def _cost_row(run: str, seed: int, run_dir: Path, steps: int, pretrained: Path | None) -> dict[str, object]:
    log = _log_rows(run_dir)
    train_s = sum(float(row["time"]) for row in log)
    pretrain_s = sum(float(row["time"]) for row in _log_rows(pretrained)) if pretrained else 0.0
    ckpt = run_dir / "checkpoint.pt"
    record = load_checkpoint(ckpt).get("smoothed_prediction", {}) if ckpt.exists() else {}
    prepass_s = float(record.get("seconds", 0.0))
    return {"method": run, "seed": seed, "epochs": len(log), "steps": steps * len(log), "train_s": round(train_s, 3),
            "ms_per_step": round(train_s / (steps * len(log)) * 1000, 3), "pretrain_s": round(pretrain_s, 3),
            "prepass_s": round(prepass_s, 3)}


def _log_rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "log.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _copy_run(run_dir: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(run_dir.iterdir()):
        if path.is_file():
            shutil.copy2(path, dest / path.name)


def _steps_per_epoch(batch_size: int = 64) -> int:
    return math.ceil(len(create_dataset("digits", "train", None)) / batch_size)


def _step_benchmark(runs: list[str], rounds: int, count: int, epoch: int) -> dict[str, float]:
    """Median ms per optimizer step of each run's method, rounds interleaved across runs.

    The methods are set to ``epoch`` (the last one), where warm-ups are over and
    deferred terms are on, so every term of the loss is computed and back-propagated.
    """
    data = create_dataset("digits", "train", None)
    inputs, targets = data.images[:64], data.labels[:64]
    # CAT-RS reads one smoothed-prediction row per image: made-up rows here (the pass is timed apart)
    rows = torch.softmax(3 * torch.randn(64, 10, generator=torch.Generator().manual_seed(0)), dim=1)
    extra: dict[str, dict[str, torch.Tensor]] = {}
    setups = {}
    for name in runs:
        torch.manual_seed(0)
        model = create_model("digits_cnn", 10, (1, 8, 8), data.info.mean, data.info.std)
        method = create_method(RUNS[name][0], sigma=SIGMA, **_options(name, epoch + 1, Path("unused")))
        method.set_epoch(epoch)
        if hasattr(method, "smoothed_prediction_spec"):
            method.set_smoothed_prediction(rows)
            extra[name] = {"indices": torch.arange(64)}
        setups[name] = (model, method, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(rounds + 1):  # round 0 warms up and is not counted
        for name, (model, method, opt) in setups.items():
            model.train()
            began = time.perf_counter()
            for _ in range(count):
                loss = method(model, inputs, targets, **extra.get(name, {}))["loss"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            if round_ > 0:
                samples[name].append((time.perf_counter() - began) / count * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def _cost_tables(rows: list[dict[str, object]], step_ms: dict[str, float], threads: int) -> str:
    by_method: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_method.setdefault(str(row["method"]), []).append(row)
    base_run = statistics.mean(float(r["train_s"]) for r in by_method["gaussian"]) if "gaussian" in by_method else None
    base_step = step_ms.get("gaussian")
    lines = [f"torch threads: {threads}", "",
             "| method | runs | train wall time per run (s) | × gaussian | ms/step (log) | "
             "ms/step (interleaved benchmark) | × gaussian | before training: pretrain + pre-pass (s) |",
             "|---|--:|--:|--:|--:|--:|--:|--:|"]
    for method, group in by_method.items():
        secs = [float(r["train_s"]) for r in group]
        per_step = statistics.mean(float(r["ms_per_step"]) for r in group)
        spread = f" ± {statistics.stdev(secs):.1f}" if len(secs) > 1 else ""
        ratio = f"{statistics.mean(secs) / base_run:.1f}" if base_run else "n/a"
        bench = step_ms.get(method)
        bench_txt = f"{bench:.1f}" if bench is not None else "n/a"
        bench_ratio = f"{bench / base_step:.1f}" if bench is not None and base_step else "n/a"
        before = [(float(r.get("pretrain_s", 0.0)), float(r.get("prepass_s", 0.0))) for r in group]
        before_txt = (f"{statistics.mean(b[0] for b in before):.1f} + {statistics.mean(b[1] for b in before):.1f}"
                      if any(sum(b) for b in before) else "–")
        lines.append(f"| {method} | {len(group)} | {statistics.mean(secs):.1f}{spread} | {ratio} | {per_step:.1f} | "
                     f"{bench_txt} | {bench_ratio} | {before_txt} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    out, results = Path(args.out), Path(args.results)
    began = time.perf_counter()
    steps = _steps_per_epoch()
    cost_rows: list[dict[str, object]] = []
    for seed in args.seeds:  # seeds outermost: an interrupted run leaves whole seeds of every method
        for run in args.runs:
            name = f"{run}-seed{seed}"
            run_dir = out / name
            tsv = run_dir / f"{name}.tsv"
            pretrained = out / f"gaussian025-seed{args.seeds[0]}" if _needs_pretrained(run) else None
            if pretrained is not None:
                print(f"[digits_methods] {name}: pretrain ({time.perf_counter() - began:.0f} s)", file=sys.stderr,
                      flush=True)
                _pretrain(pretrained, args.seeds[0], args.epochs)
                _share_pass(out / f"{run}-seed{args.seeds[0]}", run_dir)
            print(f"[digits_methods] {name}: train ({time.perf_counter() - began:.0f} s)", file=sys.stderr, flush=True)
            _train(run_dir, run, seed, args.epochs, pretrained)
            print(f"[digits_methods] {name}: certify ({time.perf_counter() - began:.0f} s)", file=sys.stderr,
                  flush=True)
            _certify(run_dir, tsv, args)
            cost_rows.append(_cost_row(run, seed, run_dir, steps, pretrained))
            _copy_run(run_dir, results / name)
            if pretrained is not None:
                _copy_run(pretrained, results / pretrained.name)
    if "gaussian" not in args.runs:  # the baseline of the ratios: its logs as an earlier invocation copied them
        for seed in args.seeds:
            if (results / f"gaussian-seed{seed}" / "log.csv").exists():
                cost_rows.insert(seed, _cost_row("gaussian", seed, results / f"gaussian-seed{seed}", steps, None))
    print(f"[digits_methods] per-step benchmark ({time.perf_counter() - began:.0f} s)", file=sys.stderr, flush=True)
    timed = ["gaussian", *(run for run in args.runs if run != "gaussian")]
    step_ms = _step_benchmark(timed, args.step_rounds, args.step_count, args.epochs - 1)
    results.mkdir(parents=True, exist_ok=True)
    header = ["method", "seed", "epochs", "steps", "train_s", "ms_per_step", "pretrain_s", "prepass_s"]
    atomic_write_text(results / f"train_cost{args.cost_name}.tsv", "\t".join(header) + "\n" + "".join(
        "\t".join(str(row[key]) for key in header) + "\n" for row in cost_rows))
    base = step_ms.get("gaussian")
    atomic_write_text(results / f"step_cost{args.cost_name}.tsv", "method\tms_per_step\tratio_to_gaussian\n" + "".join(
        f"{m}\t{v:.3f}\t{(v / base if base else float('nan')):.3f}\n" for m, v in step_ms.items()))
    table = _cost_tables(cost_rows, step_ms, torch.get_num_threads())
    atomic_write_text(results / f"cost{args.cost_name}.md", table)
    print(table)
    print(f"[digits_methods] done in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
