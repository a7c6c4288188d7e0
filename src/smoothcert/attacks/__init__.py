"""Attacks on the *smoothed* classifier (SmoothAdv PGD and DDN), eps in L2 [0,1]-pixel units."""

from smoothcert.attacks.base import SmoothAttack, noisy_logits, smoothed_nll
from smoothcert.attacks.ddn import SmoothDDN
from smoothcert.attacks.pgd import SmoothPGD

ATTACKS: dict[str, type[SmoothAttack]] = {"pgd": SmoothPGD, "ddn": SmoothDDN}

__all__ = ["ATTACKS", "SmoothAttack", "SmoothDDN", "SmoothPGD", "noisy_logits", "smoothed_nll"]
