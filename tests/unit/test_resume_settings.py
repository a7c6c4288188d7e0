"""A run resumes only under the settings it was trained with (``changed_settings``)."""

from __future__ import annotations

from smoothcert.train.config import resolve_config
from smoothcert.train.trainer import changed_settings

FLAGS = {"dataset": "mnist", "arch": "lenet", "sigma": 0.5, "epochs": 90, "device": "cpu", "lr": 0.01}


def test_the_same_settings_and_the_free_keys_pass() -> None:
    trained = resolve_config(None, FLAGS)
    assert changed_settings(trained, resolve_config(None, FLAGS)) == ""
    longer = resolve_config(None, {**FLAGS, "epochs": 120, "device": "cuda", "data_dir": "/data"}, ["eval_noise=false"])
    assert changed_settings(trained, longer) == ""  # train longer, elsewhere, quieter


def test_each_changed_setting_is_named() -> None:
    trained = resolve_config(None, FLAGS)
    now = resolve_config(None, {**FLAGS, "batch_size": 128}, ["lr_delay=1", "method_args.lbd=5"])
    assert changed_settings(trained, now) == (
        "batch_size: 256 -> 128, lr_delay: 0 -> 1, method_args: {} -> {'lbd': 5}")


def test_a_key_an_older_checkpoint_lacks_counts_as_its_default() -> None:
    older = {k: v for k, v in resolve_config(None, FLAGS).items() if k != "lr_delay"}
    assert changed_settings(older, resolve_config(None, FLAGS)) == ""
    assert changed_settings(older, resolve_config(None, FLAGS, ["lr_delay=1"])) == "lr_delay: 0 -> 1"
