"""Loading a file never runs code: malicious pickles fed to every loader that unpickles.

Each payload is first loaded the unsafe way (plain ``pickle`` or
``torch.load(weights_only=False)``) to prove that it really runs code: it
creates a marker file. Then the smoothcert loader must refuse it with a
``UserError`` that says the file is not loadable, and the marker must not
appear. Loaders that unpickle: :func:`smoothcert.checkpoints.store.load_checkpoint`
(native and legacy checkpoints, used by certify/predict/attack/train --resume/
convert) and the CIFAR-10 batch reader (through ``data._safe_pickle``).
"""

from __future__ import annotations

import contextlib
import io
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from smoothcert.checkpoints.store import import_legacy, load_checkpoint
from smoothcert.data import create_dataset
from smoothcert.data._safe_pickle import load_numpy_pickle
from smoothcert.errors import UserError
from smoothcert.models import create_model


class Exec:
    """Pickles as ``exec(source)``: plain unpickling runs ``source`` (here: creates the marker file)."""

    def __init__(self, marker: Path) -> None:
        self.source = f"open({str(marker)!r}, 'w').close()"

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (self.source,)


def _meta() -> dict[str, object]:
    state = create_model("mlp", 4, (1, 4, 4)).state_dict()
    return {"format": "smoothcert-checkpoint-1", "arch": "mlp", "dataset": "synthetic", "num_classes": 4,
            "input_shape": [1, 4, 4], "mean": [0.0], "std": [1.0], "sigma": 0.25, "method": "gaussian",
            "state_dict": state}


def _torch_bytes(obj: object, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, **kwargs)
    return buffer.getvalue()


def _os_system(marker: Path) -> bytes:
    """Protocol 0, written by hand: ``os.system("touch MARKER")``."""
    return b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR."


def _unsafe_torch(raw: bytes) -> None:
    torch.load(io.BytesIO(raw), weights_only=False)


def _unsafe_pickle(raw: bytes) -> None:
    pickle.loads(raw, encoding="latin1")


# name -> (payload builder, the unsafe loader that proves the payload runs code)
CHECKPOINTS: dict[str, tuple[Callable[[Path], bytes], Callable[[bytes], None]]] = {
    "object-inside-a-valid-checkpoint": (lambda m: _torch_bytes({**_meta(), "note": Exec(m)}), _unsafe_torch),
    "object-as-the-whole-file": (lambda m: _torch_bytes(Exec(m)), _unsafe_torch),
    "object-in-pickle-protocol-4": (lambda m: _torch_bytes({**_meta(), "x": Exec(m)}, pickle_protocol=4),
                                    _unsafe_torch),
    "legacy-torch-serialization": (lambda m: _torch_bytes({**_meta(), "note": Exec(m)},
                                                          _use_new_zipfile_serialization=False), _unsafe_torch),
    "original-code-layout": (lambda m: _torch_bytes({"epoch": 90, "arch": "cifar_resnet20",
                                                     "state_dict": {"1.fc.weight": Exec(m)}}), _unsafe_torch),
    "plain-pickle-file": (lambda m: pickle.dumps(Exec(m), protocol=2), _unsafe_pickle),
    "os-system-protocol-0": (_os_system, _unsafe_pickle),
}

CIFAR_BATCHES: dict[str, Callable[[Path], bytes]] = {
    "exec-protocol-2": lambda m: pickle.dumps(Exec(m), protocol=2),
    "exec-inside-the-batch-dict": lambda m: pickle.dumps({"data": Exec(m), "labels": [0]}, protocol=2),
    "stack-global-protocol-4": lambda m: pickle.dumps({"labels": [0], "data": Exec(m)}, protocol=4),
    "os-system-protocol-0": _os_system,
    "numpy-object-array": lambda m: pickle.dumps({"data": np.array([Exec(m)], dtype=object), "labels": [0]},
                                                 protocol=2),
}


def _proves_it_runs_code(raw: bytes, unsafe: Callable[[bytes], None], marker: Path) -> None:
    with contextlib.suppress(Exception):
        unsafe(raw)
    assert marker.exists(), "the payload should run code under an unsafe loader"
    marker.unlink()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("name", list(CHECKPOINTS))
def test_checkpoint_loader_runs_no_code(name: str, tmp_path: Path) -> None:
    build, unsafe = CHECKPOINTS[name]
    marker = tmp_path / "marker"
    raw = build(marker)
    _proves_it_runs_code(raw, unsafe, marker)
    file = tmp_path / "evil.pt"
    file.write_bytes(raw)
    refused = r"evil\.pt is not a loadable checkpoint \(corrupt, truncated or unsafe\)"
    with pytest.raises(UserError, match=refused) as info:
        load_checkpoint(file)
    assert "weights_only" not in str(info.value)  # torch's "retry with weights_only=False" would run the payload
    with pytest.raises(UserError, match="not a loadable checkpoint"):
        import_legacy(file, tmp_path / "converted.pt", sigma=0.25)  # smoothcert convert
    assert not marker.exists() and not (tmp_path / "converted.pt").exists()


def test_the_refusal_names_the_object_it_would_have_built(tmp_path: Path) -> None:
    file = tmp_path / "evil.pt"
    file.write_bytes(CHECKPOINTS["object-inside-a-valid-checkpoint"][0](tmp_path / "marker"))
    with pytest.raises(UserError, match="exec") as info:
        load_checkpoint(file)
    assert "never unpickles objects" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("name", list(CIFAR_BATCHES))
def test_cifar_loader_runs_no_code(name: str, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    raw = CIFAR_BATCHES[name](marker)
    _proves_it_runs_code(raw, _unsafe_pickle, marker)
    (tmp_path / "test_batch").write_bytes(raw)
    with pytest.raises(UserError, match=r"test_batch is not a CIFAR-10 batch and was not loaded \(refusing"):
        create_dataset("cifar10", "test", tmp_path)
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        load_numpy_pickle(raw)
    assert not marker.exists()


def test_a_valid_checkpoint_still_loads(tmp_path: Path) -> None:
    file = tmp_path / "ok.pt"
    file.write_bytes(_torch_bytes(_meta()))
    assert load_checkpoint(file)["arch"] == "mlp"
