"""Stability training (Li et al. 2019, after Zheng et al. 2016).

"Certified Adversarial Robustness with Additive Noise". With p = softmax(f(x))
on the clean input and q = softmax(f(x + delta)), delta ~ N(0, sigma^2 I):

    loss = CE(f(x), y) + lbd * D(p, q)

with the clean prediction as the reference distribution, as in the stability
baseline of Jeong & Shin (2020) (``train_stab.py``):

- ``divergence="kl"`` (default): D = KL(p || q) = sum_k p_k (log p_k - log q_k);
- ``divergence="xent"``: D = H(p, q) = -sum_k p_k log q_k, exactly the consistency
  paper's baseline (= KL(p || q) + H(p): it also lowers the entropy of the clean
  prediction, through the gradient of p).

Gradients flow through both p and q, as in that baseline. Clean and noisy
inputs go through the model in two separate forward passes (as the baseline),
so batch-norm statistics are not mixed. Logged ``acc`` is on the noisy inputs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from smoothcert.errors import UserError
from smoothcert.methods.base import Method, noisy, register_method

DIVERGENCES = ("kl", "xent")


@register_method("stability")
class Stability(Method):
    """Clean cross-entropy plus lbd times the divergence of the noisy prediction from the clean one.

    Args:
        sigma: noise level, [0,1]-pixel units.
        lbd: weight of the stability term (2, the consistency paper's baseline).
        divergence: ``"kl"`` or ``"xent"`` (module docstring).

    Example:
        >>> method = Stability(sigma=0.5, lbd=2.0)
        >>> out = method(model, images, labels)   # {"loss", "ce", "stab", "acc"}
    """

    def __init__(self, *, sigma: float, lbd: float = 2.0, divergence: str = "kl") -> None:
        super().__init__(sigma=sigma)
        if not (isinstance(lbd, (int, float)) and lbd >= 0):
            raise UserError(f"Stability: lbd must be a number >= 0, got {lbd!r}")
        if divergence not in DIVERGENCES:
            raise UserError(f"Stability: divergence must be one of {', '.join(DIVERGENCES)}, got {divergence!r}")
        self.lbd = float(lbd)
        self.divergence = divergence

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        noisy_inputs = noisy(inputs, self.sigma)
        clean_logits = model(inputs)
        noisy_logits = model(noisy_inputs)
        ce = F.cross_entropy(clean_logits, targets)
        p = clean_logits.softmax(dim=1)
        log_q = F.log_softmax(noisy_logits, dim=1)
        if self.divergence == "kl":
            stab = F.kl_div(log_q, p, reduction="none").sum(1).mean()
        else:
            stab = -(p * log_q).sum(1).mean()
        acc = (noisy_logits.argmax(dim=1) == targets).float().mean()
        return {"loss": ce + self.lbd * stab, "ce": ce.detach(), "stab": stab.detach(), "acc": acc.detach()}
