"""The smoothed classifier g(x) = argmax_c P(f(x + delta) = c), delta ~ N(0, sigma^2 I).

This follows CERTIFY and PREDICT of Cohen, Rosenfeld & Kolter (2019), "Certified
Adversarial Robustness via Randomized Smoothing", made typed, device-agnostic and
batched. It imports nothing else of smoothcert but :mod:`smoothcert.stats`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from smoothcert import stats


class ModelOutputError(ValueError):
    """The base model's output cannot be counted as votes (wrong shape, or non-finite logits)."""


def check_logits(logits: torch.Tensor, rows: int, num_classes: int) -> torch.Tensor:
    """Validate one forward pass's output; return, on the device, how many rows are not finite.

    A base model must map a batch of ``rows`` inputs to logits of shape exactly
    ``(rows, num_classes)``. Anything else is refused with :class:`ModelOutputError`
    before a single vote is counted: a model that returned more rows than it was
    given (a careless test-time-augmentation wrapper, say) would otherwise have
    votes counted twice and could be certified at an input whose true p_A is
    below 1/2. The shape check reads only metadata; the finiteness check (NaN,
    +inf, -inf) is returned as a 0-dim count so that callers can sum it on the
    device and synchronise once, then call :func:`raise_if_not_finite`.
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or tuple(logits.shape) != (rows, num_classes):
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ModelOutputError(
            f"base model returned logits of shape {shape} for a batch of {rows} inputs; "
            f"expected ({rows}, {num_classes}): one row of {num_classes} logits per input"
        )
    return (~torch.isfinite(logits)).any(dim=1).sum()


def raise_if_not_finite(bad_rows: int, total: int) -> None:
    """Raise :class:`ModelOutputError` when ``bad_rows`` of ``total`` noisy inputs had NaN or infinite logits."""
    if bad_rows > 0:
        raise ModelOutputError(
            f"base model returned non-finite logits (NaN or inf) for {bad_rows} of {total} noisy inputs"
        )


@dataclass(frozen=True)
class Certificate:
    """The outcome of :meth:`Smooth.certify` and the evidence behind it.

    Attributes:
        prediction: the certified class, or ``Smooth.ABSTAIN`` (-1).
        radius: certified L2 radius; 0.0 when abstaining.
        p_lower: one-sided Clopper–Pearson lower bound on p_A at level 1 - alpha.
        count: votes for the selected class among the ``n`` estimation samples.
        n: number of estimation samples.
    """

    prediction: int
    radius: float
    p_lower: float
    count: int
    n: int


class Smooth:
    """A smoothed classifier around any base model (batch in, logits out).

    Example:
        >>> smooth = Smooth(model, num_classes=10, sigma=0.5)
        >>> cert = smooth.certify(x, n0=100, n=100_000, alpha=0.001)
        >>> cert.prediction, cert.radius
    """

    ABSTAIN: int = -1

    def __init__(self, base_model: nn.Module, num_classes: int, sigma: float) -> None:
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.base_model = base_model
        self.num_classes = num_classes
        self.sigma = float(sigma)

    def certify(
        self,
        x: torch.Tensor,
        n0: int,
        n: int,
        alpha: float,
        batch_size: int = 1000,
        generator: torch.Generator | None = None,
    ) -> Certificate:
        """CERTIFY: a class and an L2 radius around ``x`` within which g is constant.

        With probability at least ``1 - alpha`` over the noise, if the result is not
        ``ABSTAIN`` then g(x + e) equals ``prediction`` for every ``||e||_2 < radius``.
        ``n0`` samples select the class; ``n`` *fresh* samples estimate its
        probability (reusing the selection samples would void the guarantee).
        Abstains when the lower bound on p_A is below 1/2.

        Args:
            x: one input without batch dimension, in the base model's input space.
            n0: selection samples; n: estimation samples; alpha: failure probability.
            batch_size: noisy inputs per forward pass.
            generator: source of the noise, on ``x.device``; the global RNG if None.
        """
        _check_sampling(n0, "n0")
        _check_sampling(n, "n")
        selection = self.sample_counts(x, n0, batch_size, generator)
        c_hat = int(selection.argmax())
        estimation = self.sample_counts(x, n, batch_size, generator)
        count = int(estimation[c_hat])
        p_lower = stats.clopper_pearson_lower(count, n, alpha)
        if p_lower < 0.5:
            return Certificate(self.ABSTAIN, 0.0, p_lower, count, n)
        return Certificate(c_hat, stats.certified_radius(p_lower, self.sigma), p_lower, count, n)

    def predict(
        self,
        x: torch.Tensor,
        n: int,
        alpha: float,
        batch_size: int = 1000,
        generator: torch.Generator | None = None,
    ) -> int:
        """PREDICT: g(x), or ``ABSTAIN``.

        With probability at least ``1 - alpha`` the returned class, when not
        ``ABSTAIN``, is g(x). Abstains when a two-sided binomial test cannot tell
        the top two classes apart at level alpha (so always on an exact tie).
        """
        _check_sampling(n, "n")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
        counts = self.sample_counts(x, n, batch_size, generator)
        top2 = torch.topk(counts, 2)
        c1, c2 = int(top2.values[0]), int(top2.values[1])
        if stats.binomial_pvalue(c1, c2) > alpha:
            return self.ABSTAIN
        return int(top2.indices[0])

    def sample_counts(
        self,
        x: torch.Tensor,
        num: int,
        batch_size: int = 1000,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Votes of the base model on ``num`` noisy copies of ``x``: LongTensor[num_classes] on CPU.

        Noise is drawn on ``x.device`` in ``x.dtype``, batches of at most
        ``batch_size``; votes are counted on the device, with one synchronisation
        at the end. Raises :class:`ModelOutputError` (a ``ValueError``) unless every
        forward pass returns logits of shape exactly (rows, num_classes), all finite.
        """
        _check_sampling(num, "num")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.base_model.eval()
        counts = torch.zeros(self.num_classes, dtype=torch.long, device=x.device)
        bad_rows = torch.zeros((), dtype=torch.long, device=x.device)
        with torch.inference_mode():
            remaining = num
            while remaining > 0:
                size = min(batch_size, remaining)
                remaining -= size
                batch = x.unsqueeze(0).expand(size, *x.shape)
                noise = torch.randn(batch.shape, generator=generator, device=x.device, dtype=x.dtype)
                logits = self.base_model(batch + noise * self.sigma)
                bad_rows += check_logits(logits, size, self.num_classes)
                votes = logits.argmax(dim=1)
                counts.index_add_(0, votes, torch.ones_like(votes))  # no host sync (bincount has one on CUDA)
        result = torch.cat([counts, bad_rows.view(1)]).cpu()  # the one synchronisation
        raise_if_not_finite(int(result[-1]), num)
        return result[:-1]


def _check_sampling(value: int, name: str) -> None:
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
