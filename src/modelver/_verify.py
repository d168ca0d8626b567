"""Re-hash everything a version references: its manifest and every blob."""

from __future__ import annotations

import os

import attrs

from ._digest import new_hasher, split_digest
from ._model_version import get
from ._store import Store
from .errors import IntegrityError
from .manifest import Manifest


@attrs.frozen
class CheckedObject:
    """One object checked by :func:`verify`: what it is, its digest, and ``"ok"``, ``"missing"`` or ``"corrupt"``."""

    role: str
    digest: str
    status: str
    detail: str = ""


@attrs.frozen
class VerifyReport:
    """The result of :func:`verify`: the version checked and every object, in manifest order."""

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


def verify(ref: str, *, store: str | os.PathLike[str] | Store | None = None) -> VerifyReport:
    """Re-hash the manifest and every blob that version ``ref`` references.

    Returns:
        A report; ``report.ok`` is false when anything is missing or corrupt.

    Raises:
        InvalidReferenceError, VersionNotFoundError: ``ref`` is malformed or matches nothing.
        IntegrityError: the manifest itself is missing or corrupt (nothing else can be checked).
    """
    version = get(ref, store=store)
    checked = [CheckedObject("manifest", version.digest, "ok")]
    checked += [_check_blob(version.store, role, digest) for role, digest in referenced_blobs(version.manifest)]
    return VerifyReport(version.ref, version.digest, tuple(checked))
