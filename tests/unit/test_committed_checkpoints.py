"""The checkpoints committed under results/ are the ones their results were certified with.

Every certification TSV's manifest records the SHA-256 of the checkpoint it
certified (``checkpoint_sha256``). These tests hash the committed files and
hold them to those records and to the table of ``results/MANIFEST.md``, so a
checkpoint and the results it backs cannot drift apart unnoticed, and no
result names a model that is neither kept nor described.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from smoothcert.checkpoints.store import load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
MANIFEST = RESULTS / "MANIFEST.md"
BEGIN, END = "<!-- kept checkpoints: begin -->", "<!-- kept checkpoints: end -->"
MAX_BYTES = 8 * 2**20  # "small": larger models are kept outside the repository


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _recorded() -> dict[Path, dict[str, Any]]:
    """Every TSV under results/ -> its manifest."""
    return {m.with_suffix(""): json.loads(m.read_text()) for m in sorted(RESULTS.rglob("*.tsv.json"))}


def _models(manifest: dict[str, Any]) -> dict[str, tuple[object, ...]]:
    """The checkpoint files a certification ran, by SHA-256 -> (arch, method, training sigma) as recorded.

    The certified checkpoint, a trained denoiser in front of it (``base_model``),
    every ensemble member (``ensemble``).
    """
    models = {manifest["checkpoint_sha256"]: (manifest["arch"], manifest["method"], manifest["train_sigma"])}
    denoiser = (manifest.get("base_model") or {}).get("denoiser")
    if denoiser:
        models[denoiser["sha256"]] = (denoiser["arch"], denoiser["method"], denoiser["train_sigma"])
    for member in (manifest.get("ensemble") or {}).get("members", []):
        models[member["sha256"]] = (member["arch"], member["method"], member["train_sigma"])
    return models


@dataclass(frozen=True)
class Row:
    path: Path
    bytes: int
    sha256: str
    tsvs: list[Path]


def _table() -> list[Row]:
    """The rows of MANIFEST.md's table of kept checkpoints."""
    text = MANIFEST.read_text().split(BEGIN, 1)[1].split(END, 1)[0]
    rows = []
    for line in text.splitlines():
        if not line.startswith("| `results/"):
            continue
        cells = [c.strip() for c in line.strip("|").split(" | ")]
        tsvs = [] if cells[4] == "none" else [ROOT / t.strip("`") for t in cells[4].split(", ")]
        rows.append(Row(ROOT / cells[0].strip("`"), int(cells[1]), cells[2].strip("`"), tsvs))
    return rows


CHECKPOINTS = sorted(RESULTS.rglob("checkpoint.pt"))


def test_the_table_lists_exactly_the_committed_checkpoints_with_their_size_and_hash() -> None:
    rows = {row.path: row for row in _table()}
    assert sorted(rows) == CHECKPOINTS, "rerun benchmarks/checkpoint_listing.py after adding or removing one"
    for path in CHECKPOINTS:
        assert rows[path].bytes == path.stat().st_size, path
        assert rows[path].sha256 == _sha256(path), path


@pytest.mark.parametrize("path", CHECKPOINTS, ids=lambda p: str(p.relative_to(RESULTS)))
def test_a_checkpoint_is_the_one_the_manifests_of_its_results_name(path: Path) -> None:
    digest = _sha256(path)
    recorded = _recorded()
    beside = [tsv for tsv in recorded if tsv.parent == path.parent]
    listed = next(row.tsvs for row in _table() if row.path == path)
    assert listed, f"{path} backs no certification TSV"
    for tsv in [*beside, *listed]:
        assert tsv in recorded, f"{tsv} has no manifest"
        assert digest in _models(recorded[tsv]), f"{tsv} was certified with another checkpoint"
    assert sorted(listed) == sorted(t for t, m in recorded.items() if digest in _models(m))


@pytest.mark.parametrize("path", CHECKPOINTS, ids=lambda p: str(p.relative_to(RESULTS)))
def test_a_checkpoint_holds_the_model_its_manifests_describe(path: Path) -> None:
    assert path.stat().st_size <= MAX_BYTES, f"{path} is not small; keep it outside the repository"
    ckpt = load_checkpoint(path)
    digest = _sha256(path)
    for tsv, manifest in _recorded().items():
        if digest in _models(manifest):
            described = (*_models(manifest)[digest], manifest["dataset"])
            assert (ckpt["arch"], ckpt["method"], ckpt["sigma"], ckpt["dataset"]) == described, tsv


def test_every_result_names_a_kept_or_described_checkpoint() -> None:
    kept = {_sha256(path) for path in CHECKPOINTS}
    text = MANIFEST.read_text()
    for tsv, manifest in _recorded().items():
        for digest in _models(manifest):
            assert digest in kept or digest in text, f"{tsv}: checkpoint {digest} is neither kept nor described"
        diffusion = (manifest.get("base_model") or {}).get("diffusion")
        if diffusion:  # a directory: its hash (over its files) must be described, with where it is kept
            assert diffusion["sha256"] in text, f"{tsv}: diffusion model {diffusion['sha256']} is not described"


def test_a_kept_diffusion_model_directory_is_the_one_described() -> None:
    from smoothcert.checkpoints.diffusion_dir import directory_sha256

    text = MANIFEST.read_text()
    for index in sorted(RESULTS.rglob("model_index.json")):
        assert directory_sha256(index.parent) in text, f"{index.parent}: its hash is not in MANIFEST.md"
