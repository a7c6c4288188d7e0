"""Rewrite the table of kept checkpoints in ``results/MANIFEST.md`` from the files themselves.

For every ``checkpoint.pt`` under ``results/``: its path, size in bytes, SHA-256,
the recorded recipe beside it (``config.yaml``) and every certification TSV
under ``results/`` whose manifest (``FILE.tsv.json``) names that hash: as the
certified checkpoint (``checkpoint_sha256``), as its denoiser
(``base_model.denoiser.sha256``) or as an ensemble member
(``ensemble.members[].sha256``). Only the lines between the two markers of MANIFEST.md are
replaced; ``tests/unit/test_committed_checkpoints.py`` checks the table against
the files. Run from the repository root::

    PYTHONPATH=src .venv/bin/python benchmarks/checkpoint_listing.py
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path("results")
MANIFEST = RESULTS / "MANIFEST.md"
BEGIN, END = "<!-- kept checkpoints: begin -->", "<!-- kept checkpoints: end -->"
HEADER = "| checkpoint | bytes | sha256 | recipe | certification TSVs it backs |\n|---|--:|---|---|---|\n"


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_hashes(manifest: dict[str, Any]) -> list[str]:
    """Every checkpoint file a certification ran: the classifier, a trained denoiser, each ensemble member.

    (A diffusion model is a directory, named by ``base_model.diffusion.sha256``; it is not a checkpoint file.)
    """
    found = [str(manifest["checkpoint_sha256"])]
    denoiser = (manifest.get("base_model") or {}).get("denoiser")
    if denoiser:
        found.append(str(denoiser["sha256"]))
    found += [str(member["sha256"]) for member in (manifest.get("ensemble") or {}).get("members", [])]
    return list(dict.fromkeys(found))


def tsvs_by_hash(root: Path = RESULTS) -> dict[str, list[str]]:
    """Each checkpoint hash a manifest records (:func:`model_hashes`) -> those TSVs (paths as strings, sorted)."""
    found: dict[str, list[str]] = {}
    for manifest in sorted(root.rglob("*.tsv.json")):
        for digest in model_hashes(json.loads(manifest.read_text())):
            found.setdefault(digest, []).append(str(manifest)[: -len(".json")])
    return found


def table(root: Path = RESULTS) -> str:
    backs = tsvs_by_hash(root)
    rows = []
    for ckpt in sorted(root.rglob("checkpoint.pt")):
        digest = sha256(ckpt)
        recipe = ckpt.parent / "config.yaml"
        tsvs = ", ".join(f"`{t}`" for t in backs.get(digest, [])) or "none"
        rows.append(f"| `{ckpt}` | {ckpt.stat().st_size} | `{digest}` | "
                    f"{f'`{recipe}`' if recipe.is_file() else 'not recorded'} | {tsvs} |\n")
    return HEADER + "".join(rows)


def main() -> int:
    text = MANIFEST.read_text()
    if BEGIN not in text or END not in text:
        print(f"error: {MANIFEST} lacks the markers {BEGIN} and {END}", file=sys.stderr)
        return 2
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    MANIFEST.write_text(f"{head}{BEGIN}\n{table()}{END}{tail}")
    print(f"rewrote the table of {MANIFEST}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
