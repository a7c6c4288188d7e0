"""SmoothAdv DDN: decoupled direction and norm (Rony et al. 2019) on the smoothed classifier."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from smoothcert.attacks.base import SmoothAttack


@dataclass(frozen=True, kw_only=True)
class SmoothDDN(SmoothAttack):
    """DDN against the soft smoothed classifier (Salman et al. 2019, SmoothAdv_DDN).

    A minimal-norm attack: the perturbation takes a unit-direction step with a
    cosine-annealed step size (1 -> 0.01 over T steps), then is rescaled to a
    per-example norm that shrinks by a factor (1 - gamma) while the input is
    adversarial and grows by (1 + gamma) while it is not (capped by the largest
    norm the box allows). "Adversarial" means the majority vote of the m noisy
    copies differs from the label. The result is the smallest adversarial
    perturbation seen (x itself when none was found, or when x is already
    misclassified), projected onto the eps-ball (eps in [0,1]-pixel units).

    Attributes:
        gamma: the multiplicative norm update (0.05 as in the original code).
        init_norm: starting norm; ``None`` means eps, which is what the original
            training script set (it overwrote ``--init-norm-DDN`` with the current eps).
        levels: quantize as the original ``DDN(quantize=True, levels=256)`` did:
            x + delta rounded to this many levels per step, and the returned
            perturbation, after its projection onto the eps-ball, rounded to
            multiples of 1/(levels - 1). That last rounding can leave the ball, by
            at most sqrt(d) / (2 (levels - 1)) in d pixels; for inputs on the
            levels grid (8-bit images with 256) it keeps x + delta in [0, 1].
            ``None`` (default) does not quantize, and the ball always holds.

    Example:
        >>> attack = SmoothDDN(eps=1.0, sigma=0.5, num_steps=10, num_noise=2)
        >>> x_adv = attack.attack(model, images, labels)
    """

    gamma: float = 0.05
    init_norm: float | None = None
    levels: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.gamma < 1:
            raise ValueError(f"gamma must lie in (0, 1), got {self.gamma!r}")
        if self.init_norm is not None and not self.init_norm > 0:
            raise ValueError(f"init_norm must be > 0, got {self.init_norm!r}")
        if self.levels is not None and not (isinstance(self.levels, int) and self.levels >= 2):
            raise ValueError(f"levels must be an int >= 2, got {self.levels!r}")

    def _perturb(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, noise: torch.Tensor,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        batch = x.shape[0]
        shape = (batch, *([1] * (x.dim() - 1)))
        if self.clip is None:
            worst = torch.full((batch,), math.inf, device=x.device, dtype=x.dtype)
        else:
            worst = torch.maximum(x - self.clip[0], self.clip[1] - x).flatten(1).norm(dim=1)
        norm = torch.full((batch,), self.init_norm or self.eps, device=x.device, dtype=x.dtype)
        best_l2 = worst.clone()
        best_delta = torch.zeros_like(x)
        delta = torch.zeros_like(x)
        for step in range(self.num_steps):
            lr = 0.01 + 0.99 * (1 + math.cos(math.pi * (step + 1) / self.num_steps)) / 2
            l2 = delta.flatten(1).norm(dim=1)
            direction, logits = self._direction(model, x + delta, y, noise, generator)
            votes = logits.argmax(dim=-1).mode(dim=1).values
            is_adv = votes != y
            better = is_adv & (l2 < best_l2)
            best_l2 = torch.where(better, l2, best_l2)
            best_delta = torch.where(better.view(shape), delta, best_delta)
            delta = delta + lr * direction
            norm = torch.minimum(norm * (1 - (2 * is_adv.to(x.dtype) - 1) * self.gamma), worst)
            delta = delta * (norm / delta.flatten(1).norm(dim=1).clamp_min(1e-12)).view(shape)
            adv = x + delta
            if self.levels is not None:
                adv = (adv * (self.levels - 1)).round() / (self.levels - 1)
            if self.clip is not None:
                adv = adv.clamp(*self.clip)
            delta = adv - x
        best_delta = self._project(x, best_delta)
        if self.levels is not None:
            best_delta = (best_delta * (self.levels - 1)).round() / (self.levels - 1)
        return x + best_delta
