"""CAT-RS: confidence-aware training (Jeong, Kim & Shin 2023), as ``code/train_catrs.py`` trains it.

"Confidence-Aware Training of Smoothed Classifiers for Certified Robustness".
Each training image i carries p_i, the smoothed prediction of a Gaussian-trained
model (class counts / N under N noise draws at sigma 0.25, whatever the training
sigma): a pass over the training split before training, which the training loop
runs, resumably, from ``pretrained`` (:class:`~smoothcert.methods.base.SmoothedPredictionSpec`;
``smoothcert.train.prepass``). Per step, on b images x (pixels in [0, 1]), labels y:

1. m noise draws delta_j ~ N(0, sigma^2 I), each of the batch's shape (m calls of ``randn_like``).
2. Train-mode forward 1 on the m*b copies x + delta_j (before the attack, which
   then sees the updated batch-norm statistics): argmaxes a_ij, cross-entropies ce_ij.
3. KL-PGD on the noise, eval mode, T steps of size 2 eps'/T, one forward of m*b per
   step: ascend (1/m) sum_ij KL(p_i || softmax(f(x_i + n_ij))) along the per-vector
   unit gradient (g / (||g|| + 1e-8)); n <- delta + renorm_eps'(n - delta); then
   n <- mu0 + s0 (n - mean(n)) / rms(n) per vector, mu0 and s0 the mean and RMS
   (not the centred std) of the original delta. No pixel clipping. Result delta*.
   eps' = epsilon, or 2 epsilon from epoch ``eps_double_epoch`` on (0-based).
4. Train-mode forward 2 on x + delta*_j.
5. w_i = fraction of the m copies with a_ij = y_i (``confidence_mask``: w_i = p_i[y_i]).
6. k_i ~ Binomial(m, w_i) (one ``torch.binomial`` call), k_i = max(k_i, 1); full_i = [k_i = m].
7. xent_i = (1/m) * (sum of the k_i smallest ce_ij), divided by m, not by k_i.
8. loss = mean_i(xent_i + lbd * full_i * max_j KL(p_i || softmax(f(x_i + delta*_ij)))).

renorm is ``torch.renorm`` (a difference of norm n > r scaled by r / (n + 1e-7)).
Random draws per step, in order: m ``randn_like`` (b, *S), one ``binomial`` over (b,).
Defaults are the script's argparse defaults: m = 4, ``--epsilon 256`` (/256: 1.0 in
[0,1]-pixel L2 units), T = 4, lbd = 1, the radius never doubles (``--warmup 10000``).

Deviations: the script's ``--lr_drop`` (a one-epoch learning-rate cut, used by its
ImageNet command only) is an optimizer setting and is not offered; its batch of B
images cut into m chunks is a recipe with batch_size B/m here (configs/_generate.py).
The pre-pass differences are listed in :mod:`smoothcert.train.prepass`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from smoothcert.attacks.base import frozen_eval
from smoothcert.errors import UserError
from smoothcert.methods._noise import copies_of, copy_major_draws
from smoothcert.methods.base import Method, SmoothedPredictionSpec, check_int, check_number, register_method


def catrs_attack(
    model: nn.Module, x: torch.Tensor, p: torch.Tensor, noise: torch.Tensor, *, eps: float, num_steps: int
) -> torch.Tensor:
    """The KL-PGD noise delta* of CAT-RS (step 3 of the module docstring): shape (m, b, *S) like ``noise``.

    The model runs in eval mode with frozen parameters; its mode and flags are restored afterwards.
    """
    m = noise.shape[0]
    flat0 = noise.detach().flatten(0, 1)
    rows = flat0.shape[0]
    shape = (rows, *([1] * (flat0.dim() - 1)))
    mu0 = flat0.reshape(rows, -1).mean(dim=1).view(shape)
    s0 = (flat0**2).reshape(rows, -1).mean(dim=1).sqrt().view(shape)
    repeated = x.detach().unsqueeze(0).expand(m, *x.shape).flatten(0, 1)
    step = eps / num_steps * 2
    current = flat0
    with frozen_eval(model):
        for _ in range(num_steps):
            current = current.detach().requires_grad_(True)
            with torch.enable_grad():
                chunks = model(repeated + current).chunk(m, dim=0)
                total = torch.zeros_like(p[:, 0])
                for logits in chunks:  # summed in order, as the script's sum() (whose 0 + first is exact)
                    total = total + F.kl_div(F.log_softmax(logits, dim=1), p, reduction="none").sum(dim=1)
                (grad,) = torch.autograd.grad((total / m).sum(), [current])
            norms = grad.reshape(rows, -1).norm(dim=1).view(shape)
            current = current.detach() + step * grad / (norms + 1e-8)
            current = flat0 + (current - flat0).renorm(p=2, dim=0, maxnorm=eps)
            mu = current.reshape(rows, -1).mean(dim=1).view(shape)
            rms = (current**2).reshape(rows, -1).mean(dim=1).sqrt().view(shape)
            current = mu0 + (current - mu) / rms * s0
    return current.detach().view_as(noise)


def catrs_loss(
    ce: torch.Tensor, kl: torch.Tensor, w: torch.Tensor, lbd: float
) -> dict[str, torch.Tensor]:
    """Steps 6-8 on per-copy cross-entropies ``ce`` and KL terms ``kl`` of shape (b, m), weights ``w`` (b,).

    Draws k ~ Binomial(m, w) from the global RNG (one call). Returns ``"loss"``
    and the per-image ``"xent"``, ``"full"`` (k = m) and ``"accept"`` (k).
    """
    m = ce.shape[1]
    accept = torch.binomial(torch.full_like(w, m), w).long().clamp(min=1)
    full = accept == m
    smallest = ce.sort(dim=1).values
    keep = torch.arange(m, device=ce.device).view(1, -1) < accept.view(-1, 1)
    xent = (smallest * keep.to(ce.dtype)).mean(dim=1)
    loss = (xent + lbd * kl.max(dim=1).values * full.to(kl.dtype)).mean()
    return {"loss": loss, "xent": xent, "full": full, "accept": accept}


@register_method("catrs")
class CatRS(Method):
    """CAT-RS: the k easiest noisy copies' cross-entropy, plus the worst-case KL term where all m are right.

    Args:
        sigma: noise level, [0,1]-pixel units.
        num_noise: m, noise draws per image (4).
        epsilon: L2 radius of the attack on the noise, [0,1]-pixel units (1.0 = the script's 256).
        num_steps: attack steps T (4).
        lbd: weight of the KL term (1.0).
        confidence_mask: draw k from p_i[y_i] instead of the copies' accuracy.
        eps_double_epoch: 0-based epoch from which the radius is 2 epsilon (the
            script's ``--warmup``; 10000: never).
        pretrained: checkpoint file or run directory of the Gaussian-trained model
            whose smoothed prediction p_i the method needs (required to train).
        prior_sigma: noise level of that prediction (0.25, for every training sigma).
        prior_samples: noise draws per training image (the script's default 100,000;
            its published runs used 10,000).
        prior_batch: draws per forward pass (1,000).
        prior_seed: noise seed of the pass (image i draws from a generator seeded by (seed, i)).

    Example:
        >>> method = CatRS(sigma=0.5, num_noise=4, epsilon=1.0, lbd=1.0, pretrained="runs/gaussian_0.25")
        >>> method.set_smoothed_prediction(rows)              # (training images, classes)
        >>> out = method(model, images, labels, indices=idx)  # {"loss", "xent", "kl", "full", "acc", "eps"}
    """

    def __init__(
        self, *, sigma: float, num_noise: int = 4, epsilon: float = 1.0, num_steps: int = 4, lbd: float = 1.0,
        confidence_mask: bool = False, eps_double_epoch: int = 10000, pretrained: str | None = None,
        prior_sigma: float = 0.25, prior_samples: int = 100_000, prior_batch: int = 1000, prior_seed: int = 0,
    ) -> None:
        super().__init__(sigma=sigma)
        name = type(self).__name__
        for key, count, low in (("num_noise", num_noise, 1), ("num_steps", num_steps, 1),
                                ("eps_double_epoch", eps_double_epoch, 0), ("prior_samples", prior_samples, 1),
                                ("prior_batch", prior_batch, 1), ("prior_seed", prior_seed, 0)):
            check_int(name, key, count, low)
        for key, number in (("epsilon", epsilon), ("lbd", lbd), ("prior_sigma", prior_sigma)):
            check_number(name, key, number)
        if not prior_sigma > 0:
            raise UserError(f"{name}: prior_sigma must be > 0, got {prior_sigma!r}")
        if not isinstance(confidence_mask, bool):
            raise UserError(f"{name}: confidence_mask must be true or false, got {confidence_mask!r}")
        if pretrained is not None and not (isinstance(pretrained, str) and pretrained):
            raise UserError(f"{name}: pretrained must be a checkpoint file or run directory, got {pretrained!r}")
        self.num_noise = num_noise
        self.epsilon = float(epsilon)
        self.num_steps = num_steps
        self.lbd = float(lbd)
        self.confidence_mask = confidence_mask
        self.eps_double_epoch = eps_double_epoch
        self.pretrained = pretrained
        self.prior_sigma = float(prior_sigma)
        self.prior_samples = prior_samples
        self.prior_batch = prior_batch
        self.prior_seed = prior_seed
        self._rows: torch.Tensor | None = None

    @property
    def current_epsilon(self) -> float:
        """The attack radius of this epoch: epsilon, or 2 epsilon from ``eps_double_epoch`` on."""
        return self.epsilon * (2.0 if self.epoch >= self.eps_double_epoch else 1.0)

    def smoothed_prediction_spec(self) -> SmoothedPredictionSpec:
        """The pre-pass this method needs; a ``UserError`` when ``pretrained`` is not set."""
        if self.pretrained is None:
            raise UserError(
                "catrs needs a Gaussian-trained model for its smoothed predictions: set "
                "method_args.pretrained=RUN_DIR (e.g. a run trained with configs/<dataset>/gaussian_0.25.yaml)")
        return SmoothedPredictionSpec(checkpoint=self.pretrained, sigma=self.prior_sigma,
                                      num_samples=self.prior_samples, batch_size=self.prior_batch, seed=self.prior_seed)

    def set_smoothed_prediction(self, rows: torch.Tensor) -> None:
        """The prediction p_i of every training image, shape (images, classes); kept as float32 on the CPU."""
        if rows.dim() != 2:
            raise ValueError(f"smoothed predictions must have shape (images, classes), got {tuple(rows.shape)}")
        self._rows = rows.detach().to("cpu", torch.float32)

    def __call__(
        self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, indices: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        if self._rows is None or indices is None:
            raise RuntimeError("CatRS needs set_smoothed_prediction(rows) and the batch's dataset indices")
        m, batch = self.num_noise, inputs.shape[0]
        p = self._rows[indices.cpu()].to(inputs.device, inputs.dtype)
        noise = copy_major_draws(inputs, m, self.sigma)
        logits0 = model(copies_of(inputs, noise))
        target = model.module if isinstance(model, DistributedDataParallel) else model
        adv_noise = catrs_attack(target, inputs, p, noise, eps=self.current_epsilon, num_steps=self.num_steps)
        logits = model(copies_of(inputs, adv_noise))
        ce = F.cross_entropy(logits0, targets.repeat(m), reduction="none").view(m, batch).T
        kl = F.kl_div(F.log_softmax(logits, dim=1), p.repeat(m, 1), reduction="none").sum(dim=1).view(m, batch).T
        if self.confidence_mask:
            w = p.gather(1, targets.view(-1, 1)).squeeze(1)
        else:
            w = (logits0.argmax(dim=1).view(m, batch) == targets).to(inputs.dtype).sum(dim=0) / m
        out = catrs_loss(ce, kl, w, self.lbd)
        labels = targets.repeat(m)
        return {
            "loss": out["loss"], "xent": out["xent"].mean().detach(),
            "kl": (kl.max(dim=1).values * out["full"].to(kl.dtype)).mean().detach(),
            "full": out["full"].float().mean().detach(), "w": w.mean().detach(),
            "acc": (logits.argmax(dim=1) == labels).float().mean().detach(), "eps": torch.tensor(self.current_epsilon),
        }
