"""The fields a write action of the UI needs: a missing one is a 400 that names the field, not a bad reference."""

from __future__ import annotations

from collections.abc import Mapping

from modelver.errors import ModelverError


class MissingFieldError(ModelverError, ValueError):
    """A write action of the UI (``POST /api/yank``, a form) lacks a field it needs, or sent it empty.

    Attributes:
        field: the name of the JSON (or form) field, e.g. ``"reason"``.
    """

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def required_field(fields: Mapping[str, str], name: str, why: str) -> str:
    """The value of field ``name``, stripped; refuse it when absent or blank.

    Args:
        fields: the body of the request (a JSON object or a form), field name to text.
        name: the field that must be there.
        why: what the field is for, said in the error (e.g. ``"say why the version is withdrawn"``).

    Returns:
        The field's value without surrounding whitespace.

    Raises:
        MissingFieldError: the field is absent or blank; the message names the field and what it is for.

    Example:
        >>> required_field({"by": " ana "}, "by", "say who you are")
        'ana'
    """
    value = str(fields.get(name, "") or "").strip()
    if not value:
        raise MissingFieldError(f'the field "{name}" is required and was missing or empty: {why}', field=name)
    return value
