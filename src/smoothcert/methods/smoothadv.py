"""SmoothAdv: adversarial training of the smoothed classifier (Salman et al. 2019).

"Provably Robust Deep Learning via Adversarially Trained Smoothed Classifiers".
For each image, m noise draws delta_1..delta_m ~ N(0, sigma^2 I) are drawn once
and held fixed; an attack on the *soft* smoothed classifier finds x_adv in the
L2 ball of radius eps around x maximizing -log mean_j softmax(f(x_adv + delta_j))[y]
(:mod:`smoothcert.attacks`); then the base model is trained with the mean
cross-entropy over the m copies x_adv + delta_j, with the same draws.

**eps** is an L2 radius in [0,1]-pixel units (the space of sigma and of certified
radii). The original scripts took ``--epsilon`` in 1/256 units and divided by
256: ``--epsilon 64`` is epsilon=0.25, ``128`` is 0.5, ``255`` is
255/256 = 0.99609375 (about 1.0), ``512`` is 2.0.

**warmup**: epsilon grows linearly over the first ``warmup`` epochs,
eps_epoch = epsilon * min(1, (epoch + 1) / warmup) (epoch 0-based), as in the
original (``warmup=1``: full epsilon from the start).

**The attacks are the authors'**: PGD clips x + delta into [0, 1] and then
projects delta into the eps-ball at every step (their ``PGD_L2``; see
:meth:`smoothcert.attacks.SmoothAttack._project`). ``attack="ddn"`` with
``ddn_levels=256`` is their ``--attack DDN`` (``DDN(quantize=True, levels=256)``:
x + delta rounded to 256 levels at every step, and the final perturbation
rounded too); without ``ddn_levels`` DDN does not quantize and stays in the ball.

**no_grad_attack** is the original ``--no-grad-attack`` ("the cheap trick"): the
attack direction is not back-propagated through the network but estimated from
forward passes alone, -(1/m) sum_j softmax(f(x' + delta_j))[y] delta_j, the
Gaussian-smoothing (Stein) estimate of the gradient of the smoothed probability;
see :mod:`smoothcert.attacks.base`. It needs ``num_noise >= 2``. In both modes
the model is in eval mode with frozen parameters during the attack and back in
its previous (train) mode afterwards.

Differences from the original training script, on purpose: the weights are
always trained on all m noisy copies (its ``--train-multi-noise``); one
optimizer step sees B images x m copies, whereas the original split each loaded
batch into m chunks of B/m images (use ``batch_size`` B/m to match the number of
noisy inputs per step).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from smoothcert.attacks import ATTACKS, SmoothAttack
from smoothcert.errors import UserError
from smoothcert.methods._noise import noise_draws, noisy_batch
from smoothcert.methods.base import Method, register_method


@register_method("smoothadv")
class SmoothAdv(Method):
    """Cross-entropy on the m noisy copies of SmoothAdv adversarial examples.

    Args:
        sigma: noise level, [0,1]-pixel units.
        num_noise: m, noise draws per image (attack and training).
        epsilon: L2 radius of the attack, [0,1]-pixel units (see the module docstring).
        num_steps: attack steps T (PGD step size 2·eps/T).
        attack: ``"pgd"`` or ``"ddn"``.
        warmup: epochs of linear epsilon warm-up (>= 1).
        no_grad_attack: gradient-free attack direction (needs num_noise >= 2).
        ddn_levels: quantization levels of the DDN attack (256: the original's);
            None for none. Only with ``attack="ddn"``.

    Example:
        >>> method = SmoothAdv(sigma=0.25, num_noise=4, epsilon=1.0, num_steps=2, warmup=10)
        >>> out = method(model, images, labels)   # {"loss", "ce", "acc", "eps", "adv_norm"}
    """

    def __init__(
        self,
        *,
        sigma: float,
        num_noise: int = 1,
        epsilon: float = 0.25,
        num_steps: int = 10,
        attack: str = "pgd",
        warmup: int = 1,
        no_grad_attack: bool = False,
        ddn_levels: int | None = None,
    ) -> None:
        super().__init__(sigma=sigma)
        name = type(self).__name__
        if not (isinstance(num_noise, int) and num_noise >= 1):
            raise UserError(f"{name}: num_noise must be an integer >= 1, got {num_noise!r}")
        if not (isinstance(epsilon, (int, float)) and 0 <= epsilon < float("inf")):
            raise UserError(
                f"{name}: epsilon must be an L2 radius >= 0 in [0,1]-pixel units, got {epsilon!r} "
                "(the original --epsilon 255 is 255/256 = 0.996)"
            )
        if not (isinstance(num_steps, int) and num_steps >= 1):
            raise UserError(f"{name}: num_steps must be an integer >= 1, got {num_steps!r}")
        if attack not in ATTACKS:
            raise UserError(f"{name}: attack must be one of {', '.join(ATTACKS)}, got {attack!r}")
        if not (isinstance(warmup, int) and warmup >= 1):
            raise UserError(f"{name}: warmup must be an integer >= 1 (epochs; 1 means none), got {warmup!r}")
        if not isinstance(no_grad_attack, bool):
            raise UserError(f"{name}: no_grad_attack must be true or false, got {no_grad_attack!r}")
        if no_grad_attack and num_noise < 2:
            raise UserError(
                f"{name}: no_grad_attack estimates the gradient from the m noisy copies and needs "
                "num_noise >= 2 (with one copy the estimate is just -delta); raise num_noise"
            )
        self.num_noise = num_noise
        self.epsilon = float(epsilon)
        self.num_steps = num_steps
        self.attack = attack
        self.warmup = warmup
        if ddn_levels is not None and not (isinstance(ddn_levels, int) and ddn_levels >= 2 and attack == "ddn"):
            raise UserError(f"{name}: ddn_levels must be an integer >= 2 (256: the original DDN's 8-bit "
                            f"quantization) and needs attack ddn; got ddn_levels={ddn_levels!r} with attack {attack!r}")
        self.no_grad_attack = no_grad_attack
        self.ddn_levels = ddn_levels
        self.set_epoch(0)

    @property
    def current_epsilon(self) -> float:
        """The warmed-up radius of this epoch: epsilon * min(1, (epoch + 1) / warmup)."""
        return self.epsilon * min(1.0, (self.epoch + 1) / self.warmup)

    @property
    def attacker(self) -> SmoothAttack:
        """The attack used this epoch (its eps is :attr:`current_epsilon`)."""
        return self._attacker

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch and rebuild the attack with the warmed-up epsilon."""
        super().set_epoch(epoch)
        levels: dict[str, Any] = {"levels": self.ddn_levels} if self.ddn_levels is not None else {}
        self._attacker = ATTACKS[self.attack](
            eps=self.current_epsilon, sigma=self.sigma, num_steps=self.num_steps,
            num_noise=self.num_noise, no_grad=self.no_grad_attack, **levels,
        )

    def adversarial_copies(
        self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The B*m training inputs x_adv[i] + delta_ij (copies of an image adjacent), and x_adv.

        The noise is drawn once from the global RNG, shape (B, m, *S), and used by
        both the attack and the returned copies. With eps = 0, x_adv is the input.
        """
        noise = noise_draws(inputs, self.num_noise, self.sigma)
        # Under DistributedDataParallel the attack runs the wrapped module itself, so its
        # forward and backward passes never engage DDP's gradient synchronisation.
        target = model.module if isinstance(model, DistributedDataParallel) else model
        x_adv = self._attacker.attack(target, inputs, targets, noise)
        return noisy_batch(x_adv, noise), x_adv

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        batch, x_adv = self.adversarial_copies(model, inputs, targets)
        logits = model(batch)
        labels = targets.repeat_interleave(self.num_noise)
        loss = F.cross_entropy(logits, labels)
        return {
            "loss": loss,
            "ce": loss.detach(),
            "acc": (logits.argmax(dim=1) == labels).float().mean().detach(),
            "eps": torch.tensor(self.current_epsilon),
            "adv_norm": (x_adv - inputs).flatten(1).norm(dim=1).mean().detach(),
        }
