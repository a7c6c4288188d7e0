"""MACER: maximizing the certified radius (Zhai et al. 2020), as in the official code.

"MACER: Attack-free and Scalable Robust Training via Maximizing Certified Radius".
Each image gets k noisy copies x + delta_j (delta_j ~ N(0, sigma^2 I)); with
z_j = f(x + delta_j) the logits of copy j:

- classification loss: CE of the *mean softmax*, -log(mean_j softmax(z_j)[y] + 1e-10);
- robustness loss: with p̂ = mean_j softmax(beta * z_j) (beta only here), its top
  two probabilities p_A >= p_B and the margin m = Phi^-1(p_A) - Phi^-1(p_B), the
  hinge sigma/2 * (gamma - m) summed over the images whose top class is the label
  and whose margin is finite and at most gamma (images outside the hinge, or with
  p_A = 1 or p_B = 0 where Phi^-1 is infinite, contribute nothing);
- loss = (sum_i CE_i + lbd * robustness) / B.

**Deferred start**: lbd is 0 in the epochs ``0 .. deferred_epochs - 1`` (0-based),
so the first ``deferred_epochs`` epochs train the classification loss alone. The
``--deferred`` flag of Jeong & Shin's ``train_macer.py`` keeps lbd = 0 while
``epoch <= lr_step_size`` (0-based), i.e. ``deferred_epochs = lr_step_size + 1``:
on MNIST (lr step 30) the robustness loss starts at 0-based epoch 31 (the 32nd),
the epoch of their first learning-rate decay, which comes one epoch late
(``lr_delay`` 1 in the recipes).
Defaults are the official code's: k = 16, beta = 16, gamma = 8, lbd = 12.
"""

from __future__ import annotations

import torch
from torch import nn

from smoothcert.errors import UserError
from smoothcert.methods._noise import noise_draws, noisy_batch
from smoothcert.methods.base import Method, register_method


def macer_terms(
    logits: torch.Tensor, targets: torch.Tensor, *, sigma: float, beta: float, gamma: float
) -> dict[str, torch.Tensor]:
    """The two MACER losses on logits of shape (B, k, K), both averaged over the B images.

    Returns ``"ce"`` and ``"robust"`` (with gradients) and ``"hinged"``, the
    detached fraction of images inside the hinge.
    """
    batch = logits.shape[0]
    avg = logits.softmax(dim=-1).mean(dim=1)
    ce = -(avg.gather(1, targets.view(-1, 1)).squeeze(1) + 1e-10).log().mean()
    top2 = (beta * logits).softmax(dim=-1).mean(dim=1).topk(2, dim=1)
    p_a, p_b = top2.values[:, 0], top2.values[:, 1]
    with torch.no_grad():
        margin = torch.special.ndtri(p_a) - torch.special.ndtri(p_b)
        inside = (top2.indices[:, 0] == targets) & torch.isfinite(margin) & (margin <= gamma)
    # Phi^-1 only on the selected images, so no infinite value enters the backward pass.
    hinge = gamma - (torch.special.ndtri(p_a[inside]) - torch.special.ndtri(p_b[inside]))
    robust = hinge.sum() * (sigma / 2) / batch
    return {"ce": ce, "robust": robust, "hinged": inside.float().mean()}


@register_method("macer")
class Macer(Method):
    """Classification loss of the soft smoothed classifier plus lbd times the radius hinge.

    Args:
        sigma: noise level, [0,1]-pixel units.
        num_noise: k, noisy copies per image (16).
        beta: inverse temperature of the softmax in the robustness loss (16).
        gamma: hinge threshold on the margin Phi^-1(p_A) - Phi^-1(p_B) (8).
        lbd: weight of the robustness loss (12, the official default; the paper
            uses 12 for sigma in {0.25, 0.5} and 4 for sigma = 1 on CIFAR-10).
        deferred_epochs: epochs trained with lbd = 0 before the robustness loss starts.

    Example:
        >>> method = Macer(sigma=0.25, num_noise=16, lbd=12.0)
        >>> out = method(model, images, labels)   # {"loss", "ce", "robust", "hinged", "acc", "lbd"}
    """

    def __init__(
        self,
        *,
        sigma: float,
        num_noise: int = 16,
        beta: float = 16.0,
        gamma: float = 8.0,
        lbd: float = 12.0,
        deferred_epochs: int = 0,
    ) -> None:
        super().__init__(sigma=sigma)
        if not (isinstance(num_noise, int) and num_noise >= 1):
            raise UserError(f"Macer: num_noise must be an integer >= 1, got {num_noise!r}")
        for key, value in (("beta", beta), ("gamma", gamma)):
            if not (isinstance(value, (int, float)) and value > 0):
                raise UserError(f"Macer: {key} must be a number > 0, got {value!r}")
        if not (isinstance(lbd, (int, float)) and lbd >= 0):
            raise UserError(f"Macer: lbd must be a number >= 0, got {lbd!r}")
        if not (isinstance(deferred_epochs, int) and deferred_epochs >= 0):
            raise UserError(f"Macer: deferred_epochs must be an integer >= 0, got {deferred_epochs!r}")
        self.num_noise = num_noise
        self.beta = float(beta)
        self.gamma = float(gamma)
        self.lbd = float(lbd)
        self.deferred_epochs = deferred_epochs

    @property
    def current_lbd(self) -> float:
        """lbd, or 0 before epoch ``deferred_epochs``."""
        return 0.0 if self.epoch < self.deferred_epochs else self.lbd

    def __call__(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
        noise = noise_draws(inputs, self.num_noise, self.sigma)
        logits = model(noisy_batch(inputs, noise)).view(inputs.shape[0], self.num_noise, -1)
        terms = macer_terms(logits, targets, sigma=self.sigma, beta=self.beta, gamma=self.gamma)
        lbd = self.current_lbd
        loss = terms["ce"] + lbd * terms["robust"] if lbd > 0 else terms["ce"]
        acc = (logits.softmax(dim=-1).mean(dim=1).argmax(dim=1) == targets).float().mean()
        return {
            "loss": loss, "ce": terms["ce"].detach(), "robust": terms["robust"].detach(),
            "hinged": terms["hinged"].detach(), "acc": acc.detach(), "lbd": torch.tensor(lbd),
        }
