"""Is the data at a recorded location still what a version was trained on?"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import attrs

from modelver.data.fingerprint import Fingerprint
from modelver.data.remote import rehash
from modelver.data.sources import fingerprint
from modelver.errors import CaptureError, VersionNotFoundError
from modelver.manifest import DataEntry
from modelver.store.digest import ALGORITHMS
from modelver.store.objects import Store


@attrs.frozen
class DataCheck:
    """The result of checking one data label of a version against the data now at a location.

    Attributes:
        label: the data label in the manifest.
        location: the path or URL that was checked.
        status: ``"identical"``, ``"changed"``, ``"missing"`` (nothing at the location) or ``"unavailable"``
            (in-memory data recorded without a location: pass one).
        recorded: the digest recorded in the version.
        current: the digest of the data now (``None`` when missing or unavailable).
        added, removed, changed: for directories, relative POSIX paths of files added, removed and changed since
            the version (from the per-file listing the version stored); for a single file that changed, its
            base name in ``changed``.
        detail: why a check could not be made, or how an ``identical`` verdict was reached when the digests differ.

    Example:
        >>> check = modelver.check_data("churn@1.2.0", label="train")[0]  # doctest: +SKIP
        >>> check.status, check.added, check.changed  # doctest: +SKIP
        ('changed', ('2026-12.csv',), ('2026-11.csv',))
    """

    label: str
    location: str
    status: str
    recorded: str
    current: str | None = None
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    detail: str = ""


def check_entries(
    reference: str,
    data: Mapping[str, DataEntry],
    store: Store,
    *,
    label: str | None = None,
    location: str | os.PathLike[str] | None = None,
) -> list[DataCheck]:
    """Fingerprint the data a version recorded, where it is now, and compare file by file.

    The registry's :func:`modelver.check_data` resolves a reference and calls this with the version's entries.

    Args:
        reference: the version's reference, for messages (``"churn@1.2.0"``).
        data: the version's ``manifest.data`` entries by label.
        store: the store holding the version (its directory listings, its digest algorithm).
        label: check only this data label (default: every label).
        location: check the data at this path or URL instead of the recorded one (needs ``label`` when the
            version has several labels).

    Returns:
        One :class:`DataCheck` per label, in label order.

    Raises:
        VersionNotFoundError: ``label`` does not exist (the message lists the labels), or ``location`` is given
            for a version with several labels and no ``label``.

    Example:
        >>> check_entries("churn@1.0.0", {}, store)  # doctest: +SKIP
        []
    """
    labels = [label] if label is not None else sorted(data)
    if label is not None and label not in data:
        raise VersionNotFoundError(
            f"{reference} has no data labelled {label!r}; its labels: {', '.join(sorted(data)) or 'none'}",
            reference=reference,
            available=tuple(sorted(data)),
        )
    if location is not None and len(labels) != 1:
        raise VersionNotFoundError(
            f"{reference} records several data labels ({', '.join(labels)}); say which one to check with label=",
            reference=reference,
            available=tuple(labels),
        )
    results = []
    for name in labels:
        entry = data[name]
        where = os.fspath(location) if location is not None else entry.uri
        if where.startswith("<"):
            results.append(
                DataCheck(name, where, "unavailable", entry.digest, detail="in-memory data: pass the path it is now at")
            )
            continue
        algorithm = entry.digest.split(":", 1)[0]
        try:
            now = fingerprint(where, algorithm=algorithm if algorithm in ALGORITHMS else store.algorithm)
            results.append(_compare(store, name, entry, where, now))
        except CaptureError as exc:
            status = "missing" if "no such file" in str(exc) else "unavailable"
            results.append(DataCheck(name, where, status, entry.digest, detail=str(exc)))
    return results


def _compare(store: Store, label: str, entry: DataEntry, where: str, now: Fingerprint) -> DataCheck:
    """Compare a recorded entry with the data now, file by file for directories.

    Digests made by different methods (an S3 checksum recorded, a local copy hashed now) are reconciled by hashing
    the current file with the recorded digest's algorithm (:func:`modelver.data.remote.rehash`).
    """
    if now.digest == entry.digest:
        return DataCheck(label, where, "identical", entry.digest, now.digest)
    if entry.tree is None:
        same = now.kind != "directory" and _same_file(entry.digest, now.digest, where)
        if same:
            return DataCheck(label, where, "identical", entry.digest, now.digest, detail=_HOW)
        # A single file (or data recorded without a per-file listing) that changed is one changed file, named by
        # its base name, so that "0 added / 0 removed / 0 changed" never stands beside "changed".
        return DataCheck(label, where, "changed", entry.digest, now.digest, changed=(_base_name(where),))
    listing = json.loads(store.read_blob(entry.tree))
    recorded = {path: digest for path, digest, _ in listing["entries"]}
    current = {path: digest for path, (digest, _) in now.entries.items()}
    added = sorted(current.keys() - recorded.keys())
    removed = sorted(recorded.keys() - current.keys())
    changed = sorted(
        path
        for path in recorded.keys() & current.keys()
        if not _same_file(recorded[path], current[path], _join(where, path))
    )
    if not (added or removed or changed):
        return DataCheck(label, where, "identical", entry.digest, now.digest, detail=_HOW)
    return DataCheck(label, where, "changed", entry.digest, now.digest, tuple(added), tuple(removed), tuple(changed))


_HOW = "same content; the digests differ because they were made by different methods (store checksum, hashing)"


def _same_file(recorded: str, current: str, location: str) -> bool:
    if recorded == current:
        return True
    algorithm = recorded.split(":", 1)[0]
    if algorithm == current.split(":", 1)[0]:
        return False
    return rehash(location, algorithm) == recorded


def _base_name(location: str) -> str:
    """The last path segment of a local path or URL (the location itself when it has none)."""
    if "://" in location:
        return location.rstrip("/").rsplit("/", 1)[-1] or location
    return os.path.basename(location.rstrip(os.sep)) or location


def _join(root: str, rel: str) -> str:
    """The location of file ``rel`` under a fingerprint's uri (a local path or a URL)."""
    if "://" in root:
        return f"{root.rstrip('/')}/{rel}"
    return os.path.join(root, *rel.split("/"))
