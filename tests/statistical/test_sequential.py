"""Sequential certification: the alpha guarantee on a linear ground truth, and exact small cases."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import norm
from torch import nn

from smoothcert import Smooth
from smoothcert.sequential import ABSTAIN, Schedule, certify_sequential


class Constant(nn.Module):
    """Always class 2 of 3: p_A = 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(torch.full((x.shape[0],), 2), 3).float()


def _false_rate(linear_at_distance, schedule: Schedule, trials: int) -> tuple[float, float]:
    """Rate of false certificates, and of certifying the easy target, at the least favourable p_A.

    p_A = Phi(d / sigma) = 0.9 and the hard target is d + 1e-6: certifying it (or
    predicting class 0) is false, and p_A sits just below its threshold, where a
    test's error rate is largest.
    """
    sigma = 0.5
    d = sigma * float(norm.ppf(0.9))
    model, x, true_radius = linear_at_distance(d)
    smooth = Smooth(model, num_classes=2, sigma=sigma)
    gen = torch.Generator().manual_seed(2024)
    false = easy = 0
    for _ in range(trials):
        cert = certify_sequential(smooth, x, [d / 2, d + 1e-6], 10, schedule, 2000, gen)
        false += int(cert.prediction != ABSTAIN and (cert.prediction != 1 or cert.radius > true_radius))
        easy += int(cert.certified[0])
    return false / trials, easy / trials


@pytest.mark.parametrize("growth, looks", [(2.0, 7), (2 ** 0.5, 13)])  # doubling; the CLI's default growth
def test_false_certification_rate_is_at_most_alpha(linear_at_distance, growth: float, looks: int) -> None:
    """1,000 sequential certifications at alpha = 0.05 with 7 or 13 looks (20 ... 1000 samples).

    The proof bounds the false rate by alpha; the observed rate is a binomial
    proportion, so we allow alpha + 3 * sqrt(alpha (1 - alpha) / trials) = 0.05 + 0.0207
    (a sound implementation fails with probability < 0.2%; the seed is fixed).
    Measured: 0.028 with 7 looks, 0.025 with 13 (the union bound is conservative).
    """
    alpha, trials = 0.05, 1000
    schedule = Schedule.geometric(1000, alpha, first=20, growth=growth)
    assert len(schedule.looks) == looks and math.isclose(sum(schedule.alphas), alpha)
    rate, easy = _false_rate(linear_at_distance, schedule, trials)
    print(f"{looks} looks: false-certification rate {rate:.3f} over {trials} runs")
    assert rate <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / trials)
    assert easy > 0.95  # not passing by refusing to certify


def test_peeking_without_spending_alpha_fails_the_same_check(linear_at_distance) -> None:
    """The check above can fail: testing at level alpha at each of the 7 looks gives ~0.13."""
    alpha, trials = 0.05, 500
    looks = Schedule.geometric(1000, alpha, first=20, growth=2.0).looks
    rate, _ = _false_rate(linear_at_distance, Schedule(looks, (alpha,) * len(looks)), trials)
    assert rate > alpha + 3 * math.sqrt(alpha * (1 - alpha) / trials)


def test_unanimous_votes_stop_at_the_first_look() -> None:
    """p_A = 1: both radii certified with the first 100 samples, at that look's level 0.0005 / 20."""
    schedule = Schedule.geometric(100_000, 0.001)
    assert len(schedule.looks) == 21 and schedule.looks[:4] == (100, 141, 200, 283)
    assert schedule.looks[-3:] == (51200, 72408, 100_000) and math.isclose(sum(schedule.alphas), 0.001)
    smooth = Smooth(Constant(), num_classes=3, sigma=0.5)
    cert = certify_sequential(smooth, torch.zeros(4), [0.5, 0.25], 100, schedule, 1000, torch.Generator())
    assert cert.prediction == 2 and cert.certified == (True, True) and cert.radius == 0.5
    assert cert.n == 100 and cert.samples == 200 and cert.count == 100
    assert cert.p_lower == pytest.approx((0.0005 / 20) ** (1 / 100), rel=1e-12)


def test_a_radius_out_of_reach_is_abandoned_at_once() -> None:
    """Radius 2.0 at sigma 0.5 needs p_A > Phi(4) and more than 100,000 unanimous samples."""
    smooth = Smooth(Constant(), num_classes=3, sigma=0.5)
    cert = certify_sequential(smooth, torch.zeros(4), [0.25, 2.0], 100, Schedule.geometric(100_000, 0.001),
                              1000, torch.Generator())
    assert cert.certified == (True, False) and cert.radius == 0.25 and cert.n == 100


def test_a_coin_flip_abstains(linear_at_distance) -> None:
    model, x, _ = linear_at_distance(0.0)  # p_A = 1/2 exactly
    cert = certify_sequential(Smooth(model, 2, 1.0), x, [0.1], 50, Schedule.geometric(3000, 0.001), 1000,
                              torch.Generator().manual_seed(0))
    assert cert.prediction == ABSTAIN and cert.radius == 0.0 and cert.certified == (False,)
    assert cert.samples == 50 + cert.n <= 3050


def test_schedule_validation() -> None:
    assert Schedule.geometric(50, 0.01).looks == (50,) and Schedule.geometric(50, 0.01).alphas == (0.01,)
    assert Schedule.geometric(250, 0.01, first=100, growth=1.5).looks == (100, 150, 225, 250)
    assert Schedule.geometric(1000, 0.001).looks == (100, 141, 200, 283, 400, 566, 800, 1000)
    with pytest.raises(ValueError, match="increasing"):
        Schedule((100, 100), (0.1, 0.1))
    with pytest.raises(ValueError, match="radii"):
        certify_sequential(Smooth(Constant(), 3, 0.5), torch.zeros(2), [-1.0], 10, Schedule((10,), (0.1,)))
