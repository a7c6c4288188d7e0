"""Denoiser objectives and DnCNN: exact values on tiny inputs; the frozen classifier never changes.

The objectives (Salman et al. 2020, ``train_denoiser.py``): ``denoise_mse`` is the mean of the
squared error over *every pixel* of the batch (``MSELoss(reduction="mean")``); ``denoise_stability``
is the batch-mean cross-entropy of the frozen classifier on the denoised noisy input against the
classifier's own argmax on the clean input. Noise comes from the global RNG, one ``randn_like`` draw.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from smoothcert.errors import UserError
from smoothcert.methods import create_method
from smoothcert.methods.denoise import freeze
from smoothcert.models import create_model, is_denoiser
from smoothcert.models.dncnn import DnCNN
from smoothcert.train.builders import build_optimizer
from smoothcert.train.config import resolve_config

X = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]], [[[2.0, 4.0], [6.0, 8.0]]]], dtype=torch.float64)


class Constant(nn.Module):
    """A 'denoiser' that ignores its input: its output is a fixed tensor (plus 0 x input, to keep the graph)."""

    def __init__(self, value: torch.Tensor) -> None:
        super().__init__()
        self.value = nn.Parameter(value.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value.expand_as(x) + 0 * x


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = nn.Parameter(torch.tensor(factor, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.factor * x


def test_mse_averages_over_every_pixel_of_the_batch() -> None:
    method = create_method("denoise_mse", sigma=0.5)
    out = method(Constant(torch.zeros(1, 1, 2, 2, dtype=torch.float64)), X, torch.tensor([0, 1]))
    # sum of squares 30 + 120 over 8 pixels (a per-image sum would give 75, a per-image mean summed 37.5)
    torch.testing.assert_close(out["loss"], torch.tensor(150.0 / 8, dtype=torch.float64), rtol=0, atol=0)
    assert set(out) == {"loss", "mse"}


def test_mse_sees_the_noise_of_the_global_rng() -> None:
    method = create_method("denoise_mse", sigma=0.5)
    torch.manual_seed(3)
    out = method(Scale(0.5), X, torch.tensor([0, 1]))
    torch.manual_seed(3)
    noise = torch.randn_like(X) * 0.5
    expected = ((0.5 * (X + noise) - X) ** 2).sum() / X.numel()
    torch.testing.assert_close(out["loss"], expected, rtol=1e-15, atol=0)


def _linear_classifier() -> nn.Module:
    """Logits (sum, first pixel, -sum) of a flattened 2x2 image, in float64."""
    layer = nn.Linear(4, 3, bias=False).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 1, 1, 1], [1, 0, 0, 0], [-1, -1, -1, -1]]))
    return nn.Sequential(nn.Flatten(), layer)


def test_stability_is_cross_entropy_against_the_clean_prediction() -> None:
    clean = torch.tensor([[[[0.5, 0.5], [0.5, 0.5]]], [[[-1.0, -1.0], [-1.0, 1.0]]]], dtype=torch.float64)
    # clean logits: image 0 (2, 0.5, -2) -> class 0; image 1 (-2, -1, 2) -> class 2 (labels say otherwise)
    denoised = torch.tensor([[[0.25, 0.0], [0.0, 0.0]]], dtype=torch.float64)  # logits (0.25, 0.25, -0.25)
    method = create_method("denoise_stability", sigma=0.25, classifier=_linear_classifier())
    out = method(Constant(denoised), clean, torch.tensor([1, 1]))
    z = torch.tensor([0.25, 0.25, -0.25], dtype=torch.float64)
    lse = torch.logsumexp(z, 0)
    expected = ((lse - z[0]) + (lse - z[2])) / 2
    torch.testing.assert_close(out["loss"], expected, rtol=1e-15, atol=0)
    assert float(out["agree"]) == 0.5  # argmax of (0.25, 0.25, -0.25) is class 0: agrees with image 0 only
    assert float(out["acc"]) == 0.0  # labels are 1: never predicted


def test_stability_gradient_reaches_the_denoiser_not_the_classifier() -> None:
    classifier = _linear_classifier()
    method = create_method("denoise_stability", sigma=0.25, classifier=classifier)
    denoiser = Scale(0.9)
    torch.manual_seed(0)
    method(denoiser, X / 8, torch.tensor([0, 0]))["loss"].backward()
    assert denoiser.factor.grad is not None and float(denoiser.factor.grad) != 0.0
    assert all(p.grad is None and not p.requires_grad for p in classifier.parameters())


def _bn_classifier() -> nn.Module:
    """A classifier with batch norm and dropout (buffers and train-mode behaviour), in train mode."""
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5),
                        nn.Flatten(), nn.Linear(4 * 8 * 8, 10))
    with torch.no_grad():  # running statistics away from their initial values
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
        net[1].num_batches_tracked.fill_(7)
    return net.train()


def test_classifier_parameters_and_buffers_are_bit_identical_after_training_steps() -> None:
    classifier = _bn_classifier()
    before = {k: v.clone() for k, v in classifier.state_dict().items()}
    method = create_method("denoise_stability", sigma=0.5, classifier=classifier)
    assert not classifier.training  # frozen: eval mode, though it was handed over in train mode
    config = resolve_config(None, {"dataset": "digits", "arch": "dncnn", "method": "denoise_stability",
                                   "sigma": 0.5, "optimizer": "adam", "lr": 1e-2})
    denoiser = create_model("dncnn", 10, (1, 8, 8), depth=3, width=8)
    optimizer, _ = build_optimizer(config, denoiser)
    images, labels = torch.rand(16, 1, 8, 8), torch.randint(0, 10, (16,))
    denoiser.train()
    start = {k: v.clone() for k, v in denoiser.state_dict().items()}
    for _ in range(5):
        terms = method(denoiser, images, labels)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        optimizer.step()
    after = classifier.state_dict()
    assert list(after) == list(before)
    for key, value in before.items():
        assert torch.equal(after[key], value), key
    assert any(not torch.equal(v, start[k]) for k, v in denoiser.state_dict().items())  # the denoiser did move


def test_freeze_returns_the_same_module_frozen() -> None:
    net = _bn_classifier()
    assert freeze(net) is net and not net.training and not any(p.requires_grad for p in net.parameters())


@pytest.mark.parametrize(("name", "options", "fragment"), [
    ("denoise_mse", {"sigma": 0.0}, "sigma > 0"),
    ("denoise_stability", {"sigma": 0.25}, "classifier"),
    ("denoise_stability", {"sigma": 0.25, "classifier": "runs/lenet"}, "method_args.classifier"),
    ("standard", {"sigma": 0.25}, "takes no sigma"),
])
def test_bad_options_are_user_errors(name: str, options: dict, fragment: str) -> None:
    with pytest.raises(UserError, match=fragment):
        create_method(name, **options)


def test_standard_is_plain_cross_entropy_without_drawing_noise() -> None:
    model = _linear_classifier()
    torch.manual_seed(0)
    state = torch.get_rng_state()
    out = create_method("standard")(model, X / 8, torch.tensor([0, 2]))
    assert torch.equal(torch.get_rng_state(), state)  # no noise drawn
    torch.testing.assert_close(out["loss"], nn.functional.cross_entropy(model(X / 8), torch.tensor([0, 2])))


def test_dncnn_has_the_papers_layers_and_starts_as_the_identity() -> None:
    net = DnCNN(3)  # cifar_dncnn: 17 convolutions of 64 channels
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == 17 and len(norms) == 15
    assert [c.out_channels for c in convs] == [64] * 16 + [3]
    assert [c.bias is not None for c in convs] == [True] + [False] * 16
    assert (norms[0].eps, norms[0].momentum) == (1e-4, 0.95)
    params = 3 * 64 * 9 + 64 + 15 * (64 * 64 * 9 + 2 * 64) + 64 * 3 * 9
    assert sum(p.numel() for p in net.parameters()) == params == 558_400
    x = torch.rand(2, 3, 5, 7)
    assert torch.equal(net.train()(x), x) and torch.equal(net.eval()(x), x)  # last conv zero: D(y) = y


def test_dncnn_subtracts_the_predicted_noise() -> None:
    torch.manual_seed(0)
    net = DnCNN(1, depth=3, width=4).eval()
    nn.init.normal_(net.net[-1].weight)
    y = torch.rand(2, 1, 6, 6)
    torch.testing.assert_close(net(y), y - net.net(y), rtol=0, atol=0)


def test_dncnn_options_reach_the_builder_and_unknown_ones_are_refused() -> None:
    model = create_model("dncnn", 10, (1, 8, 8), depth=4, width=8)
    assert sum(isinstance(m, nn.Conv2d) for m in model.modules()) == 4
    with pytest.raises(UserError, match="no option layers; its options: depth, width"):
        create_model("dncnn", 10, (1, 8, 8), layers=4)
    with pytest.raises(UserError, match="depth >= 2"):
        create_model("dncnn", 10, (1, 8, 8), depth=1)
    assert math.isclose(create_model("dncnn", 10, (1, 8, 8))[1].net[3].momentum, 0.95)
    assert is_denoiser("dncnn") and not any(is_denoiser(name) for name in ("lenet", "mlp", "digits_cnn"))
