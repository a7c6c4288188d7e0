"""Reproduce a paper's table: train each recipe, certify, compare with the published numbers.

``smoothcert reproduce mnist`` follows the MNIST protocol of Jeong & Shin (2020):
LeNet recipes from ``configs/mnist/<method>_<sigma>.yaml``, certification of every
20th test image (500 images) with N0=100, N=100,000, alpha=0.001. Every step
resumes, so an interrupted reproduction continues where it stopped.

The table (``OUT/table.md``) covers every ``<method>_<sigma>.tsv`` in OUT, not
only this call's. With ``--published DIR`` (the authors' per-image TSVs, one
directory per setting: ``DIR/<method>_<sigma>/<one file per run>``) it adds a
comparison on the same images as ours, which is the fair one for a reduced run.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from smoothcert._io import atomic_write_text
from smoothcert.analysis import acr, certified_accuracy, load_results
from smoothcert.analysis.same_images import load_published, same_images_rows
from smoothcert.cli._args import nonnegative_int, positive_float, positive_int
from smoothcert.errors import UserError

# ACR published for the 500 MNIST test images (mean of the authors' runs), sigma 0.25 / 0.5 / 1.0.
PUBLISHED_ACR: dict[str, dict[float, float]] = {
    "gaussian": {0.25: 0.898, 0.5: 1.537, 1.0: 1.606},
    "stability": {0.25: 0.904, 0.5: 1.550, 1.0: 1.624},
    "smoothadv": {0.25: 0.921, 0.5: 1.670, 1.0: 1.771},
    "macer": {0.25: 0.908, 0.5: 1.571, 1.0: 1.592},
    "consistency": {0.25: 0.918, 0.5: 1.633, 1.0: 1.731},
    "consistency_smoothadv": {0.25: 0.921, 0.5: 1.679, 1.0: 1.809},
}
# Certified accuracy (%) at r = 0, 0.25, ..., 2.0 on the same 500 images: the mean over the authors' per-image
# TSVs published in github.com/jh-jeong/smoothing-consistency, data/certify/mnist/ (runs listed in docs/mnist.md),
# computed with smoothcert.analysis; the mean ACR of those files is within 0.01 of PUBLISHED_ACR everywhere.
PUBLISHED_ACCURACY: dict[str, dict[float, tuple[float, ...]]] = {
    "gaussian": {0.25: (98.9, 97.2, 95.6, 91.1, 0.0, 0.0, 0.0, 0.0, 0.0),
                 0.5: (98.5, 96.8, 95.2, 93.4, 88.7, 81.6, 64.9, 43.7, 0.0),
                 1.0: (95.4, 92.8, 90.0, 86.3, 79.8, 70.5, 58.8, 45.5, 31.6)},
    "stability": {0.25: (99.2, 97.7, 95.6, 92.3, 0.0, 0.0, 0.0, 0.0, 0.0),
                  0.5: (98.7, 97.1, 95.7, 93.5, 89.7, 82.9, 66.9, 45.2, 0.0),
                  1.0: (95.6, 94.0, 90.6, 85.8, 80.2, 71.4, 60.2, 46.4, 32.4)},
    "smoothadv": {0.25: (98.8, 97.8, 96.4, 95.4, 0.0, 0.0, 0.0, 0.0, 0.0),
                  0.5: (98.1, 97.4, 96.0, 94.9, 92.6, 87.5, 79.9, 65.8, 0.0),
                  1.0: (94.6, 93.2, 90.0, 85.4, 79.4, 73.2, 63.4, 54.6, 42.6)},
    "macer": {0.25: (98.9, 97.6, 95.5, 93.1, 0.0, 0.0, 0.0, 0.0, 0.0),
              0.5: (98.2, 97.1, 95.7, 93.0, 88.6, 82.1, 71.5, 50.6, 0.0),
              1.0: (90.0, 86.6, 82.1, 77.2, 70.8, 64.0, 54.7, 47.1, 39.0)},
    "consistency": {0.25: (99.3, 98.0, 96.5, 94.9, 0.0, 0.0, 0.0, 0.0, 0.0),
                    0.5: (98.3, 97.2, 96.2, 94.6, 91.8, 87.3, 77.0, 58.6, 0.0),
                    1.0: (93.0, 92.4, 88.0, 84.4, 78.4, 72.8, 64.0, 54.0, 40.8)},
    "consistency_smoothadv": {0.25: (98.7, 97.9, 96.6, 95.6, 0.0, 0.0, 0.0, 0.0, 0.0),
                              0.5: (97.9, 96.9, 96.0, 94.5, 92.1, 87.6, 80.3, 69.2, 0.0),
                              1.0: (93.2, 90.6, 87.8, 82.8, 78.6, 72.6, 63.2, 55.2, 44.6)},
}
PAPER_IMAGES = 500
RADII = [0.25 * i for i in range(9)]  # 0, 0.25, ..., 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paper", choices=["mnist"], help="which table to reproduce")
    parser.add_argument("--out", default="results/mnist", help="results directory (default results/mnist)")
    parser.add_argument("--configs", default="configs", help="recipe directory (default ./configs)")
    parser.add_argument("--data-dir", default=None, help="MNIST IDX files (default ../shared/data/mnist)")
    parser.add_argument("--methods", nargs="+", default=list(PUBLISHED_ACR), choices=list(PUBLISHED_ACR))
    parser.add_argument("--sigmas", nargs="+", type=positive_float, default=[0.25, 0.5, 1.0])
    parser.add_argument("--n0", type=positive_int, default=100)
    parser.add_argument("--n", type=positive_int, default=100_000, help="certification samples (paper: 100,000)")
    parser.add_argument("--skip", type=positive_int, default=20, help="every K-th test image (paper: 20)")
    parser.add_argument("--max", type=nonnegative_int, default=None, help="certify at most M images (reduced runs)")
    parser.add_argument("--batch-size", type=positive_int, default=10_000)
    parser.add_argument("--epochs", type=positive_int, default=None, help="override the recipe's epochs")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--published", default=None, metavar="DIR",
                        help="the authors' per-image TSVs as DIR/<method>_<sigma>/<run files>: adds a comparison "
                             "on the same images as ours")
    parser.add_argument("--table-only", action="store_true",
                        help="train and certify nothing: rewrite OUT/table.md from the TSVs already there")


def _recipe(configs: Path, method: str, sigma: float) -> Path:
    for name in (f"{method}_{sigma}.yaml", f"{method}_{sigma:g}.yaml"):
        if (configs / "mnist" / name).is_file():
            return configs / "mnist" / name
    raise UserError(f"no recipe {configs / 'mnist' / f'{method}_{sigma}.yaml'}; pass --configs DIR of the recipes")


def _call(argv: list[str]) -> None:
    from smoothcert.cli.main import build_parser

    args = build_parser().parse_args(argv)
    args._run(args)


def run(args: argparse.Namespace) -> int:
    out, configs = Path(args.out), Path(args.configs)
    published = Path(args.published) if args.published else None
    if published is not None and not published.is_dir():
        raise UserError(f"--published {published}: not a directory")
    recipes = {} if args.table_only else {(m, s): _recipe(configs, m, s) for m in args.methods for s in args.sigmas}
    device = "cuda" if args.device == "auto" and torch.cuda.is_available() else args.device
    timings_file = out / "timings.json"
    for (method, sigma), recipe in recipes.items():
        name = f"{method}_{sigma:g}"
        run_dir, tsv = out / "runs" / name, out / f"{name}.tsv"
        began = time.perf_counter()
        train = ["train", "--config", str(recipe), "--out", str(run_dir), "--resume", "--device", device]
        train += ["--data-dir", args.data_dir] if args.data_dir else []
        train += ["--epochs", str(args.epochs)] if args.epochs else []
        print(f"[reproduce] {name}: training ({recipe})", file=sys.stderr)
        _call(train)
        trained = time.perf_counter()
        certify = ["certify", str(run_dir), "--out", str(tsv), "--n0", str(args.n0), "--n", str(args.n),
                   "--alpha", "0.001", "--skip", str(args.skip), "--batch-size", str(args.batch_size),
                   "--device", device]
        certify += ["--data-dir", args.data_dir] if args.data_dir else []
        certify += ["--max", str(args.max)] if args.max is not None else []
        print(f"[reproduce] {name}: certifying", file=sys.stderr)
        _call(certify)
        # read just before writing, so another reproduce call on OUT (other settings) keeps its entries
        timings = json.loads(timings_file.read_text()) if timings_file.is_file() else {}
        entry = timings.setdefault(name, {})
        entry.setdefault("train_s", round(trained - began, 1))  # first (real) training time is kept
        entry["certify_s_last_call"] = round(time.perf_counter() - trained, 1)
        atomic_write_text(timings_file, json.dumps(timings, indent=2))
    table = comparison_table(out)
    if published is not None:
        table += "\n\n" + same_images_table(out, published)
    device_name = torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or "cpu"
    footer = ("\nEach run's images, N0, N and alpha are in its manifest (<method>_<sigma>.tsv.json); "
              "wall times in timings.json.\n" if args.table_only else
              f"\nCertification: every {args.skip}th test image (the first `images` of them: a run certified "
              f"with --max has fewer than 500), N0={args.n0}, N={args.n}, alpha=0.001; "
              f"device: {device} ({device_name}); wall times in timings.json.\n")
    atomic_write_text(out / "table.md", table + footer)
    print(table + footer)
    return 0


def _settings(out: Path) -> list[tuple[str, float, Path]]:
    """Every ``<method>_<sigma>.tsv`` in ``out`` of a known method, in the paper's order."""
    found = []
    for method in PUBLISHED_ACR:
        for tsv in out.glob(f"{method}_*.tsv"):
            try:
                found.append((method, float(tsv.name[len(method) + 1:-4]), tsv))
            except ValueError:
                continue  # consistency_smoothadv_0.5.tsv also matches consistency_*
    order = list(PUBLISHED_ACR)
    return sorted(found, key=lambda t: (order.index(t[0]), t[1]))


def comparison_table(out: Path) -> str:
    """Markdown: ours and the published values (500 images) per setting; their difference on the same 500.

    A run certified on fewer images (``--max``) gets no difference row: a
    subset's numbers differ from the full set's by more than the effects under
    study; ``--published`` compares such a run on its own images.
    """
    header = ["method", "sigma", "images", "source"] + [f"r={r:g}" for r in RADII] + ["ACR"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method, sigma, tsv in _settings(out):
        res = load_results(tsv)
        rows = [("ours", len(res), [100 * certified_accuracy(res, r) for r in RADII] + [acr(res)])]
        if sigma in PUBLISHED_ACR[method]:
            published = [*PUBLISHED_ACCURACY[method][sigma], PUBLISHED_ACR[method][sigma]]
            rows.append(("published", PAPER_IMAGES, published))
            if len(res) == PAPER_IMAGES:
                rows.append(("difference", PAPER_IMAGES, [a - b for a, b in zip(rows[0][2], published)]))
        for source, images, values in rows:
            signed = "+" if source == "difference" else ""
            cells = [method, f"{sigma:g}", str(images), source]
            cells += [f"{v:{signed}.1f}" for v in values[:-1]] + [f"{values[-1]:{signed}.3f}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def same_images_table(out: Path, published: Path) -> str:
    """Markdown: ours, the published runs' mean on the same images, and the difference, per setting."""
    header = ["method", "sigma", "images", "source"] + [f"r={r:g}" for r in RADII] + ["ACR"]
    lines = ["On the same images as ours (the published runs restricted to our images; certified accuracy in %, "
             "differences in points):", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method, sigma, tsv in _settings(out):
        runs_dir = published / f"{method}_{sigma:g}"
        if not runs_dir.is_dir():
            continue
        res, runs = load_results(tsv), load_published(runs_dir)
        rows = same_images_rows(res, runs, RADII)
        sources = ["ours", f"published (mean of {len(runs)} run{'s' if len(runs) > 1 else ''})", "difference"]
        for source, values in zip(sources, rows):
            signed = "+" if source == "difference" else ""
            cells = [method, f"{sigma:g}", str(len(res)), source]
            cells += [f"{v:{signed}.1f}" for v in values[:-1]] + [f"{values[-1]:{signed}.3f}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
