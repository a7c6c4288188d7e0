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


def progress(iterable: Iterable[T], *, desc: str, disable: bool = False, **kwargs: Any) -> Iterable[T]:
    """Wrap ``iterable`` in a tqdm bar on stderr when progress should be shown."""
    forced = os.environ.get("SMOOTHCERT_PROGRESS")
    if disable or forced == "0":
        return iterable
    show = forced == "1" or sys.stderr.isatty()
    return tqdm(iterable, desc=desc, disable=not show, leave=False, dynamic_ncols=True, file=sys.stderr, **kwargs)
