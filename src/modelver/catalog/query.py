"""The filter language of :func:`modelver.search`: MLflow's search syntax, parsed into a small tree.

Grammar (docs/search.md)::

    filter     := or_expr
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := atom ("AND" atom)*
    atom       := "(" or_expr ")" | comparison
    comparison := field op value | field ["NOT"] "IN" "(" value ("," value)* ")"
    op         := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | ["NOT"] "LIKE" | ["NOT"] "ILIKE"
    field      := prefix "." key | bare
    prefix     := "metrics" | "config" | "labels" | "data" | "packages" | "git"
    bare       := "name" | "version" | "digest" | "created" | "alias" | "data" | "description" | "yanked"
    key        := segment ("." segment)*       segment: letters, digits, "_", "-", or `back quoted`
    value      := number | 'string' | "string" | true | false

Keywords are case-insensitive. Every mistake raises :class:`~modelver.errors.InvalidQueryError` with the column.
"""

from __future__ import annotations

import difflib
import re
from typing import Literal

import attrs

from modelver.errors import InvalidQueryError

__all__ = [
    "BARE_FIELDS",
    "PREFIXES",
    "And",
    "Comparison",
    "Expr",
    "Or",
    "OrderTerm",
    "Value",
    "parse_filter",
    "parse_order_by",
]

#: Fields that take a key after a dot.
PREFIXES = ("metrics", "config", "labels", "data", "packages", "git")
#: Fields without a key. ``alias`` and ``data`` hold several values: a comparison matches when any value matches.
BARE_FIELDS = ("name", "version", "digest", "created", "alias", "data", "description", "yanked")
#: Fields that hold several values per version (cannot be sorted on).
MULTI_VALUED = ("alias", "data")

Value = float | int | str
Op = Literal["=", "!=", "<", "<=", ">", ">=", "LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE", "IN", "NOT IN"]


@attrs.frozen
class Comparison:
    """``field op value``; for ``IN``/``NOT IN`` the value is a tuple.

    Attributes:
        field: ``"metrics.accuracy"``, ``"config.optimizer.lr"``, ``"created"``, ...
        op: the operator, upper case (``"<>"`` is read as ``"!="``).
        value: a number, a string, or a tuple of them for ``IN``.
        column: 0-based offset of the field in the filter text.
    """

    field: str
    op: Op
    value: Value | tuple[Value, ...]
    column: int = 0


@attrs.frozen
class And:
    """All of ``parts`` match."""

    parts: tuple[Expr, ...]


@attrs.frozen
class Or:
    """Any of ``parts`` matches."""

    parts: tuple[Expr, ...]


Expr = Comparison | And | Or


@attrs.frozen
class OrderTerm:
    """One ``order_by`` term: a field and a direction.

    Attributes:
        field: a sortable field (any single-valued field).
        descending: ``DESC``.
    """

    field: str
    descending: bool = False


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_]))
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<backquoted>`[^`]*`)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),.])
  | (?P<word>[A-Za-z_][A-Za-z0-9_\-]*|[0-9][A-Za-z0-9_\-]*)
    """,
    re.VERBOSE,
)


@attrs.frozen
class _Token:
    kind: str
    text: str
    column: int


_QUOTE_HINT = (
    "close the string with a matching quote; a quote inside a string is doubled ('it''s') or the other quote "
    """is used ("it's")"""
)
#: What to say about a character no token starts with.
_UNEXPECTED_HINTS = {
    "'": _QUOTE_HINT,
    '"': _QUOTE_HINT,
    "`": "close the back-quoted key with a matching `",
    "&": "write AND, not &&",
    "|": "write OR, not ||",
}
#: Field names people bring from MLflow or write by slip, and the field modelver calls that.
_FIELD_ALIASES = {
    "metric": "metrics",
    "param": "config",
    "params": "config",
    "hyperparameters": "config",
    "label": "labels",
    "tag": "labels",
    "tags": "labels",
    "package": "packages",
    "aliases": "alias",
    "names": "name",
}


def _unquote(text: str) -> str:
    quote = text[0]
    body = text[1:-1].replace(quote * 2, quote)
    return re.sub(r"\\(.)", r"\1", body)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            char = text[at]
            hint = _UNEXPECTED_HINTS.get(char, "remove it or quote the value")
            raise InvalidQueryError(
                f"unexpected {char!r} at column {at + 1} of the filter; {hint}", query=text, column=at
            )
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group(), at))
        at = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.at = 0

    def fail(self, token: _Token, message: str) -> InvalidQueryError:
        found = "the end of the filter" if token.kind == "end" else repr(token.text)
        return InvalidQueryError(
            f"{message} at column {token.column + 1}, found {found}", query=self.text, column=token.column
        )

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def keyword(self, *words: str) -> bool:
        token = self.token
        return token.kind == "word" and token.text.upper() in words

    def take(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self) -> Expr:
        expr = self.or_expr()
        if self.token.kind != "end":
            raise self.fail(self.token, "expected AND, OR or the end of the filter")
        return expr

    def or_expr(self) -> Expr:
        parts = [self.and_expr()]
        while self.keyword("OR"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self) -> Expr:
        parts = [self.atom()]
        while self.keyword("AND"):
            self.take()
            parts.append(self.atom())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def atom(self) -> Expr:
        if self.token.text == "(":
            self.take()
            expr = self.or_expr()
            if self.token.text != ")":
                raise self.fail(self.token, "expected ')' to close the '('")
            self.take()
            return expr
        return self.comparison()

    def field(self) -> tuple[str, int]:
        token = self.token
        if token.kind != "word":
            raise self.fail(token, "expected a field such as metrics.accuracy, config.lr or created")
        self.take()
        head = token.text.lower()
        if self.token.text != "." or head not in PREFIXES:
            if head in BARE_FIELDS:
                return head, token.column
            if head in PREFIXES:
                raise self.fail(self.token, f"expected '.' and a key after {head!r} (e.g. {head}.name)")
            known = ", ".join(f"{p}.<key>" for p in PREFIXES) + ", " + ", ".join(BARE_FIELDS)
            raise InvalidQueryError(
                f"unknown field {token.text!r} at column {token.column + 1}; {self.field_hint(head)}fields are {known}",
                query=self.text,
                column=token.column,
            )
        segments: list[str] = []
        while self.token.text == ".":
            self.take()
            part = self.token
            if part.kind == "backquoted" and len(part.text) > 2:
                segments.append(part.text[1:-1])
            elif part.kind in ("word", "number") and part.text[0] not in "+-.":
                segments.append(part.text)
            else:
                raise self.fail(part, "expected a key after '.' (quote unusual keys in `back quotes`)")
            self.take()
        return f"{head}.{'.'.join(segments)}", token.column

    def field_hint(self, head: str) -> str:
        """``"did you mean metrics.acc? "`` for a field spelled as MLflow spells it or one slip away, else ``""``."""
        better = _FIELD_ALIASES.get(head) or next(
            iter(difflib.get_close_matches(head, [*PREFIXES, *BARE_FIELDS], n=1, cutoff=0.75)), None
        )
        if better is None:
            return ""
        key = ""
        if better in PREFIXES and self.token.text == ".":
            after = self.tokens[self.at + 1]
            key = "." + after.text if after.kind in ("word", "number", "backquoted") else ".<key>"
        elif better in PREFIXES:
            key = ".<key>"
        return f"did you mean {better}{key}? "

    def value_hint(self, token: _Token) -> str:
        """How to fix the common mistakes at a value: ``==``, and text that is not in quotes."""
        previous = self.tokens[self.at - 1] if self.at else None
        if token.text == "=" and previous is not None and previous.text == "=":
            return "; '==' is not an operator: write a single '=' (operators: =, !=, <, <=, >, >=, LIKE, ILIKE, IN)"
        if token.kind not in ("word", "number", "backquoted"):
            return ""
        end = self.at
        while self.tokens[end].kind in ("word", "number", "backquoted") and not (
            self.tokens[end].kind == "word" and self.tokens[end].text.upper() in ("AND", "OR")
        ):
            end += 1
        last = self.tokens[end - 1]
        words = self.text[token.column : last.column + len(last.text)]
        quoted = "'" + words.replace("'", "''") + "'"
        return f"; text values are quoted: write {quoted}"

    def value(self) -> Value:
        token = self.token
        if token.kind == "number":
            self.take()
            number = float(token.text)
            if re.fullmatch(r"[-+]?\d+", token.text):
                return int(token.text)
            return number
        if token.kind == "string":
            self.take()
            return _unquote(token.text)
        if self.keyword("TRUE", "FALSE"):
            self.take()
            return token.text.lower()
        error = self.fail(token, "expected a value: a number or a 'quoted string'")
        raise InvalidQueryError(f"{error}{self.value_hint(token)}", query=self.text, column=token.column)

    def comparison(self) -> Comparison:
        field, column = self.field()
        negated = False
        if self.keyword("NOT"):
            self.take()
            negated = True
            if not self.keyword("IN", "LIKE", "ILIKE"):
                raise self.fail(self.token, "expected IN, LIKE or ILIKE after NOT")
        token = self.token
        if self.keyword("IN"):
            self.take()
            if self.token.text != "(":
                raise self.fail(self.token, "expected '(' after IN")
            self.take()
            values = [self.value()]
            while self.token.text == ",":
                self.take()
                values.append(self.value())
            if self.token.text != ")":
                raise self.fail(self.token, "expected ',' or ')' in the IN list")
            self.take()
            return Comparison(field, "NOT IN" if negated else "IN", tuple(values), column)
        if self.keyword("LIKE", "ILIKE"):
            self.take()
            word = token.text.upper()
            pattern = self.token
            value = self.value()
            if not isinstance(value, str) or pattern.kind != "string":
                raise self.fail(pattern, f"{word} needs a 'quoted pattern'")
            op: Op = "NOT LIKE" if word == "LIKE" and negated else "NOT ILIKE" if negated else word  # type: ignore[assignment]
            return Comparison(field, op, value, column)
        if token.kind != "op":
            raise self.fail(token, "expected an operator (=, !=, <, <=, >, >=, LIKE, ILIKE, IN)")
        self.take()
        symbol = "!=" if token.text == "<>" else token.text
        return Comparison(field, symbol, self.value(), column)  # type: ignore[arg-type]


def parse_filter(text: str) -> Expr | None:
    """Parse a filter; an empty or blank filter is ``None`` (everything matches).

    Args:
        text: e.g. ``"metrics.accuracy > 0.9 AND config.lr < 0.01"``.

    Returns:
        The parsed expression, or ``None``.

    Raises:
        InvalidQueryError: the text is not a filter; ``column`` says where.

    Example:
        >>> parse_filter("metrics.acc >= 0.5")
        Comparison(field='metrics.acc', op='>=', value=0.5, column=0)
    """
    if not text.strip():
        return None
    return _Parser(text).parse()


def parse_order_by(terms: str | list[str] | tuple[str, ...] | None) -> tuple[OrderTerm, ...]:
    """Parse ``order_by`` terms such as ``"metrics.accuracy DESC"`` or ``"created"`` (ascending).

    Args:
        terms: one term, or a list of them, or ``None``.

    Returns:
        The terms in order of priority.

    Raises:
        InvalidQueryError: a term is not ``field [ASC|DESC]`` or names a multi-valued field (``alias``, ``data``).

    Example:
        >>> parse_order_by(["metrics.acc DESC"])
        (OrderTerm(field='metrics.acc', descending=True),)
    """
    if terms is None:
        return ()
    out = []
    for term in [terms] if isinstance(terms, str) else terms:
        parser = _Parser(term)
        field, column = parser.field()
        if field in MULTI_VALUED:
            raise InvalidQueryError(
                f"cannot order by {field!r}: a version can have several; order by a single-valued field",
                query=term,
                column=column,
            )
        descending = False
        if parser.keyword("ASC", "DESC"):
            descending = parser.take().text.upper() == "DESC"
        if parser.token.kind != "end":
            raise parser.fail(parser.token, "expected ASC, DESC or the end of the order_by term")
        out.append(OrderTerm(field, descending))
    return tuple(out)
