"""The training lr schedule: StepLR, and the one-epoch-late decays of the original consistency scripts."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from smoothcert.errors import UserError
from smoothcert.train.config import resolve_config
from smoothcert.train.trainer import build_optimizer

BASE = {"dataset": "digits", "arch": "mlp", "sigma": 0.5, "lr": 0.01, "lr_step": 30, "epochs": 90}


def _lrs(delay: int, epochs: int = 90, resume_at: int | None = None) -> list[float]:
    """The lr each epoch trains at, optionally rebuilding optimizer and schedule from their state at an epoch."""
    config = resolve_config(None, {**BASE, "device": "cpu"}, [f"lr_delay={delay}"])
    model = torch.nn.Linear(2, 2)
    opt, sched = build_optimizer(config, model)
    seen = []
    for epoch in range(epochs):
        if epoch == resume_at:
            state = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}
            opt, sched = build_optimizer(config, model)
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
        seen.append(round(opt.param_groups[0]["lr"], 12))
        opt.step()
        sched.step()
    return seen


def test_step_schedule_decays_every_lr_step_epochs() -> None:
    lrs = _lrs(0)
    assert Counter(lrs) == {0.01: 30, 0.001: 30, 0.0001: 30}
    assert lrs[29] == 0.01 and lrs[30] == 0.001


def test_a_delay_of_one_is_the_original_scripts_schedule() -> None:
    # scheduler.step(epoch) after epoch e sets lr(e) = 0.01 * 0.1 ** (e // 30) for epoch e + 1
    original = [0.01] + [round(0.01 * 0.1 ** (e // 30), 12) for e in range(89)]
    lrs = _lrs(1)
    assert lrs == original
    assert Counter(lrs) == {0.01: 31, 0.001: 30, 0.0001: 29}


@pytest.mark.parametrize("delay", [0, 1])
def test_the_schedule_resumes_from_its_state(delay: int) -> None:
    assert _lrs(delay, resume_at=31) == _lrs(delay)


@pytest.mark.parametrize("bad", ["-1", "true", "0.5"])
def test_a_bad_delay_is_refused(bad: str) -> None:
    with pytest.raises(UserError, match="bad value for lr_delay"):
        resolve_config(None, {**BASE, "device": "cpu"}, [f"lr_delay={bad}"])
