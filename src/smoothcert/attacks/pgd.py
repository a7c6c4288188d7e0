"""SmoothAdv PGD: L2 projected gradient ascent on the smoothed classifier's cross-entropy."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from smoothcert.attacks.base import SmoothAttack


@dataclass(frozen=True, kw_only=True)
class SmoothPGD(SmoothAttack):
    """L2 PGD against the soft smoothed classifier (Salman et al. 2019, SmoothAdv_PGD).

    Starts at x (no random start, as the original code); each of the T steps moves
    by 2·eps/T along the unit-L2 ascent direction, clips x + delta into the box,
    then projects delta onto the eps-ball (the original ``PGD_L2``'s order and
    ``renorm``; see :meth:`SmoothAttack._project`). eps is an L2 radius in
    [0,1]-pixel units.

    Example:
        >>> attack = SmoothPGD(eps=0.5, sigma=0.25, num_steps=10, num_noise=4)
        >>> x_adv = attack.attack(model, images, labels)
    """

    def _perturb(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, noise: torch.Tensor,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        step = 2.0 * self.eps / self.num_steps
        delta = torch.zeros_like(x)
        for _ in range(self.num_steps):
            direction, _ = self._direction(model, x + delta, y, noise, generator)
            delta = self._project(x, delta + step * direction)
        return x + delta
