"""Prompt templates as versioned data: the template text and its variables, never evaluated.

A template uses ``{name}`` placeholders (the ``str.format`` spelling, with ``{{``/``}}`` for literal braces) but is
rendered by plain substitution of bare names: no attribute or index lookups (``{x.__class__}``), no format specs, so
a stored template cannot reach into the values it is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import attrs

from modelver.errors import FormatError
from modelver.formats.core import Format, LoadContext, describe, register_format, unreadable

SCHEMA = "modelver.prompt/1"
_TOKEN_RE = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def placeholders(template: str) -> tuple[str, ...]:
    """The placeholder names of ``template`` in order of first use.

    Raises:
        FormatError: a placeholder is not a bare identifier, or a brace is unmatched.
    """
    names: dict[str, None] = {}
    for match in _TOKEN_RE.finditer(template):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        inner = match.group(1)
        if inner is None or not _NAME_RE.match(inner):
            raise FormatError(
                f"prompt template has {token!r} at offset {match.start()}: placeholders are bare names like "
                "{question}; write {{ and }} for literal braces"
            )
        names[inner] = None
    return tuple(names)


@attrs.frozen
class Prompt:
    """A prompt template and the variables it takes.

    Attributes:
        template: the text, with ``{name}`` placeholders.
        variables: the placeholder names, in order of first use.
        metadata: free-form JSON values kept with it (model, temperature, a description...).

    Example:
        >>> prompt = modelver.Prompt("Summarize {text} in {n} words.", variables=("text", "n"))
        >>> prompt.render(text="the report", n=50)
        'Summarize the report in 50 words.'
    """

    template: str
    variables: tuple[str, ...] = ()
    metadata: dict[str, Any] = attrs.field(factory=dict)

    def render(self, **values: object) -> str:
        """The template with each placeholder replaced by ``str(value)``.

        Raises:
            KeyError: a variable has no value (extra values are ignored).
        """
        missing = [name for name in self.variables if name not in values]
        if missing:
            raise KeyError(f"prompt needs values for {', '.join(missing)}")

        def substitute(match: re.Match[str]) -> str:
            piece = match.group(0)
            if piece in ("{{", "}}"):
                return piece[0]
            return str(values[match.group(1)])

        return _TOKEN_RE.sub(substitute, self.template)


def make_prompt(template: str, variables: tuple[str, ...] | list[str] | None, metadata: Mapping[str, Any]) -> Prompt:
    """Check ``template`` against the declared ``variables`` (inferred when ``None``) and build a :class:`Prompt`.

    Raises:
        FormatError: a placeholder is malformed, or the declared variables differ from the template's.
    """
    if not isinstance(template, str):
        raise FormatError(f"a prompt template is a str, not a {describe(template)}")
    found = placeholders(template)
    if variables is not None and set(variables) != set(found):
        raise FormatError(
            f"the template uses {sorted(found)} but variables={sorted(variables)} were declared; make them agree"
        )
    try:
        json.dumps(dict(metadata), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise FormatError(f"prompt metadata must be JSON values: {exc}") from exc
    return Prompt(template, found, dict(metadata))


@register_format
class PromptFormat(Format):
    """``prompt``: a :class:`Prompt` as JSON (``{"schema", "template", "variables", "metadata"}``)."""

    name = "prompt"
    media_type = "application/vnd.modelver.prompt+json"
    extension = ".prompt.json"
    data = True
    priority = 60

    def matches(self, obj: object) -> bool:
        return isinstance(obj, Prompt)

    def dump(self, obj: object) -> bytes:
        if not isinstance(obj, Prompt):
            raise FormatError(f"format 'prompt' stores a modelver Prompt, not a {describe(obj)}")
        body = {"schema": SCHEMA, "template": obj.template, "variables": list(obj.variables), "metadata": obj.metadata}
        return json.dumps(body, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False).encode()

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        try:
            body = json.loads(data)
        except ValueError as exc:
            raise unreadable(self.name, exc) from exc
        if not isinstance(body, dict) or body.get("schema") != SCHEMA or "template" not in body:
            raise FormatError(f"not a {SCHEMA} document; this modelver may be older than the one that wrote it")
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise FormatError(f"the prompt's metadata is a {type(metadata).__name__}, not a JSON object")
        return make_prompt(body["template"], body.get("variables"), metadata)
