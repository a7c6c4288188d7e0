"""Sequential certification against CERTIFY: certified accuracy at each target radius, and samples used.

Reads a CERTIFY TSV (``smoothcert certify ... --n 100000``) and a sequential
TSV of the same examples (``smoothcert certify ... --mode sequential --radii
...``), and prints, for each target radius of the sequential run, the certified
accuracy of both (the fraction of *all* examples with ``correct == 1`` and
``radius >= r``), their difference in points, and the mean noise samples per
example (CERTIFY: n0 + n; sequential: its ``samples`` column). Example::

    .venv/bin/python benchmarks/sequential_samples.py runs/speed/digits_certify_100k.tsv \\
        runs/speed/digits_sequential.tsv
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def _read(path: Path) -> dict[int, dict[str, str]]:
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    return {int(f[0]): dict(zip(header, f, strict=True)) for f in (line.split("\t") for line in lines[1:])}


def _accuracy(rows: list[dict[str, str]], radius: float) -> float:
    return sum(int(r["correct"]) == 1 and float(r["radius"]) >= radius for r in rows) / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("certify", type=Path)
    parser.add_argument("sequential", type=Path)
    args = parser.parse_args()
    fixed, seq = _read(args.certify), _read(args.sequential)
    common = sorted(set(fixed) & set(seq))
    manifest = json.loads(Path(str(args.sequential) + ".json").read_text())
    fixed_manifest = json.loads(Path(str(args.certify) + ".json").read_text())
    fixed_rows, seq_rows = [fixed[i] for i in common], [seq[i] for i in common]
    fixed_samples = fixed_manifest["n0"] + fixed_manifest["n"]
    samples = [int(r["samples"]) for r in seq_rows]
    print(f"{len(common)} examples; CERTIFY n0={fixed_manifest['n0']} n={fixed_manifest['n']}; sequential "
          f"n_max={manifest['n']} ({manifest['schedule']}); alpha={manifest['alpha']}, sigma={manifest['sigma']}")
    print("| radius | CERTIFY | sequential | difference (points) |")
    print("|---|---|---|---|")
    for radius in [0.0, *manifest["radii"]]:
        a, b = _accuracy(fixed_rows, radius), _accuracy(seq_rows, radius)
        print(f"| {radius:g} | {100 * a:.1f}% | {100 * b:.1f}% | {100 * (b - a):+.1f} |")
    mean = statistics.mean(samples)
    print(f"\nsamples per example: CERTIFY {fixed_samples:,}; sequential mean {mean:,.0f} "
          f"(median {statistics.median(samples):,.0f}, max {max(samples):,}) -> {fixed_samples / mean:.1f}x fewer")
    fixed_time = sum(float(r["time"]) for r in fixed_rows)
    seq_time = sum(float(r["time"]) for r in seq_rows)
    print(f"wall time (sum of the time column): CERTIFY {fixed_time:,.0f} s; sequential {seq_time:,.0f} s")


if __name__ == "__main__":
    main()
