""":func:`search`: versions across names by metrics, config, labels, data, packages, git, time and aliases."""

from __future__ import annotations

import os
from collections.abc import Sequence

import attrs

from modelver.catalog.index import connect, refresh
from modelver.catalog.query import parse_filter, parse_order_by
from modelver.catalog.sql import compile_filter, compile_order
from modelver.errors import InvalidQueryError
from modelver.registry.model_version import ModelVersion, read_manifest
from modelver.registry.names import validate_name
from modelver.registry.resolution import read_tag
from modelver.store.location import open_store
from modelver.store.objects import Store

__all__ = ["Hit", "field_values", "search", "search_hits"]

StoreArg = str | os.PathLike[str] | Store | None


@attrs.frozen
class Hit:
    """One version a search found, as the index holds it (no manifest read).

    Attributes:
        name: model name.
        version: version.
        digest: manifest digest.
        created: the tag's ``created_at``.
    """

    name: str
    version: str
    digest: str
    created: str

    @property
    def ref(self) -> str:
        """``"name@version"``."""
        return f"{self.name}@{self.version}"


def search_hits(
    filter: str | None = None,
    *,
    names: Sequence[str] | str | None = None,
    order_by: Sequence[str] | str | None = None,
    limit: int | None = None,
    include_yanked: bool = False,
    store: StoreArg = None,
    update: bool = True,
) -> list[Hit]:
    """Like :func:`search`, but return what the index holds (name, version, digest, time) without reading manifests.

    Args:
        filter, names, order_by, limit, include_yanked, store: see :func:`search`.
        update: refresh the index from the store first (one listing). ``False`` answers from the index as it is.

    Returns:
        The matching versions, in order.

    Raises:
        InvalidQueryError: see :func:`search`.

    Example:
        >>> [h.ref for h in search_hits("metrics.acc > 0.9", store="memory://empty")]
        []
    """
    expr = parse_filter(filter or "")
    terms = parse_order_by(list(order_by) if order_by is not None and not isinstance(order_by, str) else order_by)
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidQueryError(f"limit must be a whole number >= 0, got {limit!r}", query=str(limit))
    wanted = [names] if isinstance(names, str) else list(names or [])
    for name in wanted:
        validate_name(name)
    opened = open_store(store)
    db = connect(opened)
    try:
        if update:
            refresh(opened, db)
        params: list[object] = []
        joins, order = compile_order(terms, params)
        where = ["v.yanked < 2"]  # 2: pruned, a tombstone whatever the caller asks (see index._recompute)
        if not include_yanked:
            where.append("v.yanked = 0")
        if wanted:
            where.append(f"v.name IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        if expr is not None:
            where.append(compile_filter(expr, params))
        # Only compiled fragments are formatted in; every value the user gave is a bound parameter.
        sql = f"SELECT v.name, v.version, v.digest, v.created FROM versions v {joins} WHERE {' AND '.join(where)}"  # noqa: S608
        sql += f" ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [Hit(*row) for row in db.execute(sql, params)]
    finally:
        db.close()


def field_values(
    hits: Sequence[Hit], keys: Sequence[str], *, store: StoreArg = None
) -> dict[tuple[str, str], list[float | int | str | None]]:
    """The values of ``keys`` (e.g. ``metrics.accuracy``, ``config.lr``) for each hit, from the index (no manifest
    read); ``None`` where a version has no such key. For the columns of ``modelver search`` and the UI.

    Args:
        hits: what :func:`search_hits` returned.
        keys: field keys (single-valued ones; for ``alias`` and ``data`` one of the values is given).
        store: the store whose index to read.

    Returns:
        ``(name, version)`` to the values, in the order of ``keys``.

    Example:
        >>> field_values([], ["metrics.acc"], store="memory://empty")
        {}
    """
    if not keys or not hits:
        return {}
    db = connect(open_store(store))
    marks = ", ".join("?" * len(keys))
    # Only placeholders are formatted in; keys and names are bound parameters.
    where = f"WHERE v.name = ? AND v.version = ? AND f.key IN ({marks})"
    sql = "SELECT f.key, coalesce(f.num, f.text) FROM fields f JOIN versions v ON v.id = f.vid " + where  # noqa: S608
    try:
        out = {}
        for hit in hits:
            values = dict(db.execute(sql, (hit.name, hit.version, *keys)).fetchall())
            out[(hit.name, hit.version)] = [values.get(k) for k in keys]
        return out
    finally:
        db.close()


def search(
    filter: str | None = None,
    *,
    names: Sequence[str] | str | None = None,
    order_by: Sequence[str] | str | None = None,
    limit: int | None = None,
    include_yanked: bool = False,
    store: StoreArg = None,
) -> list[ModelVersion]:
    """Find versions across names by metrics, config, labels, data, packages, git, time and aliases.

    The filter language follows MLflow's search syntax (docs/search.md has the grammar):
    ``metrics.accuracy > 0.9 AND config.optimizer.lr < 0.01``, ``data.train = 'blake3:3f9a01bc'`` (a digest or a
    prefix of one), ``packages.torch LIKE '2.%'``, ``git.commit = '...'``, ``created > '2026-11-01'``,
    ``alias = 'production'``, ``name IN ('churn', 'fraud')``, with ``AND``, ``OR`` and parentheses. A missing key
    never matches; numbers compare as numbers and strings as strings (a number never equals a string).

    Answers come from a local index derived from the store (:mod:`modelver.catalog.index`), refreshed first with one
    listing and reads of only the new tags, manifests and events, so every search sees what was published before it
    started. Deleting the index changes no answer.

    Args:
        filter: the filter; ``None`` or blank matches every version.
        names: only these model names.
        order_by: terms like ``"metrics.accuracy DESC"`` or ``"created"`` (ascending), highest priority first. A
            version without the key sorts last either way; ties, and no ``order_by``, fall back to name, then
            version order (lowest first).
        limit: at most this many versions.
        include_yanked: also return yanked versions (left out by default).
        store: the store (default: see ``modelver info``).

    Returns:
        The matching versions with verified manifests, in order.

    Raises:
        InvalidQueryError: the filter or an ``order_by`` term is malformed (``column`` says where), or ``limit``
            is negative.
        InvalidReferenceError: a name in ``names`` is not a valid name.
        IntegrityError: a manifest in the store does not match its digest.
        StoreError: the store or the index cannot be read.

    Example:
        >>> import modelver
        >>> best = modelver.search("config.lr < 0.01", order_by=["metrics.accuracy DESC"], limit=1)  # doctest: +SKIP
        >>> best[0].manifest.metrics["accuracy"]  # doctest: +SKIP
        0.97
    """
    opened = open_store(store)
    hits = search_hits(filter, names=names, order_by=order_by, limit=limit, include_yanked=include_yanked, store=opened)
    out = []
    for hit in hits:
        tag = read_tag(opened, hit.name, hit.version)
        out.append(
            ModelVersion(
                name=tag.name,
                version=tag.version,
                digest=tag.manifest,
                manifest=read_manifest(opened, tag),
                published_at=tag.created_at,
                published_by=tag.created_by,
                store=opened,
            )
        )
    return out
