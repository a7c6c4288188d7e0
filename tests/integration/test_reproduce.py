"""`smoothcert reproduce mnist` end to end on tiny MNIST files in the real IDX format."""

from __future__ import annotations

import json
from pathlib import Path

from smoothcert.cli.main import main
from smoothcert.cli.reproduce import target_radii
from tests.unit.test_data import write_mnist


def _tiny_gaussian(tmp_path: Path, *extra: str) -> tuple[Path, list[str]]:
    """40 MNIST images in IDX files, a 1-epoch gaussian sigma 0.5 recipe; OUT and the reproduce argv."""
    write_mnist(tmp_path / "mnist", n=40)
    recipes = tmp_path / "configs" / "mnist"
    recipes.mkdir(parents=True)
    (recipes / "gaussian_0.5.yaml").write_text(
        "dataset: mnist\narch: lenet\nmethod: gaussian\nsigma: 0.5\nepochs: 1\nbatch_size: 16\nlr: 0.01\n"
        "normalize: false\n")
    out = tmp_path / "results"
    return out, ["reproduce", "mnist", "--out", str(out), "--configs", str(tmp_path / "configs"), "--data-dir",
                 str(tmp_path / "mnist"), "--methods", "gaussian", "--sigmas", "0.5", "--n", "50", "--n0", "10",
                 "--skip", "20", "--device", "cpu", *extra]


def test_reproduce_trains_certifies_and_tabulates(tmp_path: Path, capsys) -> None:
    out, argv = _tiny_gaussian(tmp_path)
    assert main(argv) == 0
    table = (out / "table.md").read_text()
    _row(table, "gaussian", "0.5", "2", "ours")  # images 0 and 20 of 40
    published = _row(table, "gaussian", "0.5", "500", "published")
    assert published[4:6] == ["98.5", "96.8"] and published[-1] == "1.537"  # the paper's values, sigma 0.5
    assert "difference" not in table  # 2 images are not the paper's 500
    assert len((out / "gaussian_0.5.tsv").read_text().splitlines()) == 3
    assert (out / "runs" / "gaussian_0.5" / "checkpoint.pt").is_file()
    assert "timings.json" in {p.name for p in out.iterdir()}
    capsys.readouterr()
    assert main(argv) == 0  # a rerun resumes everything and rewrites the same table
    assert (out / "table.md").read_text() == table


def test_sequential_mode_certifies_the_reachable_table_radii(tmp_path: Path, capsys) -> None:
    out, argv = _tiny_gaussian(tmp_path, "--mode", "sequential")
    assert main(argv) == 0
    manifest = json.loads((out / "gaussian_0.5.tsv.json").read_text())
    # 50 samples at alpha 0.001 reach 0.5 * Phi^-1(0.001 ** (1/50)) = 0.566 at sigma 0.5
    assert manifest["mode"] == "sequential" and manifest["radii"] == [0.25, 0.5] and manifest["n"] == 50
    ours = _row((out / "table.md").read_text(), "gaussian", "0.5", "2", "ours")[4:]
    assert ours[1] != "—" and ours[2] != "—" and ours[3:] == ["—"] * 7  # only the targets (and r = 0) are shown
    assert "Certification (sequential)" in capsys.readouterr().out


def test_target_radii_stop_where_n_samples_stop() -> None:
    assert target_radii(100_000, 0.25) == [0.25, 0.5, 0.75]  # 3.81 sigma = 0.95
    assert target_radii(100_000, 0.5) == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]  # 1.91
    assert target_radii(100_000, 1.0) == [0.25 * i for i in range(1, 9)]  # the table stops at 2.0
    assert target_radii(10, 0.25) == []  # 0.001 ** (1/10) = 0.50: radius 0.0004


def test_sequential_mode_without_a_reachable_radius_is_a_user_error(tmp_path: Path, capsys) -> None:
    recipes = tmp_path / "configs" / "mnist"
    recipes.mkdir(parents=True)
    (recipes / "gaussian_0.25.yaml").write_text("dataset: mnist\narch: lenet\nmethod: gaussian\nsigma: 0.25\n")
    status = main(["reproduce", "mnist", "--out", str(tmp_path / "r"), "--configs", str(tmp_path / "configs"),
                   "--methods", "gaussian", "--sigmas", "0.25",
                   "--n", "10", "--mode", "sequential", "--device", "cpu"])
    assert status == 2
    assert "no radius of the table can be certified" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # refused before training


def test_missing_recipe_is_a_user_error(tmp_path: Path, capsys) -> None:
    status = main(["reproduce", "mnist", "--out", str(tmp_path / "r"), "--configs", str(tmp_path),
                   "--methods", "macer", "--sigmas", "1.0"])
    assert status == 2
    assert "no recipe" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def _tsv(path: Path, rows: list[tuple[int, int, float, int]], ours: bool = True) -> None:
    """``(idx, predict, radius, correct)`` rows with label 7; ours' ``time`` in seconds, else as the original code."""
    path.parent.mkdir(parents=True, exist_ok=True)
    time = "0.5" if ours else "0:00:00.300000"
    lines = ["idx\tlabel\tpredict\tradius\tcorrect\ttime"]
    lines += [f"{i}\t7\t{p}\t{r}\t{c}\t{time}" for i, p, r, c in rows]
    path.write_text("\n".join(lines) + "\n")


def _row(table: str, *prefix: str) -> list[str]:
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[:len(prefix)] == list(prefix):
            return cells
    raise AssertionError(f"no row {prefix} in\n{table}")


def test_table_only_compares_with_published_runs_on_our_images(tmp_path: Path, capsys) -> None:
    """Values computed by hand: ours idx 0 (r=1.0) and 20 (r=0.5), both correct; two published runs
    restricted to idx 0 and 20 (their idx 10 is ignored): run 1 r=2.0 and abstain, run 2 r=1.0 and 0.5."""
    out, pub = tmp_path / "results", tmp_path / "published"
    _tsv(out / "gaussian_0.5.tsv", [(0, 7, 1.0, 1), (20, 7, 0.5, 1)])
    _tsv(out / "consistency_smoothadv_0.5.tsv", [(0, 7, 2.0, 1)])  # its own row, not a "consistency" one
    _tsv(pub / "gaussian_0.5" / "noise_0.50_1", [(0, 7, 2.0, 1), (10, 3, 0.1, 0), (20, -1, 0.0, 0)], ours=False)
    _tsv(pub / "gaussian_0.5" / "noise_0.50_2", [(0, 7, 1.0, 1), (10, 3, 0.1, 0), (20, 7, 0.5, 1)], ours=False)
    argv = ["reproduce", "mnist", "--out", str(out), "--table-only", "--published", str(pub)]
    assert main(argv) == 0
    table = (out / "table.md").read_text()
    assert not (out / "runs").exists()  # nothing trained or certified
    assert _row(table, "gaussian", "0.5", "2", "ours")[-1] == "0.750"
    assert _row(table, "consistency_smoothadv", "0.5", "1", "ours")[-1] == "2.000"
    assert _row(table, "consistency_smoothadv", "0.5", "500", "published")[-1] == "1.679"
    assert not any(line.startswith("| consistency |") for line in table.splitlines())
    ours = _row(table, "gaussian", "0.5", "2", "ours")
    theirs = _row(table, "gaussian", "0.5", "2", "published (mean of 2 runs)")
    diff = _row(table, "gaussian", "0.5", "2", "difference")
    # radii 0, 0.25, ..., 2.0, then ACR
    assert ours[4:] == ["100.0", "100.0", "100.0", "50.0", "50.0", "0.0", "0.0", "0.0", "0.0", "0.750"]
    assert theirs[4:] == ["75.0", "75.0", "75.0", "50.0", "50.0", "25.0", "25.0", "25.0", "25.0", "0.875"]
    # with the paired standard error: per image (idx 0, 20) ours minus the runs' mean, e.g. r = 0: (0, 50),
    # se = sd / sqrt(2) = 25; ACR: (1.0 - 1.5, 0.5 - 0.25) = (-0.5, 0.25), se 0.375
    assert diff[4:] == ["+25.0 ± 25.0", "+25.0 ± 25.0", "+25.0 ± 25.0", "+0.0 ± 0.0", "+0.0 ± 0.0",
                        "-25.0 ± 25.0", "-25.0 ± 25.0", "-25.0 ± 25.0", "-25.0 ± 25.0", "-0.125 ± 0.375"]
    # run 1 certifies idx 0 only, at 2.0 (50 everywhere, ACR 1.0); run 2: 100 to r = 0.5, 50 to 1.0, then 0 (ACR 0.75)
    spread = _row(table, "gaussian", "0.5", "2", "spread of the published runs (max − min)")
    assert spread[4:] == ["50.0", "50.0", "50.0", "0.0", "0.0", "50.0", "50.0", "50.0", "50.0", "0.250"]
    capsys.readouterr()


def test_published_runs_missing_our_images_are_refused(tmp_path: Path, capsys) -> None:
    out, pub = tmp_path / "results", tmp_path / "published"
    _tsv(out / "gaussian_0.5.tsv", [(0, 7, 1.0, 1), (20, 7, 0.5, 1)])
    _tsv(pub / "gaussian_0.5" / "run", [(0, 7, 2.0, 1)], ours=False)
    table_before = b"old table\n"
    (out / "table.md").write_bytes(table_before)
    assert main(["reproduce", "mnist", "--out", str(out), "--table-only", "--published", str(pub)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no row for example(s) [20]" in err and len(err.splitlines()) == 1
    assert (out / "table.md").read_bytes() == table_before


def test_a_run_on_the_papers_500_images_gets_a_difference_row(tmp_path: Path, capsys) -> None:
    """All 500 images (idx 0, 20, ..., 9980) correct at radius 1.0: 100% up to r = 1, 0% beyond, ACR 1.0;
    minus the published gaussian sigma 0.5 values (98.5 at r = 0, 81.6 at r = 1.25, ACR 1.537)."""
    out = tmp_path / "results"
    _tsv(out / "gaussian_0.5.tsv", [(i, 7, 1.0, 1) for i in range(0, 10_000, 20)])
    assert main(["reproduce", "mnist", "--out", str(out), "--table-only"]) == 0
    diff = _row((out / "table.md").read_text(), "gaussian", "0.5", "500", "difference")
    assert diff[4] == "+1.5" and diff[9] == "-81.6" and diff[-1] == "-0.537"
    capsys.readouterr()


def test_a_sequential_run_is_shown_only_at_its_target_radii(tmp_path: Path, capsys) -> None:
    """A sequential TSV's radius is the largest target certified: exact at 0 and the targets (0.5, 1.0 here),
    a lower bound elsewhere, so those cells and its ACR are "—"; the published row stays complete."""
    out = tmp_path / "results"
    _tsv(out / "gaussian_0.5.tsv", [(i, 7, 1.0, 1) for i in range(0, 10_000, 20)])
    (out / "gaussian_0.5.tsv.json").write_text('{"mode": "sequential", "radii": [1.0, 0.5]}')
    assert main(["reproduce", "mnist", "--out", str(out), "--table-only"]) == 0
    table = (out / "table.md").read_text()
    ours = _row(table, "gaussian", "0.5", "500", "ours")[4:]
    assert ours == ["100.0", "—", "100.0", "—", "100.0", "—", "—", "—", "—", "—"]
    diff = _row(table, "gaussian", "0.5", "500", "difference")[4:]
    assert diff == ["+1.5", "—", "+4.8", "—", "+11.3", "—", "—", "—", "—", "—"]
    assert "—" not in "".join(_row(table, "gaussian", "0.5", "500", "published"))
    capsys.readouterr()


def test_each_method_is_compared_with_gaussian_on_the_images_both_certified(tmp_path: Path, capsys) -> None:
    """Ours: gaussian idx 0 r=0.5, idx 20 wrong; consistency idx 0 r=1.0, idx 20 r=0.5 (its idx 40, which
    gaussian lacks, is left out: 2 images). Per image, consistency minus gaussian is (0, 100) at r = 0 ... 0.5,
    (100, 0) at r = 0.75 and 1.0, (0, 0) beyond: +50 with se sd / sqrt 2 = 50, then 0; ACR (0.5, 0.5): se 0.
    Published on idx 0 and 20: consistency (2.0, 0.5); gaussian runs (1.0, 0.5) and (abstain, 0.5), per image
    (0.5, 1) certified to r = 1.0, then (0, 0): +25 to r = 1.0, +50 beyond; ACR (2.0 - 0.5, 0.5 - 0.5) -> +0.75."""
    out, pub = tmp_path / "results", tmp_path / "published"
    _tsv(out / "gaussian_0.5.tsv", [(0, 7, 0.5, 1), (20, 3, 0.0, 0)])
    _tsv(out / "consistency_0.5.tsv", [(0, 7, 1.0, 1), (20, 7, 0.5, 1), (40, 7, 1.0, 1)])
    _tsv(pub / "consistency_0.5" / "run", [(0, 7, 2.0, 1), (20, 7, 0.5, 1), (40, 7, 1.0, 1)], ours=False)
    _tsv(pub / "gaussian_0.5" / "run1", [(0, 7, 1.0, 1), (20, 7, 0.5, 1)], ours=False)
    _tsv(pub / "gaussian_0.5" / "run2", [(0, -1, 0.0, 0), (20, 7, 0.5, 1)], ours=False)
    assert main(["reproduce", "mnist", "--out", str(out), "--table-only", "--published", str(pub)]) == 0
    table = (out / "table.md").read_text()
    ours = _row(table, "consistency − gaussian", "0.5", "2", "ours")[4:]
    assert ours == ["+50.0 ± 50.0"] * 5 + ["+0.0 ± 0.0"] * 4 + ["+0.500 ± 0.000"]
    published = _row(table, "consistency − gaussian", "0.5", "2", "published")[4:]
    assert published == ["+25.0"] * 5 + ["+50.0"] * 4 + ["+0.750"]
    # without the authors' runs, a 2-image comparison has no published row (the built-in values are for 500)
    assert main(["reproduce", "mnist", "--out", str(out), "--table-only"]) == 0
    table = (out / "table.md").read_text()
    _row(table, "consistency − gaussian", "0.5", "2", "ours")
    assert "| consistency − gaussian | 0.5 | 2 | published |" not in table
    capsys.readouterr()
