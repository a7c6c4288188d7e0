"""The Smooth core on classifiers whose smoothed behaviour is known exactly."""

from __future__ import annotations

import pytest
import torch
from scipy.stats import norm
from torch import nn

from smoothcert import Smooth, stats


class Constant(nn.Module):
    def __init__(self, label: int, classes: int = 3) -> None:
        super().__init__()
        self.label, self.classes = label, classes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(x.shape[0], self.classes)
        logits[:, self.label] = 1.0
        return logits


class Alternating(nn.Module):
    """Class 0 for even rows of the batch, 1 for odd rows: an exact tie for even n."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(x.shape[0], 2)
        logits[torch.arange(x.shape[0]) % 2 == 1, 1] = 1.0
        logits[torch.arange(x.shape[0]) % 2 == 0, 0] = 1.0
        return logits


def test_constant_classifier_certifies_the_all_agree_radius() -> None:
    smooth = Smooth(Constant(2), num_classes=3, sigma=0.5)
    cert = smooth.certify(torch.zeros(1, 4, 4), n0=10, n=1000, alpha=0.001, batch_size=300)
    assert cert.prediction == 2 and cert.count == 1000 and cert.n == 1000
    assert cert.p_lower == pytest.approx(0.001 ** (1 / 1000), rel=1e-12)
    assert cert.radius == pytest.approx(0.5 * norm.ppf(0.001 ** (1 / 1000)), rel=1e-12)
    assert cert.radius == pytest.approx(stats.max_radius(1000, 0.001, 0.5), rel=1e-12)


def test_fifty_fifty_classifier_abstains(linear_at_distance) -> None:
    model, x, _ = linear_at_distance(0.0)  # on the boundary: p_A = 1/2 exactly
    smooth = Smooth(model, num_classes=2, sigma=1.0)
    cert = smooth.certify(x, n0=100, n=10_000, alpha=0.001, generator=torch.Generator().manual_seed(0))
    assert cert.prediction == Smooth.ABSTAIN and cert.radius == 0.0


def test_predict_abstains_on_a_tie() -> None:
    smooth = Smooth(Alternating(), num_classes=2, sigma=0.25)
    assert smooth.predict(torch.zeros(3), n=1000, alpha=0.001, batch_size=100) == Smooth.ABSTAIN


def test_predict_returns_a_clear_winner() -> None:
    smooth = Smooth(Constant(1), num_classes=3, sigma=0.25)
    assert smooth.predict(torch.zeros(3), n=100, alpha=0.001) == 1


def test_sample_counts_sum_and_flat_inputs() -> None:
    smooth = Smooth(Constant(0, classes=4), num_classes=4, sigma=1.0)
    counts = smooth.sample_counts(torch.zeros(7), num=2501, batch_size=1000)
    assert counts.dtype == torch.long and counts.tolist() == [2501, 0, 0, 0]


def test_same_seed_same_certificate_bit_for_bit(linear_at_distance) -> None:
    model, x, _ = linear_at_distance(0.3)
    smooth = Smooth(model, num_classes=2, sigma=0.5)
    a = smooth.certify(x, 50, 5000, 0.001, 700, torch.Generator().manual_seed(11))
    b = smooth.certify(x, 50, 5000, 0.001, 700, torch.Generator().manual_seed(11))
    c = smooth.certify(x, 50, 5000, 0.001, 700, torch.Generator().manual_seed(12))
    assert a == b
    assert a.count != c.count  # a different seed draws different noise


def test_estimation_samples_are_fresh() -> None:
    """CERTIFY must draw n0 + n distinct noise samples, not reuse the n0 selection samples.

    Every forward pass has batch_size rows; the padding rows of a short chunk are exact zeros,
    which Gaussian noise around x = 0 never is.
    """
    seen: list[torch.Tensor] = []

    class Recorder(Constant):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(x.clone())
            return super().forward(x)

    Smooth(Recorder(0), 3, 0.5).certify(torch.zeros(2), n0=30, n=200, alpha=0.01, batch_size=1000)
    assert [batch.shape[0] for batch in seen] == [1000, 1000]  # one shape for every pass
    rows = [batch[(batch != 0).any(dim=1)] for batch in seen]
    assert [len(r) for r in rows] == [30, 200]
    assert len({tuple(row.tolist()) for row in torch.cat(rows)}) == 230


def test_nan_logits_are_an_error() -> None:
    class NaNModel(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.full((x.shape[0], 2), float("nan"))

    with pytest.raises(ValueError, match="NaN"):
        Smooth(NaNModel(), 2, 0.5).sample_counts(torch.zeros(2), 10)


def test_wrong_logit_width_is_an_error() -> None:
    with pytest.raises(ValueError, match="expected"):
        Smooth(Constant(0, classes=3), num_classes=10, sigma=0.5).sample_counts(torch.zeros(2), 10)


@pytest.mark.parametrize("kwargs", [{"n0": 0}, {"n": 0}, {"alpha": 0.0}, {"alpha": 1.0}])
def test_bad_sampling_arguments(kwargs: dict) -> None:
    args = {"n0": 10, "n": 10, "alpha": 0.01, **kwargs}
    with pytest.raises(ValueError):
        Smooth(Constant(0), 3, 0.5).certify(torch.zeros(2), **args)


def test_sigma_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Smooth(Constant(0), 3, 0.0)


def test_model_runs_in_eval_mode_and_its_mode_is_restored() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.Dropout(0.9))
    modes: list[bool] = []
    model.register_forward_hook(lambda module, inputs, output: modes.append(module.training))
    model.train()
    Smooth(model, 3, 0.5).sample_counts(torch.zeros(4), 10)
    assert modes == [False] and model.training
    model.eval()
    Smooth(model, 3, 0.5).certify(torch.zeros(4), 10, 20, 0.1)
    assert not model.training
