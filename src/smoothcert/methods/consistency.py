"""Consistency regularization (Jeong & Shin 2020).

"Consistency Regularization for Certified Robustness of Smoothed Classifiers".
On m noisy copies x + delta_j of each image (delta_j ~ N(0, sigma^2 I)), with
p_j = softmax(f(x + delta_j)) and their average p̄ = (1/m) sum_j p_j:

    loss = mean_ij CE(f(x_i + delta_ij), y_i) + consistency,

where ``consistency`` (averaged over images) is, by the ``consistency`` option
(the names of the paper's code):

- ``"default"``: lbd * (1/m) sum_j KL(p̄ || p_j) + eta * H(p̄)   (the paper's loss)
- ``"xent"``:    lbd * ((1/m) sum_j KL(p̄ || p_j) + H(p̄))       (= "default" with eta = lbd)
- ``"kl"``:      lbd * (1/m) sum_j KL(p̄ || p_j)                (no entropy term)
- ``"mse"``:     lbd * ||p_2 - p_1||^2                          (first two copies; m >= 2)

Gradients flow through p̄ as well (it is not detached), as in the paper's code.
log p̄ is computed as logsumexp_j log p_j - log m rather than the code's
log(max(p̄, 1e-20)): the same value wherever p̄ > 1e-20, finite everywhere.

**m = 1.** With one copy the average is that copy, so the KL term is exactly 0 and
``"default"`` reduces to Gaussian training plus eta times the entropy of that
single softmax (an entropy-minimization term); ``"mse"`` needs m >= 2.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from smoothcert.errors import UserError
from smoothcert.methods._noise import noise_draws, noisy_batch
from smoothcert.methods.base import Method, register_method

KINDS = ("default", "xent", "kl", "mse")


def consistency_terms(logits: torch.Tensor, lbd: float, eta: float, kind: str = "default") -> dict[str, torch.Tensor]:
    """The consistency regularizer on logits of shape (B, m, K).

    Returns ``"consistency"`` (the scalar added to the loss, with gradient) and the
    detached per-image means ``"kl"`` ((1/m) sum_j KL(p̄ || p_j)) and ``"entropy"`` (H(p̄)).
    """
    log_probs = F.log_softmax(logits, dim=-1)
    probs = log_probs.exp()
    avg = probs.mean(dim=1)
    # log p̄ from the log-probabilities: finite, and exactly log p_1 when m = 1 (KL exactly 0)
    log_avg = torch.logsumexp(log_probs, dim=1) - math.log(logits.shape[1])
    kl = (avg.unsqueeze(1) * (log_avg.unsqueeze(1) - log_probs)).sum(-1).mean(1)
    entropy = -(avg * log_avg).sum(-1)
    if kind == "default":
        term = lbd * kl + eta * entropy
    elif kind == "xent":
        term = lbd * (kl + entropy)
    elif kind == "kl":
        term = lbd * kl
    elif kind == "mse":
        if logits.shape[1] < 2:
            raise ValueError("the mse consistency needs at least two noisy copies")
        term = lbd * ((probs[:, 1] - probs[:, 0]) ** 2).sum(-1)
    else:
        raise ValueError(f"unknown consistency {kind!r}; choose one of {', '.join(KINDS)}")
    return {"consistency": term.mean(), "kl": kl.mean().detach(), "entropy": entropy.mean().detach()}


def check_consistency_options(name: str, num_noise: object, lbd: object, eta: object, kind: object) -> None:
    """``UserError`` for options that the consistency loss cannot use."""
    if not (isinstance(num_noise, int) and num_noise >= 1):
        raise UserError(f"{name}: num_noise must be an integer >= 1, got {num_noise!r}")
    if not (isinstance(lbd, (int, float)) and lbd >= 0):
        raise UserError(f"{name}: lbd must be a number >= 0, got {lbd!r}")
    if not (isinstance(eta, (int, float)) and eta >= 0):
        raise UserError(f"{name}: eta must be a number >= 0, got {eta!r}")
    if kind not in KINDS:
        raise UserError(f"{name}: consistency must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "mse" and num_noise < 2:
        raise UserError(f"{name}: consistency 'mse' compares two noisy copies; set num_noise >= 2")


def consistency_loss(
    logits: torch.Tensor, targets: torch.Tensor, lbd: float, eta: float, kind: str
) -> dict[str, torch.Tensor]:
    """Mean cross-entropy over the (B, m, K) logits plus the regularizer: the method's output dict."""
    copies = logits.shape[1]
    labels = targets.repeat_interleave(copies)
    flat = logits.flatten(0, 1)
    ce = F.cross_entropy(flat, labels)
    terms = consistency_terms(logits, lbd, eta, kind)
    loss = ce + terms["consistency"]
    acc = (flat.argmax(dim=1) == labels).float().mean()
    return {"loss": loss, "ce": ce.detach(), "kl": terms["kl"], "entropy": terms["entropy"], "acc": acc.detach()}


@register_method("consistency")
class Consistency(Method):
    """Gaussian training on m copies plus consistency regularization.

    Args:
        sigma: noise level, [0,1]-pixel units.
        num_noise: m, noisy copies per image (the paper uses 2).
        lbd: lambda, weight of the KL term (the paper's code defaults to 10).
        eta: weight of the entropy term (used by ``"default"`` only).
        consistency: ``"default"``, ``"xent"``, ``"kl"`` or ``"mse"`` (module docstring).

    Example:
        >>> method = Consistency(sigma=0.5, num_noise=2, lbd=10.0)
        >>> out = method(model, images, labels)   # {"loss", "ce", "kl", "entropy", "acc"}
    """

    def __init__(
        self, *, sigma: float, num_noise: int = 2, lbd: float = 10.0, eta: float = 0.5, consistency: str = "default"
    ) -> None:
        super().__init__(sigma=sigma)
        check_consistency_options(type(self).__name__, num_noise, lbd, eta, consistency)
        self.num_noise = num_noise
        self.lbd = float(lbd)
        self.eta = float(eta)
        self.consistency = consistency

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        noise = noise_draws(inputs, self.num_noise, self.sigma)
        logits = model(noisy_batch(inputs, noise)).view(inputs.shape[0], self.num_noise, -1)
        return consistency_loss(logits, targets, self.lbd, self.eta, self.consistency)
