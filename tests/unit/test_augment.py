"""random_crop_flip: every output is one zero-padded shift (and maybe mirror) of its input, uniformly drawn."""

from __future__ import annotations

from collections import Counter

import torch
import torch.nn.functional as F

from smoothcert.data.augment import random_crop_flip


def _candidates(image: torch.Tensor, padding: int) -> dict[tuple[int, int, bool], torch.Tensor]:
    """All (row offset, column offset, flipped) windows of the padded image, computed by slicing."""
    _, height, width = image.shape
    padded = F.pad(image, (padding,) * 4)
    out = {}
    for top in range(2 * padding + 1):
        for left in range(2 * padding + 1):
            window = padded[:, top : top + height, left : left + width]
            out[(top, left, False)] = window
            out[(top, left, True)] = window.flip(-1)
    return out


def test_each_output_is_a_shift_and_offsets_and_flips_are_uniform() -> None:
    torch.manual_seed(0)
    n, padding = 3000, 2
    # distinct positive pixel values, so each window is recognisable
    images = (torch.arange(2 * 5 * 6, dtype=torch.float32).view(1, 2, 5, 6) + 1).repeat(n, 1, 1, 1)
    candidates = _candidates(images[0], padding)
    keys = {tuple(v.flatten().tolist()): k for k, v in candidates.items()}
    assert len(keys) == len(candidates)  # all 50 windows differ
    out = random_crop_flip(images, padding=padding)
    assert out.shape == images.shape
    drawn = Counter(keys[tuple(row.tolist())] for row in out.flatten(1))  # KeyError if not a window
    offsets = Counter((top, left) for top, left, _ in drawn.elements())
    flips = sum(count for (_, _, flipped), count in drawn.items() if flipped)
    # 25 offsets, each p = 1/25: expected 120, sd sqrt(3000 * 0.04 * 0.96) = 10.7; 5 sd is 54
    assert len(offsets) == 25 and all(abs(c - 120) < 54 for c in offsets.values())
    # flips ~ Binomial(3000, 1/2): sd 27.4; 5 sd is 137
    assert abs(flips - 1500) < 137


def test_is_deterministic_under_the_global_seed_and_keeps_the_device_and_dtype() -> None:
    x = torch.rand(4, 3, 8, 8)
    torch.manual_seed(3)
    a = random_crop_flip(x)
    torch.manual_seed(3)
    b = random_crop_flip(x)
    assert torch.equal(a, b) and a.dtype == x.dtype and a.device == x.device
