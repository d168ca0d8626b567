"""The normalised form of code that a code identity hashes: a function's or class's parsed source without docstrings
(and, for a step, without its decorators), the names and attribute chains it reads, the code object of a function
whose source cannot be read, and the value of a simple immutable constant.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
from collections.abc import Iterator
from typing import Any

from modelver.serde import canonical_json

_SIMPLE = (type(None), bool, int, float, complex, str, bytes)


def _source_tree(obj: Any) -> ast.stmt | None:
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError, IndentationError):
        return None
    try:
        module = ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None
    if not module.body:
        return None
    return module.body[0]


def _function_tree(func: types.FunctionType, *, strip_decorators: bool) -> ast.stmt | None:
    if func.__name__ == "<lambda>":
        return None  # getsource returns the whole line around a lambda, not the lambda
    node = _source_tree(func)
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name != func.__name__:
        return None
    _strip_docstrings(node)
    if strip_decorators:
        node.decorator_list = []
    return node


def _class_tree(cls: type) -> ast.ClassDef | None:
    node = _source_tree(cls)
    if not isinstance(node, ast.ClassDef) or node.name != cls.__name__:
        return None
    _strip_docstrings(node)
    return node


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = node.body
            first = body[0] if body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]


def _chain(node: ast.expr) -> list[str] | None:
    """``a.b.c`` → ``["a", "b", "c"]``; ``None`` when the chain does not start from a plain name."""
    attributes: list[str] = []
    while isinstance(node, ast.Attribute):
        attributes.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(attributes)]
    return None


def _references(tree: ast.AST) -> Iterator[list[str]]:
    """Every name and attribute chain read in ``tree``, outermost chains first (``a.b.c``, not also ``a.b``)."""
    inner: set[int] = set()
    for node in ast.walk(tree):
        if id(node) in inner:
            continue
        if isinstance(node, ast.Attribute):
            chain = _chain(node)
            value: ast.expr = node.value
            while isinstance(value, ast.Attribute):
                inner.add(id(value))
                value = value.value
            inner.add(id(value))
            if chain is not None:
                yield chain
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            yield [node.id]


def _class_level_references(tree: ast.ClassDef) -> Iterator[list[str]]:
    """Names read by a class outside its methods: bases, decorators, class attributes (methods are walked apart)."""
    for base in (*tree.bases, *tree.decorator_list, *(k.value for k in tree.keywords)):
        yield from _references(base)
    for statement in tree.body:
        if not isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from _references(statement)


def _code_names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


def _code_object_bytes(code: types.CodeType) -> bytes:
    """Bytecode, names, argument layout and constants (recursively), without line numbers or file names."""
    consts = [
        _code_object_bytes(c).hex() if isinstance(c, types.CodeType) else f"{type(c).__name__}:{c!r}"
        for c in code.co_consts
    ]
    body = [
        code.co_code.hex(),
        list(code.co_names),
        list(code.co_varnames),
        list(code.co_freevars),
        [code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags],
        consts,
    ]
    return canonical_json(body)


def _is_simple_constant(value: object) -> bool:
    if isinstance(value, _SIMPLE):
        return True
    if isinstance(value, (tuple, frozenset)):
        return all(_is_simple_constant(item) for item in value)
    return False


def _constant_bytes(value: object) -> bytes:
    if isinstance(value, frozenset):
        return ("frozenset:" + ",".join(sorted(_constant_bytes(v).decode() for v in value))).encode()
    if isinstance(value, tuple):
        return ("tuple:(" + ",".join(_constant_bytes(v).decode() for v in value) + ")").encode()
    if isinstance(value, bytes):
        return b"bytes:" + value.hex().encode()
    # repr of these types is exact and stable (floats round-trip, bool before int keeps True apart from 1)
    return f"{type(value).__name__}:{value!r}".encode()
