"""CAT-RS: the loss equals a float64 NumPy computation of the authors' train_catrs.py on a tiny linear model.

The method draws m noise tensors of the batch's shape (m calls of ``randn_like``),
then one ``binomial`` over the batch. Each test seeds torch's RNG, draws the same
values itself, and recomputes forward passes, the KL attack on the noise and the loss.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from smoothcert.errors import UserError
from smoothcert.methods import create_method
from smoothcert.methods.catrs import catrs_loss

W = np.array([[0.5, -1.0, 0.25, 0.0], [-0.5, 0.75, 1.0, -0.25], [0.2, 0.1, -0.6, 0.9]])
B = np.array([0.1, -0.2, 0.05])
X = np.array([[[[0.2, 0.7], [0.4, 0.9]]], [[[0.6, 0.1], [0.3, 0.5]]], [[[0.9, 0.3], [0.1, 0.2]]]])
SIGMA, SCALE = 0.5, 2.0
LABELS = np.array([2, 0, 1])
# Smoothed predictions as the pre-pass stores them: counts / N in float64, then float32 (a zero entry included).
ROWS = (torch.tensor([[60, 30, 10], [250, 0, 750], [100, 800, 100]], dtype=torch.float64) / 1000).float()


def linear_model(scale: float = SCALE, bias_scale: float | None = None) -> nn.Module:
    """f(v) = scale W v + bias_scale b (bias_scale defaults to scale)."""
    layer = nn.Linear(4, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(W * scale))
        layer.bias.copy_(torch.tensor(B * (scale if bias_scale is None else bias_scale)))
    return nn.Sequential(nn.Flatten(), layer).double()


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def kl(p: np.ndarray, q: np.ndarray) -> float:
    nz = p > 0
    return float(np.sum(p[nz] * (np.log(p[nz]) - np.log(q[nz]))))


def run(seed: int = 0, model: nn.Module | None = None, epoch: int = 0, labels: np.ndarray = LABELS,
        **options: object) -> dict[str, torch.Tensor]:
    method = create_method("catrs", sigma=SIGMA, **options)
    method.set_smoothed_prediction(ROWS)
    method.set_epoch(epoch)
    model = model or linear_model()
    torch.manual_seed(seed)
    return method(model, torch.tensor(X), torch.tensor(labels), indices=torch.arange(3))


def hand(m: int, steps: int, eps: float, lbd: float, scale: float = SCALE, labels: np.ndarray = LABELS,
         seed: int = 0, confidence_mask: bool = False, bias_scale: float | None = None) -> dict[str, object]:
    bias = B * (scale if bias_scale is None else bias_scale)
    torch.manual_seed(seed)
    noise = torch.stack([torch.randn(X.shape, dtype=torch.float64) * SIGMA for _ in range(m)])
    p_all = ROWS.double().numpy()
    xs, delta = X.reshape(3, 4), noise.numpy().reshape(m, 3, 4)

    def probs(v: np.ndarray) -> np.ndarray:
        return softmax(scale * W @ v + bias)

    ce = np.array([[-math.log(probs(xs[i] + delta[j, i])[labels[i]]) for j in range(m)] for i in range(3)])
    right = np.array([[np.argmax(probs(xs[i] + delta[j, i])) == labels[i] for j in range(m)] for i in range(3)])
    kls = np.zeros((3, m))
    for i in range(3):
        p = p_all[i]
        for j in range(m):
            d0 = delta[j, i]
            n = d0.copy()
            for _ in range(steps):
                # gradient of (1/m) KL(p || softmax(s (W(x + n) + b))) in n: (1/m) s W^T (sum(p) q - p)
                grad = scale * W.T @ (p.sum() * probs(xs[i] + n) - p) / m
                n = n + 2 * eps / steps * grad / (np.linalg.norm(grad) + 1e-8)
                diff = n - d0
                norm = np.linalg.norm(diff)
                n = d0 + (diff * eps / (norm + 1e-7) if norm > eps else diff)
                n = d0.mean() + (n - n.mean()) / np.sqrt(np.mean(n**2)) * np.sqrt(np.mean(d0**2))
            kls[i, j] = kl(p, probs(xs[i] + n))
    w = np.array([p_all[i, labels[i]] for i in range(3)]) if confidence_mask else right.mean(axis=1)
    accept = torch.binomial(torch.full((3,), float(m), dtype=torch.float64), torch.tensor(w)).long().clamp(min=1)
    k = accept.numpy()
    xent = np.array([np.sort(ce[i])[: k[i]].sum() / m for i in range(3)])
    full = k == m
    loss = float(np.mean(xent + lbd * kls.max(axis=1) * full))
    return {"loss": loss, "xent": float(xent.mean()), "full": full, "k": k, "w": w}


@pytest.mark.parametrize("steps, eps, confidence_mask", [(2, 0.5, False), (3, 1.0, True), (1, 0.25, False)])
def test_loss_matches_hand_computation(steps: int, eps: float, confidence_mask: bool) -> None:
    m, lbd = 4, 1.5
    out = run(num_noise=m, num_steps=steps, epsilon=eps, lbd=lbd, confidence_mask=confidence_mask)
    expected = hand(m, steps, eps, lbd, confidence_mask=confidence_mask)
    torch.testing.assert_close(out["loss"], torch.tensor(expected["loss"], dtype=torch.float64))
    torch.testing.assert_close(out["xent"], torch.tensor(expected["xent"], dtype=torch.float64))
    assert float(out["full"]) == pytest.approx(float(np.mean(expected["full"])))
    # the draws cover both kinds of image: all m copies kept (KL term on), and fewer (KL term off)
    assert 0 < np.sum(expected["full"]) < 3 and min(expected["k"]) < m, expected


# f(v) = 0.01 W v + 10 b: the bias's margin (0.5) dwarfs 0.01 W (x + n) for every noise here, so every
# noisy copy is classified 0 (argmax b), while the attack still has a gradient to follow.
FLAT = dict(scale=0.01, bias_scale=10.0)


def test_every_copy_right_keeps_all_and_adds_the_worst_kl() -> None:
    labels = np.zeros(3, dtype=np.int64)  # w = 1, so k = m for every image
    out = run(model=linear_model(**FLAT), labels=labels, num_noise=4, num_steps=2, epsilon=0.5, lbd=2.0)
    expected = hand(4, 2, 0.5, 2.0, labels=labels, **FLAT)
    assert list(expected["w"]) == [1.0, 1.0, 1.0] and list(expected["k"]) == [4, 4, 4]
    torch.testing.assert_close(out["loss"], torch.tensor(expected["loss"], dtype=torch.float64))
    assert float(out["full"]) == 1.0 and float(out["kl"]) > 0


def test_no_copy_right_keeps_the_easiest_copy_over_m_and_no_kl() -> None:
    labels = np.array([1, 2, 1])  # never predicted: w = 0, so k = max(0, 1) = 1 and no KL term
    out = run(model=linear_model(**FLAT), labels=labels, num_noise=4, num_steps=2, epsilon=0.5, lbd=2.0)
    expected = hand(4, 2, 0.5, 2.0, labels=labels, **FLAT)
    assert list(expected["w"]) == [0.0, 0.0, 0.0] and list(expected["k"]) == [1, 1, 1]
    torch.testing.assert_close(out["loss"], torch.tensor(expected["loss"], dtype=torch.float64))
    assert float(out["full"]) == 0.0 and float(out["kl"]) == 0.0


def test_loss_keeps_the_k_smallest_over_m() -> None:
    ce = torch.tensor([[3.0, 1.0, 2.0, 4.0], [0.5, 0.25, 1.0, 2.0]], dtype=torch.float64)
    kl = torch.tensor([[0.1, 0.7, 0.2, 0.3], [1.0, 2.0, 3.0, 0.5]], dtype=torch.float64)
    out = catrs_loss(ce, kl, torch.tensor([1.0, 0.0], dtype=torch.float64), lbd=2.0)  # k = 4 and max(0, 1) = 1
    assert out["accept"].tolist() == [4, 1] and out["full"].tolist() == [True, False]
    torch.testing.assert_close(out["xent"], torch.tensor([10.0 / 4, 0.25 / 4], dtype=torch.float64))
    torch.testing.assert_close(out["loss"], torch.tensor((10.0 / 4 + 2.0 * 0.7 + 0.25 / 4) / 2, dtype=torch.float64))


def test_attacked_noise_keeps_each_vectors_mean_not_its_rms() -> None:
    """n <- mu0 + s0 (n - mean n) / rms(n): the mean is restored exactly; the RMS is not (rms, not the centred std)."""
    from smoothcert.methods.catrs import catrs_attack

    torch.manual_seed(1)
    noise = torch.randn(4, 3, 1, 2, 2, dtype=torch.float64) * SIGMA
    model = linear_model()
    out = catrs_attack(model, torch.tensor(X), ROWS.double(), noise, eps=0.5, num_steps=3)
    flat, flat0 = out.flatten(2), noise.flatten(2)
    torch.testing.assert_close(flat.mean(-1), flat0.mean(-1))
    rms, rms0 = flat.pow(2).mean(-1).sqrt(), flat0.pow(2).mean(-1).sqrt()
    assert float((rms - rms0).abs().max()) > 1e-3
    assert float((flat - flat0).norm(dim=-1).min()) > 0.05  # and it moved
    assert model.training and all(p.requires_grad for p in model.parameters())


def test_draws_m_noise_tensors_then_one_binomial_and_nothing_else() -> None:
    run(seed=5, num_noise=2, num_steps=2)
    after = torch.rand(4)
    hand(2, 2, 1.0, 1.0, seed=5)  # seeds, draws the m noise tensors and then one binomial with the same w
    assert torch.equal(after, torch.rand(4))


def test_radius_doubles_from_its_epoch() -> None:
    method = create_method("catrs", sigma=0.5, epsilon=0.5, eps_double_epoch=3)
    seen = []
    for epoch in range(5):
        method.set_epoch(epoch)
        seen.append(method.current_epsilon)
    assert seen == [0.5, 0.5, 0.5, 1.0, 1.0]


def test_batch_norm_updates_twice_per_step_and_not_during_the_attack() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 3)).double()
    model.train()
    run(model=model, num_noise=2, num_steps=3)
    assert int(model[2].num_batches_tracked) == 2 and model.training


def test_needs_its_pretrained_model_and_the_rows() -> None:
    method = create_method("catrs", sigma=0.5)
    with pytest.raises(UserError, match=r"method_args\.pretrained"):
        method.smoothed_prediction_spec()
    with pytest.raises(RuntimeError, match="set_smoothed_prediction"):
        method(linear_model(), torch.tensor(X), torch.tensor(LABELS), indices=torch.arange(3))
    spec = create_method("catrs", sigma=0.5, pretrained="runs/g", prior_samples=50).smoothed_prediction_spec()
    assert (spec.checkpoint, spec.sigma, spec.num_samples, spec.batch_size, spec.seed) == ("runs/g", 0.25, 50, 1000, 0)


@pytest.mark.parametrize("options, fragment", [
    (dict(num_noise=0), "num_noise"), (dict(epsilon=-1.0), "epsilon"), (dict(prior_sigma=0.0), "prior_sigma"),
    (dict(confidence_mask="yes"), "confidence_mask"), (dict(prior_samples=0), "prior_samples"),
    (dict(pretrained=""), "pretrained"), (dict(eps_double_epoch=-1), "eps_double_epoch"),
])
def test_bad_options_are_user_errors(options: dict, fragment: str) -> None:
    with pytest.raises(UserError, match=fragment):
        create_method("catrs", sigma=0.25, **options)
