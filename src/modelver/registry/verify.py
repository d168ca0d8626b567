"""Re-hash everything a version (or every version of a store) references: its manifest and every blob."""

from __future__ import annotations

import os

import attrs

from modelver.errors import IntegrityError, ModelverError
from modelver.manifest import Manifest
from modelver.registry.model_version import get
from modelver.store.digest import new_hasher, split_digest
from modelver.store.objects import Store


@attrs.frozen
class CheckedObject:
    """One object checked by :func:`verify`: what it is, its digest, and ``"ok"``, ``"missing"`` or ``"corrupt"``."""

    role: str
    digest: str
    status: str
    detail: str = ""


@attrs.frozen
class VerifyReport:
    """The result of :func:`verify`: the version checked and every object, in manifest order.

    Example:
        >>> report = modelver.verify("churn@1.4.0")  # doctest: +SKIP
        >>> report.ok, len(report.objects)  # doctest: +SKIP
        (True, 3)
    """

    ref: str
    digest: str
    objects: tuple[CheckedObject, ...]

    @property
    def ok(self) -> bool:
        """Whether every object is present and matches its digest."""
        return all(o.status == "ok" for o in self.objects)


def referenced_blobs(manifest: Manifest) -> list[tuple[str, str]]:
    """``(role, digest)`` of every blob a manifest references, in a stable order."""
    out: list[tuple[str, str]] = [(f"artifact {p}", a.digest) for p, a in sorted(manifest.artifacts.items())]
    git = manifest.code.git
    if git is not None:
        if git.diff:
            out.append(("code diff", git.diff))
        out += [(f"untracked {p}", d) for p, d in sorted(git.untracked.items()) if d]
    out += [(f"source {p}", d) for p, d in sorted(manifest.code.sources.items())]
    out += [(f"data {label} file list", e.tree) for label, e in sorted(manifest.data.items()) if e.tree]
    config = manifest.config
    if isinstance(config, dict) and config.get("$type") == "blob":
        out.append(("config", str(config["digest"])))
    if manifest.metrics_history:
        out.append(("metrics history", manifest.metrics_history))
    if manifest.resources.series:
        out.append(("resource series", manifest.resources.series))
    return out


def _check_blob(store: Store, role: str, digest: str) -> CheckedObject:
    algo, _ = split_digest(digest)
    hasher = new_hasher(algo)
    try:
        for chunk in store.iter_blob(digest):
            hasher.update(chunk)
    except IntegrityError:
        return CheckedObject(role, digest, "missing", store.blob_path(digest))
    actual = f"{algo}:{hasher.hexdigest()}"
    if actual != digest:
        return CheckedObject(role, digest, "corrupt", f"reads as {actual}")
    return CheckedObject(role, digest, "ok")


def _uncached(store: str | os.PathLike[str] | Store | None) -> Store:
    # Verification checks the store's bytes, never the local read cache's copies.
    from modelver.store.location import open_store

    opened = open_store(store)
    clone = Store(opened.url, **opened.storage_options)
    clone.cache = None
    return clone


def verify(ref: str, *, store: str | os.PathLike[str] | Store | None = None) -> VerifyReport:
    """Re-hash the manifest and every blob that version ``ref`` references, as stored (the read cache is bypassed).

    Returns:
        A report; ``report.ok`` is false when anything is missing or corrupt.

    Raises:
        InvalidReferenceError, VersionNotFoundError: ``ref`` is malformed or matches nothing.
        IntegrityError: the manifest itself is missing or corrupt (nothing else can be checked).

    Example:
        >>> modelver.verify("churn@1.4.0").ok  # doctest: +SKIP
        True
    """
    version = get(ref, store=_uncached(store))
    checked = [CheckedObject("manifest", version.digest, "ok")]
    checked += [_check_blob(version.store, role, digest) for role, digest in referenced_blobs(version.manifest)]
    return VerifyReport(version.ref, version.digest, tuple(checked))


@attrs.frozen
class StoreVerifyReport:
    """The result of :func:`verify_all`: one :class:`VerifyReport` per version, plus versions that could not be
    checked at all (their tag or manifest unreadable) as ``(ref, message)``.

    Example:
        >>> report = modelver.verify_all()  # doctest: +SKIP
        >>> report.ok, len(report.reports), report.unreadable  # doctest: +SKIP
        (True, 42, ())
    """

    reports: tuple[VerifyReport, ...]
    unreadable: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        """Whether every version and every object it references verified."""
        return not self.unreadable and all(r.ok for r in self.reports)


def verify_all(*, store: str | os.PathLike[str] | Store | None = None) -> StoreVerifyReport:
    """Re-hash every version of every name in the store (each blob once, however many versions share it).

    Returns:
        A report; ``report.ok`` is false when any tag, manifest or blob is missing, corrupt or unreadable.

    Example:
        >>> report = modelver.verify_all(store="s3://ml-models/registry")  # doctest: +SKIP
        >>> [r.ref for r in report.reports if not r.ok], report.unreadable  # doctest: +SKIP
        ([], ())
    """
    from modelver.registry.events import read_state
    from modelver.registry.model_version import read_manifest
    from modelver.registry.resolution import read_tag, sorted_versions

    opened = _uncached(store)
    checked: dict[str, CheckedObject] = {}
    reports: list[VerifyReport] = []
    unreadable: list[tuple[str, str]] = []
    for name in opened.list_names():
        pruned = read_state(opened, name).pruned
        for version in sorted_versions(opened, name):
            if str(version) in pruned:  # tombstoned by prune: its bytes are gc's to free, nothing to verify
                continue
            ref = f"{name}@{version}"
            try:
                tag = read_tag(opened, name, str(version))
                manifest = read_manifest(opened, tag)
            except ModelverError as exc:
                unreadable.append((ref, str(exc)))
                continue
            objects = [CheckedObject("manifest", tag.manifest, "ok")]
            for role, digest in referenced_blobs(manifest):
                if digest not in checked:
                    checked[digest] = _check_blob(opened, role, digest)
                objects.append(attrs.evolve(checked[digest], role=role))
            reports.append(VerifyReport(ref, tag.manifest, tuple(objects)))
    return StoreVerifyReport(tuple(reports), tuple(unreadable))
