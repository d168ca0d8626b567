"""Importing ``skops.io`` without paying for a walk of all of scikit-learn, or for torch, every time.

skops.io (0.16) builds its default trust lists when it is imported (``skops/io/_trusted_types.py``):
``sklearn.utils.all_estimators()`` imports every public scikit-learn module to find the estimator classes, the
``pkgutil.walk_packages`` under it also imports every *package* it then skips, ``sklearn.externals.array_api_compat.
torch`` among them, which imports torch, and the ufunc lists look up the module of each numpy and scipy ufunc by
scanning ``sys.modules``. On a machine with torch installed that made the first save or load of a scikit-learn model
in a process cost ~2.6 s more than ``joblib`` and ~200 MiB of memory (issue 20). Two measures, neither changing what
skops trusts:

1. when ``_trusted_types`` really runs, ``sklearn.externals.array_api_compat.torch`` is refused (an
   ``ImportError``, which ``walk_packages`` skips): it is an array-API shim that defines no estimator, so the lists
   are the same;
2. its result, the trust lists (every module-level constant that is a list of dotted type names), is kept in
   ``<cache dir>/skops-trust-<key>.json``, ``<key>`` a digest of the installed skops, scikit-learn, numpy and scipy
   versions, skops' location and the Python version; later imports build ``skops.io._trusted_types`` from it
   instead of running it. An entry that is not a mapping of upper-case names to lists of dotted names is ignored and
   rewritten. Like Python's own ``__pycache__``, the cache directory is trusted as much as the environment itself.

An import from recorded lists also leaves ``sklearn.cluster`` and ``sklearn.tree`` unimported until something really
uses them (:mod:`modelver.formats.skops_defer`).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.util
import json
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

from modelver.formats.core import import_library
from modelver.formats.skops_defer import deferred_sklearn

__all__ = ["import_skops_io"]

# The array-API shim whose import imports torch (sklearn/externals/array_api_compat/torch/__init__.py).
_TORCH_SHIM = "sklearn.externals.array_api_compat.torch"
_TRUSTED_TYPES = "skops.io._trusted_types"
_CONSTANT = re.compile(r"[A-Z][A-Z0-9_]*")
_TYPE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+")
_LOCK = threading.Lock()


def import_skops_io() -> Any:
    """``skops.io``, imported without rebuilding its trust lists when a previous import recorded them.

    Returns:
        The ``skops.io`` module (the same object ``import skops.io`` gives).

    Raises:
        MissingFormatLibraryError: skops or scikit-learn is not installed.

    Example:
        >>> sio = import_skops_io()  # doctest: +SKIP
        >>> sio.dumps  # doctest: +SKIP
        <function dumps at ...>
    """
    module = sys.modules.get("skops.io")
    if module is not None:
        return module
    with _LOCK:
        if "skops.io" in sys.modules:
            return sys.modules["skops.io"]
        path = _cache_path()
        lists = _read_lists(path) if path is not None else None
        if lists is not None:
            try:
                with _finder(_Recorded(lists)), deferred_sklearn():
                    return import_library("skops.io")
            except ImportError:  # a record that lacks a list skops imports: forget the half import, run skops
                for name in [name for name in sys.modules if name == "skops.io" or name.startswith("skops.io.")]:
                    del sys.modules[name]
        with _finder(_RefuseTorchShim()) if "torch" not in sys.modules else _nothing():
            sio = import_library("skops.io")
        trusted_types = sys.modules.get(_TRUSTED_TYPES)  # a skops release without it: nothing to record
        if path is not None and trusted_types is not None:
            _write_lists(path, trust_lists(trusted_types))
        return sio


def trust_lists(module: ModuleType) -> dict[str, list[str]]:
    """The trust lists of a ``skops.io._trusted_types`` module: its upper-case constants that are lists of names.

    Args:
        module: ``skops.io._trusted_types``, run or rebuilt from the cache.

    Returns:
        Constant name to its list of ``module.Type`` names, as skops holds them.

    Example:
        >>> import types
        >>> trust_lists(types.SimpleNamespace(A_NAMES=["numpy.int64"], b=[1]))  # doctest: +SKIP
        {'A_NAMES': ['numpy.int64']}
    """
    return {
        name: list(value)
        for name, value in vars(module).items()
        if _CONSTANT.fullmatch(name) and isinstance(value, list) and all(isinstance(v, str) for v in value)
    }


class _RefuseTorchShim(importlib.abc.MetaPathFinder):
    """Refuses only :data:`_TORCH_SHIM`, so scikit-learn's package walk skips it."""

    def find_spec(self, fullname: str, path: object = None, target: ModuleType | None = None) -> None:
        if fullname == _TORCH_SHIM:
            raise ImportError(f"{_TORCH_SHIM} is not imported while skops builds its trust lists (modelver)")
        return


class _Recorded(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Builds ``skops.io._trusted_types`` from recorded trust lists instead of running it."""

    def __init__(self, lists: dict[str, list[str]]) -> None:
        self.lists = lists

    def find_spec(self, fullname: str, path: object = None, target: ModuleType | None = None) -> ModuleSpec | None:
        return importlib.util.spec_from_loader(fullname, self) if fullname == _TRUSTED_TYPES else None

    def create_module(self, spec: ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        vars(module).update({name: list(value) for name, value in self.lists.items()})


@contextmanager
def _finder(finder: importlib.abc.MetaPathFinder) -> Iterator[None]:
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _cache_path() -> Path | None:
    try:
        from modelver.store.statcache import cache_dir

        spec = importlib.util.find_spec("skops")
        versions = [metadata.version(dist) for dist in ("skops", "scikit-learn", "numpy", "scipy")]
    except (metadata.PackageNotFoundError, ImportError, ValueError, OSError):
        return None
    if spec is None:
        return None
    key = "|".join([*versions, str(spec.origin), sys.version])
    return cache_dir() / f"skops-trust-{hashlib.sha256(key.encode()).hexdigest()[:24]}.json"


def _valid(lists: object) -> bool:
    return (
        isinstance(lists, dict)
        and bool(lists)
        and all(
            isinstance(name, str)
            and _CONSTANT.fullmatch(name)
            and isinstance(value, list)
            and all(isinstance(v, str) and _TYPE_NAME.fullmatch(v) for v in value)
            for name, value in lists.items()
        )
    )


def _read_lists(path: Path) -> dict[str, list[str]] | None:
    try:
        lists = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return lists if _valid(lists) else None


def _write_lists(path: Path, lists: dict[str, list[str]]) -> None:
    if not _valid(lists):
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".skops-trust-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(lists, handle, sort_keys=True)
        os.replace(tmp, path)
    except OSError:  # only a cache: the next import runs skops' own code again
        pass
