"""Where a dataset's files are found: one resolution order for every command.

For a dataset that reads files (mnist, cifar10, imagenet, imagefolder), the
directory is, in this order:

1. ``given``: the ``--data-dir`` of the command (or ``data_dir`` of a recipe);
   used alone, never replaced by another place;
2. ``recorded``: the ``data_dir`` a run recorded in its config (``train``
   records the directory it actually read), when it still holds the dataset;
3. ``$SMOOTHCERT_DATA_DIR/<dataset>``, when the variable is set;
4. further variables of the dataset (``$IMAGENET_DIR`` for imagenet);
5. the user cache ``$XDG_CACHE_HOME/smoothcert/<dataset>``, else
   ``~/.cache/smoothcert/<dataset>`` (where ``smoothcert download`` puts files).

A place "holds the dataset" when the files of the split (or of every split)
are there; their content is checked by the loader. Looking never creates or
changes anything. When no place holds the dataset, one :class:`UserError` names
every place looked in and how to get the files.
"""

from __future__ import annotations

import os
from pathlib import Path

from smoothcert.data.layouts import FileLayout, file_layout, holds, register_layout
from smoothcert.errors import UserError

__all__ = ["DATA_DIR_ENV", "FileLayout", "cache_root", "default_dirs", "download_dir", "file_layout", "holds",
           "register_layout", "resolve_data_dir"]

DATA_DIR_ENV = "SMOOTHCERT_DATA_DIR"


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/smoothcert`` (an absolute path), else ``~/.cache/smoothcert``."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "smoothcert"


def default_dirs(name: str) -> list[tuple[str, Path | None]]:
    """The places searched after ``--data-dir`` and the run's record: (label, path or None when unset)."""
    layout = file_layout(name)
    if layout is not None and not layout.search:
        return []
    env = os.environ.get(DATA_DIR_ENV)
    places: list[tuple[str, Path | None]] = [(f"${DATA_DIR_ENV}/{name}", Path(env) / name if env else None)]
    for var in layout.env if layout is not None else ():
        places.append((f"${var}", Path(os.environ[var]) if os.environ.get(var) else None))
    places.append(("the user cache", cache_root() / name))
    return places


def download_dir(name: str, given: str | Path | None = None) -> Path:
    """Where ``smoothcert download`` puts dataset ``name``: ``given``, else ``$SMOOTHCERT_DATA_DIR/<name>``, else the
    cache."""
    if given is not None:
        return Path(given)
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) / name if env else cache_root() / name


def _why_not(layout: FileLayout, path: Path | None, split: str | None) -> str:
    if path is None:
        return "not set"
    if not path.is_dir():
        return f"{path}: no such directory"
    lacks = layout.missing(path, split)
    more = f" and {len(lacks) - 2} more" if len(lacks) > 2 else ""
    return f"{path}: no {', '.join(lacks[:2])}{more}"


def _downloadable(name: str) -> bool:
    from smoothcert.data.sources import SOURCES

    return name in SOURCES


def _how_to_get(name: str, layout: FileLayout, given: Path | None) -> str:
    if not _downloadable(name):
        return layout.obtain
    if given is not None:
        return f"run `smoothcert download {name} --data-dir {given}`, or add --download"
    return f"run `smoothcert download {name}` (into {download_dir(name)}), or add --download"


def resolve_data_dir(dataset: str, given: str | Path | None = None, recorded: str | Path | None = None, *,
                     split: str | None = None, download: bool = False, quiet: bool = False) -> Path | None:
    """The directory holding ``dataset``'s files, by the order in the module docstring.

    Args:
        dataset: a registered dataset name.
        given: ``--data-dir``; when set, the only place looked in.
        recorded: the ``data_dir`` of the run being certified (its config), or None.
        split: the split that must be present ("train" or "test"); None: every split.
        download: fetch a missing downloadable dataset (into ``given``, else
            ``$SMOOTHCERT_DATA_DIR/<dataset>``, else the cache) instead of failing.
        quiet: no progress bars or messages while downloading.

    Returns:
        The directory (absolute when found by the environment or the cache), or
        None for a dataset that reads no files.

    Raises:
        UserError: no place holds the dataset (the message names each place and
            how to get the files), or a download failed.

    Example:
        >>> resolve_data_dir("mnist", recorded="/data/mnist")  # doctest: +SKIP
        PosixPath('/data/mnist')
    """
    layout = file_layout(dataset)
    if layout is None:
        return None
    given_path = Path(given) if given is not None else None
    places: list[tuple[str, Path | None]]
    if given_path is not None:
        places = [("--data-dir", given_path)]
    else:
        places = ([("the run's recorded data_dir", Path(recorded))] if recorded else []) + default_dirs(dataset)
    for _, path in places:
        if path is not None and holds(dataset, path, split):
            return path
    if download and _downloadable(dataset):
        from smoothcert.data.fetch import download_dataset

        target = download_dir(dataset, given_path)
        download_dataset(dataset, target, quiet=quiet)
        if holds(dataset, target, split):
            return target
    if not places:
        raise UserError(f"dataset {dataset} needs --data-dir DIR holding {layout.expected}")
    looked = ", ".join(f"{label} ({_why_not(layout, path, split)})" for label, path in places)
    what = f"{dataset} ({split} split)" if split else dataset
    raise UserError(f"{what} not found: looked in {looked} for {layout.expected}; "
                    f"{_how_to_get(dataset, layout, given_path)}")
