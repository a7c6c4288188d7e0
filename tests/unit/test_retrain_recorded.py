"""benchmarks/retrain_recorded.py: the config as recorded, and the pickling variants that find a recorded file."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

from smoothcert.checkpoints.store import FORMAT

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "retrain_recorded.py"


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("retrain_recorded", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sha(payload: dict[str, object]) -> str:
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, **payload}, buffer)
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def _fresh(text: str) -> str:
    return "".join(list(text))  # equal, but a new object


def test_recorded_config_drops_new_default_keys_and_keeps_the_recorded_data_dir(tool: ModuleType) -> None:
    trained = {"arch": "lenet", "lr_step": 30, "lr_delay": 0, "data_dir": "/data/mnist", "seed": 0}
    recorded = {"arch": "lenet", "lr_step": 30, "data_dir": "../shared/data/mnist", "seed": 0}
    out = tool.recorded_config(trained, recorded)
    assert list(out.items()) == [("arch", "lenet"), ("lr_step", 30), ("data_dir", "../shared/data/mnist"), ("seed", 0)]
    assert out["arch"] is trained["arch"]  # the trained objects, so pickling refers back to them as training did


@pytest.mark.parametrize(("trained", "message"), [
    ({"arch": "lenet", "lr_step": 20, "data_dir": None}, "lr_step: recorded 30, trained 20"),
    ({"arch": "lenet", "lr_step": 30, "lr_delay": 1, "data_dir": None}, "lr_delay: 1 (not recorded; default 0)"),
    ({"arch": "lenet", "data_dir": None}, "lr_step: recorded but not a setting any more"),
])
def test_recorded_config_refuses_a_training_other_than_the_record(
        tool: ModuleType, trained: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        tool.recorded_config(trained, {"arch": "lenet", "lr_step": 30, "data_dir": None})


def test_a_variant_reproduces_a_file_written_with_interned_config_strings(tool: ModuleType) -> None:
    weights = {"0.weight": torch.arange(6.0).reshape(2, 3)}
    method = sys.intern("consistency")

    def payload(device: str, method_name: str, arg_key: str) -> dict[str, object]:
        config = {"method": method_name, "device": device, "method_args": {arg_key: 2.0}}
        return {"method": method_name, "config": config, "state_dict": weights}

    # As a run started by code: literals, interned, so "cpu" is the storage location tag's object.
    original = _sha(payload(sys.intern("cpu"), method, sys.intern("consistency")))
    # As the same run started from a command line: equal strings, other objects, other bytes.
    retrained = payload(_fresh("cpu"), _fresh("consistency"), _fresh("consistency"))
    assert _sha(retrained) != original
    digests = [_sha(v) for v in tool.identity_variants(retrained)]
    assert len(digests) == 2**3  # device, method, the method_args key equal to the method: interned or fresh
    assert digests.count(original) == 1
    for variant in tool.identity_variants(retrained):
        assert variant["method"] is variant["config"]["method"]  # the checkpoint's method is the config's object
        assert variant["config"] == retrained["config"]
