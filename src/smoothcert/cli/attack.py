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
from pathlib import Path
from typing import Any

from smoothcert.cli._args import nonnegative_float, positive_int
from smoothcert.cli._certify_args import add_common, prepare
from smoothcert.cli._warnings import warn_futile
from smoothcert.errors import UserError

ATTACK_CHOICES = ("ddn", "pgd")  # smoothcert.attacks.ATTACKS (a test keeps them equal)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser, default_n=1000)
    parser.add_argument("--eps", type=nonnegative_float, nargs="+", required=True,
                        help="L2 attack radii in [0,1]-pixel units (0 = no attack)")
    parser.add_argument("--attack", choices=ATTACK_CHOICES, default="pgd", help="attack (default pgd)")
    parser.add_argument("--num-steps", type=positive_int, default=20, help="attack steps (default 20)")
    parser.add_argument("--num-noise", type=positive_int, default=128,
                        help="noise draws the attack averages over, fixed through its steps (default 128)")
    parser.add_argument("--no-grad-attack", action="store_true",
                        help="gradient-free attack direction from the noise draws (needs --num-noise >= 2)")


def run(args: argparse.Namespace) -> int:
    import torch

    from smoothcert.attacks import ATTACKS
    from smoothcert.certify.runner import AttackMode, run_mode
    from smoothcert.certify.seeds import attack_generator

    eps = [float(e) for e in args.eps]
    if len(set(eps)) != len(eps):
        raise UserError(f"--eps lists a radius twice ({' '.join(map(str, args.eps))}); give each radius once")
    if args.no_grad_attack and args.num_noise < 2:
        raise UserError("--no-grad-attack estimates the gradient from the noise draws; use --num-noise >= 2")
    if args.ensemble_exit:
        raise UserError("--ensemble-exit gives votes, not the logits an attack follows; drop it for attack")
    run_ = prepare(args)
    if run_.ctx.is_main:
        warn_futile(args.n, args.alpha, run_.sigma, (), procedure="predict")
    attacks = {e: ATTACKS[args.attack](eps=e, sigma=run_.sigma, num_steps=args.num_steps, num_noise=args.num_noise,
                                       no_grad=args.no_grad_attack) for e in eps}
    run_.manifest.update(eps=eps, attack=args.attack, num_steps=args.num_steps, num_noise=args.num_noise,
                         no_grad_attack=args.no_grad_attack, attack_options=_options(attacks[eps[0]]))
    model, device, seed = run_.model, run_.device, args.seed

    def attack(x: torch.Tensor, label: int, idx: int, e: float) -> torch.Tensor:
        y = torch.tensor([label], device=x.device)
        return attacks[e].attack(model, x.unsqueeze(0), y, generator=attack_generator(seed, idx, device))[0]

    out = run_mode(out=args.out, manifest=run_.manifest, mode=AttackMode(eps, args.n, args.alpha, attack),
                   model=run_.fast, num_classes=run_.num_classes, sigma=run_.sigma, examples=run_.examples,
                   indices=run_.indices, batch_size=args.batch_size, pack=args.engine == "packed", desc="attack",
                   quiet=args.quiet)
    if run_.ctx.is_main:
        _print_summary(out, eps)
    return 0


def _options(attack: Any) -> dict[str, Any]:
    """The attack's settings but eps, as they read back from the JSON manifest."""
    options = {k: v for k, v in dataclasses.asdict(attack).items() if k != "eps"}
    return json.loads(json.dumps(options))


def _print_summary(out: Path, eps: list[float]) -> None:
    """Empirical robust accuracy per radius over every row of ``out``, on stderr."""
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    for e in eps:
        correct = sum(int(row[f"correct_eps{e}"]) for row in rows)
        share = correct / len(rows) if rows else 0.0
        print(f"eps {e}: empirical robust accuracy {share:.4f} ({correct}/{len(rows)})", file=sys.stderr)
    print(f"wrote {out}", file=sys.stderr)
