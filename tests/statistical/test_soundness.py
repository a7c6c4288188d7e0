"""Soundness: certificates fail at most at rate alpha, and an attack inside a certified radius does not flip PREDICT.

**False certification on the linear ground truth.** For x at distance d from a
linear boundary, p_A = Phi(d / sigma) and the true radius is d exactly. A
certificate is false when it names class 0, or class 1 with a radius > d,
i.e. when the Clopper–Pearson bound exceeds p_A. Each setting puts p_A just
below a bound value L(k*) of the estimator, where the exact false rate
q = P(bound > p_A) is close to alpha (the worst case, up to the selection
step), and computes q exactly from the binomial law. With T seeded trials the
count of false certificates F ~ Binomial(T, q), q <= alpha. Asserted:

* soundness: F <= the (1 - 1e-4) quantile of Binomial(T, alpha); a sound
  implementation fails this with probability <= 1e-4 per setting; where
  alpha * T >= 50, an estimator with twice the error rate would pass it with
  probability < 1% (checked from the binomial law; the small-alpha settings
  have too few expected failures for that, and check the exact rate below);
* agreement with theory: F lies between the 1e-4 and 1 - 1e-4 quantiles of
  Binomial(T, q).

**Attack inside the certified radius.** CERTIFY x (class c, radius r), attack
the smoothed classifier with SmoothPGD at eps = 0.9 r, PREDICT at x_adv. If the
certificate holds (probability >= 1 - alpha_c) then g(x_adv) = c and PREDICT
returns another class with probability <= alpha_p, so a wrong (non-abstaining)
PREDICT has probability <= alpha_c + alpha_p; asserted as above with
Binomial(T, alpha_c + alpha_p) at 1 - 1e-4. On the linear model the attack is
optimal (it moves x by eps straight towards the boundary; checked), and the
same attack at eps = d + 0.1 sigma does flip PREDICT, so the check can fail.
"""

from __future__ import annotations

import pytest
import torch
from scipy.stats import binom, norm
from torch import nn

from smoothcert import Smooth, stats
from smoothcert.attacks import SmoothPGD

QUANTILE = 1 - 1e-4


def _exact_false_rate(p: float, n0: int, n: int, alpha: float) -> float:
    """P(false certificate) for a point whose true class-1 probability is p (> 1/2), computed exactly."""
    bounds = [stats.clopper_pearson_lower(k, n, alpha) for k in range(n + 1)]
    over = sum(binom.pmf(k, n, p) for k in range(n + 1) if bounds[k] > p)  # class 1, radius beyond d
    class0 = sum(binom.pmf(k, n, 1 - p) for k in range(n + 1) if bounds[k] >= 0.5)  # class 0 certified at all
    select1 = float(binom.sf(n0 // 2, n0, p))  # argmax picks class 1 only on a strict majority (ties -> 0)
    return select1 * over + (1 - select1) * class0


# (sigma, n, alpha, p_A aimed at, trials)
SETTINGS = [(0.25, 100, 0.05, 0.90, 2000), (0.5, 300, 0.02, 0.95, 3000), (1.0, 1000, 0.01, 0.99, 3000),
            (0.5, 1000, 0.001, 0.80, 4000)]


@pytest.mark.parametrize("sigma,n,alpha,aim,trials", SETTINGS)
def test_false_certification_rate_is_at_most_alpha(sigma, n, alpha, aim, trials, linear_at_distance) -> None:
    k_star = min(range(1, n + 1), key=lambda k: abs(stats.clopper_pearson_lower(k, n, alpha) - aim))
    p_aim = stats.clopper_pearson_lower(k_star, n, alpha) - 1e-6  # just below a bound value: the worst case
    model, x, _ = linear_at_distance(sigma * float(norm.ppf(p_aim)))
    d = model.distance(x)  # of the float32 point actually used
    p_a = float(norm.cdf(d / sigma))
    n0 = 10
    q = _exact_false_rate(p_a, n0, n, alpha)
    assert 0.5 * alpha < q <= alpha  # a near-worst case, so the test has teeth
    smooth = Smooth(model, num_classes=2, sigma=sigma)
    gen = torch.Generator().manual_seed(int(1e6 * sigma) + n)
    false = 0
    for _ in range(trials):
        cert = smooth.certify(x, n0=n0, n=n, alpha=alpha, batch_size=n + n0, generator=gen)
        if cert.prediction != Smooth.ABSTAIN:
            false += int(cert.prediction != 1 or cert.radius > d)
    bound = binom.ppf(QUANTILE, trials, alpha)
    power = 1 - binom.cdf(bound, trials, 2 * alpha)  # P(caught) for an estimator wrong at rate 2 alpha
    print(f"sigma={sigma} n={n} alpha={alpha} p_A={p_a:.6f}: {false}/{trials} false = {false / trials:.4f} "
          f"(exact {q:.4f}, allowed <= {int(bound)}; rate 2 alpha caught with probability {power:.3f})")
    assert false <= bound
    assert binom.ppf(1e-4, trials, q) <= false <= binom.ppf(QUANTILE, trials, q)
    if alpha * trials >= 50:
        assert power > 0.99


def _mlp() -> nn.Module:
    torch.manual_seed(5)
    return nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3)).eval()


def _attack_trials(model: nn.Module, classes: int, points: torch.Tensor, sigma: float, scale: float,
                   alpha_c: float, alpha_p: float, seed: int) -> tuple[int, int, list[tuple[torch.Tensor, ...]]]:
    """(certified, wrong PREDICTs at x_adv, [(x, x_adv, radius)]) for eps = scale * certified radius."""
    smooth = Smooth(model, num_classes=classes, sigma=sigma)
    gen = torch.Generator().manual_seed(seed)
    certified = wrong = 0
    pairs = []
    for x in points:
        cert = smooth.certify(x, n0=64, n=1000, alpha=alpha_c, batch_size=1064, generator=gen)
        if cert.prediction == Smooth.ABSTAIN:
            continue
        certified += 1
        attack = SmoothPGD(eps=scale * cert.radius, sigma=sigma, num_steps=10, num_noise=8, clip=None)
        x_adv = attack.attack(model, x.unsqueeze(0), torch.tensor([cert.prediction]), generator=gen)[0]
        predicted = smooth.predict(x_adv, n=1000, alpha=alpha_p, batch_size=1000, generator=gen)
        wrong += int(predicted not in (cert.prediction, Smooth.ABSTAIN))
        pairs.append((x, x_adv, cert.radius))
    return certified, wrong, pairs


def test_attack_inside_the_certified_radius_does_not_change_predict(linear_at_distance) -> None:
    sigma, alpha_c, alpha_p = 0.5, 0.01, 0.01
    model, _, _ = linear_at_distance(1.0)
    gen = torch.Generator().manual_seed(11)
    weight = torch.tensor([3.0, -4.0, 0.0, 0.0, 0.0]) / 5
    signs = torch.where(torch.rand(150, generator=gen) < 0.5, -1.0, 1.0)
    distances = (0.05 + 0.95 * torch.rand(150, generator=gen)) * signs
    off_axis = torch.randn(150, 5, generator=gen)
    off_axis -= (off_axis @ weight)[:, None] * weight  # orthogonal to w: the distance stays as drawn
    points = distances[:, None] * weight + off_axis  # both classes, 0.05 to 1 (0.1 to 2 sigma) from the boundary
    certified, wrong, pairs = _attack_trials(model, 2, points, sigma, 0.9, alpha_c, alpha_p, seed=12)
    allowed = binom.ppf(QUANTILE, certified, alpha_c + alpha_p)
    print(f"linear: {wrong}/{certified} PREDICT changed by an attack at 0.9 x certified radius (allowed {allowed:g})")
    assert certified > 120 and wrong <= allowed
    for x, x_adv, radius in pairs[:20]:  # the attack is the optimal one: straight to the boundary by eps
        assert abs(model.distance(x_adv)) == pytest.approx(abs(model.distance(x)) - 0.9 * radius, abs=1e-4)
    far = 0.2 * weight.repeat(20, 1)  # beyond the true radius: points at d = 0.2, attacked by d + 0.5 sigma
    smooth = Smooth(model, 2, sigma)
    attack = SmoothPGD(eps=0.2 + 0.5 * sigma, sigma=sigma, num_steps=10, num_noise=8, clip=None)
    x_adv = attack.attack(model, far, torch.ones(20, dtype=torch.long), generator=gen)
    flipped = sum(smooth.predict(x, n=1000, alpha=alpha_p, generator=gen) == 0 for x in x_adv)
    assert flipped == 20  # p(class 1) at x_adv is Phi(-0.5) = 0.31: PREDICT says 0 (the check can fail)


def test_attack_inside_the_certified_radius_on_a_nonlinear_model() -> None:
    sigma, alpha_c, alpha_p = 0.25, 0.01, 0.01
    model = _mlp()
    points = torch.randn(120, 6, generator=torch.Generator().manual_seed(13))
    certified, wrong, _ = _attack_trials(model, 3, points, sigma, 0.9, alpha_c, alpha_p, seed=14)
    allowed = binom.ppf(QUANTILE, certified, alpha_c + alpha_p)
    print(f"mlp: {wrong}/{certified} PREDICT changed by an attack at 0.9 x certified radius (allowed {allowed:g})")
    assert certified > 60 and wrong <= allowed
