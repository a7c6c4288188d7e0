"""Ensembles as base classifiers (Horváth, Müller, Fischer & Vechev, ICLR 2022).

"Boosting Randomized Smoothing with Variance Reduced Classifiers": the base
classifier is the ensemble f(x) = argmax_c mean_m z_m(x)_c of M members, with
z_m a member's logits (``aggregate="logits"``, their default) or its softmax
(``aggregate="softmax"``). Every noisy input is seen by every member: one
noise sample, shared, per vote. To the smoothing guarantee the ensemble is one
classifier like any other.

**Early exit** (``exit_margin=True``, softmax only): members run in order, and
a row stops as soon as the remaining members cannot change its argmax: with
softmax outputs in [0, 1], after k of M members the leader's sum exceeds every
other class's by more than M - k (plus a rounding allowance), so the full
ensemble's argmax is already decided. Unlike the authors' K-consensus (stop
when the first K members agree, which defines a different classifier), this
gives the full ensemble's votes exactly; since each member adds at most 1 to
a margin, only members after a confident majority are ever skipped (members
k + 1..M on rows where the first k > M/2 are near-certain and agree);
``member_rows`` counts the rows each member evaluated. Rows that go on are evaluated by the later members as a smaller
batch; the identity assumes, as packing does, that a row's logits do not
depend on the other rows of its batch (true in eval mode for ordinary layers).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

_ROUNDING = 1e-4  # float32 sums of M softmax rows err by far less; a decided margin must exceed M - k by this


class Ensemble(nn.Module):
    """The mean of the members' logits (or softmax) as logits of one classifier; batch in, logits out.

    Example:
        >>> ensemble = Ensemble([model_a, model_b, model_c])
        >>> Smooth(ensemble, num_classes=10, sigma=0.25).certify(x, 100, 100_000, 0.001)
    """

    def __init__(self, members: Sequence[nn.Module], *, aggregate: str = "logits", exit_margin: bool = False) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        if aggregate not in ("logits", "softmax"):
            raise ValueError(f"aggregate must be 'logits' or 'softmax', got {aggregate!r}")
        if exit_margin and aggregate != "softmax":
            raise ValueError("the exact early exit needs bounded outputs: use aggregate='softmax'")
        self.members = nn.ModuleList(members)
        self.aggregate = aggregate
        self.exit_margin = exit_margin
        self.member_rows = [0] * len(members)

    def _output(self, index: int, x: torch.Tensor) -> torch.Tensor:
        self.member_rows[index] += x.shape[0]
        out = self.members[index](x)
        return out.softmax(dim=1) if self.aggregate == "softmax" else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = self._output(0, x)
        count = len(self.members)
        if not self.exit_margin:
            for index in range(1, count):
                total = total + self._output(index, x)
            return total / count
        rows = torch.arange(x.shape[0], device=x.device)  # rows still undecided
        for index in range(1, count):
            top2 = total[rows].topk(2, dim=1).values if total.shape[1] > 1 else None
            if top2 is not None:
                undecided = (top2[:, 0] - top2[:, 1]) <= (count - index) + _ROUNDING
                rows = rows[undecided]
            if rows.numel() == 0:
                break
            total = total.index_add(0, rows, self._output(index, x[rows]))
        # decided rows keep a partial sum whose argmax is the full ensemble's; scale is irrelevant to the vote
        return total / count
