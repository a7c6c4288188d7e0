"""smoothcert.attacks: exact steps on a linear model, constraints and strength on a trained digits model.

Hand computations use float64 NumPy on the same weights and noise; for a linear
model f(v) = W v + b the gradient of -log mean_j softmax(f(x + d_j))[y] is
-sum_j p_j[y] W^T (e_y - p_j) / sum_j p_j[y], with p_j = softmax(f(x + d_j)).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from smoothcert.attacks import ATTACKS, SmoothDDN, SmoothPGD, smoothed_nll
from smoothcert.checkpoints.store import load_checkpoint, model_from_checkpoint
from smoothcert.data import create_dataset

W = np.array([[0.5, -1.0, 0.25, 0.0], [-0.5, 0.75, 1.0, -0.25], [0.2, 0.1, -0.6, 0.9]])
B = np.array([0.1, -0.2, 0.05])
X = np.array([[[[0.2, 0.7], [0.4, 0.9]]], [[[0.6, 0.1], [0.3, 0.5]]]])
Y = np.array([0, 2])


def linear_model() -> nn.Module:
    layer = nn.Linear(4, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(W))
        layer.bias.copy_(torch.tensor(B))
    return nn.Sequential(nn.Flatten(), layer)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _grad(x: np.ndarray, y: int, noise: np.ndarray) -> np.ndarray:
    """Gradient of the smoothed loss at one input x (shape (4,)), noise (m, 4)."""
    ps = [_softmax(W @ (x + d) + B) for d in noise]
    num = sum(p[y] * W.T @ (np.eye(3)[y] - p) for p in ps)
    return -num / sum(p[y] for p in ps)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _renorm(delta: np.ndarray, eps: float) -> np.ndarray:
    """torch.renorm(p=2, maxnorm=eps) of one perturbation: scaled by eps / (norm + 1e-7) when its norm exceeds eps."""
    n = np.linalg.norm(delta)
    return delta * (eps / (n + 1e-7)) if n > eps else delta


def _fixed_noise(m: int, sigma: float, seed: int = 0) -> torch.Tensor:
    return torch.randn((2, m, 1, 2, 2), generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * sigma


def test_smoothed_nll_is_minus_log_mean_softmax() -> None:
    noise = _fixed_noise(3, 0.5)
    loss, logits = smoothed_nll(linear_model().double(), torch.tensor(X), torch.tensor(Y), noise)
    flat = noise.numpy().reshape(2, 3, 4)
    expected = [-math.log(np.mean([_softmax(W @ (X[i].ravel() + d) + B)[Y[i]] for d in flat[i]])) for i in range(2)]
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float64))
    assert logits.shape == (2, 3, 3)


def test_pgd_two_steps_match_hand_computation() -> None:
    eps, noise = 0.3, _fixed_noise(2, 0.5)
    attack = SmoothPGD(eps=eps, sigma=0.5, num_steps=2, num_noise=2, clip=None)
    x_adv = attack.attack(linear_model().double(), torch.tensor(X), torch.tensor(Y), noise)
    flat = noise.numpy().reshape(2, 2, 4)
    for i in range(2):
        x0 = X[i].ravel()
        x1 = x0 + eps * _unit(_grad(x0, Y[i], flat[i]))      # step 2·eps/T = eps
        x1 = x0 + _renorm(x1 - x0, eps)                        # projection onto the eps-ball
        x2 = x1 + eps * _unit(_grad(x1, Y[i], flat[i]))
        torch.testing.assert_close(x_adv[i].flatten(), torch.tensor(x0 + _renorm(x2 - x0, eps)))


def test_pgd_clips_into_the_box_then_projects_into_the_ball() -> None:
    """The SmoothAdv authors' order (PGD_L2: clamp_, then renorm_), pinned where the other order differs."""
    eps, noise = 0.6, _fixed_noise(2, 0.5)
    attack = SmoothPGD(eps=eps, sigma=0.5, num_steps=1, num_noise=2)
    x_adv = attack.attack(linear_model().double(), torch.tensor(X), torch.tensor(Y), noise)
    flat = noise.numpy().reshape(2, 2, 4)
    gaps = []
    for i in range(2):
        x0 = X[i].ravel()
        step = 2 * eps * _unit(_grad(x0, Y[i], flat[i]))     # one step of 2·eps/T
        expected = x0 + _renorm(np.clip(x0 + step, 0, 1) - x0, eps)
        other = np.clip(x0 + _renorm(step, eps), 0, 1)         # projecting first, then clipping
        torch.testing.assert_close(x_adv[i].flatten(), torch.tensor(expected))
        gaps.append(np.abs(expected - other).max())
    assert max(gaps) > 0.05, gaps  # the two orders differ on this input: the test pins which one runs


def test_no_grad_direction_is_the_noise_weighted_estimate() -> None:
    eps, noise = 0.2, _fixed_noise(3, 0.5)
    attack = SmoothPGD(eps=eps, sigma=0.5, num_steps=1, num_noise=3, no_grad=True, clip=None)
    x_adv = attack.attack(linear_model().double(), torch.tensor(X), torch.tensor(Y), noise)
    flat = noise.numpy().reshape(2, 3, 4)
    for i in range(2):
        x0 = X[i].ravel()
        estimate = -np.mean([_softmax(W @ (x0 + d) + B)[Y[i]] * d for d in flat[i]], axis=0)
        # one step of 2·eps along the unit estimate, projected back to radius eps
        torch.testing.assert_close(x_adv[i].flatten(), torch.tensor(x0 + _renorm(2 * eps * _unit(estimate), eps)))


def _majority(x: np.ndarray, noise: np.ndarray) -> int:
    votes = [int(np.argmax(W @ (x + d) + B)) for d in noise]
    return min(set(votes), key=lambda c: (-votes.count(c), c))  # most votes, smallest class on ties


@pytest.mark.parametrize("levels", [None, 256])
def test_ddn_two_steps_match_hand_computation(levels: int | None) -> None:
    # Step 0 sees x: if the majority vote is already wrong, the best perturbation is 0.
    # Otherwise it steps along the gradient and rescales to norm 1.05·eps; step 1 keeps
    # that perturbation if the vote there is wrong. The answer is the kept perturbation
    # projected onto the eps-ball, or x itself. With levels = 256 (the original's
    # DDN(quantize=True)), x + delta is rounded to k/255 and clipped at every step, and
    # the returned perturbation, after its projection, is rounded to k/255 too.
    noise = _fixed_noise(3, 0.25)
    flat = noise.numpy().reshape(2, 3, 4)
    model = linear_model().double()
    x, y = torch.tensor(X), torch.tensor(Y)
    box = {"levels": levels} if levels else {"clip": None}
    branches = set()
    for eps in (0.05, 3.0):
        x_adv = SmoothDDN(eps=eps, sigma=0.25, num_steps=2, num_noise=3, **box).attack(model, x, y, noise)
        for i in range(2):
            x0, direction = X[i].ravel(), _unit(_grad(X[i].ravel(), Y[i], flat[i]))
            if levels:
                worst = np.linalg.norm(np.maximum(x0, 1 - x0))  # the largest norm the box allows
                moved = np.clip(np.round((x0 + min(1.05 * eps, worst) * direction) * 255) / 255, 0, 1)
            else:
                moved = x0 + 1.05 * eps * direction
            if _majority(x0, flat[i]) != Y[i]:
                expected, branch = x0, "clean wrong"
            elif _majority(moved, flat[i]) != Y[i]:
                kept = _renorm(moved - x0, eps)
                expected, branch = x0 + (np.round(kept * 255) / 255 if levels else kept), "flipped"
            else:
                expected, branch = x0, "not flipped"
            branches.add(branch)
            torch.testing.assert_close(x_adv[i].flatten(), torch.tensor(expected))
    assert {"flipped", "not flipped"} <= branches


def test_configuration_repr_and_validation() -> None:
    attack = SmoothPGD(eps=0.5, sigma=0.25, num_steps=3, num_noise=4)
    assert repr(attack) == "SmoothPGD(eps=0.5, sigma=0.25, num_steps=3, num_noise=4, no_grad=False, clip=(0.0, 1.0))"
    assert "gamma=0.05" in repr(SmoothDDN(eps=1.0, sigma=0.5))
    assert set(ATTACKS) == {"pgd", "ddn"}
    for bad in (dict(eps=-0.1), dict(eps=math.nan), dict(num_steps=0), dict(num_noise=0),
                dict(no_grad=True, num_noise=1), dict(clip=(1.0, 0.0))):
        with pytest.raises(ValueError):
            SmoothPGD(**{"eps": 0.5, "sigma": 0.25, **bad})
    with pytest.raises(TypeError):
        SmoothPGD(0.5, 0.25)  # keyword-only
    with pytest.raises(ValueError, match="noise has shape"):
        attack.attack(linear_model(), torch.tensor(X).float(), torch.tensor(Y), torch.zeros(2, 3, 1, 2, 2))


def test_eps_zero_returns_the_input_and_draws_no_noise_twice() -> None:
    x = torch.tensor(X).float()
    for cls in (SmoothPGD, SmoothDDN):
        out = cls(eps=0.0, sigma=0.5, num_noise=2).attack(linear_model(), x, torch.tensor(Y))
        assert torch.equal(out, x) and out is not x


@pytest.fixture(scope="module")
def digits_model(digits_run: Path) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """The session's digits_cnn (tests/conftest.py: Gaussian training, sigma 0.25); 64 test images."""
    model = model_from_checkpoint(load_checkpoint(digits_run)).eval()
    test = create_dataset("digits", "test")
    return model, test.images[:64], test.labels[:64]


# Smallest mean loss increase on the attack's own draws (measured: about 1.7, 0.12, 1.1,
# 0.04): the gradient-free estimate from 16 draws in 64 dimensions is much noisier.
@pytest.mark.parametrize("cls, no_grad, gain", [
    (SmoothPGD, False, 1.0), (SmoothPGD, True, 0.06), (SmoothDDN, False, 0.5), (SmoothDDN, True, 0.015),
])
def test_attacks_stay_in_ball_and_box_and_raise_the_loss(digits_model, cls, no_grad, gain) -> None:
    model, x, y = digits_model
    eps, sigma = 0.75, 0.25
    attack = cls(eps=eps, sigma=sigma, num_steps=8, num_noise=16, no_grad=no_grad)
    gen = torch.Generator().manual_seed(1)
    noise = attack.draw_noise(x, gen)
    x_adv = attack.attack(model, x, y, noise, generator=gen)
    norms = (x_adv - x).flatten(1).norm(dim=1)
    assert float(norms.max()) <= eps * (1 + 1e-5)
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    with torch.no_grad():
        before = smoothed_nll(model, x, y, noise)[0].mean()
        after = smoothed_nll(model, x_adv, y, noise)[0].mean()
        fresh = attack.draw_noise(x, torch.Generator().manual_seed(2))  # the smoothed classifier, not the attack's
        before_fresh = smoothed_nll(model, x, y, fresh)[0].mean()
        after_fresh = smoothed_nll(model, x_adv, y, fresh)[0].mean()
    assert float(after) > float(before) + gain, (float(before), float(after))
    assert float(after_fresh) > float(before_fresh), (float(before_fresh), float(after_fresh))


def test_attack_restores_mode_and_flags_and_leaves_no_gradients() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 3))
    model[4].weight.requires_grad_(False)
    model.train()
    model[2].eval()  # a frozen batch norm inside a training model stays as it was
    stats = model[2].running_mean.clone()
    x = torch.tensor(X).float()
    SmoothPGD(eps=0.5, sigma=0.5, num_steps=2, num_noise=2).attack(model, x, torch.tensor(Y))
    assert model.training and model[1].training and not model[2].training
    assert model[1].weight.requires_grad and not model[4].weight.requires_grad
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(model[2].running_mean, stats)


def test_same_generator_seed_gives_the_same_adversarial_input(digits_model) -> None:
    model, x, y = digits_model
    attack = SmoothDDN(eps=0.5, sigma=0.5, num_steps=3, num_noise=4)
    first = attack.attack(model, x[:8], y[:8], generator=torch.Generator().manual_seed(5))
    second = attack.attack(model, x[:8], y[:8], generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, second)
