"""Composite base models: a denoiser in front of a classifier certifies exactly as nn.Sequential of the two.

The checkpoints are real files written with the checkpoint store's own writer, with the fields the
training loop records (a denoiser's ``role``, ``sigma`` and ``arch_args``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from smoothcert import Smooth
from smoothcert.certify.packing import PackedSmooth
from smoothcert.certify.seeds import example_generator
from smoothcert.checkpoints.composite import build_base_model
from smoothcert.checkpoints.store import file_sha256, load_checkpoint, model_from_checkpoint, save_checkpoint
from smoothcert.errors import UserError
from smoothcert.models import create_model
from smoothcert.models.composite import Denoised

SHAPE = (1, 8, 8)
CPU = torch.device("cpu")


def write(path: Path, arch: str, *, role: str = "classifier", sigma: float | None = 0.25, shape=SHAPE,
          classes: int = 10, seed: int = 0, classifier_sha256: str | None = None, **arch_args: Any) -> Path:
    """A checkpoint as the trainer writes it, with random weights (and a denoiser that is not the identity)."""
    torch.manual_seed(seed)
    model = create_model(arch, classes, shape, **arch_args)
    if role == "denoiser":
        nn.init.normal_(model[1].net[-1].weight, std=0.1)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
    meta: dict[str, Any] = {
        "arch": arch, "dataset": "digits", "num_classes": classes, "input_shape": list(shape), "mean": [0.0],
        "std": [1.0], "sigma": sigma, "method": "denoise_mse" if role == "denoiser" else "gaussian", "role": role,
        "arch_args": arch_args, "state_dict": model.state_dict(),
    }
    if classifier_sha256:
        meta["classifier"] = {"sha256": classifier_sha256}
    save_checkpoint(path, meta)
    return path


@pytest.fixture
def parts(tmp_path: Path) -> tuple[Path, Path]:
    return (write(tmp_path / "clf.pt", "digits_cnn"),
            write(tmp_path / "den.pt", "dncnn", role="denoiser", seed=1, depth=3, width=8))


def _by_hand(classifier: Path, denoiser: Path) -> nn.Module:
    return nn.Sequential(model_from_checkpoint(load_checkpoint(denoiser)),
                         model_from_checkpoint(load_checkpoint(classifier))).eval()


def test_denoised_is_the_classifier_of_the_denoised_input() -> None:
    torch.manual_seed(0)
    den, clf = nn.Conv2d(1, 1, 3, padding=1), nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    x = torch.rand(5, *SHAPE)
    assert torch.equal(Denoised(den, clf)(x), nn.Sequential(den, clf)(x))
    assert set(Denoised(den, clf).state_dict()) == {f"denoiser.{k}" for k in den.state_dict()} | {
        f"classifier.{k}" for k in clf.state_dict()}


def test_composite_counts_equal_the_hand_written_sequential(parts: tuple[Path, Path]) -> None:
    classifier, denoiser = parts
    model, _ = build_base_model(classifier, denoiser=denoiser, sigma=0.25, device=CPU)
    assert isinstance(model, Denoised) and not model.training
    reference = _by_hand(classifier, denoiser)
    xs = torch.rand(3, *SHAPE, generator=torch.Generator().manual_seed(2))
    for i, x in enumerate(xs):
        ours = Smooth(model, 10, 0.25).sample_counts(x, 300, 128, example_generator(0, i, CPU))
        theirs = Smooth(reference, 10, 0.25).sample_counts(x, 300, 128, example_generator(0, i, CPU))
        assert torch.equal(ours, theirs)
        assert len(set(ours.tolist())) > 2  # the votes are spread: the comparison is not vacuous
    def items():
        return ((x, example_generator(0, i, CPU)) for i, x in enumerate(xs))
    packed = list(PackedSmooth(model, 10, 0.25, 128).sample_counts(items(), (20, 300)))
    hand = list(PackedSmooth(reference, 10, 0.25, 128).sample_counts(items(), (20, 300)))
    assert all(torch.equal(a, b) for a, b in zip(packed, hand, strict=True))
    plain = [Smooth(model, 10, 0.25).sample_counts(x, 300, 128, _after(20, 128, i)) for i, x in enumerate(xs)]
    assert all(torch.equal(row[1], votes) for row, votes in zip(packed, plain, strict=True))


def _after(skip: int, batch: int, idx: int) -> torch.Generator:
    """Example ``idx``'s generator advanced past ``skip`` selection draws (as the packed engine's second phase)."""
    gen = example_generator(0, idx, CPU)
    torch.randn((skip, *SHAPE), generator=gen)
    return gen


def test_manifest_fields_name_every_part(parts: tuple[Path, Path]) -> None:
    classifier, denoiser = parts
    _, fields = build_base_model(classifier, denoiser=denoiser, sigma=0.25, device=CPU)
    assert fields["classifier"]["sha256"] == file_sha256(classifier)
    assert fields["denoiser"]["sha256"] == file_sha256(denoiser)
    assert (fields["denoiser"]["arch"], fields["denoiser"]["arch_args"]) == ("dncnn", {"depth": 3, "width": 8})
    assert (fields["denoiser"]["train_sigma"], fields["sigma"], fields["diffusion"]) == (0.25, 0.25, None)
    alone, alone_fields = build_base_model(classifier, sigma=0.5, device=CPU)
    assert alone_fields["denoiser"] is None and not isinstance(alone, Denoised)


def test_a_denoiser_used_at_another_sigma_warns(parts: tuple[Path, Path], capsys: pytest.CaptureFixture) -> None:
    classifier, denoiser = parts
    build_base_model(classifier, denoiser=denoiser, sigma=0.25, device=CPU)
    assert capsys.readouterr().err == ""
    build_base_model(classifier, denoiser=denoiser, sigma=0.5, device=CPU)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("warning: denoiser") and "trained at sigma 0.25 and is used at sigma 0.5" in line


def test_a_denoiser_tuned_for_another_classifier_warns(tmp_path: Path, parts, capsys) -> None:
    classifier, _ = parts
    tuned = write(tmp_path / "tuned.pt", "dncnn", role="denoiser", classifier_sha256="ab" * 32, depth=3, width=8)
    build_base_model(classifier, denoiser=tuned, sigma=0.25, device=CPU)
    assert "fine-tuned for another classifier" in capsys.readouterr().err
    fitting = write(tmp_path / "fit.pt", "dncnn", role="denoiser", classifier_sha256=file_sha256(classifier),
                    depth=3, width=8)
    build_base_model(classifier, denoiser=fitting, sigma=0.25, device=CPU)
    assert capsys.readouterr().err == ""


def test_parts_that_do_not_fit_are_one_user_error(tmp_path: Path, parts: tuple[Path, Path]) -> None:
    classifier, denoiser = parts
    other = write(tmp_path / "den28.pt", "dncnn", role="denoiser", shape=(1, 28, 28), depth=3, width=8)
    with pytest.raises(UserError, match=r"takes inputs \(1, 28, 28\) but the classifier .* takes \(1, 8, 8\)"):
        build_base_model(classifier, denoiser=other, sigma=0.25, device=CPU)
    with pytest.raises(UserError, match=r"is a denoiser .*pass it as --denoiser"):
        build_base_model(denoiser, sigma=0.25, device=CPU)
    with pytest.raises(UserError, match=r"is a classifier .*not a denoiser"):
        build_base_model(classifier, denoiser=classifier, sigma=0.25, device=CPU)
    with pytest.raises(UserError, match="either --denoiser or --diffusion"):
        build_base_model(classifier, denoiser=denoiser, diffusion=tmp_path, sigma=0.25, device=CPU)
    with pytest.raises(UserError, match="only with --diffusion"):
        build_base_model(classifier, diffusion_steps=4, sigma=0.25, device=CPU)
    with pytest.raises(UserError, match="does not exist"):
        build_base_model(classifier, denoiser=tmp_path / "missing.pt", sigma=0.25, device=CPU)
