"""Small architectures for digits, MNIST and tests."""

from __future__ import annotations

import math

from torch import nn

from smoothcert.models.base import register_model


def _pooled(size: int, times: int) -> int:
    for _ in range(times):
        size //= 2
    return size


@register_model("digits_cnn")
def digits_cnn(num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    """Two 3x3 conv blocks (16, 32 channels, each ReLU + 2x2 max-pool), then 64 hidden units.

    About 0.1 MFLOP per 8x8 input: cheap enough to certify digits at N=10,000 on a CPU.
    """
    channels, height, width = input_shape
    flat = 32 * _pooled(height, 2) * _pooled(width, 2)
    return nn.Sequential(
        nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(flat, 64), nn.ReLU(), nn.Linear(64, num_classes),
    )


@register_model("lenet")
def lenet(num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    """The LeNet of the MNIST experiments (Salman et al. 2019; Jeong & Shin 2020).

    conv 1->20 5x5, ReLU, max-pool 2; conv 20->50 5x5, ReLU, max-pool 2;
    linear 800->500, ReLU; linear 500->classes (for 28x28 inputs).
    """
    channels, height, width = input_shape
    flat = 50 * (((height - 4) // 2 - 4) // 2) * (((width - 4) // 2 - 4) // 2)
    return nn.Sequential(
        nn.Conv2d(channels, 20, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(20, 50, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(flat, 500), nn.ReLU(), nn.Linear(500, num_classes),
    )


@register_model("mlp")
def mlp(num_classes: int, input_shape: tuple[int, ...]) -> nn.Module:
    """Flatten, one hidden layer of 64 ReLU units: for flat features and tiny tests."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), 64), nn.ReLU(), nn.Linear(64, num_classes))
