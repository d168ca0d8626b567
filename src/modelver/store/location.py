"""Open the store a process uses: an explicit one, a URL or path, or the one :mod:`modelver.settings` chooses."""

from __future__ import annotations

import os

from modelver.settings import choose_store
from modelver.store.objects import Store


def open_store(store: str | os.PathLike[str] | Store | None = None) -> Store:
    """Return a :class:`Store` for an explicit store, URL, path, or the configured default."""
    if isinstance(store, Store):
        return store
    return Store(choose_store(store).url)
