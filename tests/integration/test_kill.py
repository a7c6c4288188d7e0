"""Crash safety: runs killed with SIGKILL resume to exactly what an uninterrupted run writes.

What each test proves:

* ``test_certification_killed_at_random_moments``: a real ``certify`` process
  (forked from the warm CLI server, so it starts in ~0.1 s) is SIGKILLed once
  it has written a seeded random number (1 to 5) of new lines, plus a seeded
  random fraction of the time its last row took, and rerun each time with the
  same arguments, until a run finishes. At least 5 kills must land while rows
  are being written (a run that finishes before that is followed by a fresh
  round, at most 4); every round's final TSV equals an uninterrupted run's row for row
  (except the wall-clock ``time`` column), with every index exactly once.
  Where exactly each kill lands depends on the machine's speed, so this samples
  kill points, it does not enumerate them; the next test does, at file level.
* ``test_resume_from_every_prefix_of_the_tsv``: since rows are only ever
  appended, whatever a kill leaves is a byte prefix of the final TSV (plus
  the manifest, written atomically first). Every prefix, including torn rows,
  a torn header and an empty file, resumes to the identical file.
* ``test_training_killed_inside_a_checkpoint_write``: the process dies inside
  the real ``atomic_write`` of its 3rd checkpoint, after half the bytes reached
  the temporary file and before the rename (a test-only wrapper installed in
  the child by the CLI server). The previous checkpoint is intact and loads,
  and ``--resume`` ends with weights bit-identical to an uninterrupted run and
  a log with each epoch once.
* ``test_training_killed_at_random_moments``: the same at seeded random kill
  moments (after 0 or 1 new log lines, plus a random fraction of the run's
  last epoch time; 0 new lines means a kill during start-up or resume; a row
  is logged just before its checkpoint is written, so many kills land in or
  near a checkpoint write) during a run that checkpoints every epoch.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
from pathlib import Path

import torch

from smoothcert.certify.rows import per_index, run_rows
from smoothcert.checkpoints.store import load_checkpoint, save_checkpoint
from smoothcert.models import create_model
from tests.integration._cli_server import CliServer

# n0 and n are multiples of the batch size, so no remainder chunk waits to be packed with other examples
# (the packed engine would then finish all 40 examples in one burst at the end) and each row is written
# as soon as its ~10 ms of sampling is done: the 2 ms polling below sees rows arrive one by one, and kills
# land between and inside them. With n0=20 a fast machine wrote all 40 rows within a few milliseconds
# and most kills came too late (CI saw 4 kills of the 5 required).
CERTIFY = ["--max", "40", "--n0", "5000", "--n", "50000", "--alpha", "0.01", "--batch-size", "5000", "--quiet"]
TRAIN = ["train", "--dataset", "digits", "--arch", "mlp", "--sigma", "0.25", "--batch-size", "64", "--lr", "0.05",
         "--quiet"]


def _rows(path: Path) -> list[list[str]]:
    """TSV rows without the ``time`` column."""
    lines = [line.split("\t") for line in path.read_text().splitlines()]
    col = lines[0].index("time")
    return [line[:col] + line[col + 1:] for line in lines]


def _checkpoint(path: Path) -> Path:
    torch.manual_seed(0)
    model = create_model("mlp", 4, (1, 4, 4), (0.5,), (0.25,))
    save_checkpoint(path, {"arch": "mlp", "dataset": "synthetic", "num_classes": 4, "input_shape": [1, 4, 4],
                           "mean": [0.5], "std": [0.25], "sigma": 0.25, "method": "gaussian", "epoch": 1,
                           "state_dict": model.state_dict()})
    return path


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def _kill_later(cli: CliServer, pid: int, path: Path, target: int, last: int, fraction: float) -> bool:
    """SIGKILL ``pid`` once ``path`` has ``target`` lines, plus ``fraction`` of the time one line takes.

    That time is the run's own pace, the gap between the last two new lines it
    wrote (0.02 s until it has written two): the machine's load changes it.
    With ``target > last`` (the final line count) the run is left to finish.
    Returns whether the process was killed (else it exited with status 0).
    """
    deadline, seen, stamps = time.perf_counter() + 120, _lines(path), []
    while seen < min(target, last) and time.perf_counter() < deadline:
        time.sleep(0.002)
        if _lines(path) != seen:
            seen = _lines(path)
            stamps.append(time.perf_counter())
    if target <= last:
        time.sleep(fraction * (stamps[-1] - stamps[-2] if len(stamps) >= 2 else 0.02))
        os.kill(pid, signal.SIGKILL)
    result = cli.wait(pid)
    assert result.returncode in (0, -signal.SIGKILL), result.stderr
    return result.returncode != 0


def test_certification_killed_at_random_moments(cli: CliServer, tmp_path: Path) -> None:
    ckpt = _checkpoint(tmp_path / "model.pt")
    args = ["certify", str(ckpt), *CERTIFY]
    reference = tmp_path / "reference.tsv"
    assert cli.run([*args, "--out", str(reference)]).returncode == 0
    total = _lines(reference) - 1
    assert total == 40
    rng = random.Random(6)
    kills = torn = rounds = 0
    while kills < 5:  # a round whose run finished before 5 kills landed is followed by a fresh one
        rounds += 1
        assert rounds <= 4, f"only {kills} kills landed while rows were written, in {rounds - 1} rounds"
        killed = tmp_path / f"killed{rounds}.tsv"
        for _ in range(80):
            before = _lines(killed)
            target = before + rng.randint(1, 5)  # kill after a random number of new rows ...
            pid = cli.spawn([*args, "--out", str(killed)])
            if not _kill_later(cli, pid, killed, target, total + 1, rng.uniform(0.0, 1.0)):  # ... and part of the next
                break
            raw = killed.read_bytes() if killed.exists() else b"\n"
            kills += before < _lines(killed) < total + 1  # it died while rows were being written
            torn += not raw.endswith(b"\n")
        else:
            raise AssertionError("the killed certification never finished")
        assert _rows(killed) == _rows(reference)  # every round, however many kills it took, ends identical
    indices = [row[0] for row in _rows(killed)[1:]]
    assert indices == [str(i) for i in range(total)]
    print(f"certification: {kills} kills during rows in {rounds} round(s) ({torn} left a torn row), "
          "resumed to the reference TSV")


def test_resume_from_every_prefix_of_the_tsv(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(os, "fsync", lambda fd: None)  # file logic only; ~200 resumes would spend seconds syncing
    columns = ["idx", "label", "predict", "radius", "correct", "time"]
    manifest = {"command": "certify", "seed": 0}

    def compute(idx: int) -> dict[str, object]:
        return {"idx": idx, "label": idx % 3, "predict": idx % 2, "radius": idx / 7, "correct": idx % 5 == 0,
                "time": 0.5}

    full = run_rows(tmp_path / "full.tsv", manifest, columns, range(6), per_index(compute), quiet=True)
    reference, meta = full.read_bytes(), Path(str(full) + ".json").read_bytes()
    out = tmp_path / "resumed.tsv"
    for cut in range(len(reference) + 1):
        out.write_bytes(reference[:cut])
        Path(str(out) + ".json").write_bytes(meta)
        run_rows(out, manifest, columns, range(6), per_index(compute), quiet=True)
        assert out.read_bytes() == reference, f"prefix of {cut} bytes"
    out.unlink()  # killed after the manifest, before the TSV existed
    run_rows(out, manifest, columns, range(6), per_index(compute), quiet=True)
    assert out.read_bytes() == reference


def _same_weights(a: Path, b: Path) -> None:
    first, second = load_checkpoint(a), load_checkpoint(b)
    assert first["epoch"] == second["epoch"]
    for key, value in first["state_dict"].items():
        torch.testing.assert_close(second["state_dict"][key], value, rtol=0, atol=0)


def _log_epochs(run: Path) -> list[int]:
    return [int(line.split(",")[0]) for line in (run / "log.csv").read_text().splitlines()[1:]]


def test_training_killed_inside_a_checkpoint_write(cli: CliServer, tmp_path: Path) -> None:
    epochs = ["--epochs", "4", "eval_noise=false"]
    reference, run = tmp_path / "reference", tmp_path / "run"
    assert cli.run([*TRAIN, *epochs, "--out", str(reference)]).returncode == 0
    result = cli.wait(cli.spawn([*TRAIN, *epochs, "--out", str(run)], kill_in_checkpoint_write=3))
    assert result.returncode == -signal.SIGKILL
    leftovers = [p.name for p in run.iterdir() if p.name.endswith(".tmp")]
    assert len(leftovers) == 1, "the process died with a half-written temporary checkpoint"
    assert load_checkpoint(run)["epoch"] == 2  # the last complete checkpoint, intact
    assert _log_epochs(run) == [1, 2, 3]  # epoch 3 was logged, its checkpoint never landed
    assert cli.run([*TRAIN, *epochs, "--out", str(run), "--resume"]).returncode == 0
    _same_weights(reference / "checkpoint.pt", run / "checkpoint.pt")
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")], "the resumed run removes the leftover"
    assert _log_epochs(run) == [1, 2, 3, 4]
    assert (run / "log.csv").read_text().splitlines()[0] == (reference / "log.csv").read_text().splitlines()[0]


def test_training_killed_at_random_moments(cli: CliServer, tmp_path: Path) -> None:
    # A kill lands less than two epochs after its run started (one new log line plus a fraction of the
    # next epoch), so 12 epochs take at least 6 kills however fast or slow the machine is.
    epochs = ["--epochs", "12", "eval_noise=false"]
    reference, run = tmp_path / "reference", tmp_path / "run"
    assert cli.run([*TRAIN, *epochs, "--out", str(reference)]).returncode == 0
    rng = random.Random(7)
    kills = 0
    for attempt in range(80):
        target = _lines(run / "log.csv") + rng.randint(0, 1)  # kill after 0 or 1 new log lines ...
        pid = cli.spawn([*TRAIN, *epochs, "--out", str(run), *(["--resume"] if attempt else [])])
        if not _kill_later(cli, pid, run / "log.csv", target, 13, rng.uniform(0.0, 1.0)):  # ... and part of an epoch
            break
        kills += 1
        if (run / "checkpoint.pt").exists():
            assert load_checkpoint(run)["epoch"] >= 1  # whatever the moment, the checkpoint on disk loads
    else:
        raise AssertionError("the killed training never finished")
    assert kills >= 5
    _same_weights(reference / "checkpoint.pt", run / "checkpoint.pt")
    assert _log_epochs(run) == list(range(1, 13))
    assert json.dumps(load_checkpoint(run)["config"], sort_keys=True) == json.dumps(
        load_checkpoint(reference)["config"], sort_keys=True)
    print(f"training: {kills} kills, resumed to the reference weights")
