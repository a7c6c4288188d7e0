"""Ensembles as base classifiers: one member is that member; the early exit gives the full ensemble's votes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from smoothcert import Smooth
from smoothcert.certify.seeds import example_generator
from smoothcert.models import create_model
from smoothcert.models.ensemble import Ensemble

CPU = torch.device("cpu")


def _members(count: int) -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [create_model("mlp", 10, (1, 4, 4)).eval() for _ in range(count)]


def test_an_ensemble_of_one_certifies_exactly_as_its_member() -> None:
    (member,) = _members(1)
    x = torch.rand(1, 4, 4)
    for aggregate in ("logits", "softmax"):
        one = Smooth(Ensemble([member], aggregate=aggregate), 10, 0.5)
        alone = Smooth(member, 10, 0.5)
        assert one.certify(x, 50, 2000, 0.01, 256, example_generator(0, 1, CPU)) == \
            alone.certify(x, 50, 2000, 0.01, 256, example_generator(0, 1, CPU))


def test_mean_of_logits_and_of_softmax_by_hand() -> None:
    members = _members(3)
    x = torch.rand(5, 1, 4, 4)
    with torch.no_grad():
        logits = [m(x) for m in members]
        torch.testing.assert_close(Ensemble(members)(x), sum(logits) / 3)
        torch.testing.assert_close(Ensemble(members, aggregate="softmax")(x),
                                   sum(z.softmax(dim=1) for z in logits) / 3)


@pytest.mark.parametrize("scale", [1.0, 6.0])
def test_early_exit_counts_equal_the_full_ensemble_with_fewer_member_rows(scale: float) -> None:
    """Exit after k of M members needs a softmax margin above M - k, so only a confident majority saves passes.

    Scale 1: five different random members, never confident: no row exits, counts equal. Scale 6: three
    confident copies then two others: after the third member most rows are decided and members 4 and 5
    see a fraction of them.
    """
    members = _members(5)
    if scale > 1:
        import copy

        members = [copy.deepcopy(members[0]) for _ in range(3)] + members[3:]
    with torch.no_grad():
        for m in members:
            for p in m.parameters():
                p.mul_(scale)
    x = torch.rand(1, 4, 4)
    full = Ensemble(members, aggregate="softmax")
    early = Ensemble(members, aggregate="softmax", exit_margin=True)
    counts = [Smooth(e, 10, 0.25).sample_counts(x, 3000, 500, example_generator(0, 0, CPU)) for e in (full, early)]
    assert torch.equal(counts[0], counts[1])
    assert full.member_rows == [3000] * 5
    assert early.member_rows[0] == 3000 and early.member_rows[-1] <= 3000
    if scale > 1:
        assert sum(early.member_rows) < 0.8 * sum(full.member_rows)  # the saving, measured here


def test_the_command_line_certifies_an_ensemble_and_records_every_member(digits_run: Path, tmp_path: Path) -> None:
    from smoothcert.cli.main import main

    fast = ["--n0", "10", "--n", "200", "--batch-size", "64", "--max", "4", "--quiet"]
    single, double = tmp_path / "one.tsv", tmp_path / "two.tsv"
    assert main(["certify", str(digits_run), "--out", str(single), *fast]) == 0
    assert main(["certify", str(digits_run), str(digits_run), "--out", str(double), *fast]) == 0
    strip = lambda p: [line.split("\t")[:5] for line in p.read_text().splitlines()]  # noqa: E731
    assert strip(single) == strip(double)  # (z + z) / 2 == z exactly: the same votes
    manifest = json.loads(Path(str(double) + ".json").read_text())
    assert len(manifest["ensemble"]["members"]) == 2 and manifest["ensemble"]["aggregate"] == "logits"
    assert manifest["ensemble"]["members"][0]["sha256"] == manifest["checkpoint_sha256"]
