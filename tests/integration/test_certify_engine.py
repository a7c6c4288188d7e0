"""``smoothcert certify`` engines and opt-in speed-ups: same TSV, and the manifest says what ran."""

from __future__ import annotations

import json
from pathlib import Path

from smoothcert.cli.main import main

CERTIFY = ["--n0", "30", "--n", "400", "--alpha", "0.01", "--batch-size", "128", "--quiet", "--max", "7"]


def _rows(path: Path) -> list[list[str]]:
    lines = [line.split("\t") for line in path.read_text().splitlines()]
    col = lines[0].index("time")
    return [line[:col] + line[col + 1:] for line in lines]


def test_packed_and_plain_engines_write_the_same_tsv(digits_run: Path, tmp_path: Path) -> None:
    packed, plain = tmp_path / "packed.tsv", tmp_path / "plain.tsv"
    assert main(["certify", str(digits_run), "--out", str(packed), *CERTIFY]) == 0
    assert main(["certify", str(digits_run), "--out", str(plain), "--engine", "plain", *CERTIFY]) == 0
    assert _rows(packed) == _rows(plain)
    manifest = {k: v for k, v in json.loads(Path(str(plain) + ".json").read_text()).items() if k != "created"}
    other = {k: v for k, v in json.loads(Path(str(packed) + ".json").read_text()).items() if k != "created"}
    assert manifest == other and manifest["dtype"] == "float32"  # the engine is not a setting of the result


def test_opt_ins_are_recorded_and_a_rerun_without_them_is_refused(digits_run: Path, tmp_path: Path,
                                                                  capsys) -> None:
    out = tmp_path / "bf16.tsv"
    assert main(["certify", str(digits_run), "--out", str(out), "--autocast", "bfloat16", "--channels-last",
                 *CERTIFY]) == 0
    manifest = json.loads(Path(str(out) + ".json").read_text())
    assert manifest["dtype"] == "bfloat16" and manifest["channels_last"] is True
    before = out.read_bytes()
    assert main(["certify", str(digits_run), "--out", str(out), *CERTIFY]) == 2
    assert "other settings" in capsys.readouterr().err and out.read_bytes() == before


def test_a_rerun_with_another_index_set_is_refused_and_a_larger_max_continues(digits_run: Path, tmp_path: Path,
                                                                             capsys) -> None:
    """skip/max/split are part of what a rerun must match: two samplings never mix in one file."""
    out = tmp_path / "c.tsv"
    fast = ["--n0", "10", "--n", "100", "--batch-size", "64", "--quiet"]
    assert main(["certify", str(digits_run), "--out", str(out), "--skip", "10", "--max", "4", *fast]) == 0
    before = out.read_bytes()
    for other in (["--skip", "5", "--max", "4"], ["--skip", "10", "--max", "2"], ["--skip", "10", "--max", "4",
                                                                                   "--split", "train"]):
        assert main(["certify", str(digits_run), "--out", str(out), *other, *fast]) == 2
        assert "other settings" in capsys.readouterr().err and out.read_bytes() == before
    assert main(["certify", str(digits_run), "--out", str(out), "--skip", "10", "--max", "6", *fast]) == 0
    assert [line.split("\t")[0] for line in out.read_text().splitlines()[1:]] == ["0", "10", "20", "30", "40", "50"]
    assert json.loads(Path(str(out) + ".json").read_text())["max"] == 6
    assert out.read_bytes().startswith(before)  # the first rows were kept, not recomputed


def test_a_file_with_rows_outside_the_index_set_is_refused(tmp_path: Path) -> None:
    """Even under an equal manifest (a dataset that changed size, say), rows of other indices are refused."""
    import pytest

    from smoothcert.certify.rows import open_results, per_index, run_rows
    from smoothcert.errors import UserError

    out, columns, manifest = tmp_path / "p.tsv", ["idx", "label", "predict", "correct", "time"], {"n": 1}
    row = per_index(lambda i: {"idx": i, "label": 0, "predict": 0, "correct": 1, "time": 0.0})
    run_rows(out, manifest, columns, [0, 7, 14], row, quiet=True)
    before = out.read_bytes()
    with pytest.raises(UserError, match=r"indices this run would not certify \(e.g. 7\)"):
        open_results(out, manifest, columns, [0, 5, 10, 15])
    assert out.read_bytes() == before
    assert open_results(out, manifest, columns, [0, 7, 14, 21]) == {0, 7, 14}
