"""Per-example noise: example ``idx`` draws from a generator seeded by ``(seed, idx)`` alone.

So results do not depend on the order of examples, on how they are batched or
packed, on ``--skip``/``--max``, on sharding across processes, or on interruption.
"""

from __future__ import annotations

import numpy as np
import torch

ATTACK_STREAM = 0xA77AC  # separates the attack's noise stream from the smoothing noise


def example_seed(seed: int, idx: int, *stream: int) -> int:
    """A 63-bit seed derived from ``(seed, idx, *stream)`` by NumPy's SeedSequence (well mixed, order-free)."""
    state = np.random.SeedSequence([seed, idx, *stream]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31 | int(state[1]) >> 1) & (2**63 - 1)


def example_generator(seed: int, idx: int, device: torch.device) -> torch.Generator:
    """The noise generator of example ``idx`` on ``device``."""
    return torch.Generator(device=device).manual_seed(example_seed(seed, idx))


def attack_generator(seed: int, idx: int, device: torch.device) -> torch.Generator:
    """The attack's noise generator of example ``idx``: independent of the smoothing noise of the same example."""
    return torch.Generator(device=device).manual_seed(example_seed(seed, idx, ATTACK_STREAM))
