"""What makes a directory hold a dataset: one file layout per dataset that reads files.

The lowest layer of dataset locations: :mod:`smoothcert.data.locations`
(where to look) and :mod:`smoothcert.data.fetch` (downloading) both read it.
Looking at a layout never reads or changes a file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileLayout:
    """What makes a directory hold a dataset, and how to tell the user to get it.

    Attributes:
        missing: ``(directory, split)`` -> the files of ``split`` (None: of every
            split) that ``directory`` lacks, in words; empty when it holds them.
            Must look at names only, never read the files.
        expected: the files, in words, for error messages.
        obtain: how to get the files when they cannot be downloaded (``""`` when
            ``smoothcert download`` can fetch them).
        env: further environment variables naming the dataset's directory itself.
        search: whether the environment and the cache are searched (False for a
            dataset without a fixed name, which only ``--data-dir`` can locate).
    """

    missing: Callable[[Path, str | None], list[str]]
    expected: str
    obtain: str = ""
    env: tuple[str, ...] = ()
    search: bool = True


_LAYOUTS: dict[str, FileLayout] = {}


def register_layout(name: str, layout: FileLayout) -> None:
    """Record where dataset ``name`` keeps its files; ``ValueError`` on a duplicate."""
    if name in _LAYOUTS:
        raise ValueError(f"dataset {name!r} already has a file layout")
    _LAYOUTS[name] = layout


def file_layout(name: str) -> FileLayout | None:
    """The layout of dataset ``name``; None when it reads no files (digits, synthetic)."""
    return _LAYOUTS.get(name)


def holds(name: str, directory: Path, split: str | None = None) -> bool:
    """Whether ``directory`` has the files of dataset ``name`` (of ``split``; None: of every split)."""
    layout = file_layout(name)
    return layout is not None and directory.is_dir() and not layout.missing(directory, split)
