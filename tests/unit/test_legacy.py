"""Checkpoints of the original code (Cohen et al.; Salman et al.; Jeong & Shin) load and certify like ours."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch

from smoothcert.checkpoints.legacy import convert_legacy, sigma_or_error
from smoothcert.checkpoints.store import load_checkpoint, model_from_checkpoint, save_checkpoint
from smoothcert.cli.main import main
from smoothcert.errors import UserError
from smoothcert.models import create_model
from smoothcert.smooth import Smooth
from tests.unit.fake_data import write_mnist

CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)
# Jeong & Shin's archs/lenet.py names (conv1, conv2, fc1, fc2) for our nn.Sequential indices.
LENET_NAMES = {"0": "conv1", "3": "conv2", "7": "fc1", "9": "fc2"}


def _trained_like(model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights and BatchNorm statistics, so that a wrong mapping shows."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and not name.startswith("0."):
                tensor.copy_(torch.rand(tensor.shape, generator=gen) * 0.2 + (0.9 if "running_var" in name else -0.1))
    return model


def _original_layout(model: torch.nn.Module, net_prefix: str = "1.", rename: dict[str, str] | None = None) -> dict:
    """The dict that the original train.py saves: no normalization entries, ``1.<net key>``."""
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith("0."):
            continue  # Cohen et al.'s NormalizeLayer keeps means/sds as plain attributes
        head, _, rest = key[2:].partition(".")
        state[net_prefix + f"{(rename or {}).get(head, head)}.{rest}"] = value.clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    return {"epoch": 90, "arch": None, "state_dict": state, "optimizer": optimizer.state_dict()}


def test_cifar_resnet_checkpoint_certifies_exactly_like_the_native_one(tmp_path: Path) -> None:
    native = _trained_like(create_model("cifar_resnet20", 10, (3, 32, 32), CIFAR_MEAN, CIFAR_STD), seed=0)
    legacy = {**_original_layout(native), "arch": "cifar_resnet20"}
    path = tmp_path / "noise_0.25" / "checkpoint.pth.tar"
    path.parent.mkdir()
    torch.save(legacy, path, _use_new_zipfile_serialization=False)  # the pre-1.6 format of the published files
    ckpt = load_checkpoint(path)
    recorded = (ckpt["dataset"], ckpt["num_classes"], ckpt["input_shape"], ckpt["method"])
    assert recorded == ("cifar10", 10, [3, 32, 32], "legacy")
    assert ckpt["mean"] == list(CIFAR_MEAN) and ckpt["std"] == list(CIFAR_STD) and ckpt["sigma"] is None
    loaded = model_from_checkpoint(ckpt)
    for (key, a), (key2, b) in zip(native.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert key == key2 and torch.equal(a, b), key
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        assert torch.equal(native.eval()(x), loaded.eval()(x))
    certs = [Smooth(m, 10, 0.25).certify(x[0], n0=4, n=8, alpha=0.001, batch_size=8,
                                         generator=torch.Generator().manual_seed(7)) for m in (native, loaded)]
    assert certs[0] == certs[1]
    with pytest.raises(UserError, match=r"pass --sigma S \(its path suggests --sigma 0.25\)"):
        sigma_or_error(ckpt, None)
    assert sigma_or_error(ckpt, 0.5) == 0.5


def _mnist_pair(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A native LeNet run directory, the same weights in Jeong & Shin's layout, and an MNIST folder."""
    native = _trained_like(create_model("lenet", 10, (1, 28, 28)), seed=1)
    run = tmp_path / "native"
    run.mkdir()
    save_checkpoint(run / "checkpoint.pt", {
        "arch": "lenet", "dataset": "mnist", "num_classes": 10, "input_shape": [1, 28, 28], "mean": [0.0],
        "std": [1.0], "sigma": 0.25, "method": "gaussian", "state_dict": native.state_dict()})
    legacy = tmp_path / "checkpoint.pth.tar"
    torch.save({**_original_layout(native, rename=LENET_NAMES), "arch": "lenet"}, legacy)
    data = tmp_path / "mnist"
    write_mnist(data, n=3)
    return run, legacy, data


def _rows(tsv: Path) -> list[list[str]]:
    return [line.split("\t")[:5] + line.split("\t")[6:] for line in tsv.read_text().splitlines()]


def test_lenet_checkpoint_certifies_the_same_through_the_command_line(tmp_path: Path, capsys) -> None:
    run, legacy, data = _mnist_pair(tmp_path)
    common = ["--data-dir", str(data), "--n0", "20", "--n", "200", "--batch-size", "200", "--quiet"]
    assert main(["certify", str(run), "--out", str(tmp_path / "a.tsv"), *common]) == 0
    capsys.readouterr()
    assert main(["certify", str(legacy), "--out", str(tmp_path / "b.tsv"), *common]) == 2
    assert "does not record its training sigma" in capsys.readouterr().err
    assert not (tmp_path / "b.tsv").exists()
    assert main(["certify", str(legacy), "--sigma", "0.25", "--out", str(tmp_path / "b.tsv"), *common]) == 0
    a, b = _rows(tmp_path / "a.tsv"), _rows(tmp_path / "b.tsv")
    assert len(a) == 4 and a == b  # same predictions, radii, p_lower and counts for every example


def test_convert_writes_a_native_checkpoint_with_sigma(tmp_path: Path, capsys) -> None:
    run, legacy, _ = _mnist_pair(tmp_path)
    out = tmp_path / "converted.pt"
    assert main(["convert", str(legacy), "--out", str(out), "--sigma", "0.25"]) == 0
    ckpt = load_checkpoint(out)
    assert (ckpt["sigma"], ckpt["method"], ckpt["legacy"]["normalization"]) == (0.25, "legacy", "none")
    native = load_checkpoint(run)
    for key, value in native["state_dict"].items():
        assert torch.equal(value, ckpt["state_dict"][key]), key
    capsys.readouterr()
    assert main(["convert", str(legacy), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert main(["convert", str(run / "checkpoint.pt"), "--out", str(tmp_path / "again.pt")]) == 2
    assert "already a smoothcert checkpoint" in capsys.readouterr().err


def test_prefixes_saved_buffers_and_normalization_modes() -> None:
    net = _trained_like(create_model("cifar_resnet20", 10, (3, 32, 32)), seed=2)
    layout = _original_layout(net)
    # ImageNet-style DataParallel inside the Sequential, and around the whole model
    for prefix in ("1.module.", "module.1."):
        moved = {prefix + key[2:]: value for key, value in layout["state_dict"].items()}
        ckpt = convert_legacy({"arch": "cifar_resnet20", "state_dict": moved})
        assert ckpt["state_dict"]["1.fc.weight"] is moved[prefix + "fc.weight"]
    saved = {**layout["state_dict"], "0.means": torch.tensor([0.1, 0.2, 0.3]), "0.sds": torch.tensor([0.5, 0.5, 0.25])}
    ckpt = convert_legacy({"arch": "cifar_resnet20", "state_dict": saved})
    assert ckpt["mean"] == pytest.approx([0.1, 0.2, 0.3]) and ckpt["std"] == [0.5, 0.5, 0.25]
    assert ckpt["state_dict"]["0.std"].shape == (3, 1, 1)
    centred = convert_legacy({"arch": "cifar_resnet20", "state_dict": layout["state_dict"]}, normalization="center")
    assert centred["mean"] == list(CIFAR_MEAN) and centred["std"] == [1.0, 1.0, 1.0]
    bare = convert_legacy({"arch": "cifar_resnet20", "state_dict": net[1].state_dict()})
    assert set(bare["state_dict"]) == set(net.state_dict())
    model_from_checkpoint(centred)  # loads strictly


def test_unknown_arch_and_foreign_weights_are_user_errors() -> None:
    with pytest.raises(UserError, match="has arch 'densenet40'; supported: cifar_resnet20"):
        convert_legacy({"arch": "densenet40", "state_dict": {}})
    with pytest.raises(UserError, match="do not fit architecture 'resnet50'"):
        convert_legacy({"arch": "resnet50", "state_dict": {"1.module.conv1.weight": torch.zeros(1)}})
    with pytest.raises(UserError, match=r"unexpected entry '2\.x'"):
        convert_legacy({"arch": "lenet", "state_dict": {"1.fc2.weight": torch.zeros(10, 500), "2.x": torch.zeros(1)}})
    wrong = convert_legacy({"arch": "cifar_resnet20", "state_dict": {"1.fc.weight": torch.zeros(10, 64)}})
    with pytest.raises(UserError, match="do not fit architecture 'cifar_resnet20'"):
        model_from_checkpoint(wrong)


class _Touch:
    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


def test_pickled_objects_are_refused_without_running_them(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pth.tar"
    torch.save({"arch": "lenet", "state_dict": {}, "hook": _Touch(marker)}, path, _use_new_zipfile_serialization=False)
    unsafe = r"pickled Python object \((io|builtins).open\).*never unpickles objects"
    with pytest.raises(UserError, match=unsafe) as err:
        load_checkpoint(path)
    assert not marker.exists() and "\x1b" not in str(err.value)
    torch.save({"arch": "lenet", "args": argparse.Namespace(lr=0.1), "state_dict": {}}, path)
    with pytest.raises(UserError, match=r"\(argparse.Namespace\)"):
        load_checkpoint(path)
