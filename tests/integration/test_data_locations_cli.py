"""`train --download` then `certify RUN` with no --data-dir: the run's recorded directory, then
$SMOOTHCERT_DATA_DIR, then the user cache, on MNIST IDX files served by a real HTTP server on 127.0.0.1.

Each place holds MNIST files of another seed, so the labels in the certification TSV say which was read.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest
import yaml

from smoothcert.cli.main import main
from smoothcert.data.sources import CHECKSUMS_ENV, SOURCES, URL_ENV
from tests.unit.file_server import FileServer
from tests.unit.test_data import write_mnist

CERTIFY = ["--n0", "10", "--n", "20", "--max", "4", "--batch-size", "20", "--device", "cpu", "--quiet"]


def _labels(tsv: Path) -> list[int]:
    with open(tsv, newline="") as fh:
        return [int(row["label"]) for row in csv.DictReader(fh, delimiter="\t")]


def test_train_download_then_certify_finds_data_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    made = tmp_path / "made"
    labels = {"served": write_mnist(made, n=16, seed=0)[1][:4].tolist()}
    names = [f.name for f in SOURCES["mnist"].files]
    (tmp_path / "sums").write_text("".join(f"{hashlib.sha256((made / n).read_bytes()).hexdigest()}  {n}\n"
                                           for n in names))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache1"))
    monkeypatch.delenv("SMOOTHCERT_DATA_DIR", raising=False)
    monkeypatch.setenv(CHECKSUMS_ENV, str(tmp_path / "sums"))
    run = tmp_path / "run"
    with FileServer({f"/mnist/{n}": (made / n).read_bytes() for n in names}) as server:
        monkeypatch.setenv(URL_ENV, server.url)
        assert main(["train", "--dataset", "mnist", "--arch", "lenet", "--sigma", "0.5", "--out", str(run),
                     "--epochs", "1", "--batch-size", "16", "--download", "--quiet"]) == 0
        assert len(server.requests) == 4
    downloaded = tmp_path / "cache1" / "smoothcert" / "mnist"
    assert yaml.safe_load((run / "config.yaml").read_text())["data_dir"] == str(downloaded)

    env_root, cache2 = tmp_path / "env", tmp_path / "cache2"
    labels["env"] = write_mnist(env_root / "mnist", seed=1)[1][:4].tolist()
    labels["cache"] = write_mnist(cache2 / "smoothcert" / "mnist", seed=2)[1][:4].tolist()
    assert len({tuple(v) for v in labels.values()}) == 3
    monkeypatch.setenv("SMOOTHCERT_DATA_DIR", str(env_root))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache2))

    assert main(["certify", str(run), "--out", str(tmp_path / "recorded.tsv"), *CERTIFY]) == 0
    assert _labels(tmp_path / "recorded.tsv") == labels["served"]
    downloaded.rename(tmp_path / "moved")
    assert main(["certify", str(run), "--out", str(tmp_path / "env.tsv"), *CERTIFY]) == 0
    assert _labels(tmp_path / "env.tsv") == labels["env"]
    monkeypatch.delenv("SMOOTHCERT_DATA_DIR")
    assert main(["certify", str(run), "--out", str(tmp_path / "cache.tsv"), *CERTIFY]) == 0
    assert _labels(tmp_path / "cache.tsv") == labels["cache"]

    (cache2 / "smoothcert" / "mnist").rename(tmp_path / "moved2")
    capsys.readouterr()
    assert main(["certify", str(run), "--out", str(tmp_path / "none.tsv"), *CERTIFY]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: mnist (test split) not found: looked in "), lines
    for place in (f"the run's recorded data_dir ({downloaded}: no such directory)",
                  "$SMOOTHCERT_DATA_DIR/mnist (not set)", f"the user cache ({cache2 / 'smoothcert' / 'mnist'}: "):
        assert place in lines[0]
    assert "smoothcert download mnist" in lines[0] and not (tmp_path / "none.tsv").exists()
