"""Train a model on the bundled digits with the command line, then certify it from Python.

``smoothcert train`` writes a run directory; ``Smooth.from_checkpoint`` rebuilds
the model from it (architecture, normalization, weights, training sigma) and
returns a ready smoothed classifier.

    python examples/train_and_certify_digits.py [RUN_DIR]   # about half a minute on a CPU
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from smoothcert import Smooth, create_dataset
from smoothcert.cli.main import main as smoothcert


def main(run_dir: Path) -> None:
    if not (run_dir / "checkpoint.pt").is_file():
        status = smoothcert(["train", "--dataset", "digits", "--arch", "digits_cnn", "--sigma", "0.25",
                             "--epochs", "5", "--out", str(run_dir), "--quiet"])
        assert status == 0, "training failed"
    smooth = Smooth.from_checkpoint(run_dir)  # sigma 0.25 and 10 classes, from the checkpoint
    test = create_dataset("digits", "test")
    generator = torch.Generator().manual_seed(0)
    print(f"sigma {smooth.sigma}, {smooth.num_classes} classes; n = 2,000, alpha = 0.001")
    print("image | label | prediction | certified radius")
    for index in range(0, 100, 20):
        image, label = test[index]
        cert = smooth.certify(image, n0=100, n=2_000, alpha=0.001, batch_size=1_000, generator=generator)
        shown = "abstain" if cert.prediction == Smooth.ABSTAIN else str(cert.prediction)
        print(f"{index:5} | {int(label):5} | {shown:>10} | {cert.radius:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs/example_digits"))
