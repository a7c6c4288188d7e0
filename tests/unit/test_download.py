"""``smoothcert download`` against a real HTTP server on 127.0.0.1 serving files in the real formats.

The server (``tests/unit/file_server.py``) serves tiny MNIST IDX ``.gz`` files and a
tiny CIFAR-10 python tarball; the documented variables point the downloader at it
(``SMOOTHCERT_DOWNLOAD_URL``) and give it those files' SHA-256 sums
(``SMOOTHCERT_DOWNLOAD_CHECKSUMS``), so the code under test is the code a user runs.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from smoothcert.cli.main import main
from smoothcert.data import create_dataset
from smoothcert.data.locations import resolve_data_dir
from smoothcert.data.sources import CHECKSUMS_ENV, SOURCES, URL_ENV
from tests.unit.fake_data import write_cifar
from tests.unit.file_server import FileServer
from tests.unit.test_data import write_mnist

MNIST_NAMES = [f.name for f in SOURCES["mnist"].files]
Serve = Callable[[str, dict[str, bytes]], FileServer]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No real cache, data directory or mirror is touched."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv(URL_ENV, "http://127.0.0.1:9/unused")  # discard port: never the internet
    for var in ("SMOOTHCERT_DATA_DIR", CHECKSUMS_ENV, "SMOOTHCERT_PROGRESS"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Serve]:
    """Start a server for ``dataset``'s files and point the documented variables at it."""
    servers: list[FileServer] = []

    def start(dataset: str, files: dict[str, bytes]) -> FileServer:
        server = FileServer({f"/{dataset}/{name}": data for name, data in files.items()}).__enter__()
        servers.append(server)
        sums = tmp_path / f"{dataset}.sha256"
        sums.write_text("".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in files.items()))
        monkeypatch.setenv(URL_ENV, server.url)
        monkeypatch.setenv(CHECKSUMS_ENV, str(sums))
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture
def mnist(tmp_path: Path) -> tuple[dict[str, bytes], np.ndarray, np.ndarray]:
    """The four IDX .gz files of a 12-image MNIST, their images and labels."""
    images, labels = write_mnist(tmp_path / "made", n=12, seed=3)
    return {name: (tmp_path / "made" / name).read_bytes() for name in MNIST_NAMES}, images, labels


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_fresh_download_then_loading(mnist, serve: Serve, tmp_path: Path, capsys, monkeypatch) -> None:
    files, images, labels = mnist
    server = serve("mnist", files)
    monkeypatch.setenv("SMOOTHCERT_PROGRESS", "1")  # draw the bars although stderr is not a terminal
    assert main(["download", "mnist", "--data-dir", str(tmp_path / "d")]) == 0
    err = capsys.readouterr().err
    assert all(f"\r{name}:   0%|" in err for name in MNIST_NAMES)  # one byte-counting bar per file
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == sorted(MNIST_NAMES)
    assert all((tmp_path / "d" / name).read_bytes() == data for name, data in files.items())
    assert server.requests == [(f"/mnist/{name}", None) for name in MNIST_NAMES]
    data = create_dataset("mnist", "test", tmp_path / "d")
    torch.testing.assert_close(data.images[:, 0], torch.from_numpy(images).float() / 255.0)
    assert data.labels.tolist() == labels.tolist()


def test_verified_files_are_not_fetched_again(mnist, serve: Serve, tmp_path: Path, capsys) -> None:
    server = serve("mnist", mnist[0])
    assert main(["download", "mnist", "--data-dir", str(tmp_path / "d")]) == 0
    before = len(server.requests)
    assert main(["download", "mnist", "--data-dir", str(tmp_path / "d")]) == 0
    assert len(server.requests) == before == 4
    assert capsys.readouterr().err.count("already in") == 4


def test_checksum_mismatch_is_refused_and_deleted(mnist, serve: Serve, tmp_path: Path, capsys) -> None:
    files = mnist[0]
    server = serve("mnist", files)
    bad = bytearray(files["t10k-images-idx3-ubyte.gz"])
    bad[-10] ^= 0xFF  # same length, one byte flipped
    server.files["/mnist/t10k-images-idx3-ubyte.gz"] = bytes(bad)
    assert main(["download", "mnist", "--data-dir", str(tmp_path / "d"), "--quiet"]) == 2
    line = _error_line(capsys)
    assert "t10k-images-idx3-ubyte.gz" in line and hashlib.sha256(bad).hexdigest() in line and "deleted" in line
    assert not (tmp_path / "d" / "t10k-images-idx3-ubyte.gz").exists()
    assert not (tmp_path / "d" / "t10k-images-idx3-ubyte.gz.part").exists()
    assert (tmp_path / "d" / "train-images-idx3-ubyte.gz").read_bytes() == files["train-images-idx3-ubyte.gz"]


def test_cut_connection_then_rerun_resumes(mnist, serve: Serve, tmp_path: Path, capsys) -> None:
    files = mnist[0]
    name = "train-images-idx3-ubyte.gz"
    server = serve("mnist", files)
    server.cut_after[f"/mnist/{name}"] = 1000
    assert main(["download", "mnist", "--data-dir", str(tmp_path / "d"), "--quiet"]) == 2
    line = _error_line(capsys)
    assert f"after 1,000 of {len(files[name]):,} bytes" in line and "rerun to resume" in line
    part = tmp_path / "d" / f"{name}.part"
    assert part.read_bytes() == files[name][:1000] and not (tmp_path / "d" / name).exists()
    server.requests.clear()
    assert main(["download", "mnist", "--data-dir", str(tmp_path / "d"), "--quiet"]) == 0
    assert server.requests == [(f"/mnist/{name}", "bytes=1000-")] + [
        (f"/mnist/{other}", None) for other in MNIST_NAMES[1:]]
    assert (tmp_path / "d" / name).read_bytes() == files[name] and not part.exists()


def test_server_ignoring_range_restarts_the_file(mnist, serve: Serve, tmp_path: Path) -> None:
    files = mnist[0]
    name = "t10k-labels-idx1-ubyte.gz"
    server = serve("mnist", files)
    server.ignore_range = True
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / f"{name}.part").write_bytes(b"not the start of this file")
    assert main(["download", "mnist", "--data-dir", str(tmp_path / "d"), "--quiet"]) == 0
    assert (f"/mnist/{name}", "bytes=26-") in server.requests  # asked to resume, was sent the whole file
    assert (tmp_path / "d" / name).read_bytes() == files[name]


def test_resumed_part_of_another_file_is_fetched_again(mnist, serve: Serve, tmp_path: Path) -> None:
    files = mnist[0]
    name = "t10k-labels-idx1-ubyte.gz"
    server = serve("mnist", files)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / f"{name}.part").write_bytes(b"X" * 20)  # a wrong prefix, continued with the right tail
    assert main(["download", "mnist", "--data-dir", str(tmp_path / "d"), "--quiet"]) == 0
    mine = [r for r in server.requests if r[0] == f"/mnist/{name}"]
    assert mine == [(f"/mnist/{name}", "bytes=20-"), (f"/mnist/{name}", None)]
    assert (tmp_path / "d" / name).read_bytes() == files[name]


def test_next_mirror_after_a_failing_one(mnist, serve: Serve, tmp_path: Path, monkeypatch) -> None:
    server = serve("mnist", mnist[0])
    monkeypatch.setenv(URL_ENV, f"{server.url}/missing {server.url}")
    assert main(["download", "mnist", "--data-dir", str(tmp_path / "d"), "--quiet"]) == 0
    assert [path for path, _ in server.requests] == [p for name in MNIST_NAMES
                                                      for p in (f"/missing/mnist/{name}", f"/mnist/{name}")]


def test_existing_file_with_another_checksum_is_kept(mnist, serve: Serve, tmp_path: Path, capsys) -> None:
    server = serve("mnist", mnist[0])
    (tmp_path / "d").mkdir()
    mine = tmp_path / "d" / "train-labels-idx1-ubyte.gz"
    mine.write_bytes(b"my own file")
    assert main(["download", "mnist", "--data-dir", str(tmp_path / "d"), "--quiet"]) == 2
    assert "left as it is" in _error_line(capsys) and mine.read_bytes() == b"my own file"
    assert "/mnist/train-labels-idx1-ubyte.gz" not in [path for path, _ in server.requests]


def test_dataset_already_there_uncompressed(serve: Serve, tmp_path: Path, capsys) -> None:
    server = serve("mnist", {})
    write_mnist(tmp_path / "d", compress=False)
    assert main(["download", "mnist", "--data-dir", str(tmp_path / "d")]) == 0
    assert server.requests == [] and "nothing to fetch" in capsys.readouterr().err


def test_malformed_checksum_file(serve: Serve, tmp_path: Path, capsys, monkeypatch) -> None:
    serve("mnist", {})
    (tmp_path / "sums").write_text("abc  train-images-idx3-ubyte.gz\n")
    monkeypatch.setenv(CHECKSUMS_ENV, str(tmp_path / "sums"))
    assert main(["download", "mnist", "--data-dir", str(tmp_path / "d")]) == 2
    assert "line 1 is not" in _error_line(capsys)


def test_unknown_dataset(capsys) -> None:
    assert main(["download", "imagenet"]) == 2
    assert "cannot download 'imagenet'" in _error_line(capsys)


def _cifar_tarball(tmp_path: Path) -> tuple[bytes, dict[str, tuple[np.ndarray, np.ndarray]]]:
    arrays = write_cifar(tmp_path / "made" / "cifar-10-batches-py")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(tmp_path / "made" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
        evil = tarfile.TarInfo("cifar-10-batches-py/../escaped")  # must not leave the folder
        evil.size = 4
        tar.addfile(evil, io.BytesIO(b"evil"))
        link = tarfile.TarInfo("cifar-10-batches-py/link")  # links are not unpacked
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    return buffer.getvalue(), arrays


def test_cifar10_tarball_download_and_unpack(serve: Serve, tmp_path: Path, capsys) -> None:
    tarball, arrays = _cifar_tarball(tmp_path)
    server = serve("cifar10", {"cifar-10-python.tar.gz": tarball})
    target = tmp_path / "d"
    assert main(["download", "cifar10", "--data-dir", str(target)]) == 0
    assert "unpacked 6 files" in capsys.readouterr().err
    assert (target / "cifar-10-python.tar.gz").read_bytes() == tarball
    assert sorted(p.name for p in (target / "cifar-10-batches-py").iterdir()) == sorted(
        [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"])
    assert not (target / "escaped").exists()
    for split in ("train", "test"):
        data = create_dataset("cifar10", split, target)
        torch.testing.assert_close(data.images, torch.from_numpy(arrays[split][0]).float() / 255.0)
        assert data.labels.tolist() == arrays[split][1].tolist()
    assert main(["download", "cifar10", "--data-dir", str(target)]) == 0
    assert len(server.requests) == 1 and "unpacked" not in capsys.readouterr().err


def test_resolution_downloads_into_the_cache(mnist, serve: Serve, tmp_path: Path) -> None:
    server = serve("mnist", mnist[0])
    found = resolve_data_dir("mnist", split="test", download=True, quiet=True)
    assert found == tmp_path / "cache" / "smoothcert" / "mnist"
    assert len(server.requests) == 4 and create_dataset("mnist", "test").labels.tolist() == mnist[2].tolist()
    assert resolve_data_dir("mnist", split="test", download=True) == found and len(server.requests) == 4


def test_download_goes_to_the_data_dir_variable(mnist, serve: Serve, tmp_path: Path, monkeypatch) -> None:
    serve("mnist", mnist[0])
    monkeypatch.setenv("SMOOTHCERT_DATA_DIR", str(tmp_path / "shared"))
    assert main(["download", "mnist", "--quiet"]) == 0
    assert sorted(p.name for p in (tmp_path / "shared" / "mnist").glob("*.gz")) == sorted(MNIST_NAMES)
    assert not (tmp_path / "cache").exists()
