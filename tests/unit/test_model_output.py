"""No vote is counted from a forward pass whose logits are not exactly (rows, classes) and finite.

A base model that returns more rows than it was given would have its votes
counted twice: with the two-class linear model below at a point whose true
p_A is Phi(-0.1) < 1/2 for class 1, doubling the rows of class 1 only (the
"careless test-time augmentation" of the bug report) makes class 1 the
majority, and CERTIFY would print a radius. Each path that counts votes must
refuse instead: ``Smooth`` (sample_counts, certify, predict), the packed
engine (certify, predict) and sequential certification.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from smoothcert import Smooth
from smoothcert.certify.packing import PackedSmooth
from smoothcert.certify.seeds import example_generator
from smoothcert.sequential import Schedule, certify_sequential
from smoothcert.smooth import ModelOutputError


class Misbehaving(nn.Module):
    """Two-class linear scores, then one of several ways of breaking "batch in, logits out"."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = x.flatten(1).sum(dim=1)
        logits = torch.stack([-score, score], dim=1)
        if self.how == "rows_twice":
            return torch.cat([logits, logits])
        if self.how == "class1_rows_twice":  # duplicates only the rows that vote 1: inflates class 1's share
            return torch.cat([logits, logits[score > 0]])
        if self.how == "fewer_rows":
            return logits[: max(1, logits.shape[0] // 2)]
        if self.how == "extra_class":
            return torch.cat([logits, logits[:, :1]], dim=1)
        if self.how == "flat":
            return logits.flatten()
        bad = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}[self.how]
        logits = logits.clone()
        logits[-1, 0] = bad  # one row of the batch, enough to refuse
        return logits


SHAPES = ["rows_twice", "class1_rows_twice", "fewer_rows", "extra_class", "flat"]
VALUES = ["nan", "inf", "-inf"]
X = torch.full((4,), -0.1 / 2)  # score = sum(x) = -0.1 before noise: class 1 has p_A = Phi(-0.1 / (2 sigma)) < 1/2


def _paths() -> dict[str, Callable[[nn.Module], object]]:
    gen = lambda: example_generator(0, 0, torch.device("cpu"))  # noqa: E731

    def packed_certify(model: nn.Module) -> object:
        return list(PackedSmooth(model, 2, 0.5, 64).certify([(X, gen())], 10, 200, 0.001))

    def packed_predict(model: nn.Module) -> object:
        return list(PackedSmooth(model, 2, 0.5, 64).predict([(X, gen())], 200, 0.001))

    return {
        "sample_counts": lambda m: Smooth(m, 2, 0.5).sample_counts(X, 200, 64, gen()),
        "certify": lambda m: Smooth(m, 2, 0.5).certify(X, 10, 200, 0.001, 64, gen()),
        "predict": lambda m: Smooth(m, 2, 0.5).predict(X, 200, 0.001, 64, gen()),
        "packed_certify": packed_certify,
        "packed_predict": packed_predict,
        "sequential": lambda m: certify_sequential(Smooth(m, 2, 0.5), X, [0.1], 10,
                                                   Schedule.geometric(400, 0.001), 64, gen()),
    }


@pytest.mark.parametrize("path", list(_paths()))
@pytest.mark.parametrize("how", SHAPES)
def test_wrong_shape_is_refused_on_every_path(path: str, how: str) -> None:
    with pytest.raises(ModelOutputError, match="shape"):
        _paths()[path](Misbehaving(how))


@pytest.mark.parametrize("path", list(_paths()))
@pytest.mark.parametrize("how", VALUES)
def test_non_finite_logits_are_refused_on_every_path(path: str, how: str) -> None:
    with pytest.raises(ModelOutputError, match="non-finite"):
        _paths()[path](Misbehaving(how))


def test_the_false_certificate_the_check_prevents() -> None:
    """Counting the doubled rows would certify class 1, whose true p_A is below 1/2.

    The votes are recounted by hand from the model's own (bad) output, to show
    the check is what stands between this model and a radius.
    """
    sigma = 0.5
    gen = example_generator(0, 0, torch.device("cpu"))
    noisy = X + torch.randn((2000, 4), generator=gen) * sigma
    with torch.no_grad():
        votes = Misbehaving("class1_rows_twice")(noisy).argmax(dim=1)
    true_share = float((noisy.sum(dim=1) > 0).float().mean())
    counted_share = float(votes.float().mean())
    assert true_share < 0.5 < counted_share  # what naive counting would have believed
    with pytest.raises(ModelOutputError):
        Smooth(Misbehaving("class1_rows_twice"), 2, sigma).certify(X, 10, 2000, 0.001, 500, gen)
