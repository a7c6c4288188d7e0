"""Margin diagnostics of a base model under noise (the one analysis module that runs a model).

Two margins per example (x, y):

* **Logit margin under noise**: ``z_y - max_{c != y} z_c`` of the logits
  ``z = f(x + delta)``, over ``num_noise`` draws delta ~ N(0, sigma^2 I),
  summarized per example by its mean, std and quantiles, and ``p_correct``,
  the fraction of draws where the margin is > 0 (the base model's accuracy
  under noise on x, whose lower bound CERTIFY turns into a radius).
* **Input-space margin** of the smoothed classifier: the smallest eps of a
  fixed grid at which the SmoothAdv L2 PGD attack
  (:class:`smoothcert.attacks.SmoothPGD`) flips the smoothed prediction away
  from y, found by bisection over the grid (this assumes the attack's
  success is monotone in eps). It is 0 when the smoothed classifier already
  misclassifies x, and ``inf`` when no eps of the grid flips it. The
  smoothed prediction is the majority vote of ``eval_noise`` fresh draws.
  eps is an L2 radius in the model's input space ([0,1] pixels), the units
  of sigma and of certified radii.

Every draw of example ``idx`` comes from its own generator seeded by
``(seed, idx)``, so results do not depend on batching. Nothing else in
:mod:`smoothcert.analysis` imports torch; this module is not imported by the
package's ``__init__``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from smoothcert.analysis.margin_files import MARGIN_COLUMNS, QUANTILES, quantile_column
from smoothcert.attacks import SmoothPGD, noisy_logits
from smoothcert.certify.seeds import example_generator


def example_noise(gens: Sequence[torch.Generator], num: int, x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``num`` draws N(0, sigma^2 I) per example, example i from ``gens[i]``: shape (B, num, *S)."""
    return torch.stack([torch.randn((num, *x.shape[1:]), generator=g, device=x.device, dtype=x.dtype)
                        for g in gens]) * sigma


def logit_margins(model: nn.Module, x: torch.Tensor, y: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """True-class logit minus the best other logit on each noisy copy: shape (B, m)."""
    with torch.inference_mode():
        logits = noisy_logits(model, x, noise).float()
    index = y.view(-1, 1, 1).expand(-1, logits.shape[1], 1)
    true = logits.gather(-1, index).squeeze(-1)
    others = logits.scatter(-1, index, float("-inf")).amax(-1)
    return true - others


def summarize_margins(margins: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-example summary of (B, m) margins: mean, std (ddof=1; 0 when m = 1), quantiles, p_correct."""
    out = {"margin_mean": margins.mean(1),
           "margin_std": margins.std(1) if margins.shape[1] > 1 else torch.zeros(margins.shape[0])}
    qs = torch.quantile(margins, torch.tensor(QUANTILES, dtype=margins.dtype, device=margins.device), dim=1)
    for q, row in zip(QUANTILES, qs, strict=True):
        out[quantile_column(q)] = row
    out["p_correct"] = (margins > 0).to(margins.dtype).mean(1)
    return out


def smoothed_prediction(model: nn.Module, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Majority vote of the base model over the noisy copies (lowest class on a tie): shape (B,)."""
    with torch.inference_mode():
        logits = noisy_logits(model, x, noise)
        votes = F.one_hot(logits.argmax(-1), logits.shape[-1]).sum(1)
    return votes.argmax(-1)


def input_margins(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, gens: Sequence[torch.Generator], *,
    sigma: float, grid: Sequence[float], steps: int = 20, attack_noise: int = 8, eval_noise: int = 100,
    clip: tuple[float, float] | None = (0.0, 1.0), seed: int = 0, clean: torch.Tensor | None = None,
) -> torch.Tensor:
    """Smallest eps of ``grid`` at which SmoothPGD flips the smoothed prediction away from y.

    Bisection over the sorted grid: about log2(len(grid) + 1) attacks per
    example, each with fresh noise from the example's generator. ``clean`` is
    the smoothed prediction at x if already known (else it is voted on
    ``eval_noise`` draws); ``seed`` seeds the random directions the attack
    takes where its gradient vanishes.

    Returns:
        float64 tensor (B,) on the CPU: the eps found; 0.0 where the smoothed
        classifier already misclassifies x; ``inf`` where no eps flips it.
    """
    eps_grid = sorted(float(e) for e in grid)
    if not eps_grid or eps_grid[0] <= 0:
        raise ValueError(f"the eps grid must hold positive radii, got {list(grid)}")
    batch = x.shape[0]
    if clean is None:
        clean = smoothed_prediction(model, x, example_noise(gens, eval_noise, x, sigma))
    result = torch.zeros(batch, dtype=torch.float64)
    lo = torch.full((batch,), -1, dtype=torch.long)  # largest grid index known not to flip
    hi = torch.full((batch,), len(eps_grid), dtype=torch.long)  # smallest known to flip (len: none)
    todo = (clean == y).cpu()
    direction_gen = torch.Generator(device=x.device).manual_seed(seed)
    while True:
        active = torch.nonzero(todo & (hi - lo > 1)).flatten()
        if active.numel() == 0:
            break
        mid = (lo[active] + hi[active]) // 2
        for k in torch.unique(mid).tolist():
            rows = active[mid == k]
            sub_gens = [gens[i] for i in rows.tolist()]
            xs, ys = x[rows.to(x.device)], y[rows.to(x.device)]
            attack = SmoothPGD(eps=eps_grid[k], sigma=sigma, num_steps=steps, num_noise=attack_noise, clip=clip)
            x_adv = attack.attack(model, xs, ys, example_noise(sub_gens, attack_noise, xs, sigma),
                                  generator=direction_gen)
            flipped = (smoothed_prediction(model, x_adv, example_noise(sub_gens, eval_noise, xs, sigma)) != ys).cpu()
            hi[rows[flipped]] = k
            lo[rows[~flipped]] = k
    grid_t = torch.tensor([*eps_grid, float("inf")], dtype=torch.float64)
    result[todo] = grid_t[hi[todo]]
    return result


def margin_rows(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, indices: Sequence[int], *,
    sigma: float, num_noise: int = 100, seed: int = 0, batch_size: int = 32,
    attack: dict | None = None, device: torch.device | str = "cpu",
    progress: Callable[[range], Iterable[int]] = lambda it: it,
) -> dict[str, np.ndarray]:
    """Margins of the examples ``indices`` of (``images``, ``labels``), one array per column.

    Args:
        model: Base classifier (batch in, logits out), already on ``device``.
        images, labels: The dataset, indexed by ``indices``.
        sigma: Noise level. num_noise: Draws for the logit margin (>= 1).
        seed: Example ``idx`` draws from a generator seeded by ``(seed, idx)``.
        batch_size: Examples per batch.
        attack: Keyword arguments of :func:`input_margins` (``grid`` at least),
            or ``None`` to skip the input-space margin (then the column is NaN).
        progress: Wraps the range of batch starts (e.g. a progress bar).

    Returns:
        ``{column: array}`` for every column of ``MARGIN_COLUMNS``; ``smoothed_pred``
        is the majority vote over the ``num_noise`` draws.
    """
    model.eval()
    device = torch.device(device)
    cols: dict[str, list[np.ndarray]] = {c: [] for c in MARGIN_COLUMNS}
    idx_all = list(indices)
    for start in progress(range(0, len(idx_all), batch_size)):
        idx = idx_all[start:start + batch_size]
        x = images[idx].to(device)
        y = labels[idx].to(device)
        gens = [example_generator(seed, i, device) for i in idx]
        noise = example_noise(gens, num_noise, x, sigma)
        margins = logit_margins(model, x, y, noise)
        summary = summarize_margins(margins)
        pred = smoothed_prediction(model, x, noise)
        if attack is not None:
            margin = input_margins(model, x, y, gens, sigma=sigma, seed=seed + start, clean=pred, **attack)
        else:
            margin = torch.full((len(idx),), float("nan"), dtype=torch.float64)
        cols["idx"].append(np.asarray(idx, dtype=np.int64))
        cols["label"].append(y.cpu().numpy().astype(np.int64))
        cols["smoothed_pred"].append(pred.cpu().numpy().astype(np.int64))
        for key, value in summary.items():
            cols[key].append(value.detach().cpu().double().numpy())
        cols["input_margin"].append(margin.numpy())
    return {c: np.concatenate(v) if v else np.zeros(0) for c, v in cols.items()}
