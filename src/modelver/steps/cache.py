"""The step cache: step keys, the key files that point at a stored step version, and the blobs they keep.

With ``cache=True`` (the default) a call whose *step key* (name, code identity, input fingerprints, package versions,
``version=``) matches a stored step version returns that version's stored output without running the function.

Write order follows the store's rules: the output blobs, then the step-version record (a blob, so content-addressed
and written once), then the key with one create-if-absent write. Two processes that compute the same step at once
both return their own (equal) result; the first key written wins, and the other adopts that step version, so the
store keeps one output.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from modelver.errors import IntegrityError
from modelver.provenance import utc_now
from modelver.serde import canonical_json
from modelver.steps.layout import _steps_path, step_names
from modelver.steps.outputs import _load_output
from modelver.steps.step_versions import read_step_version, step_version_blobs
from modelver.store.digest import digest_bytes
from modelver.store.objects import Store

__all__ = ["step_cache_blobs"]

KEY_SCHEMA = "modelver.step-key/1"


def _key_path(store: Store, name: str, key: str) -> str:
    algo, _, hexdigest = key.partition(":")
    return _steps_path(store, name, "keys", algo, hexdigest + ".json")


def _step_key(
    name: str, code: str, inputs: dict[str, str], packages: dict[str, str], version: str | None, algorithm: str
) -> str:
    """The step key of a call: the digest of everything that decides whether a stored step version fits it."""
    body = {
        "schema": KEY_SCHEMA,
        "name": name,
        "code": code,
        "inputs": inputs,
        "packages": packages,
        "version": version,
    }
    return digest_bytes(canonical_json(body), algorithm)


def _load_hit(
    store: Store, name: str, key: str, raw: bytes, allow_pickle: bool, trusted: tuple[str, ...]
) -> tuple[str, dict[str, Any], Any]:
    """The (step version, record, output) the key file ``raw`` of step ``name``'s ``key`` points at.

    Raises:
        Exception: whatever reading fails with: a collected or corrupt blob, a record that is not this key's, a
            format this process cannot read.
    """
    step_version = str(json.loads(raw)["step_version"])
    record = read_step_version(store, step_version)
    if record.get("key") != key or record.get("name") != name:
        # The key file is a pointer, not content-addressed: verify that the record is this key's.
        raise IntegrityError(f"{step_version} is not a step version of this key", digest=step_version)
    value = _load_output(record["stored"], store, allow_pickle, trusted)
    return step_version, record, value


def _create_key(store: Store, name: str, key: str, step_version: str, output: str | None) -> str:
    """Point ``key`` at ``step_version`` (create-if-absent) and return the step version the store keeps for it."""
    path = _key_path(store, name, key)
    body = canonical_json({"step_version": step_version, "created_at": utc_now()})
    try:
        store.create_exclusive(path, body)
    except FileExistsError:
        # Another call stored this key first. Its step version is the one the store keeps; adopt it when it
        # holds the same output (a deterministic step), so both calls name one step version.
        with contextlib.suppress(Exception):
            winner = str(json.loads(store.fs.cat_file(path))["step_version"])
            if read_step_version(store, winner).get("output") == output:
                return winner
    return step_version


def step_cache_blobs(store: Store) -> set[str]:
    """Every blob the step cache (``steps/<name>/keys/...``) points at: each key's step-version record and its
    stored output. A key is written once and never replaced, so collecting what it points at would leave the key
    dead: for a step whose output differs between runs, every later call would run (see docs/steps.md).

    Raises:
        IntegrityError: a key file or a record it names is corrupt (gc must not guess what it would keep).
    """
    keep: set[str] = set()
    for name in step_names(store):
        directory = _steps_path(store, name, "keys")
        try:
            store.fs.invalidate_cache(directory)
            paths = [str(p) for p in store.fs.find(directory) if str(p).endswith(".json")]
        except (FileNotFoundError, NotADirectoryError):
            continue
        for path in paths:
            try:
                step_version = str(json.loads(store.fs.cat_file(path))["step_version"])
            except (ValueError, KeyError, TypeError) as exc:
                raise IntegrityError(f"step cache key {path} is corrupt ({exc})", location=path) from exc
            keep.update(step_version_blobs(store, step_version))
    return keep
