"""Stored step outputs: how a cached step's return value is written to the store and read back.

A stored output is described by a JSON descriptor (kept in the step-version record) naming inline values and the
blobs that hold the rest; :func:`_output_blobs` lists those blobs for garbage collection.

Outputs (``cache=True``)
    Stored with :func:`modelver.formats.serialize` in a safe format when one fits (npy, JSON, skops, and whatever
    formats it gains); ``None``, booleans, numbers and strings inline; tuples, lists and string-keyed dicts element
    by element. Pickle only with ``allow_pickle=True``. An output with no safe format is not cached (a warning says
    so) and the step runs every time.
"""

from __future__ import annotations

import os
from typing import Any

from modelver.errors import IntegrityError, UnsafeFormatError
from modelver.formats import deserialize, serialize
from modelver.store.digest import digest_bytes, split_digest
from modelver.store.objects import Store

__all__: list[str] = []


def _store_output(value: object, store: Store, allow_pickle: bool) -> Any:
    """Store ``value`` and return the JSON descriptor :func:`_load_output` reads it back from.

    Raises:
        UnsafeFormatError: only pickle would fit and ``allow_pickle`` is false.
    """
    if value is None or type(value) in (bool, int, str):
        return {"kind": "inline", "type": type(value).__name__, "value": value}
    if type(value) is float:
        return {"kind": "inline", "type": "float", "value": repr(value)}
    try:
        serialized = serialize(value, allow_pickle=False)
    except (UnsafeFormatError, ValueError, TypeError):
        serialized = None
    if serialized is not None:
        return _blob(store, serialized.data, serialized.format)
    # exact types only: a namedtuple or a dict subclass would come back as its base type
    if isinstance(value, (tuple, list)) and type(value) in (tuple, list):
        items = [_store_output(item, store, allow_pickle) for item in value]
        return {"kind": type(value).__name__, "items": items}
    if isinstance(value, dict) and type(value) is dict and all(isinstance(k, str) for k in value):
        return {"kind": "dict", "items": {k: _store_output(v, store, allow_pickle) for k, v in value.items()}}
    serialized = serialize(value, format="pickle" if allow_pickle else None, allow_pickle=allow_pickle)
    return _blob(store, serialized.data, serialized.format)


def _blob(store: Store, data: bytes, format: str) -> dict[str, Any]:
    return {"kind": "blob", "format": format, "blob": store.put_bytes(data), "size_bytes": len(data)}


def _load_output(descriptor: Any, store: Store, allow_pickle: bool, trusted: tuple[str, ...]) -> Any:
    kind = descriptor["kind"]
    if kind == "inline":
        value = descriptor["value"]
        return float(value) if descriptor["type"] == "float" else value
    if kind in ("tuple", "list"):
        items = [_load_output(item, store, allow_pickle, trusted) for item in descriptor["items"]]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        return {k: _load_output(v, store, allow_pickle, trusted) for k, v in descriptor["items"].items()}
    if kind == "blob":
        if descriptor["format"] == "npy":
            array = _read_npy(store, descriptor["blob"])
            if array is not None:
                return array
        data = store.read_blob(descriptor["blob"])
        return deserialize(data, descriptor["format"], allow_pickle=allow_pickle, trusted=list(trusted))
    raise ValueError(f"unknown stored output kind {kind!r}: written by a newer modelver?")


def _read_blob_buffer(store: Store, digest: str) -> Any:
    """A blob's bytes in a writable buffer (a numpy ``uint8`` array), verified against ``digest``.

    On local disk the file is read straight into an uninitialised buffer (one copy from the page cache and no
    zero-filling, as ``numpy.fromfile`` does for ``numpy.load``) and hashed there; elsewhere through
    :meth:`Store.read_blob` and its read cache.

    Raises:
        IntegrityError: the blob is missing, short or does not hash to ``digest``.
    """
    import numpy as np

    if not store.is_local:
        return np.frombuffer(bytearray(store.read_blob(digest)), dtype=np.uint8)
    path = store.blob_path(digest)
    try:
        with open(path, "rb", buffering=0) as handle:  # unbuffered: readinto goes straight to the buffer
            size = os.fstat(handle.fileno()).st_size
            buffer = np.empty(size, dtype=np.uint8)
            view = buffer.data  # a memoryview of the array
            done = 0
            while done < size and (got := handle.readinto(view[done:])):
                done += got
    except FileNotFoundError as exc:
        raise IntegrityError(f"blob {digest} is missing from {store.url}", digest=digest, location=path) from exc
    actual = digest_bytes(view[:done], split_digest(digest)[0])
    if done != size or actual != digest:
        raise IntegrityError(f"blob {path} is corrupt: expected {digest}, read {actual}", digest=digest, actual=actual)
    return buffer


def _read_npy(store: Store, digest: str) -> Any:
    """A stored ``.npy`` array without copying it after the read, or ``None`` for a layout this does not handle.

    The header is parsed by numpy's own ``numpy.lib.format`` readers (format versions 1.0 and 2.0, NEP 1); object
    arrays are refused there (they would need pickle), and anything unusual falls back to the format's loader.

    Raises:
        IntegrityError: the blob is missing or corrupt.
    """
    import io

    import numpy as np
    from numpy.lib import format as npy

    buffer = _read_blob_buffer(store, digest)
    header = io.BytesIO(buffer[: 1 << 16].tobytes())
    try:
        version = npy.read_magic(header)
        if version == (1, 0):
            shape, fortran_order, dtype = npy.read_array_header_1_0(header)
        elif version == (2, 0):
            shape, fortran_order, dtype = npy.read_array_header_2_0(header)
        else:
            return None
    except ValueError:
        return None
    if dtype.hasobject:
        return None
    count = int(np.prod(shape, dtype=np.int64))
    array = np.frombuffer(buffer, dtype=dtype, count=count, offset=header.tell())
    return array.reshape(shape, order="F" if fortran_order else "C")


def _output_blobs(descriptor: Any) -> list[str]:
    """The blob digests a stored-output descriptor (:func:`_store_output`) reads, depth first."""
    if not isinstance(descriptor, dict):
        return []
    kind = descriptor.get("kind")
    if kind == "blob":
        return [str(descriptor["blob"])]
    items = descriptor.get("items")
    if kind in ("tuple", "list") and isinstance(items, list):
        return [digest for item in items for digest in _output_blobs(item)]
    if kind == "dict" and isinstance(items, dict):
        return [digest for item in items.values() for digest in _output_blobs(item)]
    return []
