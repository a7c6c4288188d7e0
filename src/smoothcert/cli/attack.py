"""Empirical robust accuracy: attack the smoothed classifier, then PREDICT on the attacked input.

For every K-th example and every radius eps given by ``--eps`` (L2, in
[0,1]-pixel units, like sigma and certified radii), the SmoothAdv attack
(:class:`~smoothcert.attacks.SmoothPGD` or :class:`~smoothcert.attacks.SmoothDDN`)
finds x_adv with ||x_adv - x||_2 <= eps against ``--num-noise`` fixed noise draws,
and ``Smooth.predict`` (n fresh samples, level alpha, abstention) classifies x_adv.

**TSV (one row per example, so a rerun resumes like ``certify``):**

    idx  label  predict_eps<E1>  correct_eps<E1>  ...  predict_eps<Ek>  correct_eps<Ek>  time

``<E>`` is ``str(float(E))`` for each ``--eps`` in the order given (``predict_eps0.5``);
``predict_eps<E>`` is PREDICT on the input attacked at radius E (-1 = abstain),
``correct_eps<E>`` is 1 when it equals the label (abstentions count as wrong),
``time`` the seconds spent on the example, all radii together. Empirical robust
accuracy at E is the mean of ``correct_eps<E>``. ``FILE.tsv.json`` holds the
manifest (that of ``predict`` plus the attack's settings); a rerun with other
settings is refused.

**Randomness.** For example idx the PREDICT noise comes from the generator of
(seed, idx), the same as ``smoothcert predict`` (so eps = 0 reproduces its
predictions); the attack's noise draws come from an independent generator
derived from (seed, idx) too, the same for every eps, so the attack never sees
the noise that PREDICT will use and results do not depend on the list of radii.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from smoothcert.attacks import ATTACKS, SmoothAttack
from smoothcert.certify.rows import example_generator, run_rows, select_indices
from smoothcert.cli._args import nonnegative_float, positive_int
from smoothcert.cli._certify_args import add_common, base_manifest
from smoothcert.cli._model import load_model_and_data
from smoothcert.cli._warnings import warn_futile
from smoothcert.checkpoints.legacy import sigma_or_error
from smoothcert.errors import UserError
from smoothcert.smooth import Smooth

_ATTACK_STREAM = 0xA77AC  # separates the attack's noise stream from PREDICT's


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser, default_n=1000)
    parser.add_argument("--eps", type=nonnegative_float, nargs="+", required=True,
                        help="L2 attack radii in [0,1]-pixel units (0 = no attack)")
    parser.add_argument("--attack", choices=sorted(ATTACKS), default="pgd", help="attack (default pgd)")
    parser.add_argument("--num-steps", type=positive_int, default=20, help="attack steps (default 20)")
    parser.add_argument("--num-noise", type=positive_int, default=128,
                        help="noise draws the attack averages over, fixed through its steps (default 128)")
    parser.add_argument("--no-grad-attack", action="store_true",
                        help="gradient-free attack direction from the noise draws (needs --num-noise >= 2)")


def column_names(eps: list[float]) -> list[str]:
    """The TSV header for the radii ``eps``."""
    columns = ["idx", "label"]
    for e in eps:
        columns += [f"predict_eps{float(e)}", f"correct_eps{float(e)}"]
    return columns + ["time"]


def attack_generator(seed: int, idx: int, device: torch.device) -> torch.Generator:
    """The attack-noise generator of example ``idx``, independent of PREDICT's."""
    state = np.random.SeedSequence([seed, idx, _ATTACK_STREAM]).generate_state(2, dtype=np.uint32)
    value = (int(state[0]) << 31 | int(state[1]) >> 1) & (2**63 - 1)
    return torch.Generator(device=device).manual_seed(value)


def run(args: argparse.Namespace) -> int:
    eps = [float(e) for e in args.eps]
    if len(set(eps)) != len(eps):
        raise UserError(f"--eps lists a radius twice ({' '.join(map(str, args.eps))}); give each radius once")
    if args.no_grad_attack and args.num_noise < 2:
        raise UserError("--no-grad-attack estimates the gradient from the noise draws; use --num-noise >= 2")
    ckpt, model, data, device = load_model_and_data(args.checkpoint, args.dataset, args.split, args.data_dir, args.device)
    sigma = sigma_or_error(ckpt, args.sigma)
    warn_futile(args.n, args.alpha, sigma, (), procedure="predict")
    smooth = Smooth(model, data.info.num_classes, sigma)
    attacks = {e: ATTACKS[args.attack](eps=e, sigma=sigma, num_steps=args.num_steps, num_noise=args.num_noise,
                                       no_grad=args.no_grad_attack) for e in eps}
    manifest = {
        **base_manifest(args, ckpt, data.info.name, sigma, device),
        "eps": eps, "attack": args.attack, "num_steps": args.num_steps, "num_noise": args.num_noise,
        "no_grad_attack": args.no_grad_attack, "attack_options": _options(attacks[eps[0]]),
    }
    columns = column_names(eps)

    def compute(idx: int) -> dict[str, Any]:
        began = time.perf_counter()
        x = data.images[idx].to(device)
        label = int(data.labels[idx])
        row: dict[str, Any] = {"idx": idx, "label": label}
        for e in eps:
            x_adv = _attack_one(attacks[e], model, x, label, attack_generator(args.seed, idx, device))
            prediction = smooth.predict(x_adv, args.n, args.alpha, args.batch_size,
                                        example_generator(args.seed, idx, device))
            row[f"predict_eps{e}"] = prediction
            row[f"correct_eps{e}"] = int(prediction == label)
        row["time"] = round(time.perf_counter() - began, 6)
        return row

    indices = select_indices(len(data), args.skip, args.max)
    out = run_rows(args.out, manifest, columns, indices, compute, desc="attack", quiet=args.quiet)
    _print_summary(out, eps)
    return 0


def _options(attack: SmoothAttack) -> dict[str, Any]:
    """The attack's settings but eps, as they read back from the JSON manifest."""
    options = {k: v for k, v in dataclasses.asdict(attack).items() if k != "eps"}
    return json.loads(json.dumps(options))


def _attack_one(attack: SmoothAttack, model: torch.nn.Module, x: torch.Tensor, label: int,
                generator: torch.Generator) -> torch.Tensor:
    y = torch.tensor([label], device=x.device)
    return attack.attack(model, x.unsqueeze(0), y, generator=generator)[0]


def _print_summary(out: Path, eps: list[float]) -> None:
    """Empirical robust accuracy per radius over every row of ``out``, on stderr."""
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    for e in eps:
        correct = sum(int(row[f"correct_eps{e}"]) for row in rows)
        share = correct / len(rows) if rows else 0.0
        print(f"eps {e}: empirical robust accuracy {share:.4f} ({correct}/{len(rows)})", file=sys.stderr)
    print(f"wrote {out}", file=sys.stderr)
