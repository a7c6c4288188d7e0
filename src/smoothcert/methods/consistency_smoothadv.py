"""SmoothAdv + consistency regularization (Jeong & Shin 2020, their SmoothAdv rows).

The SmoothAdv attack (:class:`~smoothcert.methods.smoothadv.SmoothAdv`) finds
x_adv for the m fixed noise draws; the consistency loss
(:mod:`smoothcert.methods.consistency`) is then taken on the m noisy adversarial
copies x_adv + delta_j, with the same draws. eps is an L2 radius in
[0,1]-pixel units (the paper's code took ``--epsilon`` in 1/256 units:
``256`` is 1.0, ``512`` is 2.0).

A method of its own rather than an option of ``consistency``: the checkpoint's
``method`` then says which objective trained it, and each class keeps a short
option list. Defaults follow the paper's code (``--epsilon 512 --num-steps 4
--warmup 10``, m = 2, lbd = 10, eta = 0.5); that code used PGD, DDN is offered too.
With ``epsilon=0`` this is exactly ``consistency`` on the same noise.
"""

from __future__ import annotations

import torch
from torch import nn

from smoothcert.methods.base import register_method
from smoothcert.methods.consistency import check_consistency_options, consistency_loss
from smoothcert.methods.smoothadv import SmoothAdv


@register_method("consistency_smoothadv")
class ConsistencySmoothAdv(SmoothAdv):
    """Consistency loss on the m noisy copies of SmoothAdv adversarial examples.

    Args:
        sigma, num_noise, epsilon, num_steps, attack, warmup, no_grad_attack, ddn_levels: as
            :class:`~smoothcert.methods.smoothadv.SmoothAdv`.
        lbd, eta, consistency: as :class:`~smoothcert.methods.consistency.Consistency`.

    Example:
        >>> method = ConsistencySmoothAdv(sigma=0.5, num_noise=2, lbd=1.0, epsilon=2.0)
        >>> out = method(model, images, labels)   # {"loss", "ce", "kl", "entropy", "acc", "eps", "adv_norm"}
    """

    def __init__(
        self,
        *,
        sigma: float,
        num_noise: int = 2,
        lbd: float = 10.0,
        eta: float = 0.5,
        consistency: str = "default",
        epsilon: float = 2.0,
        num_steps: int = 4,
        attack: str = "pgd",
        warmup: int = 10,
        no_grad_attack: bool = False,
        ddn_levels: int | None = None,
    ) -> None:
        check_consistency_options(type(self).__name__, num_noise, lbd, eta, consistency)
        super().__init__(
            sigma=sigma, num_noise=num_noise, epsilon=epsilon, num_steps=num_steps, attack=attack,
            warmup=warmup, no_grad_attack=no_grad_attack, ddn_levels=ddn_levels,
        )
        self.lbd = float(lbd)
        self.eta = float(eta)
        self.consistency = consistency

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        batch, x_adv = self.adversarial_copies(model, inputs, targets)
        logits = model(batch).view(inputs.shape[0], self.num_noise, -1)
        out = consistency_loss(logits, targets, self.lbd, self.eta, self.consistency)
        out["eps"] = torch.tensor(self.current_epsilon)
        out["adv_norm"] = (x_adv - inputs).flatten(1).norm(dim=1).mean().detach()
        return out
