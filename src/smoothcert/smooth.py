"""The smoothed classifier g(x) = argmax_c P(f(x + delta) = c), delta ~ N(0, sigma^2 I).

This follows CERTIFY and PREDICT of Cohen, Rosenfeld & Kolter (2019), "Certified
Adversarial Robustness via Randomized Smoothing", made typed, device-agnostic and
batched. Each procedure is written once, as *steps*: a generator that asks for
a number of noise samples (``counts = yield num``) and returns its answer from
the votes it was sent. :class:`Smooth` runs the steps of one input;
:mod:`smoothcert.certify.packing` runs the same steps for many inputs at once,
so the decision (counts -> certificate) exists in one place only. This module
imports nothing else of smoothcert but :mod:`smoothcert.stats` (and, lazily,
the loaders behind :meth:`Smooth.from_checkpoint` and :meth:`Smooth.certify_batch`).
"""

from __future__ import annotations

import numbers
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from smoothcert import stats

T = TypeVar("T")
Steps = Generator[int, torch.Tensor, T]
"""A procedure as steps: yields sample counts wanted, is sent LongTensor[num_classes] votes, returns T."""


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
    +inf, -inf) is returned per row (a bool tensor) so that callers can count it
    on the device and synchronise once, then call :func:`raise_if_not_finite`.
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() != 2 or tuple(logits.shape) != (rows, num_classes):
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ModelOutputError(
            f"base model returned logits of shape {shape} for a batch of {rows} inputs; "
            f"expected ({rows}, {num_classes}): one row of {num_classes} logits per input"
        )
    return (~torch.isfinite(logits)).any(dim=1)


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


ABSTAIN = -1


def certify_steps(n0: int, n: int, alpha: float, sigma: float) -> Steps[Certificate]:
    """CERTIFY as steps: ``n0`` selection samples choose c_A, ``n`` *fresh* samples bound p_A.

    With probability at least ``1 - alpha`` over the estimation samples, a
    non-abstaining answer is correct: p_A >= p_lower, so g is constant within
    ``sigma * Phi^-1(p_lower)``. Reusing the selection samples would void this.
    """
    selection = yield n0
    c_hat = int(selection.argmax())
    estimation = yield n
    count = int(estimation[c_hat])
    p_lower = stats.clopper_pearson_lower(count, n, alpha)
    if p_lower < 0.5:
        return Certificate(ABSTAIN, 0.0, p_lower, count, n)
    return Certificate(c_hat, stats.certified_radius(p_lower, sigma), p_lower, count, n)


def predict_steps(n: int, alpha: float) -> Steps[int]:
    """PREDICT as steps: the top class of ``n`` votes, or ABSTAIN when a binomial test cannot separate the top two."""
    counts = yield n
    top2 = torch.topk(counts, 2)
    c1, c2 = int(top2.values[0]), int(top2.values[1])
    return ABSTAIN if stats.binomial_pvalue(c1, c2) > alpha else int(top2.indices[0])


class Smooth:
    """A smoothed classifier around any base model (batch in, logits out).

    Example:
        >>> smooth = Smooth(model, num_classes=10, sigma=0.5)
        >>> cert = smooth.certify(x, n0=100, n=100_000, alpha=0.001)
        >>> cert.prediction, cert.radius
    """

    ABSTAIN: int = ABSTAIN

    def __init__(self, base_model: nn.Module, num_classes: int, sigma: float,
                 input_shape: tuple[int, ...] | None = None) -> None:
        """``input_shape`` (optional, e.g. ``(1, 28, 28)``): inputs must have it and lie in [0, 1]."""
        if not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        if not _is_int(num_classes) or num_classes < 2:
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
        self.base_model = base_model
        self.num_classes = int(num_classes)
        self.sigma = float(sigma)
        self.input_shape = None if input_shape is None else tuple(int(s) for s in input_shape)

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, device: str | torch.device = "cpu",
                        sigma: float | None = None) -> Smooth:
        """A ready smoothed classifier from a checkpoint file or run directory of ``smoothcert train``.

        The model is rebuilt with its normalization, given the exact speed-ups the
        command line uses (same logits bit for bit), put on ``device``; sigma is
        the training sigma unless given; inputs are checked against the dataset's
        shape and the [0, 1] pixel range.
        """
        from smoothcert.checkpoints.loading import load_smooth

        return load_smooth(cls, path, device=device, sigma=sigma)

    def certify(self, x: torch.Tensor, n0: int, n: int, alpha: float, batch_size: int = 1000,
                generator: torch.Generator | None = None) -> Certificate:
        """CERTIFY: a class and an L2 radius around ``x`` within which g is constant.

        With probability at least ``1 - alpha`` over the noise, if the result is not
        ``ABSTAIN`` then g(x + e) equals ``prediction`` for every ``||e||_2 < radius``.
        ``n0`` samples select the class; ``n`` *fresh* samples estimate its
        probability. Abstains when the lower bound on p_A is below 1/2.

        Args:
            x: one input without batch dimension, in the base model's input space.
            n0: selection samples; n: estimation samples; alpha: failure probability.
            batch_size: rows of every forward pass (the last one padded).
            generator: source of the noise, on ``x.device``; the global RNG if None.
        """
        _check_int(n0, "n0")
        _check_int(n, "n")
        _check_alpha(alpha)
        return self.run(x, certify_steps(n0, n, alpha, self.sigma), batch_size, generator)

    def predict(self, x: torch.Tensor, n: int, alpha: float, batch_size: int = 1000,
                generator: torch.Generator | None = None) -> int:
        """PREDICT: g(x), or ``ABSTAIN``.

        With probability at least ``1 - alpha`` the returned class, when not
        ``ABSTAIN``, is g(x). Abstains when a two-sided binomial test cannot tell
        the top two classes apart at level alpha (so always on an exact tie).
        """
        _check_int(n, "n")
        _check_alpha(alpha)
        return self.run(x, predict_steps(n, alpha), batch_size, generator)

    def certify_batch(self, xs: torch.Tensor, n0: int, n: int, alpha: float, batch_size: int = 1000,
                      seed: int = 0) -> list[Certificate]:
        """CERTIFY every row of ``xs`` through the packed engine (the command line's), in order.

        Input i's noise comes from a generator seeded by ``(seed, i)``, as
        ``smoothcert certify`` seeds example idx; the certificates equal those of
        :meth:`certify` with that generator, bit for bit, while small sample
        requests of several inputs share forward passes.
        """
        from smoothcert.certify.packing import PackedSmooth
        from smoothcert.certify.seeds import example_generator

        _check_int(n0, "n0")
        _check_int(n, "n")
        _check_alpha(alpha)
        for x in xs:
            self._check_input(x)
        engine = PackedSmooth(self.base_model, self.num_classes, self.sigma, batch_size)
        items = [(x, example_generator(seed, i, x.device)) for i, x in enumerate(xs)]
        return list(engine.certify(items, n0, n, alpha))

    def run(self, x: torch.Tensor, steps: Steps[T], batch_size: int = 1000,
            generator: torch.Generator | None = None) -> T:
        """Run a procedure's steps on ``x``: each request is answered by :meth:`sample_counts`."""
        self._check_input(x)
        request = next(steps)
        while True:
            try:
                request = steps.send(self.sample_counts(x, request, batch_size, generator))
            except StopIteration as done:
                return done.value

    def sample_counts(self, x: torch.Tensor, num: int, batch_size: int = 1000,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """Votes of the base model on ``num`` noisy copies of ``x``: LongTensor[num_classes] on CPU.

        Noise is drawn on ``x.device`` in ``x.dtype`` in chunks of ``batch_size``
        (the remainder last). Every forward pass has exactly ``batch_size`` rows,
        a short chunk padded with zeros whose votes are not counted: one shape
        for ``--compile`` and CUDA graphs, and the numerics of the packed engine.
        Votes are counted on the device, with one synchronisation at the end.
        Raises :class:`ModelOutputError` (a ``ValueError``) unless every forward
        pass returns logits of shape exactly (batch_size, num_classes), all finite.
        The model runs in eval mode; its previous mode is restored.
        """
        _check_int(num, "num")
        _check_int(batch_size, "batch_size")
        counts = torch.zeros(self.num_classes, dtype=torch.long, device=x.device)
        bad_rows = torch.zeros((), dtype=torch.long, device=x.device)
        was_training = self.base_model.training
        self.base_model.eval()
        try:
            with torch.inference_mode():
                for size in chunk_sizes(num, batch_size):
                    noise = torch.randn((size, *x.shape), generator=generator, device=x.device, dtype=x.dtype)
                    noisy = x.unsqueeze(0) + noise * self.sigma
                    if size < batch_size:
                        noisy = torch.cat([noisy, noisy.new_zeros((batch_size - size, *x.shape))])
                    logits = self.base_model(noisy)
                    bad_rows += check_logits(logits, batch_size, self.num_classes)[:size].sum()
                    votes = logits[:size].argmax(dim=1)
                    counts.index_add_(0, votes, torch.ones_like(votes))  # no host sync (bincount has one on CUDA)
        finally:
            self.base_model.train(was_training)
        result = torch.cat([counts, bad_rows.view(1)]).cpu()  # the one synchronisation
        raise_if_not_finite(int(result[-1]), num)
        return result[:-1]

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if not x.is_floating_point():
            raise ValueError(f"x must be floating point (pixels in [0, 1]), got {x.dtype}; "
                             "convert integer images with x.float() / 255")
        if self.input_shape is None:
            return
        if tuple(x.shape) != self.input_shape:
            hint = ("; x looks batched: pass one input, or use certify_batch for many"
                    if tuple(x.shape[1:]) == self.input_shape else "")
            raise ValueError(f"x has shape {tuple(x.shape)}, expected one input of shape {self.input_shape}{hint}")
        low, high = float(x.min()), float(x.max())
        if not (low >= 0.0 and high <= 1.0):
            raise ValueError(f"x has values in [{low:g}, {high:g}]; the model takes pixels in [0, 1] "
                             "(normalization is its first layer)")


def chunk_sizes(num: int, batch_size: int) -> list[int]:
    """The chunks ``num`` noise samples are drawn in: ``batch_size`` at a time, the remainder last."""
    return [batch_size] * (num // batch_size) + ([num % batch_size] if num % batch_size else [])


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_int(value: object, name: str) -> None:
    if not _is_int(value):
        raise ValueError(f"{name} must be an int, got {value!r} ({type(value).__name__}); write 10_000, not 1e4")
    if value < 1:  # type: ignore[operator]
        raise ValueError(f"{name} must be >= 1, got {value}")


def _check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
