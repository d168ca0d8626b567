"""Keras 3 models in the ``.keras`` format: a zip of the config JSON and the weights (no pickle).

``load`` goes through ``keras.saving.load_model(..., safe_mode=True)``: a model whose config holds a ``Lambda``
layer's bytecode is refused by Keras itself. Custom layer classes must be registered
(``keras.saving.register_keras_serializable``) in the loading process, as Keras requires.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from modelver.errors import FormatError
from modelver.formats.core import Format, LoadContext, describe, import_library, register_format, type_from, unreadable


@register_format
class Keras(Format):
    """``keras``: a Keras 3 ``Model`` in the ``.keras`` zip format; loaded with ``safe_mode=True``."""

    name = "keras"
    media_type = "application/vnd.keras+zip"
    extension = ".keras"
    requires = ("keras",)
    priority = 60  # above torch: a Keras model on the torch backend is also a torch.nn.Module
    suffixes = (".keras",)

    def matches(self, obj: object) -> bool:
        return type_from(obj, "keras") and callable(getattr(obj, "save", None)) and hasattr(obj, "get_config")

    def dump(self, obj: object) -> bytes:
        if not self.matches(obj):
            raise FormatError(f"format 'keras' stores a keras.Model, not a {describe(obj)}")
        with tempfile.TemporaryDirectory(prefix="modelver-keras-") as scratch:
            path = Path(scratch) / "model.keras"
            obj.save(os.fspath(path))  # type: ignore[attr-defined]
            return path.read_bytes()

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        keras = import_library("keras")

        with tempfile.TemporaryDirectory(prefix="modelver-keras-") as scratch:
            path = Path(scratch) / "model.keras"
            path.write_bytes(data)
            try:
                return keras.saving.load_model(os.fspath(path), safe_mode=True)
            except Exception as exc:  # ValueError for unsafe lambdas / bad zip, and whatever a layer raises
                raise unreadable(self.name, exc) from exc
