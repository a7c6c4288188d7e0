"""`smoothcert reproduce mnist` end to end on tiny MNIST files in the real IDX format."""

from __future__ import annotations

from pathlib import Path

from smoothcert.cli.main import main
from tests.unit.test_data import write_mnist


def test_reproduce_trains_certifies_and_tabulates(tmp_path: Path, capsys) -> None:
    write_mnist(tmp_path / "mnist", n=40)
    recipes = tmp_path / "configs" / "mnist"
    recipes.mkdir(parents=True)
    (recipes / "gaussian_0.5.yaml").write_text(
        "dataset: mnist\narch: lenet\nmethod: gaussian\nsigma: 0.5\nepochs: 1\nbatch_size: 16\nlr: 0.01\n"
        "normalize: false\n")
    out = tmp_path / "results"
    argv = ["reproduce", "mnist", "--out", str(out), "--configs", str(tmp_path / "configs"), "--data-dir",
            str(tmp_path / "mnist"), "--methods", "gaussian", "--sigmas", "0.5", "--n", "50", "--n0", "10",
            "--skip", "20", "--device", "cpu"]
    assert main(argv) == 0
    table = (out / "table.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| gaussian"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:3] == ["gaussian", "0.5", "2"]  # images 0 and 20 of 40
    assert cells[-2] == "1.537"  # the published ACR for gaussian at sigma 0.5
    assert len((out / "gaussian_0.5.tsv").read_text().splitlines()) == 3
    assert (out / "runs" / "gaussian_0.5" / "checkpoint.pt").is_file()
    assert "timings.json" in {p.name for p in out.iterdir()}
    capsys.readouterr()
    assert main(argv) == 0  # a rerun resumes everything and rewrites the same table
    assert (out / "table.md").read_text() == table


def test_missing_recipe_is_a_user_error(tmp_path: Path, capsys) -> None:
    status = main(["reproduce", "mnist", "--out", str(tmp_path / "r"), "--configs", str(tmp_path),
                   "--methods", "macer", "--sigmas", "1.0"])
    assert status == 2
    assert "no recipe" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
