"""What differs between the fsspec backends under a store, and how their failures read.

Owns: opening a store URL's filesystem (with the extra to install when its implementation is missing), telling
"the store could not be reached" from "it answered no", modification times from ``info()`` dicts, which backends
have an atomic create-if-absent, and the conditional PUT of object stores with its retries.
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from typing import Any

import fsspec

from modelver.errors import StoreError

# Backends whose fsspec implementation sends a real conditional create for mode="create"
# (../shared/storage-facts.md): S3 If-None-Match, GCS ifGenerationMatch=0, Azure If-None-Match.
CONDITIONAL_CREATE_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})


# fsspec protocol -> the modelver extra that installs its implementation
_EXTRAS = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure", "abfs": "azure", "abfss": "azure"}

# Exception class names of the HTTP stacks under fsspec backends (botocore, aiohttp, requests, azure-core) that mean
# the store could not be reached at all, as opposed to "it answered no". Matched by name: those packages are
# optional extras.
_UNREACHABLE_NAMES = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ClientConnectorError",
        "ClientConnectionError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
        "ServiceRequestError",
        "ConnectionError",
    }
)

#: Attempts of a conditional create that real S3 answers with 409 ConditionalRequestConflict (a concurrent write).
_CONFLICT_RETRIES = 5
#: S3 error codes of a 409 that means "another conditional operation on this key is in flight: try again".
_CONFLICT_CODES = frozenset({"ConditionalRequestConflict", "OperationAborted"})


def is_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from) means the store could not be reached (network, endpoint)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (ConnectionError, TimeoutError)) or type(current).__name__ in _UNREACHABLE_NAMES:
            return True
        current = current.__cause__ or current.__context__
    return False


def _http_error(exc: BaseException) -> tuple[int | None, str | None]:
    """``(HTTP status, S3 error code)`` of the botocore ``ClientError`` s3fs raised ``exc`` from, else ``None``s."""
    response = getattr(exc.__cause__, "response", None)
    if not isinstance(response, dict):
        return None, None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = response.get("Error", {}).get("Code")
    return (status if isinstance(status, int) else None), (str(code) if code is not None else None)


def fs_protocols(fs: Any) -> tuple[str, ...]:
    """The protocols an fsspec filesystem answers to (``fs.protocol`` is a string or a tuple)."""
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def info_mtime(info: dict[str, Any]) -> float | None:
    """Modification time (Unix seconds) from an fsspec ``info()`` dict: local ``mtime``, S3 ``LastModified``,
    GCS ``updated``, Azure ``last_modified``, memory ``created``; ``None`` if the backend reports none."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "mtime_ns", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value) / 1e9 if key == "mtime_ns" else float(value)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


def open_filesystem(url: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    """The fsspec filesystem and root path of the store at ``url`` (already absolute when local).

    Raises:
        StoreError: ``url`` names no usable filesystem; for a known protocol, the message names the extra to install.
    """
    try:
        fs, root = fsspec.core.url_to_fs(url, **storage_options)
    except ImportError as exc:
        protocol = url.split("://", 1)[0]
        extra = _EXTRAS.get(protocol)
        hint = f"pip install 'modelver[{extra}]'" if extra else "install the fsspec implementation for it"
        raise StoreError(f"cannot open the store {url}: {exc}. To use {protocol}:// stores, {hint}") from exc
    except ValueError as exc:
        raise StoreError(f"cannot open the store {url}: {exc}") from exc
    return fs, root


def conditional_put(fs: Any, path: str, data: bytes) -> None:
    """Create ``path`` holding ``data`` on an object store with one conditional PUT (``pipe_file(mode="create")``).

    Raises:
        FileExistsError: ``path`` exists and holds other bytes.
    """
    # One request carrying the only precondition we send (If-None-Match: * / ifGenerationMatch=0 / Azure's
    # overwrite=False), so any "precondition failed" answer means "taken". Two answers need care:
    # - 409 ConditionalRequestConflict (real S3, when another conditional write to the key is in flight; moto
    #   never sends it): nothing was written, so retry with backoff; the retry finds the key taken or free.
    # - "taken" after a retry by the HTTP stack (s3fs and botocore resend a PUT whose answer was lost): the
    #   object may be our own first attempt. If the key holds exactly our bytes the create succeeded.
    for attempt in range(_CONFLICT_RETRIES):
        try:
            fs.pipe_file(path, data, mode="create")
            return
        except FileExistsError:
            if _holds(fs, path, data):
                return
            raise
        except OSError as exc:
            status, code = _http_error(exc)
            if status == 412 or code == "PreconditionFailed":
                # s3fs maps a 412 to FileExistsError only when the body names the If-None-Match condition;
                # S3-compatible servers that omit it answer the same thing.
                if _holds(fs, path, data):
                    return
                raise FileExistsError(f"{path} exists: {exc}") from exc
            if (status == 409 or code in _CONFLICT_CODES) and attempt < _CONFLICT_RETRIES - 1:
                time.sleep(0.05 * 2**attempt)
                continue
            raise


def _holds(fs: Any, path: str, data: bytes) -> bool:
    """Whether ``path`` exists and holds exactly ``data`` (read afresh, not from a listing cache)."""
    try:
        return bool(fs.cat_file(path) == data)
    except FileNotFoundError:
        return False
