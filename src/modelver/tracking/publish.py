"""Publishing a run's stored manifest as a version: the version tag (the single create-if-absent write that makes
the version visible, numbered by the run's scheme), and the :class:`~modelver.ModelVersion` it returns.
"""

from __future__ import annotations

import attrs

from modelver.errors import VersionExistsError
from modelver.manifest import CodeFacet, Manifest
from modelver.provenance import created_by
from modelver.registry.model_version import ModelVersion
from modelver.registry.notify import PAYLOAD_SCHEMA, notify
from modelver.store.objects import Store
from modelver.tracking.failed_run import write_failed_run
from modelver.tracking.spool import create_version_tag


def publish_version(
    store: Store,
    manifest: Manifest,
    body: bytes,
    digest: str,
    *,
    name: str,
    run_id: str,
    requested: str | None,
    scheme: str,
    bump: str,
    code: CodeFacet,
) -> ModelVersion:
    """Tag the manifest ``digest`` (its canonical ``body`` already stored) as version ``requested`` or the next one.

    Raises:
        VersionExistsError: ``requested`` is taken; the failed-run record is kept.
    """
    by = created_by()
    try:
        tag = create_version_tag(
            store,
            name,
            digest,
            requested,
            by,
            scheme=scheme,
            bump=bump,
            code=code,
            metrics=manifest.metrics,
        )
    except VersionExistsError as exc:  # only an explicit version is never replaced by the next one
        write_failed_run(store, run_id, name, body, f"version {exc.version} was taken")
        raise VersionExistsError(
            f"{exc} The run's bundle is kept as manifest {digest} (run record runs/{run_id}.json).",
            name=name,
            version=exc.version,
        ) from exc
    notify(
        store,
        {
            "schema": PAYLOAD_SCHEMA,
            "event": "publish",
            "name": name,
            "version": tag.version,
            "digest": digest,
            "by": by.user,
            "at": tag.created_at,
            "host": by.host,
        },
    )
    return ModelVersion(
        name=name,
        version=tag.version,
        digest=digest,
        manifest=attrs.evolve(manifest, version=tag.version, digest=digest),
        published_at=tag.created_at,
        published_by=by,
        store=store,
    )
