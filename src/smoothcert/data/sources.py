"""The datasets ``smoothcert download`` can fetch: files, SHA-256 checksums, sizes, mirrors.

This table is the one place that says what a download must produce. The
checksums are those of the original distribution files (the four IDX ``.gz``
files of MNIST; ``cifar-10-python.tar.gz`` of CIFAR-10, whose published MD5 is
c58f30108f718f92721af3b95e74349a); a file whose SHA-256 differs is refused.

Two environment variables change where files come from, for a local mirror
(and for tests):

* ``SMOOTHCERT_DOWNLOAD_URL``: one or more base URLs (separated by spaces)
  that replace the mirrors below; a file is fetched from
  ``<base>/<dataset>/<file name>``, bases tried in order.
* ``SMOOTHCERT_DOWNLOAD_CHECKSUMS``: a file in ``sha256sum`` format
  (``<64 hex digits>  <file name>`` per line) whose entries replace the
  checksums below for the files it names (their sizes are then unknown).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from smoothcert.errors import UserError

URL_ENV = "SMOOTHCERT_DOWNLOAD_URL"
CHECKSUMS_ENV = "SMOOTHCERT_DOWNLOAD_CHECKSUMS"


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch: its name, SHA-256 (lower-case hex) and size in bytes (None: unknown)."""

    name: str
    sha256: str
    size: int | None


@dataclass(frozen=True)
class Source:
    """A downloadable dataset: its files, the base URLs that serve them, and what to unpack.

    ``extract``, when set, names the folder inside each (tar) file that is
    unpacked beside it (CIFAR-10's ``cifar-10-batches-py``).
    """

    dataset: str
    files: tuple[RemoteFile, ...]
    mirrors: tuple[str, ...]
    extract: str | None = None


SOURCES: dict[str, Source] = {
    "mnist": Source("mnist", (
        RemoteFile("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                   9_912_422),
        RemoteFile("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                   28_881),
        RemoteFile("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                   1_648_877),
        RemoteFile("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                   4_542),
    ), mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist",
        "https://storage.googleapis.com/cvdf-datasets/mnist",
        "http://yann.lecun.com/exdb/mnist",
    )),
    "cifar10": Source("cifar10", (
        RemoteFile("cifar-10-python.tar.gz", "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                   170_498_071),
    ), mirrors=("https://www.cs.toronto.edu/~kriz",), extract="cifar-10-batches-py"),
}

_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


def _checksum_overrides() -> dict[str, str]:
    path = os.environ.get(CHECKSUMS_ENV)
    if not path:
        return {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"${CHECKSUMS_ENV} names {path}, which cannot be read ({exc}); fix or unset it") from None
    sums = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _SUM_LINE.match(line.strip())
        if match is None:
            raise UserError(f"{path} line {number} is not '<sha256>  <file name>' (sha256sum format): {line.strip()!r}")
        sums[match.group(2).strip()] = match.group(1).lower()
    return sums


def file_urls(source: Source, name: str) -> list[str]:
    """The URLs of file ``name`` of ``source``, in the order they are tried."""
    override = os.environ.get(URL_ENV, "").split()
    if override:
        return [f"{base.rstrip('/')}/{source.dataset}/{name}" for base in override]
    return [f"{base}/{name}" for base in source.mirrors]


def get_source(dataset: str) -> Source:
    """The download entry of ``dataset``, with ``$SMOOTHCERT_DOWNLOAD_CHECKSUMS`` applied.

    Raises:
        UserError: the dataset cannot be downloaded, or the checksum file is malformed.
    """
    if dataset not in SOURCES:
        raise UserError(f"smoothcert cannot download {dataset!r}; it downloads: {', '.join(SOURCES)}")
    source = SOURCES[dataset]
    sums = _checksum_overrides()
    files = tuple(replace(f, sha256=sums[f.name], size=None) if f.name in sums else f for f in source.files)
    return replace(source, files=files)
