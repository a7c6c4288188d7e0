"""certify/predict with --denoiser: the classifier behind a trained denoiser, every part in the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from smoothcert import Smooth
from smoothcert.analysis.margin_files import margins_tsv
from smoothcert.analysis.margins import margin_rows
from smoothcert.certify.seeds import example_generator
from smoothcert.checkpoints.store import load_checkpoint, model_from_checkpoint
from smoothcert.cli.main import main
from smoothcert.data import create_dataset


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A noise-free digits classifier and a small MSE denoiser, trained by the CLI."""
    root = tmp_path_factory.mktemp("denoised")
    classifier, denoiser = root / "standard", root / "dncnn"
    assert main(["train", "--dataset", "digits", "--arch", "digits_cnn", "--method", "standard", "--out",
                 str(classifier), "--epochs", "2", "--batch-size", "128", "--quiet"]) == 0
    assert main(["train", "--dataset", "digits", "--arch", "dncnn", "--method", "denoise_mse", "--sigma", "0.25",
                 "--out", str(denoiser), "--epochs", "1", "--batch-size", "128", "--quiet",
                 "arch_args.depth=3", "arch_args.width=8"]) == 0
    return classifier, denoiser


def _composed(classifier: Path, denoiser: Path) -> nn.Module:
    return nn.Sequential(model_from_checkpoint(load_checkpoint(denoiser)),
                         model_from_checkpoint(load_checkpoint(classifier))).eval()


def test_margins_with_a_denoiser_are_those_of_the_composition(parts: tuple[Path, Path], tmp_path: Path) -> None:
    classifier, denoiser = parts
    out = tmp_path / "m.tsv"
    assert main(["margins", str(classifier), "--denoiser", str(denoiser), "--sigma", "0.25", "--out", str(out),
                 "--no-attack", "--num-noise", "20", "--skip", "60", "--quiet"]) == 0
    assert json.loads(Path(str(out) + ".json").read_text())["models"][0]["base_model"]["denoiser"]["sha256"]
    data = create_dataset("digits", "test")
    by_hand = margin_rows(_composed(classifier, denoiser), data.images, data.labels, range(0, len(data), 60),
                          sigma=0.25, num_noise=20)
    assert out.read_text() == margins_tsv({"standard": by_hand})


def test_certify_with_a_denoiser_counts_what_the_composition_computes(parts: tuple[Path, Path],
                                                                      tmp_path: Path) -> None:
    classifier, denoiser = parts
    out = tmp_path / "c.tsv"
    assert main(["certify", str(classifier), "--denoiser", str(denoiser), "--sigma", "0.25", "--out", str(out),
                 "--n0", "10", "--n", "200", "--batch-size", "64", "--max", "3", "--quiet"]) == 0
    manifest = json.loads(Path(str(out) + ".json").read_text())
    parts = manifest["base_model"]
    assert parts["denoiser"] is not None and parts["classifier"] is not None
    # by hand: nn.Sequential(denoiser, classifier), one example at a time through Smooth
    composed = _composed(classifier, denoiser)
    images = create_dataset("digits", "test").images
    rows = [line.split("\t") for line in out.read_text().splitlines()[1:]]
    smooth = Smooth(composed, 10, 0.25)
    for row in rows:
        idx = int(row[0])
        cert = smooth.certify(images[idx], 10, 200, 0.001, 64, example_generator(0, idx, torch.device("cpu")))
        assert (cert.prediction, cert.count) == (int(row[2]), int(row[7]))
