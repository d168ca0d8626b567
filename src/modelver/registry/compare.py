"""Many-way comparison: ``modelver.diff(a, b, c, ...)`` and ``modelver diff A B C ...``.

One table, one column per version, one row per field (facet and key), by default only the rows whose values are not
all the same. The fields are the same flat view as two-way :func:`modelver.diff` and search use: configs through
:func:`modelver.capture.flatten.flatten_config`, packages by canonical name, data by label.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import attrs

from modelver.capture.flatten import flatten_config
from modelver.errors import InvalidReferenceError
from modelver.registry.model_version import ModelVersion, get
from modelver.store.location import open_store
from modelver.store.objects import Store

__all__ = ["TABLE_FACETS", "TableRow", "VersionTable", "compare_versions"]

#: Facets of a many-way table, in display order.
TABLE_FACETS = ("code", "environment", "config", "data", "metrics", "resources", "artifacts")
JSON = Any


@attrs.frozen
class TableRow:
    """One field across the compared versions.

    Attributes:
        facet: ``"metrics"``, ``"config"``, ...
        key: the field within the facet (``"accuracy"``, ``"optimizer.lr"``, ``"torch"``).
        values: the value in each version, in column order; ``None`` where a version has no such field.
    """

    facet: str
    key: str
    values: tuple[JSON, ...]

    @property
    def differs(self) -> bool:
        """Whether the versions disagree (a missing value differs from any present one)."""
        first = self.values[0]
        return any(v != first or type(v) is not type(first) for v in self.values[1:])


@attrs.frozen
class VersionTable:
    """Several versions side by side.

    Attributes:
        refs: ``name@version`` of each column.
        digests: the manifest digest of each column.
        rows: the fields, grouped by facet in :data:`TABLE_FACETS` order, keys sorted within a facet.
    """

    refs: tuple[str, ...]
    digests: tuple[str, ...]
    rows: tuple[TableRow, ...]

    def facet(self, name: str) -> tuple[TableRow, ...]:
        """The rows of one facet."""
        return tuple(row for row in self.rows if row.facet == name)


def _config(version: ModelVersion) -> JSON:
    config = version.manifest.config
    if isinstance(config, dict) and config.get("$type") == "blob":
        return json.loads(version.store.read_blob(config["digest"]))
    return config


def _fields(version: ModelVersion) -> dict[tuple[str, str], JSON]:
    m = version.manifest
    out: dict[tuple[str, str], JSON] = {}
    git = m.code.git
    code: dict[str, JSON] = {"entrypoint": m.code.entrypoint}
    if git is not None:
        code |= {"git.commit": git.commit, "git.branch": git.branch, "git.dirty": git.dirty, "git.diff": git.diff}
    out.update({("code", k): v for k, v in code.items() if v is not None})
    out.update({("environment", k): v for k, v in (("python", m.environment.python),) if v})
    out.update({("environment", f"packages.{k}"): v for k, v in m.environment.packages.items()})
    out.update({("config", k): v for k, v in flatten_config(_config(version)).items()})
    out.update({("data", k): entry.digest for k, entry in m.data.items()})
    out.update({("metrics", k): v for k, v in m.metrics.items()})
    resources = m.resources
    for key in ("wall_time_s", "cpu_time_s", "peak_rss_bytes"):
        out[("resources", key)] = getattr(resources, key)
    out.update({("artifacts", k): a.digest for k, a in m.artifacts.items()})
    return out


def compare_versions(
    refs: Sequence[str],
    *,
    store: str | os.PathLike[str] | Store | None = None,
    facets: Sequence[str] | None = None,
    all_rows: bool = False,
) -> VersionTable:
    """Compare two or more versions in one table.

    Args:
        refs: the versions, in column order (``churn@1.2.0``, ``churn@production``, ``fraud@latest``, ...).
        store: the store (default: see ``modelver info``).
        facets: only these facets (``["metrics", "config"]``); default: all of :data:`TABLE_FACETS`.
        all_rows: keep the rows where every version agrees too.

    Returns:
        The table; ``modelver.serde.to_json_dict(table)`` is its JSON form.

    Raises:
        InvalidReferenceError: fewer than two references, or an unknown facet.
        VersionNotFoundError, IntegrityError: see :func:`modelver.get`.

    Example:
        >>> table = compare_versions(["churn@1.0.0", "churn@1.1.0", "churn@2.0.0"])  # doctest: +SKIP
        >>> [(row.key, row.values) for row in table.facet("metrics")]  # doctest: +SKIP
        [('accuracy', (0.91, 0.93, 0.95))]
    """
    if len(refs) < 2:
        raise InvalidReferenceError(f"compare needs at least two versions, got {len(refs)}", reference=",".join(refs))
    chosen = tuple(facets) if facets else TABLE_FACETS
    unknown = [f for f in chosen if f not in TABLE_FACETS]
    if unknown:
        raise InvalidReferenceError(
            f"unknown facet {unknown[0]!r}; facets are {', '.join(TABLE_FACETS)}", reference=unknown[0]
        )
    opened = open_store(store)
    versions = [get(ref, store=opened) for ref in refs]
    fields = [_fields(v) for v in versions]
    keys = sorted({k for f in fields for k in f if k[0] in chosen}, key=lambda k: (TABLE_FACETS.index(k[0]), k[1]))
    rows = [TableRow(facet, key, tuple(f.get((facet, key)) for f in fields)) for facet, key in keys]
    return VersionTable(
        refs=tuple(v.ref for v in versions),
        digests=tuple(v.digest for v in versions),
        rows=tuple(row for row in rows if all_rows or row.differs),
    )
