"""Model names and aliases: what they may hold, and how a bad one is reported.

Owns: :func:`validate_name` and :func:`validate_alias` with their limits (:data:`MAX_NAME_LENGTH`,
:data:`MAX_ALIAS_LENGTH`, :data:`RESERVED_SEGMENTS`, :data:`LATEST`), the character classes the reference grammar
shares, and :func:`boundary`, which turns a fragment error into one :class:`~modelver.errors.InvalidReferenceError`
that names the problem and, when an obvious correction exists, the corrected text.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable
from typing import TypeVar

from modelver.errors import InvalidReferenceError
from modelver.registry.semver import InvalidFragmentError, format_error, show

__all__ = [
    "LATEST",
    "MAX_ALIAS_LENGTH",
    "MAX_NAME_LENGTH",
    "RESERVED_SEGMENTS",
    "validate_alias",
    "validate_name",
]

MAX_NAME_LENGTH = 128
MAX_ALIAS_LENGTH = 64
#: Segments that would collide with the store layout ``names/<name>/versions/...`` and ``names/<name>/events/...``.
RESERVED_SEGMENTS = frozenset({"versions", "events"})
#: The spec that means "the highest released version"; also what a reference without ``@`` means.
LATEST = "latest"

_LOWER = frozenset(string.ascii_lowercase)
DIGITS = frozenset(string.digits)
HEX = frozenset(string.hexdigits.lower())
_SEGMENT_START = _LOWER | DIGITS
_NAME_CHARS = _SEGMENT_START | frozenset("._-/")
_ALIAS_CHARS = _LOWER | DIGITS | frozenset("_-")
RANGE_START = frozenset("^~<>=!")

NAME_FORMS = (
    "a name looks like 'churn-model' or 'team/churn-model': lowercase letters, digits, '.', '_' and '-',"
    " with '/' between namespaces"
)
ALIAS_FORMS = (
    "an alias looks like 'production' or 'staging-eu': a lowercase letter, then lowercase letters, digits,"
    f" '_' or '-', at most {MAX_ALIAS_LENGTH} characters"
)

T = TypeVar("T")


def _check_characters(text: str, what: str, allowed: frozenset[str]) -> None:
    """Raise for the first character of ``text`` outside ``allowed``, described so the user can find it."""
    if allowed.issuperset(text):
        return
    # Invisible characters first: they are the ones a user cannot see in their own input.
    for position, ch in enumerate(text):
        if not ch.isprintable() and ch != " ":
            kind = "control character" if unicodedata.category(ch) == "Cc" else "non-printing character"
            raise InvalidFragmentError(f"the {what} contains the {kind} {ch!r} at position {position}")
    for position, ch in enumerate(text):
        if ch in allowed:
            continue
        if ch == " ":
            raise InvalidFragmentError(f"the {what} contains a space at position {position}")
        if ch == "\\":
            hint = "; namespaces are separated by '/'" if "/" in allowed else ""
            raise InvalidFragmentError(f"the {what} contains a backslash at position {position}{hint}")
        if "A" <= ch <= "Z":
            raise InvalidFragmentError(f"the {what} has uppercase letters; only lowercase ones are allowed")
        if not ch.isascii():
            raise InvalidFragmentError(f"the {what} contains the non-ASCII character {ch!r} at position {position}")
        raise InvalidFragmentError(f"the {what} contains {ch!r} at position {position}, which is not allowed there")


def check_name(name: str) -> None:
    """Raise :class:`InvalidFragmentError` saying which rule ``name`` breaks (empty, characters, length, segments)."""
    if not name:
        raise InvalidFragmentError("the name is empty")
    _check_characters(name, "name", _NAME_CHARS)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidFragmentError(
            f"the name is {len(name)} characters long; names have at most {MAX_NAME_LENGTH} characters"
        )
    if name.startswith("/"):
        raise InvalidFragmentError("the name starts with '/'; a name is not an absolute path")
    for segment in name.split("/"):
        if not segment:
            raise InvalidFragmentError("the name has an empty segment ('//' or a trailing '/')")
        if segment in (".", ".."):
            raise InvalidFragmentError(f"the name has a {segment!r} segment; a name is not a file path")
        if segment[0] not in _SEGMENT_START:
            raise InvalidFragmentError(
                f"the name segment {show(segment)} starts with {segment[0]!r}; every '/'-separated segment starts"
                " with a lowercase letter or a digit"
            )
        if segment in RESERVED_SEGMENTS:
            raise InvalidFragmentError(
                f"the name segment {segment!r} is reserved (the store keeps names/<name>/{segment}/ for itself);"
                " choose another word"
            )


def looks_like_hex_digest(text: str) -> bool:
    """Whether ``text`` could be read as a digest prefix or a git short hash (7+ hex, at least one digit)."""
    # Hex with at least one digit, as long as a git short hash or more: a digest prefix or a git-scheme version.
    # Requiring a digit keeps ordinary words made of a-f ("defaced") usable.
    return len(text) >= 7 and HEX.issuperset(text) and not DIGITS.isdisjoint(text)


def check_alias(alias: str) -> None:
    """Raise :class:`InvalidFragmentError` when ``alias`` is empty, reads as a version or digest, or has bad chars."""
    if not alias:
        raise InvalidFragmentError("the alias is empty")
    if alias[0] in DIGITS:
        raise InvalidFragmentError("the alias starts with a digit, so it would read as a version")
    if alias[0] in RANGE_START:
        raise InvalidFragmentError(f"the alias starts with {alias[0]!r}, so it would read as a range")
    # Characters with a meaning elsewhere in a reference, and why an alias cannot hold them.
    for ch, why in ((".", "a version"), (":", "a digest"), (",", "a range")):
        if ch in alias:
            raise InvalidFragmentError(f"the alias contains {ch!r}, so it would read as {why}")
    _check_characters(alias, "alias", _ALIAS_CHARS)
    if alias[0] not in _LOWER:
        raise InvalidFragmentError(f"the alias starts with {alias[0]!r}; an alias starts with a lowercase letter")
    if len(alias) > MAX_ALIAS_LENGTH:
        raise InvalidFragmentError(
            f"the alias is {len(alias)} characters long; aliases have at most {MAX_ALIAS_LENGTH} characters"
        )
    if alias == LATEST:
        raise InvalidFragmentError(f"{LATEST!r} is reserved: it means the highest released version")
    if alias[0] == "v" and alias[1:2] in DIGITS:
        raise InvalidFragmentError(
            f"the alias {show(alias)} looks like a version (versions are written '1.2.0', without 'v')"
        )
    if looks_like_hex_digest(alias):
        raise InvalidFragmentError(f"the alias {show(alias)} looks like a digest prefix or a git commit")


def repair_name(name: str) -> str:
    """The name a user most likely meant (lowercased, spaces to ``-``, empty segments dropped), for suggestions."""
    fixed = re.sub(r"\s+", "-", name.strip().lower().replace("\\", "/"))
    # Dropping empty segments turns "/x", "x/" and "a//b" into names; "." and ".." are left for the error.
    return "/".join(segment for segment in fixed.split("/") if segment)


def repair_alias(alias: str) -> str:
    """The alias a user most likely meant (lowercased, spaces to ``-``), for suggestions."""
    return re.sub(r"\s+", "-", alias.strip().lower())


def _suggest(text: str, repair: Callable[[str], str], check: Callable[[str], object]) -> str | None:
    """``repair(text)`` when that differs from ``text`` and passes ``check``, else ``None``."""
    fix = repair(text)
    if fix == text:
        return None
    try:
        check(fix)
    except InvalidFragmentError:
        return None
    return fix


def boundary(what: str, text: str, parse: Callable[[str], T], repair: Callable[[str], str], forms: str) -> T:
    """Run ``parse``; turn its :class:`InvalidFragmentError` into one :class:`InvalidReferenceError` message."""
    if not isinstance(text, str):
        raise TypeError(f"a {what} is a str, not {type(text).__name__}")
    try:
        return parse(text)
    except InvalidFragmentError as error:
        message = format_error(what, text, error.problem, _suggest(text, repair, parse), forms)
        raise InvalidReferenceError(message, reference=text) from None


def validate_name(name: str) -> str:
    """Check a model name and return it unchanged.

    A name is one or more segments separated by ``/`` (namespaces), each matching ``[a-z0-9][a-z0-9._-]*``, none
    of them ``versions`` or ``events`` (:data:`RESERVED_SEGMENTS`), at most :data:`MAX_NAME_LENGTH` characters in
    all. Stricter than "lowercase letters, digits, ``-``, ``_``, ``.``": a segment starts with a letter or digit, so
    no segment is ``.``, ``..`` or a hidden directory once the name becomes a store path.

    Args:
        name: e.g. ``"churn-model"``, ``"team/churn-model"``, ``"bert-base.v2"``.

    Returns:
        ``name``.

    Raises:
        InvalidReferenceError: the message names the problem (an uppercase letter, a space, a backslash, an
            absolute path, a ``..`` or empty segment, a control character, shown escaped, or the length) and
            suggests a corrected name when one is obvious.
        TypeError: ``name`` is not a ``str``.
    """
    boundary("name", name, check_name, repair_name, NAME_FORMS)
    return name


def validate_alias(alias: str) -> str:
    """Check an alias (a movable label such as ``production``) and return it unchanged.

    An alias matches ``[a-z][a-z0-9_-]{0,63}``, so it never reads as a version (digits and dots), a range
    (operators) or a digest (``algo:hex``). It is also not ``latest``, not ``v`` followed by a digit (``v2`` reads
    as a version), and not a run of at least 7 hex characters with a digit in it (reads as a digest prefix or a git
    commit).

    Args:
        alias: e.g. ``"production"``, ``"staging-eu"``, ``"champion_2024"``.

    Returns:
        ``alias``.

    Raises:
        InvalidReferenceError: the alias breaks one of the rules above; the message says which.
        TypeError: ``alias`` is not a ``str``.
    """
    boundary("alias", alias, check_alias, repair_alias, ALIAS_FORMS)
    return alias
