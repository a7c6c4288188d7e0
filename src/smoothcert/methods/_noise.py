"""Multiple noisy copies per input, shared by the multi-noise methods."""

from __future__ import annotations

import torch


def noise_draws(inputs: torch.Tensor, num: int, sigma: float) -> torch.Tensor:
    """``num`` draws N(0, sigma^2 I) per input from the global RNG: shape (B, num, *S).

    With ``num = 1`` the values are exactly those of ``torch.randn_like(inputs) * sigma``
    drawn at the same RNG state (same count, same order).
    """
    shape = (inputs.shape[0], num, *inputs.shape[1:])
    return torch.randn(shape, device=inputs.device, dtype=inputs.dtype) * sigma


def noisy_batch(inputs: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The copies ``inputs[i] + noise[i, j]`` as one batch of B*m, copies of an input adjacent."""
    return (inputs.unsqueeze(1) + noise).flatten(0, 1)


def copy_major_draws(inputs: torch.Tensor, num: int, sigma: float) -> torch.Tensor:
    """``num`` calls of ``randn_like(inputs) * sigma`` from the global RNG, stacked: shape (m, B, *S).

    The draws of the SmoothMix and CAT-RS scripts (a list of m noise tensors, one
    per copy, each covering the whole batch), value for value.
    """
    return torch.stack([torch.randn_like(inputs) * sigma for _ in range(num)])


def copies_of(inputs: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """``inputs + noise[j]`` for j = 0..m-1 as one batch of m*B, copy-major (the scripts' ``torch.cat``)."""
    return (inputs.unsqueeze(0) + noise).flatten(0, 1)
