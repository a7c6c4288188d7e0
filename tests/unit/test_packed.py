"""The packed engine and the exact model rewrites give the plain path's results bit for bit (fp32, CPU)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from smoothcert import Smooth
from smoothcert.certify.packing import PackedSmooth
from smoothcert.certify.rewrites import _WindowMaxPool, prepare_model
from smoothcert.certify.seeds import example_generator
from smoothcert.checkpoints.store import load_checkpoint, model_from_checkpoint
from smoothcert.models import create_model
from smoothcert.smooth import ModelOutputError

CPU = torch.device("cpu")
SETTINGS = [(100, 1000, 1000), (20, 300, 128), (7, 50, 64), (3, 5, 1000)]  # (n0, n, batch_size)


def _items(xs: torch.Tensor, seed: int = 0):
    return ((x, example_generator(seed, i, x.device)) for i, x in enumerate(xs))


def _plain(model: nn.Module, classes: int, sigma: float, xs: torch.Tensor, n0: int, n: int, bs: int, alpha=0.01):
    smooth = Smooth(model, classes, sigma)
    return [smooth.certify(x, n0, n, alpha, bs, example_generator(0, i, x.device)) for i, x in enumerate(xs)]


@pytest.mark.parametrize("arch,shape", [("digits_cnn", (1, 8, 8)), ("lenet", (1, 28, 28)), ("mlp", (1, 4, 4))])
def test_packed_certificates_equal_the_plain_path(arch: str, shape: tuple[int, ...]) -> None:
    """Every field of every certificate, for chunk layouts that pack (or must not pack) remainders."""
    torch.manual_seed(0)
    model = create_model(arch, 10, shape, (0.3,), (0.3,)).eval()
    fast, fields = prepare_model(model, CPU)
    assert fields == {"dtype": "float32"}
    xs = torch.rand(4, *shape, generator=torch.Generator().manual_seed(1))
    settings = {"mlp": SETTINGS, "digits_cnn": SETTINGS[1:], "lenet": SETTINGS[1:3]}[arch]  # convnets: slow on 2 cores
    for n0, n, bs in settings:
        packed = list(PackedSmooth(fast, 10, 0.5, bs).certify(_items(xs), n0, n, 0.01))
        assert packed == _plain(model, 10, 0.5, xs, n0, n, bs), (n0, n, bs)


def test_packing_happens_and_saves_forward_passes() -> None:
    """The mlp's rows do not depend on the batch size: 10 examples' 100 selection rows share one pass."""
    torch.manual_seed(0)
    model = create_model("mlp", 10, (1, 4, 4)).eval()
    xs = torch.rand(10, 1, 4, 4)
    engine = PackedSmooth(model, 10, 0.5, 1000)
    assert list(engine.certify(_items(xs), 100, 2000, 0.01)) == _plain(model, 10, 0.5, xs, 100, 2000, 1000)
    assert engine._position_free is True
    assert engine.forward_passes == 10 * 2 + 1  # 2 full estimation passes each, 1 packed selection pass
    assert engine.synchronisations == 2  # one round for the 10 selections, one for the 10 estimations


def test_trained_model_votes_equal(digits_run: Path) -> None:
    model = model_from_checkpoint(load_checkpoint(digits_run)).eval()
    fast, _ = prepare_model(model, CPU)
    xs = torch.rand(8, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    engine = PackedSmooth(fast, 10, 0.25, 256)
    for votes, (i, x) in zip(engine.sample_counts(_items(xs), (30, 600)), enumerate(xs), strict=False):
        gen = example_generator(0, i, CPU)
        smooth = Smooth(model, 10, 0.25)
        torch.testing.assert_close(votes[0], smooth.sample_counts(x, 30, 256, gen), rtol=0, atol=0)
        torch.testing.assert_close(votes[1], smooth.sample_counts(x, 600, 256, gen), rtol=0, atol=0)


class BatchSizeSensitive(nn.Module):
    """Votes class 1 in batches under 50 rows and class 0 otherwise: a kernel that changes with the batch size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(x.shape[0], 2)
        logits[:, int(x.shape[0] < 50)] = 1.0
        return logits


class PositionSensitive(nn.Module):
    """Class 0 for even rows of the batch, 1 for odd rows."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(torch.arange(x.shape[0]) % 2, 2).float()


def _expected(model: nn.Module, xs: torch.Tensor, phases: tuple[int, ...], bs: int) -> list[torch.Tensor]:
    out = []
    for i, x in enumerate(xs):
        gen = example_generator(0, i, CPU)
        out.append(torch.stack([Smooth(model, 2, 0.5).sample_counts(x, k, bs, gen) for k in phases]))
    return out


def test_one_pass_shape_makes_batch_size_sensitive_kernels_agree() -> None:
    """Every pass has batch_size rows in both paths, so a kernel that changes with the batch size cannot differ."""
    xs = torch.zeros(6, 3)
    engine = PackedSmooth(BatchSizeSensitive(), 2, 0.5, 100)
    packed = list(engine.sample_counts(_items(xs), (11, 230)))
    assert all(torch.equal(a, b) for a, b in zip(packed, _expected(BatchSizeSensitive(), xs, (11, 230), 100),
                                                  strict=True))
    assert engine._position_free is True and all(int(p[0][0]) == 11 for p in packed)  # class 0: full batches


def test_probe_keeps_results_equal_for_position_dependent_models() -> None:
    """Packing this model blindly would change the votes; the probe refuses to, so results stay equal."""
    xs = torch.zeros(6, 3)
    expected = _expected(PositionSensitive(), xs, (11, 230), 100)
    engine = PackedSmooth(PositionSensitive(), 2, 0.5, 100)
    packed = list(engine.sample_counts(_items(xs), (11, 230)))
    assert all(torch.equal(a, b) for a, b in zip(packed, expected, strict=True))
    assert engine._position_free is False
    blind = PackedSmooth(PositionSensitive(), 2, 0.5, 100)
    blind._position_free = True  # what packing without the probe would do
    blind_counts = blind.sample_counts(_items(xs), (11, 230))
    assert not all(torch.equal(a, b) for a, b in zip(blind_counts, expected, strict=False))


def test_many_pending_examples_flush_in_order_and_predict_matches() -> None:
    torch.manual_seed(0)
    model = create_model("mlp", 10, (1, 4, 4)).eval()
    xs = torch.rand(9, 1, 4, 4)
    engine = PackedSmooth(model, 10, 0.5, 1000, max_pending=2)  # padded flushes every few examples
    assert list(engine.certify(_items(xs), 3, 7, 0.4)) == _plain(model, 10, 0.5, xs, 3, 7, 1000, alpha=0.4)
    smooth = Smooth(model, 10, 0.5)
    expected = [smooth.predict(x, 50, 0.1, 1000, example_generator(0, i, CPU)) for i, x in enumerate(xs)]
    assert list(engine.predict(_items(xs), 50, 0.1)) == expected


def test_nan_logits_raise_like_the_plain_path() -> None:
    class NaNForOne(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = torch.zeros(x.shape[0], 2)
            out[x.flatten(1)[:, 0] > 5.0] = float("nan")  # only example 1 (at 10.0) returns NaN
            return out

    xs = torch.tensor([[0.0], [10.0]])
    results = PackedSmooth(NaNForOne(), 2, 0.1, 64).sample_counts(_items(xs), (5, 20))
    assert next(results)[1].sum() == 20
    with pytest.raises(ModelOutputError, match=r"non-finite logits \(NaN or inf\) for 5 of 5"):  # selection, as Smooth
        next(results)


@pytest.mark.parametrize("kernel,stride", [(2, 2), (3, 2), (3, 1), ((2, 3), (1, 2))])
def test_window_max_pool_is_bit_exact(kernel, stride) -> None:
    pool = nn.MaxPool2d(kernel, stride)
    x = torch.randn(4, 3, 9, 7, generator=torch.Generator().manual_seed(0))
    x[0, 0, 0, 0] = float("nan")
    assert torch.equal(_WindowMaxPool(pool)(x).view(torch.int32), pool(x).view(torch.int32))


def test_prepare_model_rewrites_a_copy_and_records_opt_ins() -> None:
    model = create_model("lenet", 10, (1, 28, 28)).eval()
    fast, fields = prepare_model(model, CPU)
    assert any(isinstance(m, _WindowMaxPool) for m in fast.modules())
    assert not any(isinstance(m, _WindowMaxPool) for m in model.modules())  # the original is untouched
    x = torch.rand(300, 1, 28, 28)
    with torch.inference_mode():
        assert torch.equal(fast(x), model(x))
    _, fields = prepare_model(model, CPU, channels_last=True, autocast="bfloat16")
    assert fields == {"dtype": "bfloat16", "channels_last": True}
