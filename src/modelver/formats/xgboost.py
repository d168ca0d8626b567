"""XGBoost models in XGBoost's own JSON model format (data, no code; never pickle).

``dump`` takes an ``xgboost.Booster`` or a scikit-learn style wrapper (``XGBClassifier``...; its booster is
stored) and returns ``Booster.save_raw("json")``; ``load`` returns an ``xgboost.Booster`` read with
``Booster.load_model``. The JSON schema is XGBoost's (https://xgboost.readthedocs.io/en/stable/tutorials/saving_model.html),
readable by any XGBoost >= 1.0.
"""

from __future__ import annotations

from modelver.errors import FormatError
from modelver.formats.core import Format, LoadContext, describe, import_library, register_format, type_from, unreadable


def booster_of(obj: object) -> object:
    """The ``xgboost.Booster`` of ``obj`` (itself, or a fitted wrapper's ``get_booster()``).

    Raises:
        FormatError: ``obj`` is not an XGBoost model, or a wrapper that was never fitted.
    """
    if not type_from(obj, "xgboost"):
        raise FormatError(f"format 'xgboost' stores an xgboost.Booster or XGBModel, not a {describe(obj)}")
    if type(obj).__name__ == "Booster":
        return obj
    get_booster = getattr(obj, "get_booster", None)
    if not callable(get_booster):
        raise FormatError(f"format 'xgboost' stores an xgboost.Booster or XGBModel, not a {describe(obj)}")
    try:
        return get_booster()
    except Exception as exc:  # xgboost raises NotFittedError / XGBoostError
        raise FormatError(f"the {describe(obj)} has no booster ({exc}); fit it before saving it") from exc


@register_format
class XGBoostJson(Format):
    """``xgboost``: an ``xgboost.Booster`` (or fitted ``XGBModel``) as XGBoost's JSON model; loads as a Booster."""

    name = "xgboost"
    media_type = "application/vnd.xgboost.model+json"
    extension = ".xgb.json"
    requires = ("xgboost-cpu", "xgboost")
    priority = 50

    def matches(self, obj: object) -> bool:
        return type_from(obj, "xgboost") and (
            type(obj).__name__ == "Booster" or callable(getattr(obj, "get_booster", None))
        )

    def dump(self, obj: object) -> bytes:
        booster = booster_of(obj)
        return bytes(booster.save_raw(raw_format="json"))  # type: ignore[attr-defined]

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        xgboost = import_library("xgboost")

        booster = xgboost.Booster()
        try:
            booster.load_model(bytearray(data))
        except Exception as exc:  # XGBoostError: not a model
            raise unreadable(self.name, exc) from exc
        return booster
