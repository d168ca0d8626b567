"""What the UI shows, as plain JSON values: one function per page, shared by the HTML pages and the JSON API.

Everything is read through the library (resolution, tags, the fold of events, manifests, ``diff``); nothing here
knows the store layout. What each page reads, so that a large registry stays fast:

- the names page lists the names (one listing) and, for the names on the page only, their versions (one listing
  each), the highest version's tag and the name's events;
- a name's page reads the tags of the versions on the page, plus every tag for the metric chart (small objects that
  carry the metrics, so no manifest is read; a process keeps parsed tags, which never change);
- a version page reads one manifest (verified) and, when the run recorded them, its code diff and metric history;
- nothing is read at start.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from modelver.capture.flatten import flatten_config, plain_config
from modelver.catalog.labels import version_labels
from modelver.errors import IntegrityError, InvalidReferenceError, VersionNotFoundError
from modelver.registry.diff import FACETS, diff_manifests
from modelver.registry.events import Event, RegistryState
from modelver.registry.model_version import ModelVersion, read_manifest
from modelver.registry.names import validate_name
from modelver.registry.resolution import VersionTag, read_state, read_tag, resolve, sorted_versions, unknown_name
from modelver.registry.schemes import describe
from modelver.registry.semver import SemVer
from modelver.serde import to_json_dict
from modelver.store.objects import Store
from modelver.ui.lineage import build_graph

__all__ = [
    "DEFAULT_PER_PAGE",
    "MAX_PER_PAGE",
    "compare",
    "lineage",
    "metric_series",
    "name_page",
    "names_page",
    "oldest_first",
    "open_version",
    "page_bounds",
    "parse_time",
    "version_page",
]

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 500
#: A code diff larger than this (bytes) is shown truncated on the page (the JSON endpoint returns all of it).
DIFF_SHOWN_BYTES = 1 << 20
JSON = Any
#: CPU use is a rate over at least this many seconds: CPU times tick in 10 ms, so a rate over a shorter interval
#: (the final sample can follow the one before it closely) would be mostly rounding.
MIN_RATE_INTERVAL_S = 0.1


def page_bounds(total: int, page: int, per_page: int) -> tuple[int, int, int, int]:
    """Clamp a 1-based ``page`` of ``per_page`` items over ``total`` items.

    Returns:
        ``(page, pages, start, stop)``: the clamped page, the number of pages (at least 1), and the slice of items.
    """
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    start = (page - 1) * per_page
    return page, pages, start, min(start + per_page, total)


def _paged(items: list[JSON], total: int, page: int, pages: int, per_page: int) -> dict[str, JSON]:
    return {"items": items, "page": page, "pages": pages, "per_page": per_page, "total": total}


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 time (``Z`` or an offset) as an aware datetime, or ``None`` when absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _latest(store: Store, name: str) -> str | None:
    try:
        return resolve(store, f"{name}@latest", warn_yanked=False).version
    except VersionNotFoundError:
        return None


def _status(version: SemVer, state: RegistryState) -> str:
    if str(version) in state.yanked:
        return "yanked"
    if describe(version).scheme == "experiment":
        return "experiment"
    return "pre-release" if version.is_prerelease else "ok"


def _event(event: Event) -> JSON:
    return to_json_dict(event)


def name_summary(store: Store, name: str) -> dict[str, JSON]:
    """One row of the names page: version count, aliases, latest release, last activity.

    Last activity is the later of the highest version's publication and the name's last registry event (the
    highest version is, in every scheme, the most recently numbered one; reading every tag would cost one read
    per version).
    """
    versions = sorted_versions(store, name)
    state = read_state(store, name)
    highest = read_tag(store, name, str(versions[-1])) if versions else None
    last_event = state.events[-1].at if state.events else None
    times = [t for t in (parse_time(highest.created_at if highest else None), parse_time(last_event)) if t]
    last = max(times) if times else None
    return {
        "name": name,
        "versions": len(versions),
        "highest": str(versions[-1]) if versions else None,
        "latest": _latest(store, name),
        "aliases": {a: s.version for a, s in sorted(state.aliases.items()) if s.version is not None},
        "yanked": len(state.yanked),
        "last_activity": last.isoformat(timespec="seconds").replace("+00:00", "Z") if last else None,
    }


def names_page(store: Store, *, page: int = 1, per_page: int = DEFAULT_PER_PAGE, query: str = "") -> dict[str, JSON]:
    """The names in the store, sorted, one page of them summarized (:func:`name_summary`).

    Args:
        store: the store.
        page: 1-based page number (clamped).
        per_page: names per page (1 to :data:`MAX_PER_PAGE`).
        query: keep only names containing this text (case-insensitive).
    """
    names = [n for n in store.list_names() if query.lower() in n.lower()]
    page, pages, start, stop = page_bounds(len(names), page, per_page)
    items = [name_summary(store, n) for n in names[start:stop]]
    return {**_paged(items, len(names), page, pages, min(max(per_page, 1), MAX_PER_PAGE)), "query": query}


def _tag_row(tag: VersionTag, version: SemVer, state: RegistryState, pointing: dict[str, list[str]]) -> JSON:
    return {
        "version": tag.version,
        "manifest": tag.manifest,
        "created_at": tag.created_at,
        "created_by": to_json_dict(tag.created_by),
        "metrics": dict(tag.metrics),
        "status": _status(version, state),
        "aliases": pointing.get(tag.version, []),
    }


def name_page(
    store: Store, name: str, *, page: int = 1, per_page: int = DEFAULT_PER_PAGE, history_page: int = 1
) -> dict[str, JSON]:
    """A name: its summary, aliases, one page of versions (newest first) and one page of its audit history (newest
    first).

    Raises:
        InvalidReferenceError: ``name`` is not a valid name.
        VersionNotFoundError: the name has no versions (the message names close ones).
    """
    validate_name(name)
    versions = sorted_versions(store, name)
    if not versions:
        raise unknown_name(store, name)
    state = read_state(store, name)
    pointing = state.alias_targets()
    newest_first = list(reversed(versions))
    page, pages, start, stop = page_bounds(len(newest_first), page, per_page)
    rows = [_tag_row(read_tag(store, name, str(v)), v, state, pointing) for v in newest_first[start:stop]]
    events = list(reversed(state.events))
    h_page, h_pages, h_start, h_stop = page_bounds(len(events), history_page, DEFAULT_PER_PAGE)
    aliases = {
        alias: {
            "version": s.version,
            "since": s.event.at if s.event else None,
            "by": s.event.by if s.event else None,
            "reason": s.event.reason if s.event else "",
            "protected": s.protected,
            "protected_by": s.protected_by,
            "targets": list(s.targets),
        }
        for alias, s in sorted(state.aliases.items())
    }
    return {
        "summary": name_summary(store, name),
        "aliases": aliases,
        "versions": _paged(rows, len(versions), page, pages, min(max(per_page, 1), MAX_PER_PAGE)),
        "history": _paged([_event(e) for e in events[h_start:h_stop]], len(events), h_page, h_pages, DEFAULT_PER_PAGE),
    }


def metric_series(store: Store, name: str) -> dict[str, JSON]:
    """Every metric of every version of ``name``, from the version tags (no manifest is read).

    Returns:
        ``{"name", "versions": [{"version", "index", "created_at", "status"}], "metrics": {key: [{"version",
        "index", "created_at", "value"}]}}``; ``index`` is the position in version order (0 = lowest), the x of a
        chart by version order; versions without a value for a metric are left out of its list.

    Raises:
        InvalidReferenceError, VersionNotFoundError: as :func:`name_page`.
    """
    validate_name(name)
    versions = sorted_versions(store, name)
    if not versions:
        raise unknown_name(store, name)
    state = read_state(store, name)
    rows = []
    metrics: dict[str, list[JSON]] = {}
    for index, version in enumerate(versions):
        tag = read_tag(store, name, str(version))
        rows.append(
            {"version": tag.version, "index": index, "created_at": tag.created_at, "status": _status(version, state)}
        )
        for key, value in sorted(tag.metrics.items()):
            if value is not None:
                point = {"version": tag.version, "index": index, "created_at": tag.created_at, "value": value}
                metrics.setdefault(key, []).append(point)
    return {"name": name, "versions": rows, "metrics": dict(sorted(metrics.items()))}


def open_version(store: Store, ref: str) -> ModelVersion:
    """Resolve ``ref`` (any reference) and read its verified manifest, without a yank warning (the page shows it).

    Raises:
        InvalidReferenceError, VersionNotFoundError, IntegrityError, StoreError: see :func:`modelver.get`.
    """
    tag = resolve(store, ref, warn_yanked=False)
    return ModelVersion(
        name=tag.name,
        version=tag.version,
        digest=tag.manifest,
        manifest=read_manifest(store, tag),
        published_at=tag.created_at,
        published_by=tag.created_by,
        store=store,
    )


def _blob_text(version: ModelVersion, digest: str | None) -> tuple[str | None, str | None]:
    """A blob's text and ``None``, or ``None`` and why it could not be read (a damaged blob spoils one section, not
    the page)."""
    if not digest:
        return None, None
    try:
        return version.store.read_blob(digest).decode(errors="replace"), None
    except IntegrityError as exc:
        return None, str(exc)


def _config(version: ModelVersion) -> tuple[JSON, str | None]:
    config = version.manifest.config
    if isinstance(config, dict) and config.get("$type") == "blob":
        text, error = _blob_text(version, config.get("digest"))
        return (json.loads(text) if text is not None else None), error
    return config, None


def _metric_history(text: str | None) -> dict[str, list[JSON]]:
    """Per metric, the logged values in order: ``{"step", "call", "time", "value"}`` (non-numbers left out)."""
    out: dict[str, list[JSON]] = {}
    for call, line in enumerate((text or "").splitlines()):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        values = entry.get("metrics") if isinstance(entry, dict) else None
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                point = {"step": entry.get("step"), "call": call, "time": entry.get("time"), "value": value}
                out.setdefault(key, []).append(point)
    return dict(sorted(out.items()))


def _resource_series(text: str | None) -> dict[str, JSON] | None:
    """Plot-ready series from the run's sampled resources blob (``ResourceMonitor.series_json`` in
    :mod:`modelver.capture.resources`: ``columns`` and ``rows`` of seconds since start, process-tree memory bytes, CPU
    seconds, GPU memory bytes per device).

    Returns:
        ``{"memory_bytes": [[t_s, bytes]], "cpu_cores": [[t_s, cores]], "gpu_memory_bytes": {index: [[t_s,
        bytes]]}}``, where ``cpu_cores`` is the CPU seconds used per wall second since the previous point (1.0 = one
        busy core; points at least :data:`MIN_RATE_INTERVAL_S` apart); ``None`` when there is no series or it is
        not in a known shape.
    """
    if text is None:
        return None
    try:
        body = json.loads(text)
        columns = list(body["columns"])
        rows = [dict(zip(columns, row, strict=False)) for row in body["rows"]]
    except (ValueError, KeyError, TypeError):
        return None
    memory: list[JSON] = []
    cpu: list[JSON] = []
    gpus: dict[str, list[JSON]] = {}
    previous = None
    for row in rows:
        t = row.get("t_s")
        if not isinstance(t, int | float):
            continue
        if isinstance(row.get("memory_bytes"), int | float):
            memory.append([t, row["memory_bytes"]])
        if isinstance(row.get("cpu_s"), int | float):
            if previous is None:
                previous = (t, row["cpu_s"])
            elif t - previous[0] >= MIN_RATE_INTERVAL_S:
                cpu.append([t, (row["cpu_s"] - previous[1]) / (t - previous[0])])
                previous = (t, row["cpu_s"])
        for index, used in enumerate(row.get("gpu_memory_used_bytes") or ()):
            if isinstance(used, int | float):
                gpus.setdefault(str(index), []).append([t, used])
    return {"memory_bytes": memory, "cpu_cores": cpu, "gpu_memory_bytes": gpus}


def version_page(store: Store, ref: str) -> dict[str, JSON]:
    """Everything about one version: the manifest's JSON form, its registry state, its code diff, decoded config
    blob, metric history, sampled resource series and audit events.

    Raises:
        InvalidReferenceError, VersionNotFoundError, IntegrityError, StoreError: see :func:`open_version`.
    """
    version = open_version(store, ref)
    state = read_state(store, version.name)
    git = version.manifest.code.git
    diff_text, diff_error = _blob_text(version, git.diff if git else None)
    truncated = diff_text is not None and len(diff_text) > DIFF_SHOWN_BYTES
    config, config_error = _config(version)
    history_text, history_error = _blob_text(version, version.manifest.metrics_history)
    # Read from the JSON form: the series is newer than some manifests (and than this module's first version).
    series_digest = to_json_dict(version.manifest.resources).get("series")
    series_text, series_error = _blob_text(version, series_digest)
    versions = sorted_versions(store, version.name)
    position = next((i for i, v in enumerate(versions) if str(v) == version.version), None)
    previous = str(versions[position - 1]) if position else None
    labels, description = version_labels(version.name, version.version, version.manifest, store=store)
    return {
        "ref": version.ref,
        "name": version.name,
        "version": version.version,
        "digest": version.digest,
        "published_at": version.published_at,
        "published_by": to_json_dict(version.published_by),
        "status": _status(SemVer.parse(version.version), state),
        "yank": _event(state.yanked[version.version]) if version.version in state.yanked else None,
        "aliases": state.alias_targets().get(version.version, []),
        "previous": previous,
        "manifest": to_json_dict(version.manifest),
        "config": config,
        "config_plain": plain_config(config),  # what the page shows: no $type envelopes
        "config_flat": flatten_config(config),  # dotted key -> value, as modelver diff compares them
        "config_error": config_error,
        "code_diff": diff_text[:DIFF_SHOWN_BYTES] if diff_text is not None else None,
        "code_diff_truncated": truncated,
        "code_diff_error": diff_error,
        "metric_history": _metric_history(history_text),
        "metric_history_error": history_error,
        "resource_series": _resource_series(series_text),
        "resource_series_error": series_error,
        "events": [_event(e) for e in reversed(state.events) if e.version == version.version],
        # As they are now: the manifest's, then the label events (latest wins), as `modelver show` prints them.
        "labels": labels,
        "description": description,
    }


def code_diff(store: Store, ref: str) -> str | None:
    """The whole uncommitted diff a version's run started from, or ``None`` (clean tree, no git).

    Raises:
        IntegrityError: the diff blob is missing or corrupt; and see :func:`open_version`.
    """
    data = open_version(store, ref).code_diff()
    return data.decode(errors="replace") if data is not None else None


def oldest_first(store: Store, refs: Sequence[str]) -> list[str]:
    """``refs`` resolved to ``name@version`` and sorted by name, then version order (tags only, no manifest).

    Raises:
        InvalidReferenceError, VersionNotFoundError: see :func:`modelver.get`.
    """
    tags = [resolve(store, ref, warn_yanked=False) for ref in refs]
    tags.sort(key=lambda t: (t.name, SemVer.parse(t.version).sort_key()))
    return [f"{t.name}@{t.version}" for t in tags]


def compare(store: Store, refs: Sequence[str]) -> dict[str, JSON]:
    """Two or more versions side by side: per facet, every key that differs between the first version (the base)
    and any other, with each version's value.

    The rows come from :func:`modelver.diff` of the base against each other version; a key absent from one of those
    diffs has the base's value in that version.

    Returns:
        ``{"refs": [name@version...], "digests": [...], "same_content": [bool per other version], "facets": {facet:
        [{"key", "cells": [{"value", "present", "status"}]}]}}``: the first cell is the base (status ``"base"``), the
        others say ``"same"``, ``"changed"``, ``"added"``, ``"removed"``, ``"upgraded"`` or ``"downgraded"``
        relative to it.

    Raises:
        InvalidReferenceError: fewer than two references; and see :func:`open_version`.
    """
    if len(refs) < 2:
        raise InvalidReferenceError("compare needs at least two references (ref=A&ref=B)")
    versions = [open_version(store, ref) for ref in refs]
    base, others = versions[0], versions[1:]
    diffs = [diff_manifests(base, other) for other in others]
    facets: dict[str, list[JSON]] = {}
    for facet in FACETS:
        per_other = [{row.key: row for row in d.facets()[facet]} for d in diffs]
        keys = sorted({key for rows in per_other for key in rows})
        table = []
        for key in keys:
            first = next(rows[key] for rows in per_other if key in rows)
            base_present = first.status != "added"
            cells = [{"value": first.a, "present": base_present, "status": "base"}]
            for rows in per_other:
                row = rows.get(key)
                if row is None:
                    cells.append({"value": first.a, "present": base_present, "status": "same"})
                else:
                    cells.append({"value": row.b, "present": row.status != "removed", "status": row.status})
            table.append({"key": key, "cells": cells})
        facets[facet] = table
    return {
        "refs": [v.ref for v in versions],
        "digests": [v.digest for v in versions],
        "same_content": [d.same_content for d in diffs],
        "facets": facets,
    }


def lineage(store: Store, ref: str) -> dict[str, JSON]:
    """The lineage graph of a version: nodes (with layout positions), edges, and the step records.

    Raises:
        InvalidReferenceError, VersionNotFoundError, IntegrityError, StoreError: see :func:`open_version`.
    """
    version = open_version(store, ref)
    manifest = to_json_dict(version.manifest)
    graph = build_graph(manifest, version.ref)
    return {
        "ref": version.ref,
        "digest": version.digest,
        "nodes": [
            {**to_json_dict(n), "layer": graph.positions[n.id][0], "row": graph.positions[n.id][1]} for n in graph.nodes
        ],
        "edges": [to_json_dict(e) for e in graph.edges],
        "steps": list(manifest.get("lineage", {}).get("steps") or []),
        "inputs": list(manifest.get("lineage", {}).get("inputs") or []),
        "graph": graph,
    }
