"""How objects become stored bytes and back: safe formats by default, code-running ones only on request.

| format | for | media type | loading runs code? |
|---|---|---|---|
| ``skops`` | scikit-learn estimators and pipelines | ``application/x-skops`` | no: untrusted types refused |
| ``torch`` | ``torch.nn.Module`` / state dicts (safetensors + class path + init) | ``...torch+safetensors`` | no [1] |
| ``directory`` | ``save_pretrained`` objects, local directories (a blob per file) | per file | no |
| ``onnx`` | ``onnx.ModelProto`` | ``application/onnx`` | no |
| ``xgboost`` | ``xgboost.Booster`` / ``XGBModel`` (XGBoost's JSON model) | ``...xgboost.model+json`` | no |
| ``lightgbm`` | ``lightgbm.Booster`` / ``LGBMModel`` (LightGBM's text model) | ``text/vnd.lightgbm.model`` | no |
| ``keras`` | Keras 3 models (``.keras`` zip), loaded with ``safe_mode=True`` | ``application/vnd.keras+zip`` | no |
| ``npy`` | numpy arrays (not object dtype) | ``application/x-npy`` | no |
| ``parquet`` | pandas DataFrames, pyarrow Tables | ``application/vnd.apache.parquet`` | no |
| ``json``, ``yaml``, ``text`` | dicts/lists, forced YAML, strings | ``application/json``... | no |
| ``prompt`` | :class:`Prompt` templates | ``application/vnd.modelver.prompt+json`` | no |
| ``torchscript``, ``torch-pickle``, ``joblib``, ``pickle`` | anything, with ``allow_pickle=True`` | ... | yes |

[1] the module's class is imported only when the caller already imported its module or lists it in ``trusted``.

Each format is a :class:`Format` in a small module of this package, importing its library only when used, and the
module itself is imported only when one of its formats is first asked for (``core.BUILTIN_FORMATS``); users
register more with :func:`register_format` or the ``modelver.formats`` entry-point group. docs/formats.md has the
details.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from modelver.errors import FormatError, ModelverError
from modelver.formats.core import (
    ENTRY_POINT_GROUP,
    Format,
    LoadContext,
    choose_format,
    formats,
    get_format,
    refuse_unsafe,
    register_format,
    registered_names,
    resolve_format,
    trusted_names,
)

if TYPE_CHECKING:
    from modelver.formats.prompt import Prompt, make_prompt

__all__ = [
    "ENTRY_POINT_GROUP",
    "FORMATS",
    "Format",
    "LoadContext",
    "Prompt",
    "Serialized",
    "choose_format",
    "deserialize",
    "formats",
    "get_format",
    "make_prompt",
    "refuse_unsafe",
    "register_format",
    "resolve_format",
    "serialize",
    "trusted_names",
]

#: The built-in format names (entry points are loaded on first use, not at import: a plugin imports modelver).
FORMATS = registered_names()


def __getattr__(name: str) -> Any:
    """``Prompt`` and ``make_prompt``, from their module on first use (PEP 562): importing this package imports no
    format module.
    """
    if name in ("Prompt", "make_prompt"):
        from modelver.formats import prompt

        return getattr(prompt, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@attrs.frozen
class Serialized:
    """An object in stored form: its bytes, format name, media type and file extension."""

    data: bytes
    format: str
    media_type: str
    extension: str


def serialize(obj: object, *, format: str | None = None, allow_pickle: bool = False) -> Serialized:
    """Turn ``obj`` into the bytes of one file in ``format`` (chosen from its type when ``None``).

    A path to a file whose suffix a format claims (``.onnx``, ``.safetensors``, ``.parquet``...) is stored as its
    bytes. Directory formats (``save_pretrained`` objects, local directories) are stored file by file by
    ``Run.save_model``; asking this function for one raises :class:`FormatError`.

    Raises:
        UnsafeFormatError: only a code-running format fits (or one is forced) and ``allow_pickle`` is false.
        FormatError: ``format`` is unknown, is a directory format, or does not fit ``obj`` (a ``.json``, ``.yaml``
            or ``.txt`` file that does not parse).
    """
    fmt = resolve_format(obj, format, allow_pickle)
    if fmt.directory:
        raise FormatError(f"format {fmt.name!r} stores a directory of files; save it with run.save_model(...)")
    if isinstance(obj, os.PathLike) and Path(obj).is_file():
        # A file already written in the format (an exported .onnx, a .safetensors): its bytes are the stored form.
        data = Path(obj).read_bytes()
        if fmt.data:
            # Small text files picked by their suffix alone: a .json that is not JSON must fail here, not in
            # every later load() of a published version.
            try:
                fmt.load(data, LoadContext())
            except FormatError as exc:
                raise FormatError(
                    f"{obj} is named like a {fmt.name} file but is not one ({exc.__cause__ or exc}); fix the file, "
                    "or store it as a plain file with run.log_artifact(path)"
                ) from exc
        return Serialized(data, fmt.name, fmt.media_type, fmt.extension)
    return Serialized(fmt.dump(obj), fmt.name, fmt.media_type, fmt.extension)


def deserialize(
    data: bytes, format: str, *, allow_pickle: bool = False, trusted: Sequence[str] | None = None
) -> object:
    """Turn stored bytes back into an object.

    Args:
        data: the verified bytes of the artifact.
        format: the format recorded in the manifest.
        allow_pickle: permit formats whose loading runs code from the store (pickle, joblib, TorchScript).
        trusted: type names (skops) or classes/modules (PyTorch rebuild) the caller reviewed and trusts.

    Raises:
        UnsafeFormatError: a code-running format without ``allow_pickle``, or untrusted skops types.
        FormatError: unknown format, a directory format (load those through ``ModelVersion.load``), or bytes that
            do not decode in the format (the library's own error is its ``__cause__``).
    """
    fmt = get_format(format)
    if fmt.directory:
        raise FormatError(f"format {format!r} is a directory of files; load it with modelver.load(...)")
    context = LoadContext(allow_pickle=allow_pickle, trusted=trusted_names(trusted))
    refuse_unsafe(fmt, context)
    try:
        return fmt.load(data, context)
    except ModelverError:
        raise
    except Exception as exc:  # whatever the format's library raises on bytes it cannot decode (issue #16)
        raise FormatError(
            f"bytes stored as {format!r} do not decode as {format} ({type(exc).__name__}: {str(exc)[:200]}); "
            "run `modelver verify` on the version, or publish it again"
        ) from exc
