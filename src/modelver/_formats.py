"""How model objects become bytes and back: safe formats by default, pickle only on request.

| format | for | media type | safe |
|---|---|---|---|
| ``skops`` | scikit-learn estimators and pipelines | ``application/x-skops`` | yes: untrusted types refused |
| ``npy`` | numpy arrays (not object dtype) | ``application/x-npy`` | yes: ``allow_pickle=False`` |
| ``json`` | dicts and lists of JSON values that round-trip exactly | ``application/json`` | yes |
| ``pickle`` | anything else, with ``allow_pickle=True`` at save *and* at load | ``application/x-pickle`` | no |

Unpickling runs code chosen by whoever wrote the bytes, so it needs the caller's opt-in on both sides; skops loads
only the types it trusts, and any other type must be listed by the caller (``trusted=[...]``), as skops intends.
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Sequence
from typing import Any

import attrs

from .errors import UnsafeFormatError

FORMATS = ("skops", "npy", "json", "pickle")
_MEDIA_TYPES = {
    "skops": "application/x-skops",
    "npy": "application/x-npy",
    "json": "application/json",
    "pickle": "application/x-pickle",
}
_EXTENSIONS = {"skops": ".skops", "npy": ".npy", "json": ".json", "pickle": ".pkl"}


@attrs.frozen
class Serialized:
    """An object in stored form: its bytes, format name, media type and file extension."""

    data: bytes
    format: str
    media_type: str
    extension: str


def _is_sklearn(obj: object) -> bool:
    return any(cls.__module__.split(".")[0] == "sklearn" for cls in type(obj).__mro__)


def _is_ndarray(obj: object) -> bool:
    return type(obj).__module__ == "numpy" and type(obj).__name__ == "ndarray"


def _json_roundtrips(obj: object) -> bool:
    if not isinstance(obj, (dict, list)):
        return False
    try:
        return bool(json.loads(json.dumps(obj, allow_nan=False)) == obj)
    except (TypeError, ValueError):
        return False


def choose_format(obj: object) -> str | None:
    """The safe format for ``obj``, or ``None`` when only pickle would do."""
    if _is_sklearn(obj):
        return "skops"
    if _is_ndarray(obj) and getattr(obj, "dtype", None) is not None and obj.dtype.kind != "O":  # type: ignore[attr-defined]
        return "npy"
    if _json_roundtrips(obj):
        return "json"
    return None


def serialize(obj: object, *, format: str | None = None, allow_pickle: bool = False) -> Serialized:
    """Turn ``obj`` into bytes in ``format`` (chosen from its type when ``None``).

    Raises:
        UnsafeFormatError: only pickle fits (or ``format="pickle"``) and ``allow_pickle`` is false.
        ValueError: ``format`` is unknown or does not fit ``obj``.
    """
    fmt = format or choose_format(obj)
    if fmt == "pickle" and not allow_pickle:
        raise UnsafeFormatError(
            "format='pickle' needs allow_pickle=True: loading a pickle runs arbitrary code. Pass it (and "
            "allow_pickle=True to load) if you trust every reader of this store"
        )
    if fmt is None or fmt == "pickle":
        if not allow_pickle:
            raise UnsafeFormatError(
                f"no safe format fits a {type(obj).__module__}.{type(obj).__qualname__}; pickle would, but loading a "
                "pickle runs arbitrary code. Pass allow_pickle=True to save_model (and to load) if you trust every "
                "reader of this store, or save a safe form instead (an array, a JSON-able dict, a scikit-learn model)"
            )
        fmt = "pickle"
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    data = _DUMPERS[fmt](obj)
    return Serialized(data, fmt, _MEDIA_TYPES[fmt], _EXTENSIONS[fmt])


def deserialize(
    data: bytes, format: str, *, allow_pickle: bool = False, trusted: Sequence[str] | None = None
) -> object:
    """Turn stored bytes back into an object.

    Args:
        data: the verified bytes of the artifact.
        format: the format recorded in the manifest.
        allow_pickle: permit unpickling (runs code from the store).
        trusted: for skops, fully qualified type names the caller has reviewed and trusts beyond skops' defaults.

    Raises:
        UnsafeFormatError: a pickle without ``allow_pickle``, or a skops file holding types not trusted.
        ValueError: unknown format.
    """
    if format == "pickle":
        if not allow_pickle:
            raise UnsafeFormatError(
                "this artifact is a pickle, and unpickling runs arbitrary code from the store. Pass "
                "allow_pickle=True only if you trust everyone who can write to this store"
            )
        return pickle.loads(data)  # noqa: S301 - the caller opted in
    if format == "skops":
        import skops.io as sio

        untrusted = sio.get_untrusted_types(data=data)
        refused = sorted(set(untrusted) - set(trusted or ()))
        if refused:
            raise UnsafeFormatError(
                f"the skops file holds types skops does not trust by default: {', '.join(refused)}. Review them and "
                f"pass trusted={refused!r} to load if they are what you expect"
            )
        return sio.loads(data, trusted=list(untrusted))
    if format == "npy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if format == "json":
        return json.loads(data)
    raise ValueError(f"unknown format {format!r}; this modelver reads {', '.join(FORMATS)}")


def _dump_skops(obj: object) -> bytes:
    import skops.io as sio

    return bytes(sio.dumps(obj))


def _dump_npy(obj: object) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.asarray(obj), allow_pickle=False)
    return buffer.getvalue()


def _dump_json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False).encode()


def _dump_pickle(obj: object) -> bytes:
    return pickle.dumps(obj, protocol=5)


_DUMPERS: dict[str, Any] = {"skops": _dump_skops, "npy": _dump_npy, "json": _dump_json, "pickle": _dump_pickle}
