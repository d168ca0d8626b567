"""Checks the CLI makes on the store location before a command opens it.

A store URL that names a local regular file, or a local directory that is neither a store nor empty, is a
misconfiguration (``MODELVER_STORE=./model.pt``, ``--store ~/projects``): reading it would answer "no versions yet"
and publishing would scatter a store layout among someone's files. The CLI refuses both with one line that says
what is wrong and what to do.
"""

from __future__ import annotations

import os

from modelver.errors import StoreError
from modelver.settings import ENV_STORE, StoreChoice, choose_store
from modelver.store.objects import MARKER

__all__ = ["STORE_ENTRIES", "check_store_location", "local_store_path", "store_display"]

#: The top-level entries of a store's layout (docs/architecture.md); a directory holding only these (and hidden
#: files) is a store, or one being made, even before its marker is written.
STORE_ENTRIES = frozenset({MARKER, "blobs", "manifests", "names", "runs", "leases", "jobs", "steps", "hooks"})


def local_store_path(url: str) -> str | None:
    """The absolute local path of a store URL, or ``None`` for a remote or in-memory one.

    Args:
        url: a store URL or path as configured (``./store``, ``~/models``, ``file:///srv/models``, ``s3://b/p``).

    Returns:
        The path with ``~`` expanded, made absolute against the working directory; ``None`` when ``url`` has a
        scheme other than ``file://``.

    Example:
        >>> local_store_path("s3://bucket/models") is None
        True
    """
    if url.startswith("file://"):
        url = url[len("file://") :]
    elif "://" in url:
        return None
    return os.path.abspath(os.path.expanduser(url))


def store_display(url: str) -> str:
    """The store location to print: the absolute path for a local store, the URL as given otherwise.

    Args:
        url: a store URL or path as configured.

    Returns:
        What to show the user (``./store`` becomes ``/home/me/project/store``).

    Example:
        >>> store_display("s3://bucket/models")
        's3://bucket/models'
    """
    path = local_store_path(url)
    return url if path is None else path


def check_store_location(store: str | None) -> StoreChoice:
    """Choose the store as every command does and refuse a local location that cannot be a store.

    Args:
        store: the ``--store`` option, or ``None`` to use ``MODELVER_STORE``, ``pyproject.toml`` or the default.

    Returns:
        The store choice (its URL unchanged).

    Raises:
        StoreError: the location is a regular file, or a directory with other files and no store marker; the
            message names the absolute path and what chose it. A missing or empty directory is fine: the first
            publish creates the store there.

    Example:
        >>> check_store_location("s3://bucket/models").url
        's3://bucket/models'
    """
    choice = choose_store(store)
    path = local_store_path(choice.url)
    if path is None:
        return choice
    source = "the --store option" if store is not None else choice.source
    setting = "--store" if store is not None else ENV_STORE
    if os.path.exists(path) and not os.path.isdir(path):
        raise StoreError(
            f"the store {path} (chosen by {source}) is a file, not a directory; point {setting} at a store "
            "directory, or at a new or empty directory to start one"
        )
    if os.path.isdir(path) and not os.path.exists(os.path.join(path, MARKER)):
        try:
            entries = sorted(os.listdir(path))
        except OSError as exc:
            raise StoreError(f"cannot read the store directory {path} (chosen by {source}): {exc}") from exc
        foreign = [e for e in entries if e not in STORE_ENTRIES and not e.startswith(".")]
        if foreign:
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise StoreError(
                f"{path} (chosen by {source}) is not a modelver store: it has no {MARKER} and holds other files "
                f"({shown}); point {setting} at a store directory, or at a new or empty directory to start one"
            )
    return choice
