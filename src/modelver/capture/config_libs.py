"""Field-by-field encoding of the config classes of other libraries: pydantic models and OmegaConf/Hydra containers.

:mod:`modelver.capture.config` handles the standard library's dataclasses, attrs classes and ``argparse.Namespace``
itself (a Hugging Face ``TrainingArguments`` is a dataclass, so it needs nothing here). This module recognises the
others by their classes' modules, without importing pydantic or omegaconf (an object of theirs means the library is
already imported), and adds two tags to the encoding:

- ``pydantic``: a pydantic model (v2, or v1 through ``pydantic.v1``), as ``class`` (``"module:QualName"``) and
  ``fields`` (field name to encoded value, extra fields of an ``extra="allow"`` model included). Decoding validates
  the fields with the class (``model_validate``, v1 ``parse_obj``), so its validators run.
- ``omegaconf``: an OmegaConf ``DictConfig`` or ``ListConfig`` (what Hydra passes to ``@hydra.main``), as ``class``
  (``"DictConfig"`` or ``"ListConfig"``) and ``value``, the encoded container with interpolations resolved (left as
  written when one cannot be resolved; ``"???"`` stays ``"???"``). Decoding rebuilds it with ``OmegaConf.create``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["DECODERS", "decode_omegaconf", "decode_pydantic", "library_handler"]

TAG = "$type"


def library_handler(value: object) -> Callable[[Any, Any, str], Any] | None:
    """The encoder for a pydantic model or an OmegaConf container, or ``None`` for anything else.

    Args:
        value: a config value that no built-in rule of :mod:`modelver.capture.config` matched.

    Returns:
        A function ``(encoder, value, path) -> JSON`` that encodes it field by field, or ``None``.

    Example:
        >>> library_handler(object()) is None
        True
    """
    modules = {base.__module__.partition(".")[0] for base in type(value).__mro__}
    if "pydantic" in modules and _pydantic_fields(type(value)) is not None:
        return _encode_pydantic
    if "omegaconf" in modules and type(value).__name__ in ("DictConfig", "ListConfig"):
        return _encode_omegaconf
    return None


def _pydantic_fields(cls: type) -> dict[str, Any] | None:
    fields = getattr(cls, "model_fields", None)  # v2
    if not isinstance(fields, dict):
        fields = getattr(cls, "__fields__", None)  # v1
    return fields if isinstance(fields, dict) else None


def _encode_pydantic(enc: Any, value: Any, path: str) -> Any:
    names = list(_pydantic_fields(type(value)) or {})
    extra = getattr(value, "__pydantic_extra__", None)
    items = [(name, getattr(value, name)) for name in names]
    items += [(str(key), item) for key, item in (extra.items() if isinstance(extra, dict) else ())]
    cls = type(value)
    return {TAG: "pydantic", "class": f"{cls.__module__}:{cls.__qualname__}", "fields": enc.fields(items, path)}


def _encode_omegaconf(enc: Any, value: Any, path: str) -> Any:
    import omegaconf

    try:
        container = omegaconf.OmegaConf.to_container(value, resolve=True)
    except Exception:  # an interpolation that cannot be resolved here: keep what was written
        container = omegaconf.OmegaConf.to_container(value, resolve=False)
    return {TAG: "omegaconf", "class": type(value).__name__, "value": enc.encode(container, path)}


def decode_pydantic(obj: dict[str, Any], cls: type | None, fields: Any) -> Any:
    """Rebuild a pydantic model from its decoded fields, validating them with the class.

    Args:
        obj: the tagged object, returned unchanged when the model cannot be rebuilt.
        cls: the class, or ``None`` when it was not found.
        fields: the decoded ``fields``.

    Returns:
        The model, or ``obj`` when ``cls`` is missing, is not a pydantic model, or refuses the fields.

    Example:
        >>> decode_pydantic({"$type": "pydantic"}, None, {})
        {'$type': 'pydantic'}
    """
    if cls is None or _pydantic_fields(cls) is None or not isinstance(fields, dict):
        return obj
    build = getattr(cls, "model_validate", None) or getattr(cls, "parse_obj", None)
    # Validation reads aliases; a field recorded under its name goes in under its alias.
    aliases = {name: getattr(info, "alias", None) or name for name, info in (_pydantic_fields(cls) or {}).items()}
    try:
        return build({aliases.get(key, key): item for key, item in fields.items()}) if build is not None else obj
    except Exception:  # the class changed since the config was recorded, or its validators refuse a value
        return obj


def decode_omegaconf(obj: dict[str, Any], omegaconf: Any, value: Any) -> Any:
    """Rebuild an OmegaConf container from its decoded value.

    Args:
        obj: the tagged object, returned unchanged when the container cannot be rebuilt.
        omegaconf: the ``omegaconf.OmegaConf`` class, or ``None`` when omegaconf is not imported (or, with
            ``allow_import``, not installed).
        value: the decoded ``value``.

    Returns:
        A ``DictConfig`` or ``ListConfig``, or ``obj``.

    Example:
        >>> decode_omegaconf({"$type": "omegaconf"}, None, {})
        {'$type': 'omegaconf'}
    """
    if omegaconf is None or not isinstance(value, (dict, list)):
        return obj
    try:
        return omegaconf.create(value)
    except Exception:  # a key or value OmegaConf does not accept
        return obj


def _pydantic_tag(obj: dict[str, Any], allow_import: bool, *, decode: Any, find_class: Any) -> Any:
    return decode_pydantic(obj, find_class(obj["class"], allow_import), decode(obj["fields"], allow_import))


def _omegaconf_tag(obj: dict[str, Any], allow_import: bool, *, decode: Any, find_class: Any) -> Any:
    return decode_omegaconf(obj, find_class("omegaconf:OmegaConf", allow_import), decode(obj["value"], allow_import))


#: Tag to ``(obj, allow_import, *, decode, find_class) -> value``; :mod:`modelver.capture.config` binds the last two.
DECODERS: dict[str, Callable[..., Any]] = {"pydantic": _pydantic_tag, "omegaconf": _omegaconf_tag}
