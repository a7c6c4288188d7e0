"""What every attack on the smoothed classifier shares (Salman et al. 2019, "SmoothAdv").

The attacked quantity is the *soft* smoothed classifier
G(x') = E_delta[softmax(f(x' + delta))], estimated on ``m`` noise draws
delta_1..delta_m ~ N(0, sigma^2 I) that stay fixed through all attack steps.
The attack increases the cross-entropy of that average,

    loss(x') = -log( (1/m) sum_j softmax(f(x' + delta_j))[y] ),

inside the L2 ball ||x' - x||_2 <= eps (and, by default, the pixel box [0, 1]).

**Unit of eps.** An L2 radius in the model's input space, pixels in [0, 1] (the
same space as sigma and as certified radii). The original code took
``--epsilon`` in 1/256 units and divided by 256: its ``--epsilon 64`` is
eps = 0.25, ``255`` is 255/256 = 0.99609375 (about 1.0), ``512`` is 2.0.

**Gradient or no gradient** (the original ``--no-grad-attack`` flag). With
``no_grad=False`` the ascent direction is the true gradient of ``loss`` with
respect to x', back-propagated through the m forward passes. With
``no_grad=True`` no gradient flows through the network at all: the direction
is the zeroth-order estimate that the Gaussian-smoothing identity
grad_x E[h(x + delta)] = E[delta h(x + delta)] / sigma^2 gives,

    direction = -(1/m) sum_j softmax(f(x' + delta_j))[y] * delta_j,

which estimates -grad G_y(x') up to a positive factor (the same direction as
grad loss, since loss = -log G_y). Only forward passes run (under
``torch.no_grad``), so a step costs one batched forward of m copies. The
estimate needs several draws: with m = 1 it is just -delta_1, so
``no_grad=True`` with ``num_noise=1`` is refused (the original code silently
ignored the flag when m = 1, and had no no-grad DDN; here both PGD and DDN
support it).

In either mode every ascent direction is normalized to unit L2 norm per
example; a zero direction (saturated softmax) is replaced by a random unit
direction drawn from the same generator as the noise.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from smoothcert.smooth import ModelOutputError


@dataclass(frozen=True, kw_only=True)
class SmoothAttack:
    """Base of :class:`SmoothPGD` and :class:`SmoothDDN`: configuration at construction.

    Attributes:
        eps: L2 radius of the allowed perturbation, in [0,1]-pixel units.
        sigma: standard deviation of the smoothing noise (same units).
        num_steps: attack iterations (T).
        num_noise: noise draws m per input, fixed through the steps.
        no_grad: use the gradient-free direction estimate (see the module docstring).
        clip: box the adversarial input is kept in; ``None`` for no box.
    """

    eps: float
    sigma: float
    num_steps: int = 10
    num_noise: int = 1
    no_grad: bool = False
    clip: tuple[float, float] | None = (0.0, 1.0)

    def __post_init__(self) -> None:
        if not (isinstance(self.eps, (int, float)) and math.isfinite(self.eps) and self.eps >= 0):
            raise ValueError(f"eps must be a finite L2 radius >= 0 (in [0,1]-pixel units), got {self.eps!r}")
        if not self.sigma >= 0:
            raise ValueError(f"sigma must be >= 0, got {self.sigma!r}")
        if not (isinstance(self.num_steps, int) and self.num_steps >= 1):
            raise ValueError(f"num_steps must be an int >= 1, got {self.num_steps!r}")
        if not (isinstance(self.num_noise, int) and self.num_noise >= 1):
            raise ValueError(f"num_noise must be an int >= 1, got {self.num_noise!r}")
        if self.no_grad and self.num_noise < 2:
            raise ValueError("no_grad needs num_noise >= 2: with one noise draw the gradient-free estimate is -delta")
        if self.clip is not None and not self.clip[0] < self.clip[1]:
            raise ValueError(f"clip must be (low, high) with low < high, got {self.clip!r}")

    def attack(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        noise: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """An adversarial batch ``x_adv`` for the smoothed classifier, detached.

        Guarantees ``||x_adv[i] - x[i]||_2 <= eps`` (up to float rounding) and, when
        ``clip`` is set, ``clip[0] <= x_adv <= clip[1]`` for inputs inside the box;
        the one exception is :class:`SmoothDDN` with ``levels``, whose final rounding
        (the original's) can step out of the ball, and out of the box for inputs off its grid.
        The model runs in eval mode with its parameters frozen during the attack;
        its previous mode and ``requires_grad`` flags are restored afterwards, and
        no parameter gradient is accumulated.

        Args:
            model: base classifier, batch in, logits out.
            x: inputs, shape (B, *S). y: labels, shape (B,).
            noise: the draws delta, shape (B, m, *S), already scaled by sigma;
                drawn from ``generator`` (global RNG if None) when not given.
            generator: source of the noise and of random directions, on ``x.device``.
        """
        if y.shape != x.shape[:1]:
            raise ValueError(f"labels of shape {tuple(y.shape)} do not match inputs of shape {tuple(x.shape)}")
        if noise is None:
            noise = self.draw_noise(x, generator)
        expected = (x.shape[0], self.num_noise, *x.shape[1:])
        if tuple(noise.shape) != expected:
            raise ValueError(f"noise has shape {tuple(noise.shape)}; expected {expected} (batch, num_noise, *input)")
        x = x.detach()
        if self.eps == 0:
            return x.clone()
        with frozen_eval(model):
            return self._perturb(model, x, y, noise.detach(), generator).detach()

    def draw_noise(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``num_noise`` draws N(0, sigma^2 I) per input: shape (B, m, *S), on ``x.device``."""
        shape = (x.shape[0], self.num_noise, *x.shape[1:])
        return torch.randn(shape, generator=generator, device=x.device, dtype=x.dtype) * self.sigma

    def _perturb(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, noise: torch.Tensor,
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        raise NotImplementedError

    def _direction(
        self, model: nn.Module, x_adv: torch.Tensor, y: torch.Tensor, noise: torch.Tensor,
        generator: torch.Generator | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Unit-L2 ascent direction of the smoothed loss at ``x_adv``, and the (B, m, K) logits."""
        if self.no_grad:
            with torch.no_grad():
                logits = noisy_logits(model, x_adv, noise)
                p_y = logits.softmax(-1).gather(-1, y.view(-1, 1, 1).expand(-1, noise.shape[1], 1))
                weights = p_y.view(*p_y.shape[:2], *([1] * (noise.dim() - 2)))
                direction = -(weights * noise).mean(dim=1)
        else:
            x_adv = x_adv.detach().requires_grad_(True)
            with torch.enable_grad():
                loss, logits = smoothed_nll(model, x_adv, y, noise)
                (direction,) = torch.autograd.grad(loss.sum(), [x_adv])
        return _unit(direction, generator), logits.detach()

    def _project(self, x: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """``x + delta`` clipped into the box, then ``delta`` shrunk into the eps-ball.

        The order of the SmoothAdv authors' ``PGD_L2`` and ``DDN`` (``clamp_`` then
        ``renorm_``), with ``torch.renorm``'s scaling: a perturbation of norm
        ``n > eps`` is multiplied by ``eps / (n + 1e-7)``. Both constraints hold
        afterwards: with x in the box, scaling the clipped perturbation towards 0
        keeps x + delta in the box (the box is convex). Projecting first and
        clipping second (this package's order before) also gives a feasible point
        but a different one; it is not offered, since nothing recommends it over
        the order the published models were trained with.
        """
        if self.clip is not None:
            delta = (x + delta).clamp(*self.clip) - x
        return delta.renorm(p=2, dim=0, maxnorm=self.eps)


def noisy_logits(model: nn.Module, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Logits of the base model on the m noisy copies: shape (B, m, K).

    Raises :class:`~smoothcert.smooth.ModelOutputError` unless the model returns
    exactly one row per noisy copy (a model that returned more would be viewed
    as a wider, wrong set of logits).
    """
    batch, copies = noise.shape[:2]
    logits = model((x.unsqueeze(1) + noise).flatten(0, 1))
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or logits.shape[0] != batch * copies:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ModelOutputError(f"base model returned logits of shape {shape} for a batch of {batch * copies} "
                               "inputs; expected one row of logits per input")
    return logits.view(batch, copies, -1)


def smoothed_nll(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, noise: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example ``-log mean_j softmax(f(x + delta_j))[y]`` (shape (B,)), and the (B, m, K) logits.

    Computed stably as ``log m - logsumexp_j log_softmax(f(x + delta_j))[y]``.
    """
    logits = noisy_logits(model, x, noise)
    log_p = F.log_softmax(logits, dim=-1)
    log_p_y = log_p.gather(-1, y.view(-1, 1, 1).expand(-1, noise.shape[1], 1)).squeeze(-1)
    return math.log(noise.shape[1]) - torch.logsumexp(log_p_y, dim=1), logits


def _unit(direction: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Each row scaled to unit L2 norm; zero rows replaced by random unit rows."""
    flat = direction.flatten(1)
    norms = flat.norm(dim=1)
    zero = norms == 0
    if bool(zero.any()):
        random = torch.randn(flat.shape, generator=generator, device=flat.device, dtype=flat.dtype)
        flat = torch.where(zero.unsqueeze(1), random, flat)
        norms = flat.norm(dim=1)
    return (flat / norms.unsqueeze(1)).view_as(direction)


@contextmanager
def frozen_eval(model: nn.Module) -> Iterator[None]:
    """Eval mode and frozen parameters inside; previous mode and flags restored on exit."""
    modes = [(module, module.training) for module in model.modules()]
    flags = [(param, param.requires_grad) for param in model.parameters()]
    model.eval()
    for param, _ in flags:
        param.requires_grad_(False)
    try:
        yield
    finally:
        for param, flag in flags:
            param.requires_grad_(flag)
        for module, mode in modes:
            module.training = mode
