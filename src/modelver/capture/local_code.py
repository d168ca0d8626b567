"""Which files and modules are the user's own code: everything outside the excluded roots (the interpreter's
library directories and prefixes, ``site-packages``/``dist-packages`` and modelver itself). Used by the source
snapshot of a run (:func:`_local_module_files`) and by the code identity of steps (:func:`is_local_module`), together
with the path helpers both rely on.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import threading
import types
from collections.abc import Iterable
from pathlib import PurePath

__all__ = ["is_local_module"]

_LOCK = threading.Lock()
_LOCAL_MODULES: dict[str, bool] = {}
_EXCLUDED: list[list[str]] = []


def is_local_module(module_name: str | None) -> bool:
    """Whether a module belongs to the user's project (not the standard library, an installed package or modelver).

    ``__main__`` (a script or a notebook) is always local; a module without a source file (built-in, namespace
    package) never is. Decided once per module name and process.
    """
    if not module_name:
        return False
    if module_name == "__main__":
        return True
    known = _LOCAL_MODULES.get(module_name)
    if known is not None:
        return known
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    local = False
    if isinstance(file, str) and module_name.partition(".")[0] not in sys.stdlib_module_names:
        with _LOCK:
            if not _EXCLUDED:
                main_file = getattr(sys.modules.get("__main__"), "__file__", None)
                anchor = os.path.abspath(main_file) if isinstance(main_file, str) else os.getcwd()
                _EXCLUDED.append(_excluded_roots(anchor))
        excluded = _EXCLUDED[0]
        path = os.path.abspath(file)
        real = os.path.realpath(path)
        local = not any(_is_installed(p) or _is_under_any(p, excluded) for p in (path, real))
    _LOCAL_MODULES[module_name] = local
    return local


def _is_local_function(func: types.FunctionType) -> bool:
    """Whether ``func`` is project code: by its module, or, for a module no longer (or never) imported, by the file
    its code was compiled from (code compiled from a string, ``"<...>"``, counts as the project's)."""
    module_name = func.__module__
    if module_name in sys.modules or module_name == "__main__":
        return is_local_module(module_name)
    filename = func.__code__.co_filename
    if filename.startswith("<"):
        return True
    return _is_local_file(filename)


def _is_local_file(filename: str) -> bool:
    """Whether a source file belongs to the project (the rule of :func:`is_local_module`, by path)."""
    with _LOCK:
        if not _EXCLUDED:
            main_file = getattr(sys.modules.get("__main__"), "__file__", None)
            _EXCLUDED.append(_excluded_roots(os.path.abspath(main_file) if isinstance(main_file, str) else os.getcwd()))
    path = os.path.abspath(filename)
    return not (_is_installed(path) or _is_under_any(path, _EXCLUDED[0]))


def _is_installed_script(path: str) -> bool:
    """Whether ``path`` lies in this interpreter's installation (a venv's ``bin/``, site-packages)."""
    return _is_under_any(path, {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})


def _excluded_roots(anchor: str) -> list[str]:
    """Directories whose modules are not "local": the interpreter's, installed packages', modelver's own."""
    lib_keys = ("stdlib", "platstdlib", "purelib", "platlib")
    roots: set[str] = set()
    bases = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    for paths in (sysconfig.get_paths(), sysconfig.get_paths(vars=bases)):
        roots.update(paths[key] for key in lib_keys if key in paths)
    # A prefix that holds the entrypoint is a project, not an installation (Debian's prefix /usr with the app in
    # /usr/src/app): only its library directories, added above, are excluded then.
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        if not _is_under(anchor, prefix):
            roots.add(prefix)
    # modelver itself (this file is in modelver/capture/) is never the user's code.
    roots.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return sorted({os.path.abspath(r) for r in roots} | {os.path.realpath(r) for r in roots})


def _local_module_files(excluded: list[str]) -> set[str]:
    files: set[str] = set()
    # A copy: another thread may import while we iterate.
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if not isinstance(name, str) or not name.endswith(".py"):
            continue
        # The cheap string test first; realpath costs a few system calls per path component.
        path = os.path.abspath(name)
        if _is_installed(path) or _is_under_any(path, excluded):
            continue
        path = os.path.realpath(path)
        if _is_installed(path) or _is_under_any(path, excluded) or not os.path.isfile(path):
            continue
        files.add(path)
    return files


def _is_installed(path: str) -> bool:
    # A string test, not PurePath.parts: this runs for every module of a process that may have imported thousands.
    return f"{os.sep}site-packages{os.sep}" in path or f"{os.sep}dist-packages{os.sep}" in path


# --- path helpers ----------------------------------------------------------------------------------------------


def _is_under(path: str, directory: str) -> bool:
    directory = directory.rstrip(os.sep) + os.sep
    return path == directory[:-1] or path.startswith(directory)


def _is_under_any(path: str, directories: Iterable[str]) -> bool:
    return any(_is_under(path, directory) for directory in directories)


def _relative_posix(path: str, start: str) -> str:
    return PurePath(os.path.relpath(path, start)).as_posix()


def _posix(path: str) -> str:
    return PurePath(path).as_posix()


def _json_safe(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8 (file names that are not decode with surrogates, which JSON refuses)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
