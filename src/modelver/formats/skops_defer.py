"""Importing ``skops.io`` without importing scikit-learn's clustering and tree packages a load does not use.

skops.io's scikit-learn dispatch (``skops/io/_sklearn.py``) starts with ``from sklearn.cluster import Birch`` and
``from sklearn.tree._tree import Tree``. It uses the two classes for nothing but

- the *save* dispatch: a ``Birch`` is refused (``unsupported_get_state``), a ``Tree`` is saved by ``tree_get_state``;
- the *name* ``sklearn.tree._tree.Tree`` that a ``TreeNode`` loads (``get_module(Tree)``, i.e. ``Tree.__module__``).

Importing them costs ``sklearn.cluster`` with ``sklearn.neighbors``, ``sklearn.decomposition``, ``sklearn.manifold``
and ``sklearn.tree``: ~30 ms of CPU and its garbage collections in every serving process that loads a model using
none of them (issue 20). While skops.io is imported from its recorded trust lists (:mod:`.skops_import`), the module
code of ``skops.io._sklearn``, and only it, gets a *stand-in* class of the same module and name for each. Afterwards
the real class takes its place the moment its module is really imported, by whoever imports it:

1. its ``sys.modules`` entry is a stand-in module only during skops' import (under the import lock of
   :func:`~modelver.formats.skops_import.import_skops_io`); any other reader of it (another thread, a compiled
   module) gets the real module, imported then;
2. a finder on ``sys.meta_path`` (removed once both modules are imported) runs :func:`_adopt` right after the real
   module executes: the real class gets the stand-in's save dispatch and replaces it in ``skops.io._sklearn``.

So no ``Birch`` or ``Tree`` instance can exist before its class has skops' dispatch, and what a load trusts is
untouched: the trust lists are skops' own (recorded), ``Tree`` stays untrusted unless the caller trusts
``sklearn.tree._tree.Tree``, and a refused type stays refused (docs/security.md).
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, ClassVar

__all__ = ["DEFERRED", "deferred_sklearn"]

#: Module skops' dispatch imports -> {class name: the module that defines the class (its ``__module__``)}.
DEFERRED: dict[str, dict[str, str]] = {
    "sklearn.cluster": {"Birch": "sklearn.cluster._birch"},
    "sklearn.tree._tree": {"Tree": "sklearn.tree._tree"},
}
_IMPORTER = "skops.io._sklearn"
_SKOPS_UTILS = "skops.io._utils"
_window = threading.local()  # open in the thread importing skops.io: the stand-ins are handed out there only
_importing = threading.Event()  # set while skops.io is being imported: adopting waits for its dispatch to exist


class _StandInClass:
    """Base of the stand-in classes (never instantiated)."""

    def __init__(self) -> None:
        raise TypeError("a modelver stand-in for a scikit-learn class skops has not needed yet")


def _stand_in_class(name: str, module: str) -> type:
    return type(name, (_StandInClass,), {"__module__": module, "__qualname__": name})


class _StandInModule(ModuleType):
    """In ``sys.modules`` while skops.io is imported: gives ``skops.io._sklearn`` its stand-in classes, and anyone
    else the real module's attributes (importing the real module then)."""

    def __init__(self, name: str, classes: dict[str, type]) -> None:
        super().__init__(name)
        self.__dict__["_modelver_classes"] = classes

    def __getattr__(self, attr: str) -> Any:
        classes: dict[str, type] = self.__dict__["_modelver_classes"]
        in_skops = attr in classes and getattr(_window, "open", False)
        if in_skops and sys._getframe(1).f_globals.get("__name__") == _IMPORTER:
            return classes[attr]
        if attr.startswith("__") and attr.endswith("__"):  # import machinery probing (__spec__, __path__...)
            raise AttributeError(attr)
        return getattr(_real_module(self), attr)


def _real_module(stand_in: ModuleType) -> ModuleType:
    if sys.modules.get(stand_in.__name__) is stand_in:
        del sys.modules[stand_in.__name__]
    return importlib.import_module(stand_in.__name__)


def _adopt(module_name: str) -> None:
    """Give each real class of ``module_name`` (now imported) the save dispatch of its stand-in in skops."""
    module = sys.modules.get(module_name)
    sklearn_io = sys.modules.get(_IMPORTER)
    utils = sys.modules.get(_SKOPS_UTILS)
    if _importing.is_set() or module is None or isinstance(module, _StandInModule) or sklearn_io is None:
        return
    if utils is None:
        return
    for attr in DEFERRED[module_name]:
        stand_in = getattr(sklearn_io, attr, None)
        real = getattr(module, attr, None)
        if not (isinstance(stand_in, type) and issubclass(stand_in, _StandInClass) and isinstance(real, type)):
            continue
        utils._get_state.register(real)(utils._get_state.dispatch(stand_in))
        setattr(sklearn_io, attr, real)
        unsupported = getattr(sklearn_io, "UNSUPPORTED_TYPES", None)
        if isinstance(unsupported, set) and stand_in in unsupported:
            unsupported.discard(stand_in)
            unsupported.add(real)


class _AdoptingLoader(importlib.abc.Loader):
    """Runs the real loader, then :func:`_adopt`."""

    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def __getattr__(self, attr: str) -> Any:  # get_source, get_resource_reader, is_package...
        return getattr(self.loader, attr)

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        _adopt(module.__name__)
        _Adopter.done(module.__name__)


class _Adopter(importlib.abc.MetaPathFinder):
    """On ``sys.meta_path`` until every deferred module has been really imported."""

    pending: ClassVar[set[str]] = set()
    lock: ClassVar[threading.Lock] = threading.Lock()

    def find_spec(self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None) -> Any:
        if fullname not in self.pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _AdoptingLoader(spec.loader)
                return spec
        return None

    @classmethod
    def done(cls, name: str) -> None:
        with cls.lock:
            cls.pending.discard(name)
            if not cls.pending:
                sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Adopter)]


@contextmanager
def deferred_sklearn() -> Iterator[None]:
    """While skops.io is imported in this block, give ``skops.io._sklearn`` stand-ins for the deferred classes whose
    modules are not imported yet (see the module docstring).

    Example:
        >>> with deferred_sklearn():  # doctest: +SKIP
        ...     import skops.io
    """
    stand_ins = {
        name: _StandInModule(name, {attr: _stand_in_class(attr, where) for attr, where in classes.items()})
        for name, classes in DEFERRED.items()
        if name not in sys.modules
    }
    if not stand_ins:
        yield
        return
    with _Adopter.lock:
        _Adopter.pending.update(stand_ins)
        if not any(isinstance(f, _Adopter) for f in sys.meta_path):
            sys.meta_path.insert(0, _Adopter())
    for name, stand_in in stand_ins.items():
        sys.modules[name] = stand_in
    _window.open = True
    _importing.set()
    try:
        yield
    finally:
        _window.open = False
        _importing.clear()
        for name, stand_in in stand_ins.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]
        for name in stand_ins:  # really imported meanwhile (by a compiled module): adopt now that skops is complete
            if name in sys.modules:
                _adopt(name)
                _Adopter.done(name)
