"""Training state as PyTorch saves it, loaded with PyTorch's restricted unpickler: ``{"model": ..., "optimizer":
..., "step": N}``.

A checkpoint is rarely a flat dict of tensors: it nests the model's and the optimizer's state dicts (whose keys are
integers), the step, the scheduler's state. safetensors holds flat tensors only, and the JSON format no tensors, so
such a dict needed ``allow_pickle``. This format saves it with ``torch.save`` and loads it with
``torch.load(weights_only=True)``: an unpickler that builds tensors, storages, the builtin containers, numbers and
strings, and refuses any other global, so the bytes cannot name code to run. It is safe only from PyTorch 2.6 on
(CVE-2025-32434 let crafted bytes escape ``weights_only`` before), so an older PyTorch refuses to load it. Saving
checks the whole tree first: anything but tensors, builtin containers with string or integer keys, numbers, strings,
booleans and ``None`` is not this format.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import Any

from modelver.errors import FormatError, UnsafeFormatError
from modelver.formats.core import (
    Format,
    LoadContext,
    describe,
    import_library,
    loaded_module,
    register_format,
    unreadable,
)

__all__ = ["MIN_TORCH", "TorchState", "is_training_state"]

#: The first PyTorch whose ``weights_only`` unpickler is not known to be escapable (CVE-2025-32434).
MIN_TORCH = (2, 6)

_SCALARS = (str, int, float, bool, type(None))
_MAX_DEPTH = 64


def is_training_state(obj: object, torch: Any) -> bool:
    """Whether ``obj`` is a tree of builtin containers holding at least one tensor and nothing but tensors, numbers,
    strings, booleans and ``None`` (string or integer keys), as a checkpoint dict is.

    Example:
        >>> is_training_state({"model": net.state_dict(), "step": 3}, torch)  # doctest: +SKIP
        True
    """
    found = [False]

    def walk(node: object, depth: int) -> bool:
        if depth > _MAX_DEPTH:
            return False
        if type(node) in (torch.Tensor, torch.nn.Parameter):
            found[0] = True
            return True
        if type(node) in _SCALARS:
            return True
        if type(node) in (dict, OrderedDict):
            return all(type(k) in (str, int) and walk(v, depth + 1) for k, v in node.items())  # type: ignore[attr-defined]
        if type(node) in (list, tuple):
            return all(walk(item, depth + 1) for item in node)  # type: ignore[attr-defined]
        return False

    return type(obj) in (dict, OrderedDict, list, tuple) and walk(obj, 0) and found[0]


def _plain(node: object, torch: Any) -> object:
    # Parameters become plain detached tensors: what is stored is the state, not the autograd graph.
    if isinstance(node, torch.Tensor):
        return node.detach()
    if isinstance(node, dict):
        return type(node)((k, _plain(v, torch)) for k, v in node.items())
    if isinstance(node, (list, tuple)):
        return type(node)(_plain(item, torch) for item in node)
    return node


@register_format
class TorchState(Format):
    """``torch-state``: a checkpoint-like tree of tensors and plain values, ``torch.save`` d and loaded with
    ``torch.load(weights_only=True)`` (PyTorch 2.6 or later to load)."""

    name = "torch-state"
    media_type = "application/vnd.modelver.torch-state"
    extension = ".pt"
    requires = ("torch",)
    checks_python = True
    priority = 45  # below ``torch`` (a flat state dict stays safetensors), above JSON (which holds no tensor)

    def matches(self, obj: object) -> bool:
        torch = loaded_module("torch")
        return torch is not None and is_training_state(obj, torch)

    def dump(self, obj: object) -> bytes:
        torch = import_library("torch")
        if not is_training_state(obj, torch):
            raise FormatError(
                f"format 'torch-state' stores dicts and lists of tensors, numbers and strings, not a {describe(obj)} "
                "holding other objects; save those apart, or convert them to tensors or plain values"
            )
        buffer = io.BytesIO()
        torch.save(_plain(obj, torch), buffer)
        return buffer.getvalue()

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        torch = import_library("torch")
        version = tuple(int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
        if version < MIN_TORCH:
            raise UnsafeFormatError(
                f"this artifact is stored as 'torch-state', which is loaded safely only by PyTorch 2.6 or later "
                f"(CVE-2025-32434); this is PyTorch {torch.__version__}: upgrade it"
            )
        if not bytes(data[:4]) == b"PK\x03\x04":  # torch.save's archive; a bare pickle is not read at all
            raise unreadable(self.name, ValueError("not a torch.save archive"))
        device = None if torch.cuda.is_available() else "cpu"  # a GPU checkpoint still loads on a CPU-only host
        try:
            return torch.load(io.BytesIO(bytes(data)), weights_only=True, map_location=device)
        except Exception as exc:
            if type(exc).__name__ == "UnpicklingError":
                raise UnsafeFormatError(
                    f"this 'torch-state' artifact names objects PyTorch's safe loader refuses ({exc}); it was not "
                    "written by modelver's torch-state format. Nothing was run"
                ) from exc
            raise unreadable(self.name, exc) from exc
