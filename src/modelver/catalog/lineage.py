"""Reverse lineage from the index: which versions used some data, a file, a step version or another version,
directly, through the steps of their runs (transitively), or by loading a version that did.

The index keeps every lineage edge a manifest records (:func:`modelver.catalog.fields.manifest_links`). A search
starts from the target's digest and repeats until nothing new is found:

- a version whose data, step version, step input or loaded version is a digest in the frontier used the target;
- the outputs of a step whose input (or step version) matched join the frontier, so a later step of any run that
  consumed them matched too;
- the manifest digest of every version found joins the frontier, so versions that loaded it are found too.
"""

from __future__ import annotations

import os
import re

from modelver.catalog.index import connect, refresh
from modelver.data.sources import fingerprint
from modelver.registry.resolution import resolve
from modelver.steps.usage import Usage, step_usages
from modelver.store.location import open_store
from modelver.store.objects import Store

__all__ = ["target_digest", "used_by", "used_by_index"]

_DIGEST_PREFIX = re.compile(r"^[a-z0-9]+:[0-9a-f]{8,}$")
_MATCHING = ("data", "step", "input", "loaded")


def target_digest(target: str | os.PathLike[str], store: Store) -> tuple[str, bool]:
    """``(digest, is_prefix)`` of what ``target`` names: a digest (or a prefix of at least 8 hex digits), a local
    path or fsspec URL (fingerprinted now, as ``track(data=...)`` would), or a version reference.

    Raises:
        InvalidReferenceError, VersionNotFoundError: ``target`` is none of these.
    """
    text = os.fspath(target)
    if _DIGEST_PREFIX.match(text):
        return text, True
    if "://" in text or os.path.exists(text):
        return fingerprint(text).digest, False
    return resolve(store, text, warn_yanked=False).manifest, False


def used_by_index(
    target: str | os.PathLike[str], *, store: str | os.PathLike[str] | Store | None = None
) -> list[Usage]:
    """Every version that used ``target``, directly or transitively, answered from the index (no full scan).

    Args:
        target: a digest or digest prefix, a path or fsspec URL (fingerprinted first), or a version reference.
        store: the store (default: see ``modelver info``).

    Returns:
        One :class:`~modelver.Usage` per (version, role), ordered by name and version order. A transitive role ends
        with ``← <what carried it>`` (a step output or the version that was loaded).

    Raises:
        InvalidReferenceError, VersionNotFoundError: ``target`` names nothing.

    Example:
        >>> used_by_index("data/train.csv")  # doctest: +SKIP
        [Usage(kind='version', ref='churn@1.2.0', digest='blake3:...', role="data 'train'")]
    """
    opened = open_store(store)
    return _walk(opened, *target_digest(target, opened))[0]


def used_by(target: str | os.PathLike[str], *, store: str | os.PathLike[str] | Store | None = None) -> list[Usage]:
    """Which versions and step versions used ``target``: data, a file, a step output or step version, or a version.

    The versions come from the search index (:func:`used_by_index`: transitive through the steps of every run and
    through versions that loaded a version found); the step versions from the steps' call records, matched against
    the target and everything the index walk carried it to (step outputs, parts of them).

    Args:
        target: a digest (a prefix of at least 8 hex digits will do) of data, of a step output (or one part of a
            returned tuple, list or dict) or of a step version; a local path or fsspec URL (fingerprinted first, as
            ``track(data=...)`` would); or a reference ``name[@spec]`` to a version.
        store: the store (default: see ``modelver info``).

    Returns:
        Every use found: versions first (by name and version order, kind ``"version"``), then step versions (by
        step name, kind ``"step"``). A transitive role ends with ``← <what carried it>``.

    Raises:
        InvalidReferenceError, VersionNotFoundError: ``target`` is none of these.

    Example:
        >>> for use in modelver.used_by("data/train.csv"):  # doctest: +SKIP
        ...     print(use.kind, use.ref, use.role)
        version churn@1.2.0 data 'train'
        step featurize input 'path'
    """
    opened = open_store(store)
    digest, prefix = target_digest(target, opened)
    versions, carried = _walk(opened, digest, prefix)

    def carried_by(value: str) -> str | None:
        if value.startswith(digest) if prefix else value == digest:
            return ""
        return carried.get(value)

    return versions + step_usages(carried_by, opened)


def _walk(opened: Store, digest: str, prefix: bool) -> tuple[list[Usage], dict[str, str]]:
    """The versions that used ``digest`` (a prefix of digests when ``prefix``), and every digest the walk reached
    with what carried it there (``""`` for the target)."""
    db = connect(opened)
    try:
        refresh(opened, db)
        found: dict[int, dict[str, None]] = {}
        carried: dict[str, str] = {}  # digest in the frontier -> what carried it there ("" for the target)
        frontier: list[str] = []
        first = True
        kinds = ", ".join(f"'{k}'" for k in _MATCHING)
        while first or frontier:
            if first:
                condition, params = ("digest >= ? AND digest < ?", [digest, digest + "\uffff"])
                if not prefix:
                    condition, params = ("digest = ?", [digest])
                carried[digest] = ""
            else:
                condition = f"digest IN ({', '.join('?' * len(frontier))})"
                params = list(frontier)
            rows = db.execute(
                f"SELECT vid, kind, digest, role, step FROM links WHERE kind IN ({kinds}) AND {condition}",  # noqa: S608
                params,
            ).fetchall()
            first = False
            frontier = []
            for vid, _kind, hit, role, step in rows:
                via = carried.get(hit, carried.get(digest, ""))
                roles = found.setdefault(vid, {})
                roles[f"{role} ← {via}" if via else role] = None
                ref = "{}@{}".format(*db.execute("SELECT name, version FROM versions WHERE id = ?", (vid,)).fetchone())
                onward = [
                    (out, f"{made_by} in {ref}")
                    for out, made_by in db.execute(
                        "SELECT digest, role FROM links WHERE vid = ? AND step = ? AND kind = 'output'", (vid, step)
                    )
                    if step
                ]
                (manifest,) = db.execute("SELECT digest FROM versions WHERE id = ?", (vid,)).fetchone()
                onward.append((manifest, ref))
                for out, how in onward:
                    if out not in carried:
                        carried[out] = how
                        frontier.append(out)
        if not found:
            return [], carried
        marks = ", ".join("?" * len(found))
        ordered = db.execute(
            f"SELECT id, name, version, digest FROM versions WHERE id IN ({marks}) ORDER BY name, rank",  # noqa: S608
            list(found),
        ).fetchall()
        usages = [
            Usage("version", f"{name}@{version}", manifest, role)
            for vid, name, version, manifest in ordered
            for role in found[vid]
        ]
        return usages, carried
    finally:
        db.close()
