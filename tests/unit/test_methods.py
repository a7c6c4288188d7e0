"""Training methods: each loss equals a float64 hand computation on a tiny linear model.

The methods draw their noise from torch's global RNG: m draws per image as one
tensor of shape (B, m, *S) (for Gaussian and stability, ``randn_like(inputs)``).
Each test seeds the RNG, draws that tensor itself, and recomputes the loss with
NumPy from the formulas of the papers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm
from torch import nn

from smoothcert.attacks import SmoothDDN, SmoothPGD
from smoothcert.errors import UserError
from smoothcert.methods import create_method, list_methods

W = np.array([[0.5, -1.0, 0.25, 0.0], [-0.5, 0.75, 1.0, -0.25], [0.2, 0.1, -0.6, 0.9]])
B = np.array([0.1, -0.2, 0.05])
X = np.array([[[[0.2, 0.7], [0.4, 0.9]]], [[[0.6, 0.1], [0.3, 0.5]]]])
Y = np.array([0, 2])
SIGMA = 0.5


def linear_model(scale: float = 1.0) -> nn.Module:
    layer = nn.Linear(4, 3)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(W * scale))
        layer.bias.copy_(torch.tensor(B * scale))
    return nn.Sequential(nn.Flatten(), layer).double()


def run(name: str, seed: int = 0, model: nn.Module | None = None, labels: np.ndarray = Y,
        **options: object) -> dict[str, torch.Tensor]:
    method = create_method(name, sigma=SIGMA, **options)
    model = model or linear_model()  # built before seeding: its initialization draws from the RNG
    torch.manual_seed(seed)
    return method(model, torch.tensor(X), torch.tensor(labels))


def draws(m: int, seed: int = 0) -> np.ndarray:
    """The method's noise: shape (B, m, 4) after flattening each image."""
    torch.manual_seed(seed)
    return (torch.randn((2, m, 1, 2, 2), dtype=torch.float64) * SIGMA).numpy().reshape(2, m, 4)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def probs(x: np.ndarray, scale: float = 1.0) -> np.ndarray:
    return softmax(scale * (W @ x + B))


def close(actual: torch.Tensor, expected: float) -> None:
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=actual.dtype))


def gaussian_ce(noise: np.ndarray) -> float:
    """Mean cross-entropy over every image and noisy copy."""
    return float(np.mean([[-math.log(probs(X[i].ravel() + d)[Y[i]]) for d in noise[i]] for i in range(2)]))


def kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.sum(p * (np.log(p) - np.log(q))))


def entropy(p: np.ndarray) -> float:
    return float(-np.sum(p * np.log(p)))


def test_all_methods_are_registered() -> None:
    assert {"gaussian", "smoothadv", "consistency", "consistency_smoothadv", "macer", "stability", "smoothmix",
            "catrs"} <= set(list_methods())


@pytest.mark.parametrize("kind", ["default", "xent", "kl", "mse"])
def test_consistency_matches_hand_computation(kind: str) -> None:
    lbd, eta, m = 3.0, 0.7, 3
    out = run("consistency", num_noise=m, lbd=lbd, eta=eta, consistency=kind)
    noise = draws(m)
    terms = []
    for i in range(2):
        ps = [probs(X[i].ravel() + d) for d in noise[i]]
        avg = sum(ps) / m
        k, h = np.mean([kl(avg, p) for p in ps]), entropy(avg)
        terms.append({"default": lbd * k + eta * h, "xent": lbd * (k + h), "kl": lbd * k,
                      "mse": lbd * np.sum((ps[1] - ps[0]) ** 2)}[kind])
    close(out["loss"], gaussian_ce(noise) + float(np.mean(terms)))
    close(out["ce"], gaussian_ce(noise))


def test_consistency_without_regularizer_is_gaussian_training_on_m_copies() -> None:
    out = run("consistency", num_noise=4, lbd=0.0, eta=0.0)
    close(out["loss"], gaussian_ce(draws(4)))
    # m = 1 and lbd = eta = 0 is exactly the Gaussian method on the same draw
    assert torch.equal(run("consistency", num_noise=1, lbd=0.0, eta=0.0)["loss"], run("gaussian")["loss"])


def test_consistency_with_one_copy_is_gaussian_plus_entropy() -> None:
    out = run("consistency", num_noise=1, lbd=5.0, eta=0.5)
    noise = draws(1)
    assert float(out["kl"]) == 0.0
    h = np.mean([entropy(probs(X[i].ravel() + noise[i, 0])) for i in range(2)])
    close(out["loss"], gaussian_ce(noise) + 0.5 * h)


def test_smoothadv_with_eps_zero_is_multi_noise_gaussian_training() -> None:
    out = run("smoothadv", num_noise=3, epsilon=0.0)
    close(out["loss"], gaussian_ce(draws(3)))
    assert float(out["adv_norm"]) == 0.0
    assert torch.equal(run("smoothadv", epsilon=0.0)["loss"], run("gaussian")["loss"])


@pytest.mark.parametrize("attack, no_grad, levels", [
    ("pgd", False, None), ("pgd", True, None), ("ddn", False, None), ("ddn", False, 256)])
def test_smoothadv_trains_on_the_attack_of_the_same_noise(attack: str, no_grad: bool, levels: int | None) -> None:
    model = linear_model(scale=3.0)
    model.train()
    labels = MACER_Y  # the model's own predictions: DDN returns x for an input already misclassified
    out = run("smoothadv", model=model, labels=labels, num_noise=2, epsilon=0.4, num_steps=3, attack=attack,
              no_grad_attack=no_grad, ddn_levels=levels)
    assert model.training and all(p.requires_grad for p in model.parameters())
    torch.manual_seed(0)
    noise = torch.randn((2, 2, 1, 2, 2), dtype=torch.float64) * SIGMA
    cls = SmoothPGD if attack == "pgd" else SmoothDDN
    extra = {"levels": levels} if levels else {}
    x_adv = cls(eps=0.4, sigma=SIGMA, num_steps=3, num_noise=2, no_grad=no_grad, **extra).attack(
        model, torch.tensor(X), torch.tensor(labels), noise)
    adv, flat = x_adv.numpy().reshape(2, 4), noise.numpy().reshape(2, 2, 4)
    ce = np.mean([[-math.log(probs(adv[i] + d, 3.0)[labels[i]]) for d in flat[i]] for i in range(2)])
    close(out["loss"], float(ce))
    close(out["adv_norm"], float(np.linalg.norm(adv - X.reshape(2, 4), axis=1).mean()))
    assert float(out["adv_norm"]) > 0.3  # the attack moved the inputs
    if levels:  # the quantized attack is another one here: the option reaches it
        plain = SmoothDDN(eps=0.4, sigma=SIGMA, num_steps=3, num_noise=2).attack(
            model, torch.tensor(X), torch.tensor(labels), noise)
        assert float((plain - x_adv).abs().max()) > 1e-4


def test_smoothadv_warmup_grows_epsilon_linearly() -> None:
    method = create_method("smoothadv", sigma=0.25, epsilon=1.0, warmup=4)
    seen = []
    for epoch in range(6):
        method.set_epoch(epoch)
        seen.append((method.current_epsilon, method.attacker.eps))
    assert seen == [(0.25, 0.25), (0.5, 0.5), (0.75, 0.75), (1.0, 1.0), (1.0, 1.0), (1.0, 1.0)]
    assert create_method("smoothadv", sigma=0.25, epsilon=1.0).attacker.eps == 1.0  # warmup 1: none


def test_consistency_smoothadv_is_consistency_on_adversarial_copies() -> None:
    options = dict(num_noise=2, lbd=2.0, eta=0.5, consistency="default")
    unperturbed = run("consistency_smoothadv", epsilon=0.0, **options)["loss"]
    assert torch.equal(unperturbed, run("consistency", **options)["loss"])
    model = linear_model(scale=3.0)
    out = run("consistency_smoothadv", model=model, epsilon=0.5, num_steps=2, warmup=1, **options)
    torch.manual_seed(0)
    noise = torch.randn((2, 2, 1, 2, 2), dtype=torch.float64) * SIGMA
    attack = SmoothPGD(eps=0.5, sigma=SIGMA, num_steps=2, num_noise=2)
    x_adv = attack.attack(model, torch.tensor(X), torch.tensor(Y), noise)
    adv, flat = x_adv.numpy().reshape(2, 4), noise.numpy().reshape(2, 2, 4)
    total = 0.0
    for i in range(2):
        ps = [probs(adv[i] + d, 3.0) for d in flat[i]]
        avg = sum(ps) / 2
        total += (np.mean([-math.log(p[Y[i]]) for p in ps]) + 2.0 * np.mean([kl(avg, p) for p in ps])
                  + 0.5 * entropy(avg))
    close(out["loss"], total / 2)


MACER_Y = np.array([2, 0])  # the classes the scaled linear model predicts for X


def test_macer_matches_hand_computation() -> None:
    # With weights x4 and beta = 1 the soft prediction is the label for both images,
    # with margins Phi^-1(p_A) - Phi^-1(p_B) of about 2.24 and 0.71: gamma = 1 puts
    # the second image inside the hinge and the first outside (checked below).
    model, k, beta, gamma, lbd = linear_model(scale=4.0), 4, 1.0, 1.0, 2.0
    out = run("macer", model=model, labels=MACER_Y, num_noise=k, beta=beta, gamma=gamma, lbd=lbd)
    noise = draws(k)
    ce, hinge, inside = 0.0, 0.0, []
    for i in range(2):
        x = X[i].ravel()
        ce += -math.log(np.mean([probs(x + d, 4.0)[MACER_Y[i]] for d in noise[i]]) + 1e-10)
        soft = np.mean([softmax(beta * 4.0 * (W @ (x + d) + B)) for d in noise[i]], axis=0)
        top = np.argsort(soft)[::-1]
        margin = norm.ppf(soft[top[0]]) - norm.ppf(soft[top[1]])
        assert top[0] == MACER_Y[i]
        if margin <= gamma:
            hinge += gamma - margin
            inside.append(i)
    assert inside == [1]
    robust = SIGMA / 2 * hinge / 2
    close(out["loss"], ce / 2 + lbd * robust)
    close(out["robust"], robust)
    close(out["hinged"], 0.5)
    # a wrong top class keeps an image out of the hinge: with the labels swapped, none is in
    assert float(run("macer", model=model, num_noise=k, beta=beta, gamma=gamma, lbd=lbd)["robust"]) == 0.0


def test_macer_deferred_start_trains_classification_alone() -> None:
    method = create_method("macer", sigma=SIGMA, num_noise=4, beta=1.0, gamma=1.0, lbd=2.0, deferred_epochs=2)
    model = linear_model(scale=4.0)
    losses = []
    for epoch in range(3):
        method.set_epoch(epoch)
        torch.manual_seed(0)
        out = method(model, torch.tensor(X), torch.tensor(MACER_Y))
        losses.append(tuple(float(out[key].detach()) for key in ("loss", "ce", "robust", "lbd")))
    assert losses[0] == losses[1] and losses[0][0] == losses[0][1] and losses[0][3] == 0.0
    assert losses[2][0] == pytest.approx(losses[2][1] + 2.0 * losses[2][2]) and losses[2][2] > 0


def test_macer_gradient_is_finite_with_saturated_softmax() -> None:
    model = linear_model(scale=40.0)  # beta * logits saturate: p_A rounds to 1 for some images
    out = run("macer", model=model, labels=MACER_Y, num_noise=4)
    out["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("divergence", ["kl", "xent"])
def test_stability_matches_hand_computation(divergence: str) -> None:
    out = run("stability", lbd=2.5, divergence=divergence)
    torch.manual_seed(0)
    noise = (torch.randn((2, 1, 2, 2), dtype=torch.float64) * SIGMA).numpy().reshape(2, 4)
    ce, stab = 0.0, 0.0
    for i in range(2):
        p, q = probs(X[i].ravel()), probs(X[i].ravel() + noise[i])
        ce += -math.log(p[Y[i]])
        stab += kl(p, q) if divergence == "kl" else float(-np.sum(p * np.log(q)))
    close(out["loss"], ce / 2 + 2.5 * stab / 2)
    close(out["stab"], stab / 2)


@pytest.mark.parametrize("name, options, fragment", [
    ("smoothadv", dict(epsilon=-0.5), "epsilon"),
    ("smoothadv", dict(attack="fgsm"), "attack"),
    ("smoothadv", dict(no_grad_attack=True, num_noise=1), "num_noise >= 2"),
    ("smoothadv", dict(warmup=0), "warmup"),
    ("smoothadv", dict(num_steps=0), "num_steps"),
    ("smoothadv", dict(ddn_levels=256), "needs attack ddn"),
    ("smoothadv", dict(attack="ddn", ddn_levels=1), "ddn_levels"),
    ("consistency", dict(consistency="js"), "consistency"),
    ("consistency", dict(consistency="mse", num_noise=1), "num_noise >= 2"),
    ("consistency", dict(lbd=-1.0), "lbd"),
    ("consistency_smoothadv", dict(eta=-1.0), "eta"),
    ("macer", dict(beta=0.0), "beta"),
    ("macer", dict(deferred_epochs=-1), "deferred_epochs"),
    ("stability", dict(divergence="js"), "divergence"),
    ("stability", dict(beta=1.0), "no option beta"),
])
def test_bad_options_are_user_errors(name: str, options: dict, fragment: str) -> None:
    with pytest.raises(UserError, match=fragment):
        create_method(name, sigma=0.25, **options)


def test_repr_lists_the_options() -> None:
    method = create_method("consistency_smoothadv", sigma=0.5, num_noise=4, lbd=1.0)
    assert repr(method) == (
        "ConsistencySmoothAdv(sigma=0.5, num_noise=4, lbd=1.0, eta=0.5, consistency='default', epsilon=2.0, "
        "num_steps=4, attack='pgd', warmup=10, no_grad_attack=False, ddn_levels=None)"
    )
