"""Retrain the model behind committed results from its recorded ``config.yaml``, byte for byte.

A committed result names its model only by the SHA-256 in its TSV manifest
(``checkpoint_sha256``). Training is deterministic on the CPU with one torch
thread, so training again from the run's recorded ``config.yaml`` gives the
same tensors; this script makes it give the same *file*:

* the checkpoint's ``config`` is written as recorded: keys the trainer has
  gained since the run (at their default values, e.g. ``lr_delay: 0``) are left
  out and ``data_dir`` keeps its recorded text, while the data are read from
  ``--data-dir``. Any other difference from the recorded config is refused;
* pickle stores a string once and refers back to it when the *same object*
  occurs again, so the bytes also depend on whether a config string was a
  literal of the code that started the run (interned, shared with the package's
  own literals) or text from a command line or YAML file (a fresh object). At
  the last epoch every such choice is tried for the config strings whose value
  occurs elsewhere in the checkpoint, and the variant whose SHA-256 is one of
  ``--expect`` is written. Without a match the checkpoint is written with the
  strings as this run made them, and the script says so (exit status 1).

Runs are resumable (``--resume`` is always passed), but a resumed run's
optimizer state comes back from the file, so its bytes can differ from an
uninterrupted run's even though its tensors do not.

Usage::

    OMP_NUM_THREADS=1 SMOOTHCERT_PROGRESS=0 PYTHONPATH=src .venv/bin/python benchmarks/retrain_recorded.py \\
        results/mnist/runs/gaussian_0.25 --out runs/retrain/gaussian_0.25 --data-dir /work/shared/data/mnist

``RUN`` is a results directory holding ``config.yaml``; the expected hashes are
read from the ``*.tsv.json`` manifests given with ``--manifests`` (default: those
in ``RUN``) unless ``--expect`` gives them.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import itertools
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import yaml

from smoothcert.checkpoints.store import FORMAT, file_sha256
from smoothcert.cli.main import main as smoothcert
from smoothcert.train import trainer
from smoothcert.train.config import DEFAULTS

LOCATION_TAGS = ("cpu",)  # strings torch.save itself writes beside the payload (storage locations)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _fresh(text: str) -> str:
    """An equal string that is a new object (not the interned one)."""
    return (text + ".")[:-1]


def recorded_config(trained: dict[str, Any], recorded: dict[str, Any]) -> dict[str, Any]:
    """``trained`` restricted to the recorded keys (in its own order, same objects), ``data_dir`` as recorded.

    Raises ``ValueError`` when the training differs from the record: a recorded key
    with another value (``data_dir`` aside), or a key absent from the record that is
    not at its default.
    """
    wrong = [f"{k}: recorded {recorded[k]!r}, trained {v!r}" for k, v in trained.items()
             if k in recorded and k != "data_dir" and v != recorded[k]]
    wrong += [f"{k}: {v!r} (not recorded; default {DEFAULTS.get(k)!r})" for k, v in trained.items()
              if k not in recorded and v != DEFAULTS.get(k)]
    wrong += [f"{k}: recorded but not a setting any more" for k in recorded if k not in trained]
    if wrong:
        raise ValueError("the training differs from the recorded config: " + "; ".join(wrong))
    return {k: (recorded[k] if k == "data_dir" else v) for k, v in trained.items() if k in recorded}


def identity_variants(payload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``payload`` with each config string (value or ``method_args`` key) interned or fresh, every combination.

    Only strings whose value also occurs elsewhere in the payload (or is a storage
    location tag) are varied: only they can be pickled as a back-reference. The
    checkpoint's top-level ``arch`` and ``method`` stay the same objects as the
    config's, as the trainer builds them.
    """
    config = payload["config"]
    counts: dict[str, int] = {}
    for text in itertools.chain(_strings(payload), LOCATION_TAGS):
        counts[text] = counts.get(text, 0) + 1
    top = [k for k, v in config.items() if isinstance(v, str) and counts[v] > 1]
    args = config.get("method_args") or {}
    arg_keys = [k for k in args if counts[k] > 1]
    arg_values = [k for k, v in args.items() if isinstance(v, str) and counts[v] > 1]
    slots = len(top) + len(arg_keys) + len(arg_values)
    makers: tuple[Callable[[str], str], ...] = (sys.intern, _fresh)
    for choice in itertools.product(makers, repeat=slots):
        pick = iter(choice)
        new = dict(config)
        for key in top:
            new[key] = next(pick)(config[key])
        if isinstance(config.get("method_args"), dict):
            keys = {k: next(pick)(k) for k in arg_keys}
            values = {k: next(pick)(args[k]) for k in arg_values}
            new["method_args"] = {keys.get(k, k): values.get(k, v) for k, v in args.items()}
        out = {**payload, "config": new}
        for key in ("arch", "method"):
            if key in out and key in new and out[key] == new[key]:
                out[key] = new[key]
        yield out


def serialized_sha256(payload: dict[str, Any]) -> str:
    """SHA-256 of the bytes ``save_checkpoint(path, payload)`` would write."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buffer)
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def _expected(run: Path, manifests: list[Path] | None, expect: list[str] | None) -> set[str]:
    if expect:
        return set(expect)
    files = manifests if manifests is not None else sorted(run.glob("*.tsv.json"))
    return {json.loads(p.read_text())["checkpoint_sha256"] for p in files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="results directory holding the recorded config.yaml")
    parser.add_argument("--out", type=Path, required=True, help="run directory to train into (resumable)")
    parser.add_argument("--data-dir", help="where the dataset's files are (the recorded data_dir is kept as text)")
    parser.add_argument("--manifests", type=Path, nargs="*", help="TSV manifests naming the checkpoint")
    parser.add_argument("--expect", nargs="*", help="SHA-256 values to reproduce (instead of --manifests)")
    args = parser.parse_args(argv)
    recorded = yaml.safe_load((args.run / "config.yaml").read_text())
    expected = _expected(args.run, args.manifests, args.expect)
    outcome: dict[str, str] = {}
    write = trainer.save_checkpoint

    def save(path: str | Path, payload: dict[str, Any]) -> None:
        payload = {**payload, "config": recorded_config(payload["config"], recorded)}
        if payload["epoch"] < payload["config"]["epochs"]:
            write(path, payload)
            return
        for variant in identity_variants(payload):
            digest = serialized_sha256(variant)
            if digest in expected:
                outcome["sha256"], outcome["match"] = digest, "yes"
                write(path, variant)
                return
        write(path, payload)
        outcome["match"] = "no"

    trainer.save_checkpoint = save  # type: ignore[assignment]  # the trainer's one call site of the writer
    try:
        train = ["train", "--config", str(args.run / "config.yaml"), "--out", str(args.out), "--resume", "--quiet"]
        status = smoothcert(train + (["--data-dir", args.data_dir] if args.data_dir else []))
    finally:
        trainer.save_checkpoint = write  # type: ignore[assignment]
    if status != 0:
        return status
    digest = file_sha256(args.out / "checkpoint.pt")
    verdict = "matches" if digest in expected else "differs from"
    print(f"{args.out / 'checkpoint.pt'}: sha256 {digest} {verdict} the recorded {sorted(expected)}"
          + ("" if outcome else " (no epoch was trained in this call)"))
    return 0 if digest in expected else 1


if __name__ == "__main__":
    sys.exit(main())
