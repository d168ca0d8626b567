"""PyTorch modules as safetensors: the ``state_dict``, the class's import path and its constructor config.

safetensors (https://huggingface.co/docs/safetensors) holds tensors and a string-to-string metadata header and
nothing executable. The class path and constructor config go in that header, so the artifact is one file:

    __metadata__ = {"modelver.class": "pkg.models:Net", "modelver.init": "{\"hidden\": 8}",
                    "modelver.training": "false"}

``load`` rebuilds the module (``Net(**init)`` then ``load_state_dict``) when the class's module is already imported
by the caller or listed in ``trusted``, since importing a module named by stored text runs that module's code;
otherwise it returns the state dict with a warning saying how to rebuild. The constructor config comes from the
module's ``get_config()`` method, or a ``config`` attribute that is a mapping, else ``{}``.

TorchScript (``torch.jit.save``) and ``torch.save`` pickles carry code; they need ``allow_pickle=True``.
"""

from __future__ import annotations

import importlib
import io
import json
import math
import struct
import sys
import warnings
from collections.abc import Mapping
from typing import Any

from modelver.errors import FormatError
from modelver.formats.core import (
    Format,
    LoadContext,
    describe,
    import_library,
    loaded_module,
    refuse_unsafe,
    register_format,
    unreadable,
)


def _torch() -> Any:
    return import_library("torch")


def _is_state_dict(obj: object, torch: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and bool(obj)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
    )


def constructor_config(module: object) -> dict[str, Any]:
    """The keyword arguments that rebuild ``module``: ``get_config()``, a mapping ``config`` attribute, or ``{}``.

    Raises:
        FormatError: the config is not JSON values.
    """
    getter = getattr(module, "get_config", None)
    config = getter() if callable(getter) else getattr(module, "config", None)
    config = dict(config) if isinstance(config, Mapping) else {}
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise FormatError(f"the constructor config of {describe(module)} must be JSON values: {exc}") from exc
    return config


def rebuild_hint(module: object) -> str:
    """What to do so that ``load()`` rebuilds ``module`` rather than returning its state dict.

    A class of one's own can get a ``get_config()`` method; a class one cannot edit (``torch.nn.Linear``, any
    class of torch or another library) cannot, so the hint says to set a ``config`` mapping on the instance instead,
    spelled out from the constructor's parameters that the instance holds as attributes (``in_features``...) when
    those rebuild it. Either way, saving ``module.state_dict()`` stores the same weights without the warning.

    Args:
        module: the ``torch.nn.Module`` being saved.

    Returns:
        One or two sentences for the warning.

    Example:
        >>> rebuild_hint(torch.nn.Linear(2, 1))  # doctest: +SKIP
        'Its class is not yours to give a get_config(): set the constructor arguments on the instance before ...'
    """
    cls = type(module)
    weights = "or save model.state_dict() to store the weights without this warning"
    if cls.__module__.split(".")[0] not in ("torch", "torchvision", "torchaudio", "transformers", "timm"):
        return (
            "Give the class a get_config() returning its constructor arguments (or set a config mapping on the "
            f"instance) to have load() rebuild it, {weights}"
        )
    guess = _attribute_config(module)
    getter = getattr(module, "state_dict", None)
    state = getter() if callable(getter) else {}
    yourself = f"rebuild it at load time with {cls.__qualname__}(...).load_state_dict(state)"
    if guess and _rebuilds(cls, guess, state):
        return (
            "Its class is not yours to give a get_config(): set the constructor arguments on the instance before "
            f"saving (model.config = {json.dumps(guess)}) to have load() rebuild it, {weights} and {yourself}"
        )
    # Sequential, ModuleList, or a layer whose arguments the instance does not keep: no JSON config rebuilds it.
    return (
        "Its class is not yours to give a get_config() and its constructor arguments cannot be read off the "
        f"instance: save model.state_dict() to store the weights without this warning and {yourself}, or wrap "
        "it in a torch.nn.Module class of yours that has a get_config()"
    )


def _attribute_config(module: object) -> dict[str, Any]:
    """The constructor's parameters that ``module`` holds as same-named attributes of JSON values (how torch's own
    layers keep ``in_features``, ``out_features``, ``kernel_size``...), or ``{}``."""
    import inspect

    try:
        parameters = inspect.signature(type(module)).parameters.values()
    except (TypeError, ValueError):
        return {}
    config: dict[str, Any] = {}
    for parameter in parameters:
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            continue
        value = getattr(module, parameter.name, None)
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, (bool, int, float, str, list)) and parameter.default is parameter.empty:
            config[parameter.name] = value
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError):
        return {}
    return config


def _rebuilds(cls: type, init: dict[str, Any], state: Mapping[str, Any]) -> bool:
    """Whether ``cls(**init)`` has the same weight names and shapes as ``state`` (built on the meta device: no
    memory, no initialisation). Arguments the constructor refuses (``TypeError``) mean no; a class that fails on the
    meta device for another reason is given the benefit of the doubt."""
    torch = _torch()
    try:
        with torch.device("meta"):
            probe = cls(**init)
        expected = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    except TypeError:
        return False
    except Exception:
        return True
    return expected == {k: tuple(v.shape) for k, v in state.items()}


def read_header(data: bytes | bytearray) -> dict[str, Any]:
    """The JSON header of a safetensors file: an 8-byte little-endian length, then the header (tensor names to
    dtype, shape and byte offsets, and ``__metadata__``).

    Raises:
        FormatError: the bytes are not a safetensors file.
    """
    if len(data) < 8:
        raise FormatError("not a safetensors file: shorter than its 8-byte header length")
    (length,) = struct.unpack("<Q", data[:8])
    if 8 + length > len(data):
        raise FormatError(f"not a safetensors file: its header claims {length} bytes, the file has {len(data) - 8}")
    try:
        header = json.loads(bytes(data[8 : 8 + length]))
    except ValueError as exc:
        raise FormatError(f"not a safetensors file: its header is not JSON ({exc})") from exc
    if not isinstance(header, dict):
        raise FormatError("not a safetensors file: its header is not a JSON object")
    return header


def _trusts(trusted: tuple[str, ...], module: str, qualname: str) -> bool:
    dotted = f"{module}.{qualname}"
    return any(t in (dotted, module) or module.startswith(t + ".") for t in trusted)


def _resolve_class(path: str, context: LoadContext) -> tuple[type | None, str]:
    module_name, _, qualname = path.partition(":")
    if module_name not in sys.modules and not _trusts(context.trusted, module_name, qualname):
        return None, (
            f"its class {path} is not imported; import {module_name} before load(), or pass "
            f"trusted=[{module_name + '.' + qualname!r}] to let modelver import it"
        )
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        return None, f"its class {path} cannot be imported here ({exc})"
    torch = _torch()
    if not (isinstance(target, type) and issubclass(target, torch.nn.Module)):
        return None, f"{path} is not a torch.nn.Module subclass, so it is not called"
    return target, ""


@register_format
class TorchSafetensors(Format):
    """``torch``: a ``torch.nn.Module`` (or a state dict of tensors) as safetensors plus how to rebuild it."""

    name = "torch"
    media_type = "application/vnd.modelver.torch+safetensors"
    extension = ".safetensors"
    requires = ("torch", "safetensors")
    checks_python = True
    priority = 50
    zero_copy = True
    suffixes = (".safetensors",)

    def matches(self, obj: object) -> bool:
        torch = loaded_module("torch")
        if torch is None:
            return False
        if isinstance(obj, torch.nn.Module):
            return not isinstance(obj, torch.jit.ScriptModule)
        return _is_state_dict(obj, torch)

    def dump(self, obj: object) -> bytes:
        safetensors_torch = import_library("safetensors.torch")

        torch = _torch()
        metadata: dict[str, str] = {}
        if isinstance(obj, torch.nn.Module):
            state = obj.state_dict()
            cls, init = type(obj), constructor_config(obj)
            if _rebuilds(cls, init, state):
                metadata = {
                    "modelver.class": f"{cls.__module__}:{cls.__qualname__}",
                    "modelver.init": json.dumps(init, sort_keys=True),
                    "modelver.training": json.dumps(bool(obj.training)),
                }
            else:
                why = (
                    "its constructor arguments are not known"
                    if not init
                    else f"{describe(obj)}(**{init!r}) does not rebuild it (its weights have other names or shapes)"
                )
                warnings.warn(
                    f"modelver: {describe(obj)} is stored as a state dict and loads as one: {why}. {rebuild_hint(obj)}",
                    UserWarning,
                    stacklevel=4,
                )
        elif _is_state_dict(obj, torch):
            state = dict(obj)  # type: ignore[call-overload]
        else:
            raise FormatError(f"format 'torch' stores a torch.nn.Module or a dict of tensors, not a {describe(obj)}")
        tensors: dict[str, Any] = {}
        seen: set[int] = set()
        for key, tensor in state.items():
            # Tied weights share storage, which safetensors refuses; a copy of the second name loads back equal.
            pointer = tensor.untyped_storage().data_ptr() if tensor.numel() else -1
            tensors[key] = tensor.detach().clone().contiguous() if pointer in seen else tensor.detach().contiguous()
            seen.add(pointer)
        return bytes(safetensors_torch.save(tensors, metadata=metadata or None))

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        header = read_header(data)
        metadata = {str(k): str(v) for k, v in (header.get("__metadata__") or {}).items()}
        state = tensors_from(data, header)
        path = metadata.get("modelver.class")
        if path is None:
            return state
        cls, why = _resolve_class(path, context)
        if cls is None:
            warnings.warn(f"modelver: returning the state dict, not a module: {why}", UserWarning, stacklevel=4)
            return state
        try:
            init = json.loads(metadata.get("modelver.init", "{}"))
            training = json.loads(metadata.get("modelver.training", "false"))
        except ValueError as exc:
            raise unreadable(self.name, exc) from exc
        if not isinstance(init, dict) or not isinstance(training, bool):
            raise FormatError(f"the stored constructor config of {path} is not a JSON object and a boolean")
        module = _rebuild(cls, init, state, path)
        module.train(training)
        return module


def _rebuild(cls: type, init: dict[str, Any], state: dict[str, Any], path: str) -> Any:
    """``cls(**init)`` holding ``state``.

    Fast path: build the module on the meta device (no memory, no random initialisation) and adopt the loaded
    tensors as its parameters (``load_state_dict(assign=True)``, PyTorch >= 2.1). It is taken only when it gives
    the same module as the slow path: no tied parameters (assigning would untie them) and nothing left on the meta
    device (a buffer outside the state dict). Otherwise the module is built normally and the state copied in.
    """
    torch = _torch()
    try:
        with torch.device("meta"):
            module = cls(**init)
        tied = len(list(module.named_parameters(remove_duplicate=False))) != len(list(module.parameters()))
        if not tied:
            module.load_state_dict(state, strict=True, assign=True)
            if not any(t.is_meta for t in (*module.parameters(), *module.buffers())):
                return module
    except Exception:  # noqa: S110 - a module that cannot be built on meta takes the ordinary path below
        pass
    try:
        module = cls(**init)
    except Exception as exc:
        raise FormatError(f"rebuilding {path}(**{init!r}) failed: {exc}") from exc
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise FormatError(f"the stored weights do not fit {path}(**{init!r}): {exc}") from exc
    return module


_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U8": "uint8",
    "BOOL": "bool",
}


def tensors_from(data: bytes | bytearray, header: dict[str, Any]) -> dict[str, Any]:
    """The tensors of a safetensors file. From a ``bytearray`` (the format is ``zero_copy``) on a little-endian
    machine, each tensor is a view of the buffer (``torch.frombuffer``: no copy, writable); otherwise, or for a
    dtype not mapped here, safetensors' own reader copies them out.

    The header is what the writer of the artifact chose; offsets, shapes and dtypes that do not fit the bytes raise
    :class:`FormatError` (safetensors' reader checks the same).
    """
    safetensors_torch = import_library("safetensors.torch")

    torch = _torch()
    entries = {k: v for k, v in header.items() if k != "__metadata__"}
    try:
        if (
            not isinstance(data, bytearray)
            or sys.byteorder != "little"
            or any(e["dtype"] not in _DTYPES for e in entries.values())
        ):
            return dict(safetensors_torch.load(bytes(data)))
        base = 8 + struct.unpack("<Q", data[:8])[0]
        tensors = {}
        for name, entry in entries.items():
            dtype = getattr(torch, _DTYPES[entry["dtype"]])
            start, end = (int(x) for x in entry["data_offsets"])
            shape = [int(x) for x in entry["shape"]]
            size = torch.empty((), dtype=dtype).element_size()
            count = (end - start) // size
            if start < 0 or base + end > len(data) or math.prod(shape) * size != end - start:
                raise ValueError(f"tensor {name!r}: shape {shape} does not fit data offsets {start}..{end}")
            if end == start:
                tensors[name] = torch.empty(shape, dtype=dtype)
                continue
            tensors[name] = torch.frombuffer(data, dtype=dtype, count=count, offset=base + start).reshape(shape)
        return tensors
    except FormatError:
        raise
    except Exception as exc:  # a lying header: KeyError, TypeError, ValueError, RuntimeError, SafetensorError
        raise unreadable("torch", exc) from exc


@register_format
class TorchScript(Format):
    """``torchscript``: a ``torch.jit.ScriptModule`` (holds code: needs ``allow_pickle``)."""

    name = "torchscript"
    media_type = "application/vnd.modelver.torchscript"
    extension = ".pt"
    safe = False
    requires = ("torch",)
    checks_python = True
    priority = 50

    def matches(self, obj: object) -> bool:
        torch = loaded_module("torch")
        return torch is not None and isinstance(obj, torch.jit.ScriptModule)

    def dump(self, obj: object) -> bytes:
        buffer = io.BytesIO()
        _torch().jit.save(obj, buffer)
        return buffer.getvalue()

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        refuse_unsafe(self, context)
        return _torch().jit.load(io.BytesIO(data))


@register_format
class TorchPickle(Format):
    """``torch-pickle``: ``torch.save`` of anything, forced by name (a pickle: needs ``allow_pickle``)."""

    name = "torch-pickle"
    media_type = "application/vnd.modelver.torch+pickle"
    extension = ".pt"
    safe = False
    requires = ("torch",)
    checks_python = True
    priority = 0

    def dump(self, obj: object) -> bytes:
        buffer = io.BytesIO()
        _torch().save(obj, buffer)
        return buffer.getvalue()

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        refuse_unsafe(self, context)
        return _torch().load(io.BytesIO(data), weights_only=False)
