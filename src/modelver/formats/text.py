"""Plain data: JSON (dicts and lists that round-trip exactly), YAML (read with ``safe_load``) and UTF-8 text."""

from __future__ import annotations

import json

from modelver.errors import FormatError
from modelver.formats.core import Format, LoadContext, describe, import_library, register_format, unreadable


def json_roundtrips(obj: object) -> bool:
    """Whether ``obj`` is a dict or list that ``json`` gives back equal (no tuples, NaN, non-string keys...)."""
    if not isinstance(obj, (dict, list)):
        return False
    try:
        return bool(json.loads(json.dumps(obj, allow_nan=False)) == obj)
    except (TypeError, ValueError):
        return False


@register_format
class Json(Format):
    """``json``: dicts and lists of JSON values; configs saved with ``run.save_config``."""

    name = "json"
    media_type = "application/json"
    extension = ".json"
    data = True
    priority = 20
    suffixes = (".json",)

    def matches(self, obj: object) -> bool:
        return json_roundtrips(obj)

    def dump(self, obj: object) -> bytes:
        if not json_roundtrips(obj):
            raise FormatError(
                f"a {describe(obj)} does not round-trip through JSON exactly (only dicts and lists of strings, "
                "numbers, booleans and null do; no tuples, NaN or non-string keys)"
            )
        return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False).encode()

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        try:
            return json.loads(data)
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise unreadable(self.name, exc) from exc


@register_format
class Yaml(Format):
    """``yaml``: forced with ``format="yaml"``; loaded with ``yaml.safe_load`` (no Python tags, no code)."""

    name = "yaml"
    media_type = "application/yaml"
    extension = ".yaml"
    data = True
    suffixes = (".yaml", ".yml")

    def dump(self, obj: object) -> bytes:
        yaml = import_library("yaml")

        try:
            text: str = yaml.safe_dump(obj, sort_keys=True, allow_unicode=True)
        except yaml.YAMLError as exc:
            raise FormatError(
                f"format 'yaml' stores mappings, lists and plain values, not a {describe(obj)}: {exc}"
            ) from exc
        return text.encode()

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        yaml = import_library("yaml")

        try:
            return yaml.safe_load(data)
        except (yaml.YAMLError, ValueError) as exc:
            raise unreadable(self.name, exc) from exc


@register_format
class Text(Format):
    """``text``: a ``str`` stored as UTF-8 and returned as ``str``."""

    name = "text"
    media_type = "text/plain"
    extension = ".txt"
    data = True
    priority = 20
    suffixes = (".txt",)

    def matches(self, obj: object) -> bool:
        return isinstance(obj, str)

    def dump(self, obj: object) -> bytes:
        if not isinstance(obj, str):
            raise FormatError(f"format 'text' stores a str, not a {describe(obj)}")
        return obj.encode()

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        try:
            return data.decode()
        except UnicodeDecodeError as exc:
            raise unreadable(self.name, exc) from exc
