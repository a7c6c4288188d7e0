"""Batched training augmentation for in-memory image datasets.

The papers train on CIFAR-10 with torchvision's ``RandomCrop(32, padding=4)``
and ``RandomHorizontalFlip()``: zero-pad 4 pixels on each side, take a random
32x32 window (offsets uniform in 0..8), flip left-right with probability 1/2.
:func:`random_crop_flip` draws the same distribution for a whole batch at once,
on the batch's device; the random numbers come from torch's global CPU RNG,
which the training loop seeds and restores on resume.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop_flip(images: torch.Tensor, padding: int = 4) -> torch.Tensor:
    """Random ``padding``-pixel translation (zero fill) and horizontal flip of each image.

    Args:
        images: a batch ``(N, C, H, W)``.
        padding: the largest shift in pixels, in each direction.

    Returns:
        A new batch of the same shape; each output pixel is an input pixel or 0.

    Example:
        >>> x = torch.rand(8, 3, 32, 32)
        >>> random_crop_flip(x).shape
        torch.Size([8, 3, 32, 32])
    """
    n, _, height, width = images.shape
    offsets = torch.randint(0, 2 * padding + 1, (2, n))
    flips = torch.rand(n) < 0.5
    padded = F.pad(images, (padding, padding, padding, padding))
    device = images.device
    rows = (offsets[0].view(n, 1) + torch.arange(height)).to(device)  # (N, H)
    cols = (offsets[1].view(n, 1) + torch.arange(width)).to(device)  # (N, W)
    batch = torch.arange(n, device=device).view(n, 1, 1, 1)
    channel = torch.arange(images.shape[1], device=device).view(1, -1, 1, 1)
    cropped = padded[batch, channel, rows.view(n, 1, height, 1), cols.view(n, 1, 1, width)]
    return torch.where(flips.to(device).view(n, 1, 1, 1), cropped.flip(-1), cropped)
