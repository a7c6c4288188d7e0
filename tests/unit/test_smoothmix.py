"""SmoothMix: the loss equals a float64 NumPy computation of the authors' train.py on a tiny linear model.

The method draws m noise tensors of the batch's shape (m calls of ``randn_like``),
then ``rand(b)`` for the mixing weights. Each test seeds torch's RNG, draws the
same values itself, and recomputes attack and loss from the formulas.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from smoothcert.cli.main import main
from smoothcert.errors import UserError
from smoothcert.methods import create_method
from smoothcert.methods.smoothmix import mixup

W = np.array([[0.5, -1.0, 0.25, 0.0], [-0.5, 0.75, 1.0, -0.25], [0.2, 0.1, -0.6, 0.9]])
B = np.array([0.1, -0.2, 0.05])
X = np.array([[[[0.2, 0.7], [0.4, 0.9]]], [[[0.6, 0.1], [0.3, 0.5]]]])
SIGMA, SCALE = 0.25, 4.0
LABELS = np.array([2, 0])  # what the scaled model predicts for X: the correct-prediction mask is on


def linear_model(scale: float = SCALE) -> nn.Module:
    layer = nn.Linear(4, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(W * scale))
        layer.bias.copy_(torch.tensor(B * scale))
    return nn.Sequential(nn.Flatten(), layer).double()


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def probs(v: np.ndarray) -> np.ndarray:
    return softmax(SCALE * (W @ v + B))


def draws(m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The method's draws: noise (m, b, 4) and the mixing weights lambda = rand(b) / 2."""
    torch.manual_seed(seed)
    noise = torch.stack([torch.randn(X.shape, dtype=torch.float64) * SIGMA for _ in range(m)])
    lam = torch.rand(2, dtype=torch.float64) / 2
    return noise.numpy().reshape(m, 2, 4), lam.numpy()


def renorm(d: np.ndarray, r: float) -> np.ndarray:
    n = np.linalg.norm(d)
    return d * (r / (n + 1e-7)) if n > r else d


def attack(x: np.ndarray, y: int, noise: np.ndarray, steps: int, alpha: float, mix_step: int,
           maxnorm: float | None, clean_radius: float) -> tuple[np.ndarray, np.ndarray]:
    """x_c and x_adv of one image: gradient of -log mean_j p_j[y] is -(1/m) sum_j p_j[y] s W^T (e_y - p_j) / p̄[y]."""
    adv, init = x.copy(), x.copy()
    for step in range(steps):
        if step == mix_step:
            init = adv.copy()
        ps = [probs(adv + d) for d in noise]
        grad = -np.mean([p[y] * SCALE * W.T @ (np.eye(3)[y] - p) for p in ps], axis=0) / np.mean([p[y] for p in ps])
        moved = adv + alpha * grad / (np.linalg.norm(grad) + 1e-8)
        adv = np.clip(moved if maxnorm is None else x + renorm(moved - x, maxnorm), 0, 1)
    return np.clip(x + renorm(init - x, clean_radius), 0, 1), adv


def expected_loss(m: int, steps: int, alpha: float, mix_step: int, eta: float, v: float,
                  maxnorm: float | None) -> dict[str, float]:
    noise, lam = draws(m)
    xs = X.reshape(2, 4)
    ce, mix, correct = [], [], []
    for i in range(2):
        x_c, x_adv = attack(xs[i], LABELS[i], noise[:, i], steps, alpha, mix_step, maxnorm, v * alpha * mix_step)
        p_c = [probs(x_c + d) for d in noise[:, i]]
        ce += [-math.log(p[LABELS[i]]) for p in p_c]
        avg = np.mean(p_c, axis=0)
        target = (1 - lam[i]) * avg + lam[i] / 3
        x_mix = (1 - lam[i]) * x_c + lam[i] * x_adv
        ok = float(np.argmax(avg) == LABELS[i])
        correct.append(ok)
        mix += [ok * float(np.sum(target * (np.log(target) - np.log(probs(x_mix + d))))) for d in noise[:, i]]
    return {"ce": float(np.mean(ce)), "mix": float(np.mean(mix)), "correct": float(np.mean(correct)),
            "loss": float(np.mean(ce)) + eta * v * float(np.mean(mix))}


def run(seed: int = 0, model: nn.Module | None = None, epoch: int = 100, **options: object) -> dict[str, torch.Tensor]:
    method = create_method("smoothmix", sigma=SIGMA, **options)
    method.set_epoch(epoch)
    model = model or linear_model()
    torch.manual_seed(seed)
    return method(model, torch.tensor(X), torch.tensor(LABELS))


# alpha 0.2: the clean side of one image is right and of the other wrong, so both branches of the mask
# run (with alpha 0.8 and mix_step 1 both clean sides are wrong and the mixup term vanishes).
@pytest.mark.parametrize("mix_step, maxnorm, epoch", [(1, None, 100), (1, 0.3, 1), (0, None, 3), (2, 0.3, 1)])
def test_loss_matches_hand_computation(mix_step: int, maxnorm: float | None, epoch: int) -> None:
    m, steps, alpha, eta, warmup = 3, 3, 0.2, 5.0, 4
    out = run(epoch=epoch, num_noise=m, num_steps=steps, alpha=alpha, eta=eta, mix_step=mix_step, maxnorm=maxnorm,
              warmup=warmup)
    v = min(1.0, (epoch + 1) / warmup)
    expected = expected_loss(m, steps, alpha, mix_step, eta, v, maxnorm)
    for key in ("loss", "ce", "mix", "correct"):
        torch.testing.assert_close(out[key], torch.tensor(expected[key], dtype=out[key].dtype), msg=key)
    assert expected["mix"] > 0.1 and expected["correct"] == 0.5  # the mixup term is active, and masked for one image
    assert float(out["v"]) == v


def test_mixup_target_carries_gradient_into_the_clean_prediction() -> None:
    """The gradient of the method's loss is that of the formula with p̄_c not detached (and differs from detached)."""
    m, options = 2, dict(num_noise=2, num_steps=2, alpha=0.2, eta=5.0, mix_step=1, warmup=1)
    model = linear_model()
    run(model=model, **options)["loss"].backward()
    got = [p.grad.clone() for p in model.parameters()]
    noise, lam = draws(m)
    xs = X.reshape(2, 4)
    sides = [attack(xs[i], LABELS[i], noise[:, i], 2, 0.2, 1, None, 0.2) for i in range(2)]
    x_c = torch.tensor(np.stack([s[0] for s in sides]))
    x_adv = torch.tensor(np.stack([s[1] for s in sides]))
    delta, lam_t, y = torch.tensor(noise), torch.tensor(lam), torch.tensor(LABELS)

    def gradients(detach: bool) -> list[torch.Tensor]:
        fresh = linear_model()
        logits_c = fresh((x_c.unsqueeze(0) + delta).flatten(0, 1))
        p_c = logits_c.softmax(1).view(m, 2, 3).mean(0)
        target = (1 - lam_t).view(-1, 1) * (p_c.detach() if detach else p_c) + lam_t.view(-1, 1) / 3
        x_mix = (1 - lam_t).view(-1, 1) * x_c + lam_t.view(-1, 1) * x_adv
        log_q = fresh((x_mix.unsqueeze(0) + delta).flatten(0, 1)).log_softmax(1).view(m, 2, 3)
        correct = (p_c.argmax(1) == y).double()
        mix = (correct * (target * (target.log() - log_q)).sum(-1)).mean()
        (F.cross_entropy(logits_c, y.repeat(m)) + 5.0 * mix).backward()
        return [p.grad for p in fresh.parameters()]

    for a, b in zip(got, gradients(detach=False), strict=True):
        torch.testing.assert_close(a, b)
    assert max(float((a - b).abs().max()) for a, b in zip(got, gradients(detach=True), strict=True)) > 1e-3


@pytest.mark.parametrize("lam", [0.0, 1.0])
def test_mixup_at_weight_zero_is_the_clean_side_and_at_one_the_adversary_and_uniform(lam: float) -> None:
    x_c, x_adv = torch.rand(3, 1, 2, 2, dtype=torch.float64), torch.rand(3, 1, 2, 2, dtype=torch.float64)
    p_c = torch.softmax(torch.randn(3, 4, dtype=torch.float64), dim=1)
    x_mix, target = mixup(x_c, x_adv, p_c, torch.full((3,), lam, dtype=torch.float64))
    if lam == 0.0:
        assert torch.equal(x_mix, x_c) and torch.equal(target, p_c)
    else:
        assert torch.equal(x_mix, x_adv) and torch.equal(target, torch.full_like(p_c, 0.25))
    half = mixup(x_c, x_adv, p_c, torch.full((3,), 0.5, dtype=torch.float64))
    torch.testing.assert_close(half[0], (x_c + x_adv) / 2)
    torch.testing.assert_close(half[1], (p_c + 0.25) / 2)


def test_eta_zero_is_gaussian_training_on_the_m_copies() -> None:
    out = run(num_noise=3, num_steps=2, mix_step=0, eta=0.0)
    noise, _ = draws(3)
    xs = X.reshape(2, 4)
    ce = np.mean([[-math.log(probs(xs[i] + d)[LABELS[i]]) for d in noise[:, i]] for i in range(2)])
    torch.testing.assert_close(out["loss"], torch.tensor(ce, dtype=torch.float64))  # mix_step 0: x_c = x exactly


def test_draws_m_noise_tensors_then_one_rand_and_nothing_else() -> None:
    run(seed=3, num_noise=2, num_steps=2)
    after = torch.rand(4)
    torch.manual_seed(3)
    for _ in range(2):
        torch.randn(X.shape, dtype=torch.float64)
    torch.rand(2, dtype=torch.float64)
    assert torch.equal(after, torch.rand(4))


def test_warmup_scales_the_term_and_the_clean_radius() -> None:
    method = create_method("smoothmix", sigma=0.5, alpha=2.0, mix_step=1, num_steps=4)
    seen = []
    for epoch in (0, 4, 9, 10, 50):
        method.set_epoch(epoch)
        seen.append((method.v, method.clean_radius))
    assert seen == [(0.1, 0.2), (0.5, 1.0), (1.0, 2.0), (1.0, 2.0), (1.0, 2.0)]
    fixed = create_method("smoothmix", sigma=0.5, alpha=2.0, mix_step=1, num_steps=4, maxnorm_s=0.5)
    fixed.set_epoch(4)
    assert fixed.clean_radius == 0.25


def test_batch_norm_updates_twice_per_step_and_not_during_the_attack() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 3)).double()
    model.train()
    run(model=model, num_noise=2, num_steps=3)
    assert int(model[2].num_batches_tracked) == 2 and model.training
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("options, fragment", [
    (dict(mix_step=8), "mix_step"), (dict(num_steps=0), "num_steps"), (dict(alpha=-1.0), "alpha"),
    (dict(maxnorm=-0.5), "maxnorm"), (dict(warmup=0), "warmup"), (dict(num_noise=1.5), "num_noise"),
])
def test_bad_options_are_user_errors(options: dict, fragment: str) -> None:
    with pytest.raises(UserError, match=fragment):
        create_method("smoothmix", sigma=0.25, **options)


def test_one_training_step_from_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "run"
    status = main(["train", "--dataset", "digits", "--arch", "digits_cnn", "--method", "smoothmix", "--sigma", "0.5",
                   "--epochs", "1", "--batch-size", "2048", "--device", "cpu", "--out", str(out), "--quiet",
                   "method_args.num_noise=2", "method_args.num_steps=2", "method_args.mix_step=1", "method_args.eta=5"])
    assert status == 0
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)
    assert ckpt["method"] == "smoothmix" and ckpt["config"]["method_args"]["mix_step"] == 1
    log = (out / "log.csv").read_text().splitlines()
    assert log[0].split(",")[:7] == ["epoch", "lr", "loss", "ce", "mix", "correct", "acc"] and len(log) == 2
