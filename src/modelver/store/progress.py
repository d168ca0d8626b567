"""Progress of a store transfer: a rich bar on a terminal for large uploads and downloads, silence otherwise.

Owns: the fsspec progress callback the store's uploads and downloads report to, and when a bar is drawn at all
(``MODELVER_NO_PROGRESS``, stderr not a terminal, or a transfer under :data:`PROGRESS_MIN_BYTES` draw none).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from fsspec.callbacks import Callback


class _RichProgress(Callback):  # type: ignore[misc]  # fsspec is untyped
    """An fsspec callback that draws one rich progress bar for a transfer (only built when stderr is a terminal)."""

    def __init__(self, description: str, size: int) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        super().__init__(size=size)
        self._progress = Progress(
            "{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(), transient=True
        )
        self._task = self._progress.add_task(description, total=size)
        self._progress.start()

    def call(self, *args: Any, **kwargs: Any) -> None:
        self._progress.update(self._task, completed=self.value, total=self.size)

    def close(self) -> None:
        self._progress.stop()


#: Transfers smaller than this (bytes) never draw a progress bar.
PROGRESS_MIN_BYTES = 8 << 20


@contextlib.contextmanager
def transfer_progress(description: str, size: int) -> Iterator[Callback]:
    """A progress callback for a transfer of ``size`` bytes: a rich bar when stderr is a terminal and the transfer
    is large, otherwise fsspec's silent no-op callback. Call ``relative_update(n)`` as bytes move."""
    if size < PROGRESS_MIN_BYTES or os.environ.get("MODELVER_NO_PROGRESS") or not _stderr_is_terminal():
        yield Callback()
        return
    bar = _RichProgress(description, size)
    try:
        yield bar
    finally:
        bar.close()


def _stderr_is_terminal() -> bool:
    import sys

    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
