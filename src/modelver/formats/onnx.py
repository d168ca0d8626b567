"""ONNX models: the serialized ``onnx.ModelProto`` (protobuf: data, no code).

``load`` returns an ``onnx.ModelProto``; to run it, pass ``loader=onnxruntime.InferenceSession`` to ``load()`` and
get a session built from the verified local file. Models with external data files (over 2 GB) are not handled here:
store their directory with the ``directory`` format instead.
"""

from __future__ import annotations

from modelver.errors import FormatError
from modelver.formats.core import Format, LoadContext, describe, import_library, register_format, type_from, unreadable


@register_format
class Onnx(Format):
    """``onnx``: an ``onnx.ModelProto``."""

    name = "onnx"
    media_type = "application/onnx"
    extension = ".onnx"
    requires = ("onnx",)
    priority = 50
    suffixes = (".onnx",)

    def matches(self, obj: object) -> bool:
        return type_from(obj, "onnx") and type(obj).__name__ == "ModelProto"

    def dump(self, obj: object) -> bytes:
        serialize = getattr(obj, "SerializeToString", None)
        if not callable(serialize):
            raise FormatError(f"format 'onnx' stores an onnx.ModelProto, not a {describe(obj)}")
        return bytes(serialize())

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        onnx = import_library("onnx")

        try:
            return onnx.load_model_from_string(bytes(data))
        except Exception as exc:  # protobuf's DecodeError: not a ModelProto
            raise unreadable(self.name, exc) from exc
