"""The exact early exit of an ensemble: the same votes as the full ensemble, fewer member passes.

Certifying with an ensemble (``certify A B C --ensemble-aggregate softmax``)
runs every member on every noise sample. With ``--ensemble-exit`` a row stops
once the members still to run cannot change its argmax (``Ensemble`` in
``smoothcert.models.ensemble``). This script draws, for each of ``--examples``
test images, the noise samples of CERTIFY (``--n0`` + ``--n``, the noise of
example ``idx`` seeded as the CLI seeds it) and counts the votes of the full
softmax ensemble and of the early-exit ensemble, in ``--rounds`` interleaved
rounds, and prints in one run:

* whether every vote count is identical (it must be; the script exits 1 if not);
* member evaluations (rows through a member network), full vs early exit, and
  their ratio;
* wall time, full vs early exit (medians over rounds), and their ratio.

Example (the three digits Gaussian models at sigma = 0.5 committed under
``results/digits_methods/``)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ensemble_exit.py \\
        results/digits_methods/gaussian-seed0 results/digits_methods/gaussian-seed1 \\
        results/digits_methods/gaussian-seed2 --examples 36 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence

import torch

from smoothcert.certify.seeds import example_generator
from smoothcert.checkpoints.store import load_checkpoint, model_from_checkpoint
from smoothcert.data import create_dataset
from smoothcert.models.ensemble import Ensemble
from smoothcert.smooth import Smooth


def _votes(ensemble: Ensemble, sigma: float, num_classes: int, images: Sequence[tuple[int, torch.Tensor]],
           num: int, batch_size: int) -> tuple[list[list[int]], float]:
    smooth = Smooth(ensemble, num_classes=num_classes, sigma=sigma)
    began = time.perf_counter()
    counts = [smooth.sample_counts(x, num, batch_size=batch_size,
                                   generator=example_generator(0, idx, torch.device("cpu"))).tolist()
              for idx, x in images]
    return counts, time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+", help="member checkpoints or run directories (two or more)")
    parser.add_argument("--examples", type=int, default=36, help="test images, every len(test)/examples-th")
    parser.add_argument("--n0", type=int, default=100)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args(argv)
    ckpts = [load_checkpoint(path) for path in args.checkpoints]
    members = [model_from_checkpoint(ckpt).eval() for ckpt in ckpts]
    sigma, num_classes = float(ckpts[0]["sigma"]), int(ckpts[0]["num_classes"])
    data = create_dataset(ckpts[0]["dataset"], "test", args.data_dir)
    step = max(1, len(data) // args.examples)
    images = [(idx, data[idx][0]) for idx in range(0, len(data), step)][:args.examples]
    num = args.n0 + args.n
    times: dict[bool, list[float]] = {False: [], True: []}
    rows: dict[bool, int] = {}
    reference: list[list[int]] | None = None
    identical = True
    with torch.inference_mode():
        for _ in range(args.rounds):
            for exit_margin in (False, True):
                ensemble = Ensemble(members, aggregate="softmax", exit_margin=exit_margin)
                counts, seconds = _votes(ensemble, sigma, num_classes, images, num, args.batch_size)
                times[exit_margin].append(seconds)
                rows[exit_margin] = sum(ensemble.member_rows)
                reference = counts if reference is None else reference
                identical &= counts == reference
    full, early = statistics.median(times[False]), statistics.median(times[True])
    print(f"ensemble of {len(members)} ({', '.join(str(c['arch']) for c in ckpts)}), sigma {sigma}, "
          f"{len(images)} images x {num} noise samples, torch threads {torch.get_num_threads()}, "
          f"{args.rounds} interleaved rounds")
    print(f"vote counts identical (full vs early exit, every round): {identical}")
    print(f"member evaluations: full {rows[False]:,}, early exit {rows[True]:,}, "
          f"ratio {rows[False] / rows[True]:.2f}")
    print(f"wall time (median): full {full:.2f} s, early exit {early:.2f} s, ratio {full / early:.2f}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
