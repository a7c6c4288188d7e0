"""Where datasets are looked for: --data-dir alone, else the run's record, $SMOOTHCERT_DATA_DIR, the user cache.

Each place holds MNIST files of another seed, so the labels read say which place was used.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from smoothcert.data import create_dataset
from smoothcert.data.locations import cache_root, resolve_data_dir
from smoothcert.errors import UserError
from tests.unit.fake_data import write_cifar, write_image_folder
from tests.unit.test_data import write_mnist


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("SMOOTHCERT_DATA_DIR", raising=False)
    monkeypatch.delenv("IMAGENET_DIR", raising=False)
    return tmp_path


@pytest.fixture
def three_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """MNIST in a recorded directory, under $SMOOTHCERT_DATA_DIR and in the cache; labels of each."""
    labels = {}
    for seed, (place, directory) in enumerate([("recorded", tmp_path / "run-data"),
                                               ("env", tmp_path / "env" / "mnist"),
                                               ("cache", tmp_path / "cache" / "smoothcert" / "mnist")]):
        labels[place] = write_mnist(directory, seed=seed)[1].tolist()
    assert len({tuple(v) for v in labels.values()}) == 3
    monkeypatch.setenv("SMOOTHCERT_DATA_DIR", str(tmp_path / "env"))
    return labels


def _labels(directory: Path | None) -> list[int]:
    return create_dataset("mnist", "test", directory).labels.tolist()


def test_recorded_then_env_then_cache(three_places, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _labels(resolve_data_dir("mnist", None, tmp_path / "run-data")) == three_places["recorded"]
    assert _labels(resolve_data_dir("mnist", None, None)) == three_places["env"]
    assert _labels(resolve_data_dir("mnist", None, tmp_path / "moved-away")) == three_places["env"]
    monkeypatch.delenv("SMOOTHCERT_DATA_DIR")
    assert _labels(resolve_data_dir("mnist", None, tmp_path / "moved-away")) == three_places["cache"]
    assert _labels(None) == three_places["cache"]  # create_dataset without a directory resolves the same way


def test_env_directory_without_the_files_is_skipped(three_places, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SMOOTHCERT_DATA_DIR", str(tmp_path / "elsewhere"))
    (tmp_path / "elsewhere" / "mnist").mkdir(parents=True)
    assert resolve_data_dir("mnist") == tmp_path / "cache" / "smoothcert" / "mnist"


def test_given_directory_is_the_only_place(three_places, tmp_path: Path) -> None:
    assert resolve_data_dir("mnist", tmp_path / "run-data", None) == tmp_path / "run-data"
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError) as info:
        resolve_data_dir("mnist", tmp_path / "empty", tmp_path / "run-data", split="test")
    message = str(info.value)
    missing = "no t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]"
    assert f"looked in --data-dir ({tmp_path / 'empty'}: {missing}) for" in message
    assert "run-data" not in message and "cache" not in message
    assert f"`smoothcert download mnist --data-dir {tmp_path / 'empty'}`, or add --download" in message


def test_missing_everywhere_names_every_place(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        resolve_data_dir("mnist", None, "old/data", split="test")
    cache = tmp_path / "cache" / "smoothcert" / "mnist"
    assert str(info.value) == (
        "mnist (test split) not found: looked in the run's recorded data_dir (old/data: no such directory), "
        f"$SMOOTHCERT_DATA_DIR/mnist (not set), the user cache ({cache}: no such directory) for the IDX files "
        "(train|t10k)-(images-idx3|labels-idx1)-ubyte[.gz]; "
        f"run `smoothcert download mnist` (into {cache}), or add --download")
    assert not (tmp_path / "cache").exists()  # looking creates nothing


def test_split_files_are_what_counts(tmp_path: Path) -> None:
    write_mnist(tmp_path / "d", compress=False)
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (tmp_path / "d" / stem).unlink()
    assert resolve_data_dir("mnist", tmp_path / "d", split="test") == tmp_path / "d"
    with pytest.raises(UserError, match=r"mnist \(train split\) not found"):
        resolve_data_dir("mnist", tmp_path / "d", split="train")
    with pytest.raises(UserError, match=r"^mnist not found"):
        resolve_data_dir("mnist", tmp_path / "d")


def test_cache_root_follows_xdg_and_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache_root() == tmp_path / "cache" / "smoothcert"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec ignores relative paths
    assert cache_root() == tmp_path / "home" / ".cache" / "smoothcert"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == tmp_path / "home" / ".cache" / "smoothcert"


def test_cifar10_found_in_its_batches_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = write_cifar(tmp_path / "env" / "cifar10" / "cifar-10-batches-py")
    monkeypatch.setenv("SMOOTHCERT_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir("cifar10", split="train") == tmp_path / "env" / "cifar10"
    assert create_dataset("cifar10", "test").labels.tolist() == arrays["test"][1].tolist()


def test_imagenet_variables_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_image_folder(tmp_path / "ilsvrc", {"a": [(8, 8, (1, 2, 3))]}, splits=("val",))
    monkeypatch.setenv("IMAGENET_DIR", str(tmp_path / "ilsvrc"))
    assert resolve_data_dir("imagenet", split="test") == tmp_path / "ilsvrc"
    with pytest.raises(UserError, match=r"\$IMAGENET_DIR \(.*ilsvrc: no train/\).*image-net.org"):
        resolve_data_dir("imagenet", split="train")
    write_image_folder(tmp_path / "env" / "imagenet", {"a": [(8, 8, (1, 2, 3))]}, splits=("val",))
    monkeypatch.setenv("SMOOTHCERT_DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_dir("imagenet", split="test") == tmp_path / "env" / "imagenet"


def test_imagefolder_and_file_free_datasets(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="dataset imagefolder needs --data-dir DIR"):
        resolve_data_dir("imagefolder", split="test")
    assert resolve_data_dir("digits", "ignored") is None and resolve_data_dir("synthetic") is None
