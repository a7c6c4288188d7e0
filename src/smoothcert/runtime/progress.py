"""Progress bars: tqdm on a terminal (stderr), silent otherwise unless forced.

Set ``SMOOTHCERT_PROGRESS=1`` to force bars (e.g. in a log file), ``=0`` to hide them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def _shown(disable: bool) -> bool:
    forced = os.environ.get("SMOOTHCERT_PROGRESS")
    if disable or forced == "0":
        return False
    return forced == "1" or sys.stderr.isatty()


def progress(iterable: Iterable[T], *, desc: str, disable: bool = False, **kwargs: Any) -> Iterable[T]:
    """Wrap ``iterable`` in a tqdm bar on stderr when progress should be shown."""
    if disable or os.environ.get("SMOOTHCERT_PROGRESS") == "0":
        return iterable
    return tqdm(iterable, desc=desc, disable=not _shown(disable), leave=False, dynamic_ncols=True, file=sys.stderr,
                **kwargs)


def byte_bar(*, desc: str, total: int | None, initial: int = 0, disable: bool = False) -> tqdm:
    """A bar counting bytes (``bar.update(n)``; use as a context manager), shown as :func:`progress` decides."""
    return tqdm(desc=desc, total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
                disable=not _shown(disable), leave=False, dynamic_ncols=True, file=sys.stderr)
