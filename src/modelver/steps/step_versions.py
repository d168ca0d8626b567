"""Step-version records: the stored record of one version of a step (code, inputs, packages, output) and the
blobs it needs kept.

A step-version record is canonical JSON stored as a blob, so it is content-addressed and written once; its digest
is the *step version* that call records, cache keys and ``manifest.lineage.steps`` name.
"""

from __future__ import annotations

import json
from typing import Any

from modelver.errors import IntegrityError
from modelver.steps.outputs import _output_blobs
from modelver.store.objects import Store

__all__ = ["STEP_SCHEMA", "read_step_version", "step_version_blobs"]

STEP_SCHEMA = "modelver.step/1"


def read_step_version(store: Store, step_version: str) -> dict[str, Any]:
    """The stored step-version record ``step_version`` (verified against its digest) as a JSON mapping.

    Raises:
        IntegrityError: the record is missing or corrupt, or the blob is not a step-version record.
    """
    data = store.read_blob(step_version)
    try:
        record = json.loads(data)
    except ValueError:
        record = None
    if not isinstance(record, dict) or record.get("schema") != STEP_SCHEMA:
        raise IntegrityError(
            f"blob {step_version} in {store.url} is not a step-version record ({STEP_SCHEMA}): the digest names "
            "another kind of object, or a call record was damaged. Check the digest (`modelver steps list`)",
            digest=step_version,
        )
    return record


def step_version_blobs(store: Store, step_version: str) -> list[str]:
    """The blobs a step version needs: its record, then the blobs of its stored output (none when not cached).

    For garbage collection: a ``manifest.lineage.steps[i].step_version`` needs its record (``explain``, ``used-by``
    read it), and a cache key needs the record and the output it points at.

    Raises:
        IntegrityError: the record exists but is corrupt or not a step-version record (a missing record gives just
            its digest: nothing more is known to keep).
    """
    try:
        record = read_step_version(store, step_version)
    except IntegrityError:
        if store.fs.exists(store.blob_path(step_version)):
            raise
        return [step_version]
    return [step_version, *_output_blobs(record.get("stored"))]
