"""Sequential certification at fixed target radii: sample until every target is decided.

CERTIFY spends the same n (typically 100,000) noise samples on every input,
though most inputs are settled after a few hundred: a robust input's votes are
nearly unanimous, a misclassified one's clearly not. Here the question is the
one a certified-accuracy table asks, for given radii r_1 < ... < r_m: is
``p_A >= Phi(r_j / sigma)``, i.e. is g certified at radius r_j? Votes are
counted at a schedule of looks n_1 < n_2 < ... < n_K = n_max (a geometric one by
default), and sampling stops at the first look where every target is decided.

**The guarantee (as CERTIFY's).** With probability at least ``1 - alpha`` over
the noise, every radius this procedure certifies is correct: if it returns
class c and certifies r_j, then ``P(f(x + delta) = c) >= Phi(r_j / sigma)``, so
by Cohen et al.'s Theorem 1 g predicts c everywhere within distance r_j of x.

*Proof.* The ``n0`` selection samples choose c; the estimation samples are
drawn afterwards, independently, so given c their votes for c are i.i.d.
Bernoulli(p) with ``p = P(f(x + delta) = c)``. At look k the procedure computes
the one-sided Clopper–Pearson bound ``L_k = CP_lower(count_k, n_k, alpha_k)``,
and for every p, ``P(L_k >= p) <= alpha_k`` (the bound is exact: ``L_k >= p``
implies ``P_p(Bin(n_k, p) >= count_k) <= alpha_k``). A target r_j is certified
only when ``max_{k <= tau} L_k >= Phi(r_j / sigma)`` at the stopping look tau;
if that claim is false then ``p < Phi(r_j / sigma) <= L_k`` for some k. So
``P(some certified radius is false) <= P(exists k <= K: L_k >= p)
<= sum_k alpha_k <= alpha`` (a union bound over *all* K looks, whether or not
they are reached), whatever rule decides when to stop: the rule may use all
votes seen so far. The schedule gives ``alpha_K = alpha / 2`` to the final
look and splits the other half evenly over the earlier ones; ``sum_k alpha_k =
alpha``. When no ``L_k`` reaches 1/2 the procedure abstains, as CERTIFY does.

**Stopping for futility** changes how many samples are spent, never a
certificate: a target is abandoned at look k when even the Clopper–Pearson
*upper* bound on p at level ``futility`` could not certify it at n_max (the
bound of a count of ``U_k * n_max`` at the final look stays below
``Phi(r_j / sigma)``). A target above ``max_radius(n_max, alpha_K, sigma)`` is
abandoned at once. A wrongly abandoned target costs power only.

Like :mod:`smoothcert.smooth`, this module imports nothing of smoothcert but
:mod:`smoothcert.stats`. The procedure is written as steps
(:func:`sequential_steps`: it yields how many samples it wants, and is sent
their votes), so the packed engine runs the looks of many inputs in shared
forward passes; :func:`certify_sequential` runs one input through any object
with ``sigma`` and ``sample_counts(x, num, batch_size, generator)`` (a
:class:`~smoothcert.Smooth`).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
from scipy.stats import norm

from smoothcert import stats

ABSTAIN = -1


class Sampler(Protocol):
    """What sequential certification needs of a smoothed classifier."""

    sigma: float

    def sample_counts(self, x: torch.Tensor, num: int, batch_size: int = ...,
                      generator: torch.Generator | None = ...) -> torch.Tensor: ...


@dataclass(frozen=True)
class Schedule:
    """Looks (cumulative estimation samples, increasing) and the level spent at each.

    The guarantee holds at level ``sum(alphas)``.
    """

    looks: tuple[int, ...]
    alphas: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.looks or len(self.looks) != len(self.alphas):
            raise ValueError("a schedule needs one level per look, and at least one look")
        if any(b <= a for a, b in zip(self.looks, self.looks[1:], strict=False)) or self.looks[0] < 1:
            raise ValueError(f"looks must be positive and increasing, got {self.looks}")
        if any(not 0.0 < a < 1.0 for a in self.alphas):
            raise ValueError(f"levels must lie in (0, 1), got {self.alphas}")

    @classmethod
    def geometric(cls, n_max: int, alpha: float, first: int = 100, growth: float = 2 ** 0.5) -> Schedule:
        """Looks ``first, first*growth, ...`` (rounded) below ``n_max``, then ``n_max``; alpha/2 at the last.

        The default growth sqrt(2) was chosen by measurement (docs/sequential.md):
        finer looks stop sooner, at the price of a smaller level per look.

        Example:
            >>> Schedule.geometric(1000, 0.001).looks
            (100, 141, 200, 283, 400, 566, 800, 1000)
        """
        if n_max < 1 or first < 1 or growth <= 1.0:
            raise ValueError("need n_max >= 1, first >= 1 and growth > 1")
        looks: list[int] = []
        size = float(first)
        while round(size) < n_max:
            if not looks or round(size) > looks[-1]:
                looks.append(round(size))
            size *= growth
        looks.append(n_max)
        if len(looks) == 1:
            return cls((n_max,), (alpha,))
        early = alpha / 2 / (len(looks) - 1)
        return cls(tuple(looks), (early,) * (len(looks) - 1) + (alpha / 2,))


@dataclass(frozen=True)
class SequentialCertificate:
    """The outcome of :func:`certify_sequential`.

    Attributes:
        prediction: the class c, or ``ABSTAIN`` (-1) when p_c >= 1/2 was not shown.
        radius: the largest target radius certified; 0.0 when none (or abstaining).
        certified: per target radius, in the order given, whether it is certified.
        p_lower: the largest Clopper–Pearson lower bound seen (each at its look's level).
        count: votes for c among the ``n`` estimation samples.
        n: estimation samples drawn; ``samples`` = n0 + n, all noise samples used.
    """

    prediction: int
    radius: float
    certified: tuple[bool, ...]
    p_lower: float
    count: int
    n: int
    samples: int


def certify_sequential(
    smooth: Sampler,
    x: torch.Tensor,
    radii: Sequence[float],
    n0: int,
    schedule: Schedule,
    batch_size: int = 1000,
    generator: torch.Generator | None = None,
    futility: float = 0.001,
) -> SequentialCertificate:
    """Decide "certified at radius r" for each of ``radii``, stopping as soon as all are decided.

    With probability at least ``1 - sum(schedule.alphas)`` every certified radius
    is correct (proof in the module docstring). The procedure is
    :func:`sequential_steps`; here each of its requests is answered by
    ``smooth.sample_counts`` (the packed engine answers many inputs' requests
    in shared forward passes, with the same result).

    Example:
        >>> schedule = Schedule.geometric(n_max=100_000, alpha=0.001)   # 21 looks
        >>> cert = certify_sequential(smooth, x, [0.25, 0.5, 0.75], n0=100, schedule=schedule)
        >>> cert.radius, cert.samples
    """
    steps = sequential_steps(float(smooth.sigma), radii, n0, schedule, futility)
    request = next(steps)
    while True:
        try:
            request = steps.send(smooth.sample_counts(x, request, batch_size, generator))
        except StopIteration as done:
            return done.value


def sequential_steps(
    sigma: float, radii: Sequence[float], n0: int, schedule: Schedule, futility: float = 0.001,
) -> Generator[int, torch.Tensor, SequentialCertificate]:
    """The procedure as steps: yields how many noise samples it wants next, is sent their votes."""
    if not isinstance(n0, int) or n0 < 1:
        raise ValueError(f"n0 must be an int >= 1, got {n0!r}")
    if any(not math.isfinite(r) or r < 0 for r in radii):
        raise ValueError(f"target radii must be finite and >= 0, got {list(radii)}")
    if not 0.0 < futility < 1.0:
        raise ValueError(f"futility must lie in (0, 1), got {futility}")
    # target 0 (p_c >= 1/2: predict c at all) first, then the radii in increasing order
    order = sorted(range(len(radii)), key=lambda j: radii[j])
    thresholds = [0.5] + [float(norm.cdf(radii[j] / sigma)) for j in order]
    status: list[bool | None] = [None] * len(thresholds)  # True certified, False abandoned, None open
    c_hat = int((yield n0).argmax())
    count = drawn = 0
    best = 0.0
    n_max, final_alpha = schedule.looks[-1], schedule.alphas[-1]
    for look, level in zip(schedule.looks, schedule.alphas, strict=False):
        count += int((yield look - drawn)[c_hat])
        drawn = look
        best = max(best, stats.clopper_pearson_lower(count, drawn, level))
        upper = stats.clopper_pearson_upper(count, drawn, futility)
        reachable = _final_bound(upper, n_max, final_alpha)
        for t, threshold in enumerate(thresholds):
            if status[t] is None:
                if best >= threshold:
                    status[t] = True
                elif reachable < threshold or drawn == n_max:
                    status[t] = False
        _monotone(status)
        if all(s is not None for s in status):
            break
    if not status[0]:
        return SequentialCertificate(ABSTAIN, 0.0, (False,) * len(radii), best, count, drawn, n0 + drawn)
    certified = [False] * len(radii)
    for t, j in enumerate(order, start=1):
        certified[j] = bool(status[t])
    radius = max((float(radii[j]) for j in range(len(radii)) if certified[j]), default=0.0)
    return SequentialCertificate(c_hat, radius, tuple(certified), best, count, drawn, n0 + drawn)


def _final_bound(p: float, n_max: int, alpha: float) -> float:
    """The lower bound the final look would give if the vote share were ``p``."""
    return stats.clopper_pearson_lower(min(n_max, math.ceil(p * n_max)), n_max, alpha)


def _monotone(status: list[bool | None]) -> None:
    """Certified at a threshold => at every lower one; abandoned => at every higher one."""
    for t in range(len(status) - 2, -1, -1):
        if status[t + 1] is True:
            status[t] = True
    for t in range(1, len(status)):
        if status[t - 1] is False:
            status[t] = False
