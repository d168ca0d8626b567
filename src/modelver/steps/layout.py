"""The store layout of pipeline steps: where step keys and call records go, and which steps have recorded calls.

Store layout (docs/steps.md)::

    blobs/<algo>/<aa>/<rest>                       step-version records (canonical JSON) and stored outputs
    steps/<name>/keys/<algo>/<key-hex>.json        step key → step version: the cache index, created if absent
    steps/<name>/calls/<utc-time>-<id>.json        one record per call: cached or not, why, time, resources
"""

from __future__ import annotations

import os
import posixpath
import re

from modelver.store.location import open_store
from modelver.store.objects import Store

__all__ = ["step_names"]

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")


def _steps_path(store: Store, *parts: str) -> str:
    return posixpath.join(store.root, "steps", *parts)


def step_names(store: str | os.PathLike[str] | Store | None = None) -> list[str]:
    """Names of every step with recorded calls in the store, sorted."""
    opened = open_store(store)
    directory = _steps_path(opened, "")
    try:
        opened.fs.invalidate_cache(directory.rstrip("/"))
        entries = opened.fs.ls(directory.rstrip("/"), detail=False)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(posixpath.basename(str(e).rstrip("/")) for e in entries)
