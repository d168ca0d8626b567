"""Pipeline steps: ``@modelver.versioned`` records each call's code, inputs and output, and reuses stored results.

Each call of a versioned function records a **step version**: the step's code identity
(:mod:`modelver.capture.identity`), the fingerprint of every argument, the versions of the packages its code imports,
and the fingerprint of what it returned (and of each part of a returned tuple, list or dict, one level deep, so a
later step passed one part links to it: :func:`output_fingerprints`). Inside ``modelver.track()`` the call is
added to the run's ``lineage.steps`` (a :class:`~modelver.manifest.StepRecord`); outside it is stored all the same.

With ``cache=True`` (the default) a call whose *step key* (name, code identity, input fingerprints, package versions,
``version=``) matches a stored step version returns that version's stored output without running the function.

Store layout (docs/steps.md)::

    blobs/<algo>/<aa>/<rest>                       step-version records (canonical JSON) and stored outputs
    steps/<name>/keys/<algo>/<key-hex>.json        step key → step version: the cache index, created if absent
    steps/<name>/calls/<utc-time>-<id>.json        one record per call: cached or not, why, time, resources

Write order follows the store's rules: the output blobs, then the step-version record (a blob, so content-addressed
and written once), then the key with one create-if-absent write. Two processes that compute the same step at once
both return their own (equal) result; the first key written wins, and the other adopts that step version, so the
store keeps one output.

Fingerprints of arguments (:func:`fingerprint_value`)
    ``bytes``, numpy arrays, pandas frames/series and ``os.PathLike`` paths (the file or directory *content*) get
    exactly the digest :func:`modelver.fingerprint` gives them, so a step input links to ``manifest.data`` entries.
    A plain ``str`` is a value, not a path: wrap it in ``pathlib.Path`` to fingerprint the file. Scalars, numpy
    scalars, tuples, lists, dicts, sets, enums, dates, decimals, UUIDs, dataclass and attrs instances,
    ``argparse.Namespace`` and nested combinations are hashed through a typed canonical encoding (``1``, ``1.0``,
    ``True`` and ``"1"`` differ). A local function passed as an argument is hashed by its code identity. Any other
    object (a fitted model, a plain class instance, ``self``) is hashed by its pickle, made in memory and never
    stored, plus the code identity of its class when the class is the project's.

    **An argument that cannot be fingerprinted** (it cannot be pickled: an open file, a lock, a generator)
    **is a capture failure, not an error**: the call runs, without the cache, a
    :class:`~modelver.errors.CaptureWarning` names the argument and suggests ``ignore=``, and inside a run it is
    recorded in ``capture_errors`` (so ``strict=True`` publishes nothing). Tracking never breaks the pipeline.

Outputs (``cache=True``)
    Stored with :func:`modelver.formats.serialize` in a safe format when one fits (npy, JSON, skops, and whatever
    formats it gains); ``None``, booleans, numbers and strings inline; tuples, lists and string-keyed dicts element
    by element. Pickle only with ``allow_pickle=True``. An output with no safe format is not cached (a warning says
    so) and the step runs every time.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import decimal
import enum
import functools
import inspect
import json
import os
import pickle
import posixpath
import re
import resource
import socket
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar, overload

import attrs

from modelver.capture.identity import CodeIdentity, code_identity, is_local_module, module_label, package_versions
from modelver.data.fingerprint import fingerprint
from modelver.errors import (
    CaptureError,
    CaptureWarning,
    IntegrityError,
    InvalidReferenceError,
    InvalidStepError,
    UnsafeFormatError,
)
from modelver.formats import deserialize, serialize
from modelver.manifest import StepRecord
from modelver.provenance import utc_now
from modelver.serde import canonical_json
from modelver.settings import choose_store
from modelver.store.digest import digest_bytes, split_digest
from modelver.store.location import open_store
from modelver.store.objects import Store
from modelver.tracking.run import current_run
from modelver.warnings import warn_user

__all__ = [
    "STEP_SCHEMA",
    "StepCall",
    "StepExplanation",
    "Usage",
    "explain_step",
    "fingerprint_value",
    "output_fingerprints",
    "read_calls",
    "read_step_version",
    "step_cache_blobs",
    "step_names",
    "step_version_blobs",
    "used_by",
    "versioned",
]

STEP_SCHEMA = "modelver.step/1"
CALL_SCHEMA = "modelver.step-call/1"
KEY_SCHEMA = "modelver.step-key/1"
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")
F = TypeVar("F", bound=Callable[..., Any])
_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


class _UnfingerprintableError(Exception):
    """A value has no stable fingerprint; the message names its type."""


# --- fingerprints of values ------------------------------------------------------------------------------------


def fingerprint_value(value: object, algorithm: str = "blake3") -> str:
    """The fingerprint digest of a step argument or output (see the module docstring for what is supported).

    Raises:
        TypeError: ``value`` (or something inside it) has no stable fingerprint; the message names its type.
    """
    try:
        data = _data_digest(value, algorithm)
        if data is not None:
            return data
        return digest_bytes(canonical_json(["modelver.value/1", _encode(value, algorithm)]), algorithm)
    except _UnfingerprintableError as exc:
        raise TypeError(str(exc)) from None
    except RecursionError:
        raise TypeError(f"a {_type_name(value)} that contains itself cannot be fingerprinted") from None


def output_fingerprints(value: object, algorithm: str = "blake3") -> tuple[str | None, dict[str, str], str | None]:
    """The fingerprint of a step's output and of each of its parts, one level deep.

    The parts of a tuple or list (``"0"``, ``"1"``...) and of a dict with only ``str`` keys (its keys) get the digest
    :func:`fingerprint_value` gives them, so ``train, test = split(...)`` followed by ``fit(train)`` links ``fit``'s
    input to ``split``'s part ``"0"``. Each part is hashed once: the whole output's digest is built from the parts'
    encodings, and equals ``fingerprint_value(value)``.

    Returns:
        ``(output, outputs, error)``: the whole output's digest (``None`` when it cannot be fingerprinted), the parts'
        digests (empty for any other value; a part that cannot be fingerprinted is left out), and why the output
        could not be fingerprinted (``None`` when it could).
    """
    items: dict[str, Any] | None = None
    if isinstance(value, (tuple, list)) and not isinstance(value, enum.Enum):  # an enum is encoded by its name
        items = {str(i): item for i, item in enumerate(value)}
    elif isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        items = dict(value)
    if items is None:
        try:
            return fingerprint_value(value, algorithm), {}, None
        except TypeError as exc:
            return None, {}, str(exc)
    parts: dict[str, str] = {}
    encoded: dict[str, Any] = {}
    error = None
    for key, item in items.items():
        try:
            data = _data_digest(item, algorithm)
            encoded[key] = ["data", data] if data is not None else _encode(item, algorithm)
            parts[key] = data or digest_bytes(canonical_json(["modelver.value/1", encoded[key]]), algorithm)
        except _UnfingerprintableError as exc:
            error = error or str(exc)
        except RecursionError:
            error = error or f"a {_type_name(item)} that contains itself cannot be fingerprinted"
    if error is not None:
        return None, parts, error
    if isinstance(value, (tuple, list)):
        whole = _encode_sequence(value, [encoded[str(i)] for i in range(len(value))])
    else:
        whole = _encode_mapping([[_encode(key, algorithm), encoded[key]] for key in items])
    return digest_bytes(canonical_json(["modelver.value/1", whole]), algorithm), parts, None


def _encode_sequence(value: tuple[Any, ...] | list[Any], items: list[Any]) -> Any:
    kind = type(value).__name__ if type(value) in (tuple, list) else _qualified(type(value))
    return [kind, items]


def _encode_mapping(pairs: list[list[Any]]) -> Any:
    return ["dict", sorted(pairs, key=lambda kv: canonical_json(kv[0]))]


def _type_name(value: object) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _data_digest(value: object, algorithm: str) -> str | None:
    """``modelver.fingerprint``'s digest for the kinds it fingerprints as data, else ``None``."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return fingerprint(value, algorithm=algorithm).digest
    if isinstance(value, os.PathLike):
        try:
            return fingerprint(os.fspath(value), algorithm=algorithm).digest
        except (CaptureError, OSError) as exc:  # a path that does not exist (yet: an output path), unreadable
            raise _UnfingerprintableError(str(exc)) from exc
    top = type(value).__module__.partition(".")[0]
    if top in ("numpy", "pandas"):
        import numpy as np

        if isinstance(value, np.ndarray) or top == "pandas":
            try:
                return fingerprint(value, algorithm=algorithm).digest
            except Exception as exc:  # CaptureError: object dtype, masked array, an element with no encoding
                raise _UnfingerprintableError(str(exc)) from exc
    return None


def _encode(value: object, algorithm: str) -> Any:
    """A typed, canonical JSON form of ``value`` (its digest is the value's fingerprint)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return ["bool", value]
    if isinstance(value, enum.Enum):
        return ["enum", _qualified(type(value)), value.name]
    if isinstance(value, int):
        return ["int", str(value)]
    if isinstance(value, float):
        return ["float", repr(value)]
    if isinstance(value, complex):
        return ["complex", repr(value)]
    if isinstance(value, str):
        return ["str", value]
    data = _data_digest(value, algorithm)
    if data is not None:
        return ["data", data]
    if type(value).__module__ == "numpy":
        import numpy as np

        if isinstance(value, np.generic) and value.dtype.kind != "O":
            return ["numpy", value.dtype.str, value.tobytes().hex()]
    if isinstance(value, (tuple, list)):
        return _encode_sequence(value, [_encode(item, algorithm) for item in value])
    if isinstance(value, Mapping):
        return _encode_mapping([[_encode(k, algorithm), _encode(v, algorithm)] for k, v in value.items()])
    if isinstance(value, (set, frozenset)):
        return ["set", sorted((_encode(item, algorithm) for item in value), key=canonical_json)]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return [type(value).__name__, value.isoformat()]
    if isinstance(value, dt.timedelta):
        return ["timedelta", [value.days, value.seconds, value.microseconds]]
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return [type(value).__name__, str(value)]
    if isinstance(value, argparse.Namespace):
        return ["namespace", _encode(vars(value), algorithm)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: _encode(getattr(value, f.name), algorithm) for f in dataclasses.fields(value)}
        return ["dataclass", _qualified(type(value)), fields]
    if attrs.has(type(value)):
        fields = {f.name: _encode(getattr(value, f.name), algorithm) for f in attrs.fields(type(value))}  # type: ignore[arg-type]
        return ["attrs", _qualified(type(value)), fields]
    if isinstance(value, (types.FunctionType, type)):
        if is_local_module(value.__module__):
            return ["code", _qualified(value), code_identity(value, algorithm=algorithm).digest]
        return ["callable", _qualified(value)]
    if isinstance(value, types.BuiltinFunctionType):
        return ["callable", f"{value.__module__}.{value.__qualname__}"]
    return _pickled(value, algorithm)


def _pickled(value: object, algorithm: str) -> Any:
    """The last resort: the digest of the object's pickle (made here, never stored or loaded, so no code runs from
    a store), with the code identity of its class when the class is the project's: equal pickles of the same class
    code rebuild equal objects, so a match is never stale."""
    try:
        data = pickle.dumps(value, protocol=5)
    except Exception as exc:  # pickling raises TypeError, PicklingError, AttributeError... depending on the object
        raise _UnfingerprintableError(
            f"a {_type_name(value)} has no stable fingerprint (it cannot be pickled either: {exc})"
        ) from exc
    cls = type(value)
    code = code_identity(cls, algorithm=algorithm).digest if is_local_module(cls.__module__) else None
    return ["pickled", _qualified(cls), code, digest_bytes(data, algorithm)]


def _qualified(obj: Any) -> str:
    return f"{module_label(obj.__module__)}.{obj.__qualname__}"


# --- stored outputs --------------------------------------------------------------------------------------------


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


# --- store layout ----------------------------------------------------------------------------------------------


def _steps_path(store: Store, *parts: str) -> str:
    return posixpath.join(store.root, "steps", *parts)


def _key_path(store: Store, name: str, key: str) -> str:
    algo, _, hexdigest = key.partition(":")
    return _steps_path(store, name, "keys", algo, hexdigest + ".json")


def _open_store(store: str | os.PathLike[str] | Store | None) -> Store:
    if isinstance(store, Store):
        return store
    url = choose_store(store).url  # chosen per call: MODELVER_STORE may change between calls
    with _stores_lock:
        opened = _stores.get(url)
        if opened is None:
            opened = open_store(url)
            opened.initialize()
            _stores[url] = opened
    return opened


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


@attrs.frozen
class StepCall:
    """One recorded call of a step (``steps/<name>/calls/...``).

    Attributes:
        name: the step name.
        step_version: digest of the step-version record the call produced or reused.
        cached: whether the stored output was returned without running the function.
        reason: why the call ran or was reused, as recorded at call time.
        started_at: RFC 3339 UTC start time.
        duration_s: wall-clock seconds.
        cpu_time_s: CPU seconds of the process during the call (all its threads).
        peak_rss_bytes: the process's peak resident memory so far, in bytes, at the end of the call.
        run_id: the ``track()`` run the call was made in, or ``None``.
    """

    name: str
    step_version: str
    cached: bool
    reason: str
    started_at: str
    duration_s: float
    cpu_time_s: float = 0.0
    peak_rss_bytes: int = 0
    run_id: str | None = None


def step_names(store: str | os.PathLike[str] | Store | None = None) -> list[str]:
    """Names of every step with recorded calls in the store, sorted."""
    opened = open_store(store)
    directory = _steps_path(opened, "")
    try:
        opened.fs.invalidate_cache(directory.rstrip("/"))
        entries = opened.fs.ls(directory.rstrip("/"), detail=False)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(posixpath.basename(str(e).rstrip("/")) for e in entries)


def read_calls(name: str, store: str | os.PathLike[str] | Store | None = None) -> list[StepCall]:
    """Every recorded call of step ``name``, oldest first (call records are named by their UTC start time).

    Raises:
        InvalidReferenceError: ``name`` is not a step name (it would name a directory outside ``steps/``).
    """
    if not _NAME_RE.match(name):
        raise InvalidReferenceError(
            f"{name!r} is not a step name: letters, digits, '_', '.' and '-', not starting with '.'; "
            "`modelver steps list` shows the recorded ones",
            reference=name,
        )
    opened = open_store(store)
    directory = _steps_path(opened, name, "calls")
    try:
        opened.fs.invalidate_cache(directory)
        paths = sorted(str(p) for p in opened.fs.ls(directory, detail=False) if str(p).endswith(".json"))
    except (FileNotFoundError, NotADirectoryError):
        return []
    calls = []
    for path in paths:
        if posixpath.basename(path).startswith("."):
            continue
        raw = json.loads(opened.fs.cat_file(path))
        calls.append(StepCall(**{f.name: raw[f.name] for f in attrs.fields(StepCall) if f.name in raw}))
    return calls


# --- the decorator ---------------------------------------------------------------------------------------------


@attrs.frozen
class _Options:
    name: str
    cache: bool
    ignore: frozenset[str]
    version: str | None
    allow_pickle: bool
    trusted: tuple[str, ...]
    store: str | os.PathLike[str] | Store | None


@attrs.frozen
class _Prepared:
    store: Store
    identity: CodeIdentity
    inputs: dict[str, str]
    unfingerprinted: dict[str, str]
    packages: dict[str, str]
    key: str


class _Step:
    """The state of one versioned function: its options and its code identity (computed at the first call)."""

    def __init__(self, func: Callable[..., Any], options: _Options) -> None:
        self.func = func
        self.options = options
        self.signature = inspect.signature(func)
        self._identity: CodeIdentity | None = None
        self._identity_algorithm = ""
        self._lock = threading.Lock()

    def identity(self, algorithm: str) -> CodeIdentity:
        with self._lock:
            if self._identity is None or self._identity_algorithm != algorithm:
                self._identity = code_identity(self.func, algorithm=algorithm)
                self._identity_algorithm = algorithm
            return self._identity

    # -- before the call -------------------------------------------------------------------------------------

    def prepare(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Prepared:
        run = current_run.get()
        store = run.store if run is not None and self.options.store is None else _open_store(self.options.store)
        algorithm = store.algorithm
        identity = self.identity(algorithm)
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        inputs: dict[str, str] = {}
        unfingerprinted: dict[str, str] = {}
        for arg, value in bound.arguments.items():
            if arg in self.options.ignore:
                continue
            kind = self.signature.parameters[arg].kind
            try:
                if kind is inspect.Parameter.VAR_KEYWORD:
                    for key, item in value.items():
                        inputs[key] = fingerprint_value(item, algorithm)
                else:
                    inputs[arg] = fingerprint_value(value, algorithm)
            except TypeError as exc:
                unfingerprinted[arg] = str(exc)
        packages = package_versions(identity.packages)
        body = {
            "schema": KEY_SCHEMA,
            "name": self.options.name,
            "code": identity.digest,
            "inputs": inputs,
            "packages": packages,
            "version": self.options.version,
        }
        key = digest_bytes(canonical_json(body), algorithm)
        return _Prepared(store, identity, inputs, unfingerprinted, packages, key)

    def lookup(self, prepared: _Prepared) -> tuple[str, dict[str, Any], Any] | str:
        """The stored (step version, record, output) for the key, or the reason none can be reused."""
        if not self.options.cache:
            return "the step has cache=False"
        if prepared.unfingerprinted:
            names = ", ".join(sorted(prepared.unfingerprinted))
            return f"argument(s) {names} could not be fingerprinted, so no stored result can be trusted"
        store = prepared.store
        try:
            raw = store.fs.cat_file(_key_path(store, self.options.name, prepared.key))
        except FileNotFoundError:
            return "no stored step version has this code, these inputs and package versions"
        try:
            step_version = str(json.loads(raw)["step_version"])
            record = read_step_version(store, step_version)
            if record.get("key") != prepared.key or record.get("name") != self.options.name:
                # The key file is a pointer, not content-addressed: verify that the record is this key's.
                raise IntegrityError(f"{step_version} is not a step version of this key", digest=step_version)
            value = _load_output(record["stored"], store, self.options.allow_pickle, self.options.trusted)
        except Exception as exc:  # a collected or corrupt blob, a format this process cannot read: run instead
            return f"the stored output could not be read ({type(exc).__name__}: {exc}), so the step ran again"
        return step_version, record, value

    # -- after the call --------------------------------------------------------------------------------------

    def record(
        self,
        prepared: _Prepared,
        value: Any,
        *,
        reason: str,
        started_at: str,
        duration_s: float,
        cpu_time_s: float,
    ) -> None:
        """Store the step version (and, when caching, its output and key) and the call; add it to the run."""
        store = prepared.store
        name = self.options.name
        warnings_: list[str] = [
            f"step {name}: argument {arg!r} not fingerprinted ({message}); the call is recorded without it and not "
            f"cached. Pass ignore=({arg!r},) to @versioned if it does not change the result"
            for arg, message in sorted(prepared.unfingerprinted.items())
        ]
        output, outputs, error = output_fingerprints(value, store.algorithm)
        if error is not None:
            warnings_.append(f"step {name}: its output is not fingerprinted ({error}); later steps cannot link to it")
        stored = None
        if self.options.cache and not prepared.unfingerprinted:
            try:
                stored = _store_output(value, store, self.options.allow_pickle)
            except UnsafeFormatError as exc:
                reason += "; its output was not stored, so the next call runs again"
                warnings_.append(f"step {name}: output not cached: {exc}")
        record = {
            "schema": STEP_SCHEMA,
            "name": name,
            "code": prepared.identity.digest,
            "parts": prepared.identity.parts,
            "inputs": prepared.inputs,
            "unfingerprinted": sorted(prepared.unfingerprinted),
            "packages": prepared.packages,
            "version": self.options.version,
            "key": prepared.key,
            "output": output,
            "outputs": outputs,
            "stored": stored,
        }
        step_version = store.put_bytes(canonical_json(record))
        if stored is not None:
            step_version = self._create_key(store, prepared.key, step_version, output)
        self._finish(
            prepared, step_version, output, outputs, False, reason, started_at, duration_s, cpu_time_s, warnings_
        )

    def _create_key(self, store: Store, key: str, step_version: str, output: str | None) -> str:
        path = _key_path(store, self.options.name, key)
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

    def _finish(
        self,
        prepared: _Prepared,
        step_version: str,
        output: str | None,
        outputs: dict[str, str],
        cached: bool,
        reason: str,
        started_at: str,
        duration_s: float,
        cpu_time_s: float,
        warnings_: list[str],
    ) -> None:
        run = current_run.get()
        call = {
            "schema": CALL_SCHEMA,
            "name": self.options.name,
            "step_version": step_version,
            "cached": cached,
            "reason": reason,
            "started_at": started_at,
            "duration_s": duration_s,
            "cpu_time_s": cpu_time_s,
            "peak_rss_bytes": _peak_rss_bytes(),
            "run_id": run.run_id if run is not None else None,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        path = _steps_path(prepared.store, self.options.name, "calls", f"{stamp}-{uuid.uuid4().hex[:12]}.json")
        prepared.store.create_exclusive(path, canonical_json(call))
        if run is not None:
            run.record_step(
                StepRecord(
                    name=self.options.name,
                    step_version=step_version,
                    code=prepared.identity.digest,
                    inputs=dict(prepared.inputs),
                    output=output,
                    outputs=dict(outputs),
                    cached=cached,
                    started_at=started_at,
                    duration_s=duration_s,
                )
            )
        for message in warnings_:
            _capture_failed(message)

    # -- the call --------------------------------------------------------------------------------------------

    def begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[_Prepared | None, str, Any]:
        """Fingerprint the call and look it up: ``(prepared, reason, hit)``; ``hit`` is ``_MISS`` to run."""
        try:
            prepared = self.prepare(args, kwargs)
        except Exception as exc:  # tracking never breaks the pipeline: run the function unrecorded
            _capture_failed(f"step {self.options.name}: not recorded: {type(exc).__name__}: {exc}")
            return None, "", _MISS
        try:
            found = self.lookup(prepared)
        except Exception as exc:  # e.g. the store cannot be reached: run the function, and record if we can
            found = f"the store could not be read ({type(exc).__name__}: {exc}), so the step ran"
        if isinstance(found, str):
            return prepared, found, _MISS
        return prepared, "reused a stored step version with the same code, inputs and package versions", found

    def reuse(self, prepared: _Prepared, hit: tuple[str, dict[str, Any], Any], reason: str, clock: _Clock) -> Any:
        step_version, record, value = hit
        try:
            duration_s, cpu_time_s = clock.stop()
            outputs = record.get("outputs")
            if not isinstance(outputs, dict):  # a record written before parts were recorded: hash them now
                outputs = output_fingerprints(value, prepared.store.algorithm)[1]
            self._finish(
                prepared,
                step_version,
                record.get("output"),
                outputs,
                True,
                reason,
                clock.started_at,
                duration_s,
                cpu_time_s,
                [],
            )
        except Exception as exc:
            _capture_failed(f"step {self.options.name}: call not recorded: {type(exc).__name__}: {exc}")
        return value

    def after(self, prepared: _Prepared | None, value: Any, reason: str, clock: _Clock) -> None:
        if prepared is None:
            return
        duration_s, cpu_time_s = clock.stop()
        try:
            self.record(
                prepared,
                value,
                reason=reason,
                started_at=clock.started_at,
                duration_s=duration_s,
                cpu_time_s=cpu_time_s,
            )
        except Exception as exc:
            _capture_failed(f"step {self.options.name}: not recorded: {type(exc).__name__}: {exc}")


_MISS = object()


class _Clock:
    def __init__(self) -> None:
        self.started_at = utc_now()
        self._wall = time.perf_counter()
        self._cpu = time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self._wall, time.process_time() - self._cpu


def _peak_rss_bytes() -> int:
    # ru_maxrss is in KiB on Linux and in bytes on macOS (getrusage(2) on each).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _capture_failed(message: str) -> None:
    """Record a capture failure in the current run, else warn, blaming the step's caller."""
    run = current_run.get()
    if run is not None:
        with contextlib.suppress(Exception):
            run.step_capture_failed(message)
        return
    warn_user(f"modelver: {message}", CaptureWarning)


def _default_name(func: Callable[..., Any]) -> str:
    qualname = func.__qualname__.replace("<locals>.", "")
    return f"{module_label(func.__module__)}.{qualname}"


def _make_step(func: Any, options: dict[str, Any]) -> Any:
    wrapper_type: type[staticmethod[Any, Any]] | type[classmethod[Any, Any, Any]] | None = None
    if isinstance(func, (staticmethod, classmethod)):
        wrapper_type = type(func)
        func = func.__func__
    if not isinstance(func, types.FunctionType):
        raise InvalidStepError(
            f"@modelver.versioned decorates functions, methods and staticmethods/classmethods, not a {_type_name(func)}"
        )
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise InvalidStepError(
            f"@modelver.versioned cannot version the generator {func.__qualname__}: its output is produced lazily, "
            "after the call returns. Return a list (or another value) instead, or version the function that consumes "
            "the generator"
        )
    name = options["name"] if options["name"] is not None else _default_name(func)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidStepError(
            f"step name {name!r} is not valid: use letters, digits, '_', '.' and '-', starting with a letter, digit "
            "or '_', at most 128 characters"
        )
    ignore = frozenset(options["ignore"])
    parameters = inspect.signature(func).parameters
    unknown = sorted(ignore - set(parameters))
    if unknown:
        raise InvalidStepError(
            f"ignore= names {', '.join(map(repr, unknown))}, which {func.__qualname__} has no parameter for; its "
            f"parameters are {', '.join(parameters) or '(none)'}"
        )
    step = _Step(
        func,
        _Options(
            name=name,
            cache=bool(options["cache"]),
            ignore=ignore,
            version=None if options["version"] is None else str(options["version"]),
            allow_pickle=bool(options["allow_pickle"]),
            trusted=tuple(options["trusted"]),
            store=options["store"],
        ),
    )
    wrapper: Any
    if inspect.iscoroutinefunction(func):

        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            clock = _Clock()
            prepared, reason, hit = step.begin(args, kwargs)
            if prepared is not None and hit is not _MISS:
                return step.reuse(prepared, hit, reason, clock)
            value = await func(*args, **kwargs)
            step.after(prepared, value, reason, clock)
            return value

        wrapper = async_wrapper
    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            clock = _Clock()
            prepared, reason, hit = step.begin(args, kwargs)
            if prepared is not None and hit is not _MISS:
                return step.reuse(prepared, hit, reason, clock)
            value = func(*args, **kwargs)  # the user's exceptions propagate untouched, and nothing is recorded
            step.after(prepared, value, reason, clock)
            return value

    functools.update_wrapper(wrapper, func)
    wrapper.__modelver_step__ = step
    return wrapper_type(wrapper) if wrapper_type is not None else wrapper


@overload
def versioned(func: F, /) -> F: ...


@overload
def versioned(
    *,
    name: str | None = None,
    cache: bool = True,
    ignore: tuple[str, ...] | list[str] = (),
    version: str | None = None,
    allow_pickle: bool = False,
    trusted: tuple[str, ...] | list[str] = (),
    store: str | os.PathLike[str] | Store | None = None,
) -> Callable[[F], F]: ...


def versioned(
    func: Any = None,
    /,
    *,
    name: str | None = None,
    cache: bool = True,
    ignore: tuple[str, ...] | list[str] = (),
    version: str | None = None,
    allow_pickle: bool = False,
    trusted: tuple[str, ...] | list[str] = (),
    store: str | os.PathLike[str] | Store | None = None,
) -> Any:
    """Make a function a versioned pipeline step (docs/steps.md).

    Usage::

        @modelver.versioned
        def featurize(raw: Path) -> np.ndarray: ...

        @modelver.versioned(name="train", ignore=("verbose",))
        def train(X: np.ndarray, lr: float, verbose: bool = False) -> dict[str, list[float]]: ...

    Each call records a step version (code identity, argument fingerprints, package versions, output fingerprint,
    time and resources) in the store and, inside ``modelver.track()``, in the run's ``lineage.steps``. With
    ``cache=True`` a call whose code, inputs and package versions match a stored step version returns its stored
    output without running. Works on plain functions, methods, staticmethods/classmethods (either decorator order)
    and ``async def`` functions.

    Args:
        func: the function (when used bare, ``@versioned``).
        name: the step name (default ``"<module>.<qualname>"``; a script's module is its file stem); letters,
            digits, ``_.-``.
        cache: reuse stored outputs (default). ``False`` records every call and always runs.
        ignore: parameter names left out of the fingerprints (a logger, a verbosity flag, ``self``).
        version: a label of your own, part of the step key: change it to force a re-run.
        allow_pickle: store (and load) outputs with no safe format as pickle: only for stores you trust.
        trusted: skops type names to trust when loading a stored scikit-learn output (see ``modelver.load``).
        store: where step versions go outside ``track()`` (inside, the run's store; default: ``modelver info``).

    Raises:
        InvalidStepError: at decoration: a generator, a non-function, a bad name, or ``ignore`` naming a parameter
            the function does not have.
    """
    options = {
        "name": name,
        "cache": cache,
        "ignore": ignore,
        "version": version,
        "allow_pickle": allow_pickle,
        "trusted": trusted,
        "store": store,
    }
    if func is None:
        return lambda f: _make_step(f, options)
    return _make_step(func, options)


# --- explain ---------------------------------------------------------------------------------------------------


@attrs.frozen
class StepExplanation:
    """Why the last call of a step ran or was reused, and what changed since the call before it.

    Attributes:
        name: the step name.
        call: the last call.
        previous: the call before it, or ``None`` for the first call.
        changed_code: ``"module:qualname"`` of functions/classes/constants whose source (or value) changed,
            appeared or disappeared since the previous call, sorted.
        changed_inputs: argument names whose fingerprint changed, appeared or disappeared, sorted.
        changed_packages: distributions whose version changed, appeared or disappeared, sorted.
    """

    name: str
    call: StepCall
    previous: StepCall | None
    changed_code: tuple[str, ...] = ()
    changed_inputs: tuple[str, ...] = ()
    changed_packages: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """The explanation as lines of text for a person."""
        verb = "reused" if self.call.cached else "ran"
        out = [
            f"{self.name}: the last call ({self.call.started_at}) {verb}: {self.call.reason}",
            f"  step version {self.call.step_version}",
        ]
        if self.previous is None:
            out.append("  it was the first recorded call of this step")
            return out
        out.append(f"  compared with the previous call ({self.previous.started_at}, {self.previous.step_version}):")
        if not (self.changed_code or self.changed_inputs or self.changed_packages):
            out.append("    code, inputs and package versions are unchanged")
        out += [f"    code changed: {part}" for part in self.changed_code]
        out += [f"    input changed: {arg}" for arg in self.changed_inputs]
        out += [f"    package changed: {dist}" for dist in self.changed_packages]
        return out


def _changed(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(k for k in {*a, *b} if a.get(k) != b.get(k)))


def explain_step(name: str, *, store: str | os.PathLike[str] | Store | None = None) -> StepExplanation:
    """Say why the last call of step ``name`` re-ran or was reused: which input, function or package changed.

    Args:
        name: the step name (``modelver steps list`` shows them).
        store: the store (default: see ``modelver info``).

    Returns:
        The last call, the one before it, and what differs between their step versions.

    Raises:
        VersionNotFoundError: no call of ``name`` is recorded in the store (the message lists the steps that are).
        IntegrityError: a step-version record is missing (``modelver gc`` collected it) or corrupt.
    """
    opened = open_store(store)
    calls = read_calls(name, opened)
    if not calls:
        known = step_names(opened)
        raise _no_calls(name, opened, known)
    last = calls[-1]
    previous = calls[-2] if len(calls) > 1 else None
    if previous is None:
        return StepExplanation(name, last, None)
    now = read_step_version(opened, last.step_version)
    before = read_step_version(opened, previous.step_version)
    return StepExplanation(
        name,
        last,
        previous,
        changed_code=_changed(now.get("parts", {}), before.get("parts", {})),
        changed_inputs=_changed(now.get("inputs", {}), before.get("inputs", {})),
        changed_packages=_changed(now.get("packages", {}), before.get("packages", {})),
    )


def _no_calls(name: str, store: Store, known: list[str]) -> LookupError:
    from modelver.errors import VersionNotFoundError

    listed = ", ".join(known) if known else "none"
    return VersionNotFoundError(
        f"no call of step {name!r} is recorded in {store.url}; steps with recorded calls: {listed}", reference=name
    )


# --- reverse queries -------------------------------------------------------------------------------------------

_DIGEST_PREFIX_RE = re.compile(r"^[a-z0-9]+:[0-9a-f]{8,}$")


@attrs.frozen
class Usage:
    """Something that used a data fingerprint, a step version or a version.

    Attributes:
        kind: ``"version"`` (a published version) or ``"step"`` (a stored step version).
        ref: ``name@version`` of the version, or the step name.
        digest: the version's manifest digest, or the step version's digest.
        role: how it was used, e.g. ``"data 'raw'"``, ``"step featurize input 'path'"``, ``"loaded version"``.
    """

    kind: str
    ref: str
    digest: str
    role: str


def used_by(target: str, *, store: str | os.PathLike[str] | Store | None = None) -> list[Usage]:
    """Which versions and step versions used ``target``.

    Args:
        target: a digest (``"blake3:3f9a01bc..."``, a prefix of at least 8 hex digits will do) of data, of a step
            output (or of one part of a returned tuple, list or dict) or of a step version; or a reference
            ``name[@spec]`` to a version, to find the versions and steps that loaded it. For a step version, the
            steps whose inputs are its output or one of its parts used it too (role ``"input 'x' ← step[0]"``).

    Returns:
        Every use found, versions first (by name and version order), then step versions (by step name).
        Every version's manifest and every step's call records are read: a full scan of the store.

    Raises:
        InvalidReferenceError, VersionNotFoundError: ``target`` is neither a digest nor a reference that resolves.
    """
    from modelver.registry.model_version import read_manifest
    from modelver.registry.resolution import read_tag, resolve, sorted_versions

    opened = open_store(store)
    wanted = target if _DIGEST_PREFIX_RE.match(target) else resolve(opened, target).manifest

    def hit(digest: object) -> bool:
        return isinstance(digest, str) and digest.startswith(wanted)

    versions = []
    for name in opened.list_names():
        for version in sorted_versions(opened, name):
            tag = read_tag(opened, name, str(version))
            versions.append((f"{name}@{version}", tag.manifest, read_manifest(opened, tag)))
    records: list[tuple[str, str, dict[str, Any]]] = []  # (step name, step version, record), each version once
    for step_name in step_names(opened):
        seen: set[str] = set()
        for call in read_calls(step_name, opened):
            if call.step_version in seen:
                continue
            seen.add(call.step_version)
            try:
                record = read_step_version(opened, call.step_version)
            except Exception:  # a collected or damaged record: nothing to report for it
                record = {}
            records.append((step_name, call.step_version, record))
    # What a target step version returned, whole or in parts: an input with one of these digests used it.
    produced: dict[str, str] = {}
    for _, _, manifest in versions:
        for step in manifest.lineage.steps:
            if hit(step.step_version):
                produced.update(_produced_by(step.name, step.output, step.outputs))
    for step_name, step_version, record in records:
        if hit(step_version):
            produced.update(_produced_by(step_name, record.get("output"), record.get("outputs")))

    def input_role(arg: str, digest: object) -> str | None:
        if hit(digest):
            return f"input {arg!r}"
        if isinstance(digest, str) and digest in produced:
            return f"input {arg!r} ← {produced[digest]}"
        return None

    found: list[Usage] = []
    for ref, manifest_digest, manifest in versions:
        roles = [f"data {label!r}" for label, entry in manifest.data.items() if hit(entry.digest)]
        for step in manifest.lineage.steps:
            if hit(step.step_version):
                roles.append(f"step {step.name}")
            for arg, digest in step.inputs.items():
                role = input_role(arg, digest)
                if role is not None:
                    roles.append(f"step {step.name} {role}")
        roles += [f"loaded version {entry}" for entry in manifest.lineage.inputs if hit(entry.rpartition("@")[2])]
        found += [Usage("version", ref, manifest_digest, role) for role in dict.fromkeys(roles)]
    for step_name, step_version, record in records:
        inputs = record.get("inputs", {})
        for arg, digest in sorted(inputs.items() if isinstance(inputs, dict) else ()):
            role = input_role(arg, digest)
            if role is not None:
                found.append(Usage("step", step_name, step_version, role))
    return found


def _produced_by(name: str, output: object, outputs: object) -> dict[str, str]:
    """Digest to what produced it: ``name`` for the whole output, ``name[key]`` for a part (docs/steps.md)."""
    produced = (
        {d: f"{name}[{key}]" for key, d in outputs.items() if isinstance(d, str)} if isinstance(outputs, dict) else {}
    )
    if isinstance(output, str):
        produced[output] = name
    return produced
