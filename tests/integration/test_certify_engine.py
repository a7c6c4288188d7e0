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
