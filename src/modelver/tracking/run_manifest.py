"""The manifest a run publishes, built from one consistent snapshot of what it captured; and the run's config as
recorded (losslessly encoded, the logged parameters merged in, stored as a blob when large).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from modelver.capture.config import encode_config
from modelver.manifest import (
    ArtifactEntry,
    CaptureErrorRecord,
    CodeFacet,
    DataEntry,
    EnvironmentFacet,
    Lineage,
    Manifest,
    ResourcesFacet,
    StepRecord,
)
from modelver.provenance import created_by, utc_now
from modelver.serde import canonical_json, to_json_dict
from modelver.store.objects import Store

#: A config whose canonical JSON is larger than this is stored whole as a blob and referenced from the manifest.
CONFIG_INLINE_LIMIT_BYTES = 1 << 20


def encode_run_config(root: object, params: Mapping[str, object], store: Store) -> tuple[Any, list[CaptureErrorRecord]]:
    """The run's config (``track(config=...)`` with the logged parameters merged in) as the manifest records it."""
    if not params:
        value: object = {} if root is None else root
    elif root is None or isinstance(root, Mapping):
        value = {**(root or {}), **params}
    elif hasattr(root, "__dict__") and type(root).__name__ == "Namespace":
        value = type(root)(**{**vars(root), **params})
    else:
        value = {"config": root, "params": params}
    encoded = encode_config(value)
    errors = [
        CaptureErrorRecord("config", error, f"{f'config key {path!r}' if path else 'the config'}: {message}")
        for path, error, message in encoded.errors
    ]
    raw = canonical_json(encoded.value)
    if len(raw) > CONFIG_INLINE_LIMIT_BYTES:
        return {"$type": "blob", "digest": store.put_bytes(raw), "size_bytes": len(raw)}, errors
    return encoded.value, errors


def build_manifest(
    store: Store,
    *,
    name: str,
    run_id: str,
    code: CodeFacet,
    environment: EnvironmentFacet,
    config: Any,
    data: dict[str, DataEntry],
    resources: ResourcesFacet,
    metrics: dict[str, float | int | None],
    history: list[dict[str, Any]],
    artifacts: dict[str, ArtifactEntry],
    steps: tuple[StepRecord, ...],
    inputs: tuple[str, ...],
    errors: tuple[CaptureErrorRecord, ...],
    labels: dict[str, str] | None = None,
    description: str = "",
) -> tuple[Manifest, bytes]:
    """The manifest and its canonical body (without version and digest); the metrics history is stored as a blob."""
    history_digest = None
    if history:
        lines = "".join(json.dumps(entry, sort_keys=True) + "\n" for entry in history)
        history_digest = store.put_bytes(lines.encode())
    manifest = Manifest(
        name=name,
        created_at=utc_now(),
        created_by=created_by(),
        run_id=run_id,
        code=code,
        environment=environment,
        config=config,
        data=data,
        resources=resources,
        metrics=metrics,
        metrics_history=history_digest,
        artifacts=artifacts,
        lineage=Lineage(steps=steps, inputs=inputs),
        capture_errors=errors,
        labels=dict(labels or {}),
        description=description,
    )
    body = to_json_dict(manifest)
    del body["version"], body["digest"]
    return manifest, canonical_json(body)
