"""``modelver.diff(a, b)``: what changed between two versions, facet by facet.

Every facet is a list of :class:`Change` rows (``key``, ``status``, the value in A, the value in B, and a numeric
``delta`` where one makes sense), so the JSON form is uniform and complete and the terminal form is one table per
facet. Only the two manifests are read (and nothing else: code diffs are compared by their blob digests).
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any, overload

import attrs
from packaging.version import InvalidVersion, Version

from modelver.capture.flatten import flatten_config
from modelver.manifest import Manifest
from modelver.registry.compare import VersionTable, compare_versions
from modelver.registry.model_version import ModelVersion, get
from modelver.store.objects import Store

__all__ = ["FACETS", "Change", "VersionDiff", "diff"]

#: The facets a diff reports, in display order.
FACETS = ("code", "environment", "config", "data", "metrics", "resources", "artifacts", "prompts")
#: Formats whose artifacts are text, compared line by line in the ``prompts`` facet.
TEXT_FORMATS = ("prompt", "text", "json", "yaml")
#: Text artifacts larger than this (bytes) are compared by digest only, never read.
TEXT_DIFF_LIMIT_BYTES = 1 << 20
JSON = Any


@attrs.frozen
class Change:
    """One difference.

    Attributes:
        key: what changed: a dotted config path, a package, a data label, a metric, an artifact path, or a code or
            resource field.
        status: ``"added"`` (only in B), ``"removed"`` (only in A), ``"changed"``; packages say ``"upgraded"`` or
            ``"downgraded"`` when both versions parse (PEP 440).
        a: the value in A (``None`` when added).
        b: the value in B (``None`` when removed).
        delta: ``b - a`` for numbers (metrics, resources), else ``None``.
    """

    key: str
    status: str
    a: JSON = None
    b: JSON = None
    delta: float | int | None = None


@attrs.frozen
class VersionDiff:
    """The differences between version A and version B.

    Attributes:
        a, b: ``name@version`` of each side.
        a_digest, b_digest: their manifest digests.
        same_content: whether both name the same manifest (a release of an experiment, say): nothing differs.
        code: commit, branch, dirty flag, uncommitted diff (``key="diff"`` when the diffs differ), entrypoint, and
            per file ``source:<path>`` (snapshot) and ``untracked:<path>``.
        environment: ``python``, ``platform`` and one row per package added, removed, upgraded or downgraded.
        config: dotted paths of config values added, removed or changed, envelopes dropped
            (:func:`modelver.capture.flatten.flatten_config`: ``opt.lr`` of a dataclass ``opt``).
        data: per label, a fingerprint added, removed or changed (``a``/``b`` are digests).
        metrics: per metric, with ``delta``.
        resources: wall and CPU seconds, peak memory bytes, with ``delta``.
        artifacts: per path, added, removed or changed (``a``/``b`` are digests).
        prompts: per prompt, text, JSON or YAML artifact (up to 1 MiB) whose content differs: ``a``/``b`` are the
            texts (a prompt's template); :meth:`text_diff` renders a unified diff of each.

    Example:
        >>> d = modelver.diff("churn@1.2.0", "churn@1.3.0")  # doctest: +SKIP
        >>> [(c.key, c.status, c.delta) for c in d.metrics]  # doctest: +SKIP
        [('accuracy', 'changed', 0.012)]
    """

    a: str
    b: str
    a_digest: str
    b_digest: str
    same_content: bool
    code: tuple[Change, ...] = ()
    environment: tuple[Change, ...] = ()
    config: tuple[Change, ...] = ()
    data: tuple[Change, ...] = ()
    metrics: tuple[Change, ...] = ()
    resources: tuple[Change, ...] = ()
    artifacts: tuple[Change, ...] = ()
    prompts: tuple[Change, ...] = ()

    def facets(self) -> dict[str, tuple[Change, ...]]:
        """Facet name to its changes, in :data:`FACETS` order."""
        return {facet: getattr(self, facet) for facet in FACETS}

    def text_diff(self) -> dict[str, str]:
        """Artifact path to a unified diff (``difflib``, 3 lines of context) of each changed prompt or text."""
        out = {}
        for row in self.prompts:
            lines = difflib.unified_diff(
                (row.a or "").splitlines(keepends=True),
                (row.b or "").splitlines(keepends=True),
                fromfile=f"{self.a}:{row.key}",
                tofile=f"{self.b}:{row.key}",
            )
            out[row.key] = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
        return out

    @property
    def empty(self) -> bool:
        """Whether no facet differs."""
        return not any(self.facets().values())


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _delta(a: object, b: object) -> float | int | None:
    if _number(a) and _number(b):
        return b - a  # type: ignore[operator, no-any-return]
    return None


def compare_mappings(a: Mapping[str, JSON], b: Mapping[str, JSON], *, numeric: bool = False) -> tuple[Change, ...]:
    """Rows for keys only in ``a`` (removed), only in ``b`` (added) and in both with unequal values (changed)."""
    rows = []
    for key in sorted(set(a) | set(b)):
        if key not in b:
            rows.append(Change(key, "removed", a=a[key]))
        elif key not in a:
            rows.append(Change(key, "added", b=b[key]))
        elif a[key] != b[key] or type(a[key]) is not type(b[key]):
            rows.append(Change(key, "changed", a[key], b[key], _delta(a[key], b[key]) if numeric else None))
    return tuple(rows)


def flatten(value: JSON, prefix: str = "") -> dict[str, JSON]:
    """Nested JSON objects flattened to dotted paths (``{"opt": {"lr": 1}}`` -> ``{"opt.lr": 1}``).

    Lists and tagged values (objects with ``$type``: an encoded tuple, set, array...) are leaves, compared whole. A
    key that holds a dot is written in brackets so that the path stays unambiguous (``opt["a.b"]``).
    """
    if not isinstance(value, dict) or "$type" in value or (not value and prefix):
        return {prefix or "(config)": value}
    out: dict[str, JSON] = {}
    for key, item in value.items():
        part = f'["{key}"]' if "." in key or not key else key
        path = f"{prefix}{part}" if part.startswith("[") or not prefix else f"{prefix}.{part}"
        out.update(flatten(item, path))
    return out


def _packages(a: Mapping[str, str], b: Mapping[str, str]) -> list[Change]:
    rows = []
    for row in compare_mappings(a, b):
        if row.status == "changed":
            try:
                status = "upgraded" if Version(row.b) > Version(row.a) else "downgraded"
            except InvalidVersion:
                status = "changed"
            row = attrs.evolve(row, status=status)
        rows.append(attrs.evolve(row, key=f"package:{row.key}"))
    return rows


def _fields(pairs: Iterable[tuple[str, JSON, JSON]], *, numeric: bool = False) -> list[Change]:
    return [Change(key, "changed", a, b, _delta(a, b) if numeric else None) for key, a, b in pairs if a != b]


def _code(a: Manifest, b: Manifest) -> list[Change]:
    ga, gb = a.code.git, b.code.git
    rows = _fields(
        [
            ("commit", ga.commit if ga else None, gb.commit if gb else None),
            ("branch", ga.branch if ga else None, gb.branch if gb else None),
            ("dirty", ga.dirty if ga else None, gb.dirty if gb else None),
            # The dirty diffs are blobs named by their digest: equal digests, equal diffs.
            ("diff", ga.diff if ga else None, gb.diff if gb else None),
            ("remote", ga.remote if ga else None, gb.remote if gb else None),
            ("entrypoint", a.code.entrypoint, b.code.entrypoint),
            ("argv", list(a.code.argv), list(b.code.argv)),
        ]
    )
    for prefix, left, right in (
        ("source", a.code.sources, b.code.sources),
        ("untracked", ga.untracked if ga else {}, gb.untracked if gb else {}),
    ):
        rows += [attrs.evolve(row, key=f"{prefix}:{row.key}") for row in compare_mappings(left, right)]
    return rows


def diff_manifests(a: ModelVersion, b: ModelVersion) -> VersionDiff:
    """The differences between two resolved versions (see :func:`diff`)."""
    ma, mb = a.manifest, b.manifest
    env = _fields(
        [
            ("python", ma.environment.python, mb.environment.python),
            ("implementation", ma.environment.implementation, mb.environment.implementation),
            ("platform", ma.environment.platform, mb.environment.platform),
        ]
    )
    env += _packages(ma.environment.packages, mb.environment.packages)
    ra, rb = ma.resources, mb.resources
    resources = _fields(
        [
            ("wall_time_s", ra.wall_time_s, rb.wall_time_s),
            ("cpu_time_s", ra.cpu_time_s, rb.cpu_time_s),
            ("peak_rss_bytes", ra.peak_rss_bytes, rb.peak_rss_bytes),
            ("cpu_count", ra.cpu_count, rb.cpu_count),
            ("memory_total_bytes", ra.memory_total_bytes, rb.memory_total_bytes),
            ("gpus", [g.get("name") for g in ra.gpus], [g.get("name") for g in rb.gpus]),
        ],
        numeric=True,
    )
    data_a = {label: d.digest for label, d in ma.data.items()}
    data_b = {label: d.digest for label, d in mb.data.items()}
    artifacts_a = {path: e.digest for path, e in ma.artifacts.items()}
    artifacts_b = {path: e.digest for path, e in mb.artifacts.items()}
    return VersionDiff(
        a=a.ref,
        b=b.ref,
        a_digest=a.digest,
        b_digest=b.digest,
        same_content=a.digest == b.digest,
        code=tuple(_code(ma, mb)),
        environment=tuple(env),
        config=compare_mappings(_flat_config(a), _flat_config(b)),
        data=compare_mappings(data_a, data_b),
        metrics=compare_mappings(ma.metrics, mb.metrics, numeric=True),
        resources=tuple(resources),
        artifacts=compare_mappings(artifacts_a, artifacts_b),
        prompts=_texts(a, b),
    )


def _text_of(version: ModelVersion, path: str) -> str | None:
    entry = version.manifest.artifacts.get(path)
    if entry is None or entry.format not in TEXT_FORMATS or entry.size_bytes > TEXT_DIFF_LIMIT_BYTES:
        return None
    data = version.store.read_blob(entry.digest)
    if entry.format == "prompt":
        # The stored template is data; it is shown, never evaluated.
        body = json.loads(data)
        return str(body.get("template", "")) if isinstance(body, dict) else data.decode(errors="replace")
    return data.decode(errors="replace")


def _texts(a: ModelVersion, b: ModelVersion) -> tuple[Change, ...]:
    rows = []
    for path in sorted(set(a.manifest.artifacts) | set(b.manifest.artifacts)):
        ea, eb = a.manifest.artifacts.get(path), b.manifest.artifacts.get(path)
        if ea is not None and eb is not None and ea.digest == eb.digest:
            continue
        ta, tb = _text_of(a, path), _text_of(b, path)
        if ta is None and tb is None:
            continue
        status = "added" if ta is None else "removed" if tb is None else "changed"
        if ta != tb:
            rows.append(Change(path, status, ta, tb))
    return tuple(rows)


def _config(version: ModelVersion) -> JSON:
    config = version.manifest.config
    if isinstance(config, dict) and config.get("$type") == "blob":
        # A config too large to inline is stored whole as a blob; compare what it holds.
        return json.loads(version.store.read_blob(config["digest"]))
    return config


def _flat_config(version: ModelVersion) -> dict[str, JSON]:
    """The config as dotted keys without envelopes (``opt.lr``, not one changed dataclass); a config that is not
    an object is the key ``(config)``."""
    return {key or "(config)": value for key, value in flatten_config(_config(version)).items()}


@overload
def diff(a: str, b: str, *, store: str | os.PathLike[str] | Store | None = None) -> VersionDiff: ...


@overload
def diff(
    a: str, b: str, c: str, /, *more: str, store: str | os.PathLike[str] | Store | None = None
) -> VersionTable: ...


def diff(a: str, b: str, *more: str, store: str | os.PathLike[str] | Store | None = None) -> VersionDiff | VersionTable:
    """Compare two versions facet by facet: code, environment, config, data, metrics, resources, artifacts, prompts;
    or, given more than two, all of them in one table (:func:`modelver.registry.compare.compare_versions`).

    Args:
        a: the reference of the "before" version (``churn@1.2.0``, ``churn@production``, ...).
        b: the reference of the "after" version.
        more: further versions: the result is then a :class:`~modelver.registry.compare.VersionTable` with one
            column per version and only the rows that differ.
        store: the store (default: see ``modelver info``).

    Returns:
        A :class:`VersionDiff` for two versions, a ``VersionTable`` for more; ``modelver.serde.to_json_dict(result)``
        is the complete JSON form of either.

    Raises:
        InvalidReferenceError, VersionNotFoundError, IntegrityError: see :func:`modelver.get`.

    Example:
        >>> modelver.diff("churn@1.0.0", "churn@1.1.0").metrics  # doctest: +SKIP
        >>> modelver.diff("churn@1.0.0", "churn@1.1.0", "churn@2.0.0").facet("config")  # doctest: +SKIP
    """
    if more:
        return compare_versions([a, b, *more], store=store)
    return diff_manifests(get(a, store=store), get(b, store=store))
