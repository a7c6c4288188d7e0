"""SmoothMix (Jeong et al. 2021), as the authors' ``code/train.py`` trains it.

"SmoothMix: Training Confidence-calibrated Smoothed Classifiers for Certified
Robustness". Per step, on a batch x (pixels in [0, 1]) with labels y, K classes:

1. m noise draws delta_j ~ N(0, sigma^2 I), each of the batch's shape (m calls of
   ``randn_like``); the same draws serve the attack and both training passes.
2. An attack on the soft smoothed classifier, in eval mode with frozen weights:
   from x^0 = x, T steps x^{t+1} = clip01(x + renorm_maxnorm(x^t + alpha g_t - x)),
   g_t the per-image unit gradient (g / (||g|| + 1e-8)) of
   -sum_i log max(p̄_i[y_i], 1e-20), p̄ = mean_j softmax(f(x^t + delta_j)) (m
   separate forwards). ``maxnorm`` None: no ball, only clip01. The adversarial
   side is x_adv = x^T; the clean side is x_c = clip01(x + renorm_r(x^{mix_step} - x))
   with r = v * maxnorm_s (maxnorm_s None: alpha * mix_step).
3. Train mode. Forward 1 on the m*b copies x_c + delta_j: ce = mean cross-entropy;
   p̄_c = mean_j softmax (not detached: the mixup target carries gradient).
4. lambda_i = u_i / 2, u = ``torch.rand(b)`` (drawn after the noise);
   x_mix = (1 - lambda) x_c + lambda x_adv, target t_i = (1 - lambda_i) p̄_c,i + lambda_i / K.
5. Forward 2 (a separate call, so batch norm updates twice per step) on x_mix + delta_j:
   mix_ij = KL(t_i || softmax(f(x_mix,i + delta_j))), kept where argmax p̄_c,i = y_i.
6. loss = ce + eta * v * mean_ij(correct_i * mix_ij), v = min(1, (epoch + 1) / warmup).

renorm_r is ``torch.renorm``: a difference of norm n > r is scaled by r / (n + 1e-7).
Defaults are the script's argparse defaults. Random draws per step, in order:
m ``randn_like`` (b, *S), then one ``rand(b)``; the attack draws nothing.

Deviations: ``mix_step >= num_steps`` is refused (the script silently used x as
the clean side then); the script's batch of B images cut into m chunks is a
recipe with batch_size B/m here (configs/_generate.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from smoothcert.attacks.base import frozen_eval
from smoothcert.errors import UserError
from smoothcert.methods._noise import copies_of, copy_major_draws
from smoothcert.methods.base import Method, check_int, check_number, register_method


def _within(z: torch.Tensor, x: torch.Tensor, radius: float | None) -> torch.Tensor:
    """clip01(x + renorm_radius(z - x)); with ``radius`` None, clip01(z)."""
    if radius is not None:
        z = x + (z - x).renorm(p=2, dim=0, maxnorm=radius)
    return z.clamp(0.0, 1.0).detach()


def smoothmix_attack(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, noise: torch.Tensor, *,
    num_steps: int, alpha: float, mix_step: int, maxnorm: float | None, maxnorm_s: float | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The clean side x_c and the adversarial side x_adv of SmoothMix (steps 2 of the module docstring).

    ``noise`` has shape (m, B, *S); ``maxnorm_s`` is the radius of the clean side
    already warmed up. The model runs in eval mode with frozen parameters; its
    mode and flags are restored afterwards.
    """
    x = x.detach()
    adv, init = x, x
    with frozen_eval(model):
        for step in range(num_steps):
            if step == mix_step:
                init = adv
            adv = adv.detach().requires_grad_(True)
            with torch.enable_grad():
                total = F.softmax(model(adv + noise[0]), dim=1)
                for delta in noise[1:]:  # summed in order, as the script's sum()
                    total = total + F.softmax(model(adv + delta), dim=1)
                avg = total / noise.shape[0]
                loss = F.nll_loss(torch.log(avg.clamp(min=1e-20)), y, reduction="sum")
                (grad,) = torch.autograd.grad(loss, [adv])
            norms = grad.flatten(1).norm(dim=1).view(-1, *([1] * (grad.dim() - 1)))
            adv = _within(adv.detach() + alpha * grad / (norms + 1e-8), x, maxnorm)
    return _within(init, x, maxnorm_s), adv


def mixup(
    x_c: torch.Tensor, x_adv: torch.Tensor, p_c: torch.Tensor, lam: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """x_mix = (1 - lam) x_c + lam x_adv and its target (1 - lam) p_c + lam / K, per image."""
    shape = (-1, *([1] * (x_c.dim() - 1)))
    x_mix = (1 - lam).view(shape) * x_c + lam.view(shape) * x_adv
    uniform = torch.full_like(p_c, 1.0 / p_c.shape[1])
    return x_mix, (1 - lam).view(-1, 1) * p_c + lam.view(-1, 1) * uniform


@register_method("smoothmix")
class SmoothMix(Method):
    """Cross-entropy on m noisy copies plus the SmoothMix mixup term (module docstring).

    Args:
        sigma: noise level, [0,1]-pixel units.
        num_noise: m, noise draws per image (the script's ``--num-noise-vec``, 1).
        num_steps: attack steps T (8).
        alpha: attack step size, an L2 length in [0,1]-pixel units (1.0).
        eta: weight of the mixup term (1.0).
        mix_step: the attack iterate used as the clean side (0: x itself; 1: the
            one-step adversary), < num_steps.
        maxnorm_s: radius of the clean side's perturbation before warm-up; None
            means alpha * mix_step.
        maxnorm: radius of the attack's ball; None (default) for none.
        warmup: epochs over which v = min(1, (epoch + 1) / warmup) grows (10).

    Example:
        >>> method = SmoothMix(sigma=0.5, num_noise=2, num_steps=4, alpha=1.0, eta=5.0, mix_step=1)
        >>> out = method(model, images, labels)   # {"loss", "ce", "mix", "correct", "acc", "v"}
    """

    def __init__(
        self, *, sigma: float, num_noise: int = 1, num_steps: int = 8, alpha: float = 1.0, eta: float = 1.0,
        mix_step: int = 0, maxnorm_s: float | None = None, maxnorm: float | None = None, warmup: int = 10,
    ) -> None:
        super().__init__(sigma=sigma)
        name = type(self).__name__
        for key, count in (("num_noise", num_noise), ("num_steps", num_steps), ("warmup", warmup)):
            check_int(name, key, count, 1)
        if not (isinstance(mix_step, int) and not isinstance(mix_step, bool) and 0 <= mix_step < num_steps):
            raise UserError(f"{name}: mix_step must be an integer in [0, num_steps) = [0, {num_steps}), "
                            f"got {mix_step!r}")
        for key, length in (("alpha", alpha), ("eta", eta), ("maxnorm_s", maxnorm_s), ("maxnorm", maxnorm)):
            if length is not None or not key.startswith("maxnorm"):
                check_number(name, key, length, " (L2 lengths in [0,1]-pixel units)")
        self.num_noise = num_noise
        self.num_steps = num_steps
        self.alpha = float(alpha)
        self.eta = float(eta)
        self.mix_step = mix_step
        self.maxnorm_s = None if maxnorm_s is None else float(maxnorm_s)
        self.maxnorm = None if maxnorm is None else float(maxnorm)
        self.warmup = warmup

    @property
    def v(self) -> float:
        """The warm-up factor of this epoch, min(1, (epoch + 1) / warmup)."""
        return min(1.0, (self.epoch + 1) / self.warmup)

    @property
    def clean_radius(self) -> float:
        """The clean side's radius this epoch: v * maxnorm_s (maxnorm_s None: alpha * mix_step)."""
        base = self.alpha * self.mix_step if self.maxnorm_s is None else self.maxnorm_s
        return self.v * base

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        m, batch = self.num_noise, inputs.shape[0]
        noise = copy_major_draws(inputs, m, self.sigma)
        target = model.module if isinstance(model, DistributedDataParallel) else model
        x_c, x_adv = smoothmix_attack(target, inputs, targets, noise, num_steps=self.num_steps, alpha=self.alpha,
                                      mix_step=self.mix_step, maxnorm=self.maxnorm, maxnorm_s=self.clean_radius)
        logits_c = model(copies_of(x_c, noise))
        labels = targets.repeat(m)
        ce = F.cross_entropy(logits_c, labels)
        p_c = F.softmax(logits_c, dim=1).view(m, batch, -1).mean(dim=0)
        lam = torch.rand(batch, device=inputs.device, dtype=inputs.dtype) / 2
        x_mix, mix_target = mixup(x_c, x_adv, p_c, lam)
        log_q = F.log_softmax(model(copies_of(x_mix, noise)), dim=1)
        mix = F.kl_div(log_q, mix_target.repeat(m, 1), reduction="none").sum(dim=1)
        correct = (p_c.argmax(dim=1) == targets).to(mix.dtype)
        masked = (correct.repeat(m) * mix).mean()
        v = self.v
        return {
            "loss": ce + self.eta * v * masked, "ce": ce.detach(), "mix": masked.detach(),
            "correct": correct.mean().detach(), "acc": (logits_c.argmax(dim=1) == labels).float().mean().detach(),
            "v": torch.tensor(v),
        }
