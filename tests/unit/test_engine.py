"""The one engine: every procedure's packed answers equal one-input-at-a-time answers, with few syncs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from smoothcert import Smooth
from smoothcert.certify.packing import PackedSmooth
from smoothcert.certify.rewrites import prepare_model
from smoothcert.certify.seeds import example_generator
from smoothcert.checkpoints.store import load_checkpoint, model_from_checkpoint
from smoothcert.models import create_model
from smoothcert.sequential import Schedule, certify_sequential

CPU = torch.device("cpu")


def _items(xs: torch.Tensor):
    return ((x, example_generator(0, i, CPU)) for i, x in enumerate(xs))


@pytest.mark.parametrize("arch,shape,sigma", [("mlp", (1, 4, 4), 0.5), ("digits_cnn", (1, 8, 8), 0.25)])
def test_sequential_packed_equals_one_at_a_time(arch: str, shape: tuple[int, ...], sigma: float) -> None:
    """Looks of 12 inputs share passes; every field of every certificate equals the single-input path."""
    torch.manual_seed(0)
    model = create_model(arch, 10, shape).eval()
    # a sharp model: some inputs stop at the first look, others go on, so rounds mix requests of all sizes
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)
    xs = torch.rand(12, *shape, generator=torch.Generator().manual_seed(1))
    schedule = Schedule.geometric(3000, 0.001)
    radii = [0.1, 0.25, 0.5]
    engine = PackedSmooth(model, 10, sigma, 256)
    packed = list(engine.sequential(_items(xs), radii, 50, schedule))
    smooth = Smooth(model, 10, sigma)
    single = [certify_sequential(smooth, x, radii, 50, schedule, 256, example_generator(0, i, CPU))
              for i, x in enumerate(xs)]
    assert packed == single
    assert len({c.samples for c in packed}) > 1  # the inputs did stop at different looks
    plain = PackedSmooth(model, 10, sigma, 256, pack=False)
    assert list(plain.sequential(_items(xs), radii, 50, schedule)) == single
    assert engine.forward_passes < plain.forward_passes  # packing saved passes
    assert engine.synchronisations < len(xs) * 3  # rounds, not one read-back per look of each input


def test_certify_syncs_once_per_round_not_per_pass() -> None:
    torch.manual_seed(0)
    model = create_model("mlp", 10, (1, 4, 4)).eval()
    xs = torch.rand(20, 1, 4, 4)
    engine = PackedSmooth(model, 10, 0.5, 500)
    certs = list(engine.certify(_items(xs), 100, 3000, 0.01))
    assert len(certs) == 20
    assert engine.forward_passes == 20 * 6 + 4  # 6 full estimation passes each; 20 x 100 selection rows in 4
    assert engine.synchronisations == 8  # 4 rounds of 5 inputs: selection, then estimation


def test_model_mode_is_restored_by_the_engine() -> None:
    model = create_model("mlp", 10, (1, 4, 4)).train()
    list(PackedSmooth(model, 10, 0.5, 100).predict(_items(torch.rand(3, 1, 4, 4)), 50, 0.1))
    assert model.training


def test_smooth_rejects_confusing_inputs_with_clear_messages(digits_run: Path) -> None:
    smooth = Smooth.from_checkpoint(digits_run)
    x = torch.rand(1, 8, 8)
    with pytest.raises(ValueError, match="looks batched"):
        smooth.certify(torch.rand(4, 1, 8, 8), 10, 100, 0.01)
    with pytest.raises(ValueError, match=r"floating point.*/ 255"):
        smooth.predict((x * 255).to(torch.uint8), 100, 0.01)
    with pytest.raises(ValueError, match=r"values in \[0, 255\]"):
        smooth.predict(torch.full((1, 8, 8), 255.0).index_fill_(1, torch.tensor([0]), 0.0), 100, 0.01)
    with pytest.raises(ValueError, match=r"n must be an int.*1e4"):
        smooth.certify(x, 10, 1e4, 0.01)  # type: ignore[arg-type]
    cert = smooth.certify(x, 10, 200, 0.01)
    assert type(cert.n) is int and cert.n == 200


def test_from_checkpoint_and_certify_batch_equal_the_command_line(digits_run: Path, tmp_path: Path) -> None:
    """The Python API runs the CLI's model (exact rewrites) and its per-example seeds: the same rows."""
    from smoothcert.cli.main import main
    from smoothcert.data import create_dataset

    out = tmp_path / "c.tsv"
    assert main(["certify", str(digits_run), "--out", str(out), "--n0", "20", "--n", "300", "--alpha", "0.01",
                 "--batch-size", "128", "--max", "5", "--quiet"]) == 0
    smooth = Smooth.from_checkpoint(digits_run, device="cpu")
    assert smooth.sigma == 0.25 and smooth.num_classes == 10
    images = create_dataset("digits", "test").images[:5]
    certs = smooth.certify_batch(images, 20, 300, 0.01, batch_size=128, seed=0)
    lines = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    assert [(c.prediction, repr(c.radius), c.count) for c in certs] == [(int(f[2]), f[3], int(f[7])) for f in lines]
    one = smooth.certify(images[3], 20, 300, 0.01, 128, example_generator(0, 3, CPU))
    assert one == certs[3]


def test_plain_model_and_rewritten_model_give_the_same_votes(digits_run: Path) -> None:
    model = model_from_checkpoint(load_checkpoint(digits_run)).eval()
    fast, _ = prepare_model(model, CPU)
    x = torch.rand(1, 8, 8)
    a = Smooth(model, 10, 0.25).sample_counts(x, 700, 256, example_generator(0, 0, CPU))
    b = Smooth(fast, 10, 0.25).sample_counts(x, 700, 256, example_generator(0, 0, CPU))
    assert torch.equal(a, b)
