"""LightGBM models in LightGBM's own text model format (data, no code; never pickle).

``dump`` takes a ``lightgbm.Booster`` or a fitted scikit-learn style wrapper (``LGBMClassifier``...; its
``booster_`` is stored) and returns ``Booster.model_to_string()`` as UTF-8; ``load`` returns a
``lightgbm.Booster(model_str=...)``.
"""

from __future__ import annotations

from modelver.errors import FormatError
from modelver.formats.core import Format, LoadContext, describe, import_library, register_format, type_from, unreadable


def booster_of(obj: object) -> object:
    """The ``lightgbm.Booster`` of ``obj`` (itself, or a fitted wrapper's ``booster_``).

    Raises:
        FormatError: ``obj`` is not a LightGBM model, or a wrapper that was never fitted.
    """
    if not type_from(obj, "lightgbm"):
        raise FormatError(f"format 'lightgbm' stores a lightgbm.Booster or LGBMModel, not a {describe(obj)}")
    if type(obj).__name__ == "Booster":
        return obj
    try:
        return obj.booster_  # type: ignore[attr-defined]
    except Exception as exc:  # sklearn's NotFittedError (an AttributeError too)
        raise FormatError(f"the {describe(obj)} has no booster ({exc}); fit it before saving it") from exc


@register_format
class LightGBMText(Format):
    """``lightgbm``: a ``lightgbm.Booster`` (or fitted ``LGBMModel``) as LightGBM's text model; loads as a Booster."""

    name = "lightgbm"
    media_type = "text/vnd.lightgbm.model"
    extension = ".lgb.txt"
    requires = ("lightgbm",)
    priority = 50

    def matches(self, obj: object) -> bool:
        return type_from(obj, "lightgbm") and (type(obj).__name__ == "Booster" or hasattr(obj, "booster_"))

    def dump(self, obj: object) -> bytes:
        text: str = booster_of(obj).model_to_string()  # type: ignore[attr-defined]
        return text.encode()

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        lightgbm = import_library("lightgbm")

        try:
            return lightgbm.Booster(model_str=bytes(data).decode())
        except Exception as exc:  # LightGBMError, UnicodeDecodeError: not a model
            raise unreadable(self.name, exc) from exc
