"""The code identity of a pipeline step: its own normalised source and that of the project code it calls.

A step's identity must change when anything that decides its result changes, including a helper it calls in another
module of the project (the fault of caches keyed on the decorated function alone: edit a helper, get a stale result).
It must not change for edits that cannot change the result: whitespace, comments, docstrings, moving code to other
lines.

What is hashed
    Each *part* is one function, method or class of the user's project (a module outside the interpreter's library
    directories, ``site-packages``/``dist-packages`` and modelver itself), keyed ``"module:qualname"``. A part's digest
    is that of ``ast.dump`` of its parsed source with docstrings removed: the AST holds no comments, no whitespace
    and (without ``include_attributes``) no line numbers. The step's own decorators are dropped (options of
    ``@versioned`` are part of the step key separately); the decorators of the code it calls are kept.

    Starting from the step, every name and dotted attribute chain its body reads (``helper(x)``,
    ``helpers.scale(x)``, ``pkg.mod.Class``) is resolved through, in order, the names the function's own
    ``import`` statements bind (a project module imported in the body is imported at the first call; an installed
    package is not), its closure cells, its module's globals, then attribute by attribute through modules and
    classes. A local function or class found that way is hashed and followed in turn (transitively, across
    modules); a class brings in its local base classes and every method defined in it; a method's
    ``self.name``/``cls.name`` resolve against the class that defines it.
    Module-level and closed-over constants of immutable types (``None``, ``bool``, ``int``, ``float``, ``complex``,
    ``str``, ``bytes`` and tuples/frozensets of those) are hashed by value, keyed ``"module:NAME"``, so
    ``THRESHOLD = 0.5 → 0.6`` re-runs the steps that read it.

    Code from installed packages is not hashed: the top-level names of the packages the visited modules import are
    collected instead (:attr:`CodeIdentity.packages`) and the step key holds their installed versions.

    A function whose source cannot be read (defined in ``exec``, a lambda, a REPL line) is hashed by its code
    object (bytecode, names, constants, recursively), which ignores line numbers but not formatting-independent
    edits across Python versions.

What is not covered (each case is tested in tests/test_code_identity.py)
    - the *values* of mutable globals (a module-level list, dict or object that the step reads): their contents may
      change at run time, so pass them as arguments to have them fingerprinted;
    - dynamic dispatch: ``obj.method()`` on an argument or any object other than the method's own ``self``/``cls``,
      ``getattr(x, name)``, a subclass overriding a method called through ``self``, callables looked up in
      containers; hash such code by calling it directly or pass it as an argument (a local function passed as an
      argument is fingerprinted by its code identity);
    - code in installed packages (their versions are in the step key instead) and C extensions;
    - files edited while the process runs: the identity is computed once per function per process, from the
      sources as Python's ``linecache`` reads them at the first call.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import inspect
import os
import sys
import types
from collections.abc import Mapping
from typing import Any

import attrs

from modelver.capture.local_code import _is_local_file, _is_local_function, is_local_module
from modelver.capture.normalised_source import (
    _class_level_references,
    _class_tree,
    _code_names,
    _code_object_bytes,
    _constant_bytes,
    _function_tree,
    _is_simple_constant,
    _references,
)
from modelver.serde import canonical_json
from modelver.store.digest import DEFAULT_ALGORITHM, digest_bytes

__all__ = ["CodeIdentity", "code_identity", "module_label"]

SCHEMA = "modelver.code-identity/1"
_MISSING = object()


@attrs.frozen
class CodeIdentity:
    """What identifies the code a step runs.

    Attributes:
        digest: ``"<algo>:<hex>"`` over every part (canonical JSON of ``{"schema", "parts"}``).
        parts: ``"module:qualname"`` of each local function, method or class (or ``"module:NAME"`` of a constant)
            reached from the step, to the digest of its normalised source (or value).
        packages: top-level import names of the installed packages the visited modules import, sorted.
    """

    digest: str
    parts: dict[str, str]
    packages: tuple[str, ...]


def module_label(module_name: str) -> str:
    """The name a module goes by in identities: ``__main__`` becomes the module it would be when imported.

    A script run as ``python pipeline.py`` is labelled ``pipeline`` (its file stem) and ``python -m pkg.mod`` is
    labelled ``pkg.mod``, so a step has the same identity whether its module runs as a script or is imported.
    """
    if module_name != "__main__":
        return module_name
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and getattr(spec, "name", None):
        return str(spec.name)
    file = getattr(main, "__file__", None)
    if isinstance(file, str):
        return os.path.splitext(os.path.basename(file))[0]
    return "__main__"


def code_identity(func: Any, *, algorithm: str = DEFAULT_ALGORITHM) -> CodeIdentity:
    """Compute the code identity of ``func`` (see the module docstring for what it covers).

    Args:
        func: a function, method, ``staticmethod``/``classmethod`` object or class.
        algorithm: digest algorithm (``"blake3"`` or ``"sha256"``).

    Returns:
        The identity. Never raises for code it cannot read: such code falls back to its code object, or (a C
        function, a builtin) counts as part of its package.
    """
    walker = _Walker(algorithm)
    walker.visit(func, root=True)
    parts = dict(sorted(walker.parts.items()))
    digest = digest_bytes(canonical_json({"schema": SCHEMA, "parts": parts}), algorithm)
    return CodeIdentity(digest=digest, parts=parts, packages=tuple(sorted(walker.packages)))


# --- the walk --------------------------------------------------------------------------------------------------


class _Walker:
    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self.parts: dict[str, str] = {}
        self.packages: set[str] = set()
        self.modules: set[str] = set()
        self._seen: set[int] = set()

    def _package(self, module_name: str | None) -> None:
        top = (module_name or "").partition(".")[0]
        if top and top not in sys.stdlib_module_names and top not in ("builtins", "modelver", "__main__"):
            self.packages.add(top)

    def visit(self, obj: Any, *, root: bool = False) -> None:
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
        if isinstance(obj, property):
            for accessor in (obj.fget, obj.fset, obj.fdel):
                if accessor is not None:
                    self.visit(accessor)
            return
        if isinstance(obj, functools.partial):
            self.visit(obj.func)
            for value in (*obj.args, *obj.keywords.values()):
                self.visit(value)
            return
        if isinstance(obj, types.MethodType):
            obj = obj.__func__
        if isinstance(obj, types.FunctionType) and not root:
            obj = inspect.unwrap(obj)
        if id(obj) in self._seen:
            return
        if isinstance(obj, types.FunctionType):
            self._seen.add(id(obj))
            self._function(obj, root=root)
        elif isinstance(obj, type):
            self._seen.add(id(obj))
            self._class(obj)
        elif isinstance(obj, types.ModuleType):
            if not is_local_module(obj.__name__):
                self._package(obj.__name__)
        elif callable(obj):
            wrapped = _unwrapped(obj)
            if wrapped is not obj:  # functools.lru_cache, functools.wraps-style decorators: the code they wrap
                self.visit(wrapped)
            elif is_local_module(type(obj).__module__):
                self.visit(type(obj))  # a callable instance of a project class: its __call__ and the rest
            else:
                # builtins, ufuncs, C methods, callable instances of installed classes: counted by their package
                owner = getattr(obj, "__module__", None)
                self._package(owner if isinstance(owner, str) else type(obj).__module__)

    def _add_module(self, module_name: str) -> None:
        if module_name in self.modules:
            return
        self.modules.add(module_name)
        module = sys.modules.get(module_name)
        for value in list(vars(module).values()) if module is not None else ():
            if isinstance(value, types.ModuleType):
                if not is_local_module(value.__name__):
                    self._package(value.__name__)
            elif isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
                owner = getattr(value, "__module__", None)
                if isinstance(owner, str) and not is_local_module(owner):
                    self._package(owner)

    def _function(self, func: types.FunctionType, *, root: bool) -> None:
        module_name = func.__module__
        if not _is_local_function(func):
            self._package(module_name)
            return
        if module_name is not None:
            self._add_module(module_name)
        key = f"{module_label(module_name or '?')}:{func.__qualname__}"
        tree = _function_tree(func, strip_decorators=root)
        if tree is None:
            self.parts[key] = digest_bytes(_code_object_bytes(func.__code__), self.algorithm)
            references: list[list[str]] = [[name] for name in _code_names(func.__code__)]
        else:
            self.parts[key] = digest_bytes(ast.dump(tree).encode(), self.algorithm)
            references = list(_references(tree))
        scope = _Scope(func)
        owner = _owner_class(func)
        first = func.__code__.co_varnames[0] if func.__code__.co_argcount else None
        own_locals = set(func.__code__.co_varnames) | set(func.__code__.co_cellvars)
        imported = self._imports(tree, module_name) if tree is not None else {}
        for chain in references:
            head = chain[0]
            if owner is not None and head == first and head in ("self", "cls") and len(chain) > 1:
                self._resolve_chain(owner, chain[1:], static=True)
                continue
            if head in imported:  # `import helpers` / `from helpers import scale` in the body: a local name
                self._resolve_chain(imported[head], chain[1:], static=False)
                continue
            if head in own_locals:
                continue
            found, value = scope.lookup(head)
            if not found:
                continue
            if _is_simple_constant(value):
                self.parts[f"{scope.label(head)}:{head}"] = digest_bytes(_constant_bytes(value), self.algorithm)
                continue
            self._resolve_chain(value, chain[1:], static=False)

    def _imports(self, tree: ast.AST, module_name: str | None) -> dict[str, Any]:
        """What the ``import`` statements inside a function body bind, by local name.

        A project module the body imports is imported here, at the first call, rather than by the body later (the
        body would import it anyway, and on a cache hit it does not run): without it, an edit to a helper imported
        inside the step would not change the identity. A module of an installed package is not imported; it
        counts by its package's version. A module that cannot be found binds nothing.
        """
        bound: dict[str, Any] = {}
        package = getattr(sys.modules.get(module_name or ""), "__package__", None)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname is None:  # `import a.b` binds `a`; chains `a.b.x` are followed from it
                        found = self._import_module(alias.name.partition(".")[0])
                        self._import_module(alias.name)
                        name = alias.name.partition(".")[0]
                    else:
                        found = self._import_module(alias.name)
                        name = alias.asname
                    if found is not None:
                        bound[name] = found
            elif isinstance(node, ast.ImportFrom):
                try:
                    base = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
                except (ImportError, ValueError):
                    continue
                module = self._import_module(base)
                if module is None:
                    continue
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    value = vars(module).get(alias.name, _MISSING)
                    if value is _MISSING:  # `from pkg import submodule` before the submodule was imported
                        value = self._import_module(f"{base}.{alias.name}")
                    if value is not None and value is not _MISSING:
                        bound[alias.asname or alias.name] = value
        return bound

    def _import_module(self, name: str) -> types.ModuleType | None:
        """The module ``name`` if it is the project's (importing it if needed), else ``None`` (its package counted).

        The top-level package is decided first: finding ``pkg.sub`` imports ``pkg``, and an installed package that a
        step imports lazily (``import torch.nn`` in its body) must not be imported here on a cache hit.
        """
        top = name.partition(".")[0]
        if top != name and self._import_module(top) is None:
            return None
        module = sys.modules.get(name)
        if module is not None:
            if is_local_module(name):
                return module
            self._package(name)
            return None
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):  # a parent that is not a package, a module that fails to import
            return None
        origin = getattr(spec, "origin", None)
        if spec is None or not isinstance(origin, str) or not os.path.isabs(origin) or not _is_local_file(origin):
            self._package(name)
            return None
        try:
            return importlib.import_module(name)
        except Exception:  # the body would fail the same way; the identity just does not cover it
            return None

    def _resolve_chain(self, value: Any, attributes: list[str], *, static: bool) -> None:
        """Follow ``value.attr1.attr2...`` through modules and classes, then visit what it names.

        An attribute that cannot be found statically (an instance attribute such as a dataclass field read through
        ``self``, a name set at run time) ends the walk with nothing visited; a value that is neither a module nor
        a class (a function's own attribute, say) ends it at that value.
        """
        for index, attribute in enumerate(attributes):
            if isinstance(value, types.ModuleType):
                if not is_local_module(value.__name__):
                    self._package(value.__name__)
                    return
                if attribute not in vars(value):
                    return
                nxt = vars(value)[attribute]
                if _is_simple_constant(nxt):
                    key = f"{module_label(value.__name__)}:{attribute}"
                    self.parts[key] = digest_bytes(_constant_bytes(nxt), self.algorithm)
                    return
                value = nxt
            elif isinstance(value, type) and (static or index > 0 or is_local_module(value.__module__)):
                if not is_local_module(value.__module__):
                    self._package(value.__module__)
                    return
                try:
                    value = inspect.getattr_static(value, attribute)
                except AttributeError:
                    return
                static = False
            else:
                break
        self.visit(value)

    def _class(self, cls: type) -> None:
        module_name = cls.__module__
        if not is_local_module(module_name):
            self._package(module_name)
            return
        self._add_module(module_name)
        key = f"{module_label(module_name)}:{cls.__qualname__}"
        tree = _class_tree(cls)
        if tree is not None:
            self.parts[key] = digest_bytes(ast.dump(tree).encode(), self.algorithm)
        for base in cls.__mro__[1:]:
            if base is not object:
                self.visit(base)
        for attribute in list(vars(cls).values()):
            if isinstance(attribute, (types.FunctionType, staticmethod, classmethod, property)):
                self.visit(attribute)
        if tree is None:
            return
        scope = _Scope(None, module_name)
        for chain in _class_level_references(tree):
            found, value = scope.lookup(chain[0])
            if found and not _is_simple_constant(value):
                self._resolve_chain(value, chain[1:], static=False)


class _Scope:
    """Where a name in a function's body is looked up: its closure cells, then its module's globals."""

    def __init__(self, func: types.FunctionType | None, module_name: str | None = None) -> None:
        self.closure: dict[str, Any] = {}
        if func is not None:
            module_name = func.__module__
            for name, cell in zip(func.__code__.co_freevars, func.__closure__ or (), strict=False):
                try:
                    self.closure[name] = cell.cell_contents
                except ValueError:  # an empty cell: assigned later in the enclosing function
                    continue
            self.globals: Mapping[str, Any] = func.__globals__
        else:
            module = sys.modules.get(module_name or "")
            self.globals = vars(module) if module is not None else {}
        self.module_name = module_name or "?"
        self.qualname = getattr(func, "__qualname__", "")

    def lookup(self, name: str) -> tuple[bool, Any]:
        if name in self.closure:
            return True, self.closure[name]
        if name in self.globals:
            return True, self.globals[name]
        return False, None

    def label(self, name: str) -> str:
        module = module_label(self.module_name)
        return f"{module}:{self.qualname}.<closure>" if name in self.closure else module


def _unwrapped(obj: Any) -> Any:
    try:
        return inspect.unwrap(obj)
    except (ValueError, AttributeError, TypeError):  # a __wrapped__ cycle, or an object whose getattr misbehaves
        return obj


def _owner_class(func: types.FunctionType) -> type | None:
    """The class whose body defines ``func`` (from its ``__qualname__``), or ``None`` for plain functions."""
    path = func.__qualname__.split(".")[:-1]
    if not path or "<locals>" in path:
        return None
    value: Any = sys.modules.get(func.__module__)
    for part in path:
        value = getattr(value, part, None)
        if value is None:
            return None
    return value if isinstance(value, type) else None
