"""Filters and ``order_by`` terms compiled to SQL over the index's ``fields`` table (see :mod:`.index`).

Every comparison is "some value of this key satisfies it": ``v.id IN (SELECT vid FROM fields WHERE key = ? AND
...)``, which SQLite answers from the ``(key, num)`` or ``(key, text)`` index, so a selective filter reads only the
rows it selects. A number is compared with numbers only and a string with strings only, so a key that is missing, or
holds the other type, never matches (for ``!=`` and ``NOT IN`` too).
"""

from __future__ import annotations

import functools
import re

from modelver.catalog.query import Comparison, Expr, Or, OrderTerm, Value

__all__ = ["compile_filter", "compile_order", "like"]

_SUB = "v.id IN (SELECT vid FROM fields WHERE key = ? AND {})"
# INDEXED BY: without statistics SQLite would pick the (key, num) index for a range and scan every row of the key.
_EXISTS = "EXISTS (SELECT 1 FROM fields INDEXED BY fields_vid WHERE vid = v.id AND key = ? AND {})"


@functools.lru_cache(maxsize=256)
def _like_regex(pattern: str, fold: bool) -> re.Pattern[str]:
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if fold else 0))


def like(text: str | None, pattern: str, fold: int) -> int:
    """SQL ``LIKE`` (``%`` any run of characters, ``_`` one character, no escape), case-sensitive unless ``fold``.

    Registered in the index's connections as ``mv_like``, so both the SQL and any Python check agree.

    Example:
        >>> like("2.3.1", "2.%", 0), like("Risk", "risk", 1)
        (1, 1)
    """
    if not isinstance(text, str):
        return 0
    return 1 if _like_regex(pattern, bool(fold)).fullmatch(text) else 0


def _split(values: tuple[Value, ...]) -> tuple[list[Value], list[Value]]:
    numbers: list[Value] = [v for v in values if not isinstance(v, str)]
    strings: list[Value] = [v for v in values if isinstance(v, str)]
    return numbers, strings


def _comparison(node: Comparison, params: list[object], correlated: bool) -> str:
    sub = _EXISTS if correlated else _SUB
    params.append(node.field)
    value = node.value
    if node.op in ("IN", "NOT IN"):
        assert isinstance(value, tuple)
        numbers, strings = _split(value)
        terms = []
        for column, group in (("num", numbers), ("text", strings)):
            if not group:
                continue
            marks = ", ".join("?" * len(group))
            negate = "NOT " if node.op == "NOT IN" else ""
            terms.append(f"({column} IS NOT NULL AND {column} {negate}IN ({marks}))")
            params.extend(group)
        return sub.format("(" + " OR ".join(terms) + ")")
    if node.op in ("LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE"):
        params.append(value)
        fold = 1 if "ILIKE" in node.op else 0
        negate = "NOT " if node.op.startswith("NOT") else ""
        return sub.format(f"text IS NOT NULL AND {negate}mv_like(text, ?, {fold})")
    assert not isinstance(value, tuple)
    column = "text" if isinstance(value, str) else "num"
    if node.op == "=" and isinstance(value, str) and (node.field == "data" or node.field.startswith("data.")):
        # A data digest or a prefix of it, with or without its "<algo>:".
        params.extend([value] * 5)
        return sub.format(
            "(text = ? OR substr(text, 1, length(?)) = ? OR substr(text, instr(text, ':') + 1, length(?)) = ?)"
        )
    params.append(value)
    return sub.format(f"{column} {node.op} ?")


def _cost(expr: Expr) -> int:
    """How many rows a part of an AND is likely to select, as a rank (no statistics needed): equality and IN are
    the most selective, then ranges, then prefix patterns; negations, other patterns and nested OR/AND last."""
    if not isinstance(expr, Comparison):
        return 4
    if expr.op in ("=", "IN"):
        return 0
    if expr.op in ("<", "<=", ">", ">="):
        return 1
    if expr.op in ("LIKE", "ILIKE") and isinstance(expr.value, str) and not expr.value.startswith(("%", "_")):
        return 2
    return 3


def compile_filter(expr: Expr, params: list[object], *, correlated: bool = False) -> str:
    """The SQL condition (over ``versions v``) for ``expr``; its parameters are appended to ``params``.

    In an AND, the part likely to select the fewest rows (:func:`_cost`) drives the query as an ``IN`` subquery
    read from an index; the other parts become correlated ``EXISTS`` probes of the ``(vid, key)`` index on just
    those rows, so a selective filter never materialises the rows an unselective part matches.

    Example:
        >>> params: list[object] = []
        >>> compile_filter(Comparison("metrics.acc", ">", 0.9), params), params
        ('v.id IN (SELECT vid FROM fields WHERE key = ? AND num > ?)', ['metrics.acc', 0.9])
    """
    if isinstance(expr, Comparison):
        return _comparison(expr, params, correlated)
    if isinstance(expr, Or):
        return "(" + " OR ".join(compile_filter(part, params, correlated=correlated) for part in expr.parts) + ")"
    driver = None if correlated else min(range(len(expr.parts)), key=lambda i: _cost(expr.parts[i]))
    terms = [compile_filter(part, params, correlated=at != driver) for at, part in enumerate(expr.parts)]
    return "(" + " AND ".join(terms) + ")"


def compile_order(terms: tuple[OrderTerm, ...], params: list[object]) -> tuple[str, str]:
    """``(joins, order by clause)`` for ``terms``, ending with the tiebreak ``name, version order``.

    A version without the key sorts last in either direction; numbers sort before strings.
    """
    joins = []
    keys = []
    for at, term in enumerate(terms):
        alias = f"o{at}"
        joins.append(f"LEFT JOIN fields {alias} ON {alias}.vid = v.id AND {alias}.key = ?")
        params.append(term.field)
        direction = " DESC" if term.descending else ""
        keys.append(
            f"({alias}.num IS NULL AND {alias}.text IS NULL), {alias}.num IS NULL, "
            f"{alias}.num{direction}, {alias}.text{direction}"
        )
    keys.append("v.name, v.rank")
    return " ".join(joins), ", ".join(keys)
