"""The format interface, the registry of formats, and automatic choice.

A :class:`Format` turns one kind of object into bytes (or, for directory formats, into a directory of files) and
back. Built-in formats live in one small module each and import their library only when used; users add their own
with :func:`register_format` (a decorator) or an entry point in the ``modelver.formats`` group, loaded on first use.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import attrs

from modelver.errors import FormatError, MissingDependencyError, UnsafeFormatError

ENTRY_POINT_GROUP = "modelver.formats"


@attrs.frozen
class LoadContext:
    """What the caller of ``load()`` allowed.

    Attributes:
        allow_pickle: permit formats whose loading runs code from the bytes (pickle, joblib, TorchScript).
        trusted: type names (``module.Class`` or ``module:Class``) or module prefixes the caller trusts beyond
            each format's defaults (skops types; PyTorch module classes to import and rebuild).

    Example:
        >>> class TokenizerFormat(modelver.Format):  # doctest: +SKIP
        ...     def load(self, data, context: modelver.LoadContext):
        ...         return Tokenizer.from_bytes(data, trusted=context.trusted)
    """

    allow_pickle: bool = False
    trusted: tuple[str, ...] = ()


class Format:
    """One way of storing objects. Subclass it, set the class attributes, and register it.

    Attributes:
        name: the name recorded in the manifest (``artifacts.<path>.format``).
        media_type: IANA media type recorded next to it.
        extension: appended to the artifact name (``".skops"``); directory formats have none.
        safe: ``False`` when loading runs code chosen by whoever wrote the bytes: saving and loading then need
            ``allow_pickle=True``, and automatic choice skips it unless the caller allowed pickle.
        directory: the object is stored as a directory of files (one blob per file) rather than one blob.
        data: the loaded value is plain data (a prompt, a config, text): a version holding only such artifacts
            loads as a mapping of all of them.
        requires: distributions (PEP 503 names) whose versions matter for loading: the environment check compares
            the recorded and the running version of each.
        checks_python: a change of Python minor version is reported by the environment check.
        priority: automatic choice tries formats from the highest priority down (user formats default to 100,
            above every built-in).
        zero_copy: ``load`` receives a writable ``bytearray`` that it may keep and view without copying (large
            tensors); otherwise ``bytes``.
        suffixes: file name suffixes (lowercase, with the dot) of files already in this format: ``save_model`` of
            such a path stores the file's bytes as they are.

    Example:
        >>> @modelver.register_format  # doctest: +SKIP
        ... class VocabularyFormat(modelver.Format):
        ...     name, media_type, extension = "vocabulary", "application/json", ".vocab.json"
        ...     def matches(self, obj): return isinstance(obj, Vocabulary)
        ...     def dump(self, obj): return json.dumps(obj.words).encode()
        ...     def load(self, data, context): return Vocabulary(json.loads(bytes(data)))
    """

    name: ClassVar[str] = ""
    media_type: ClassVar[str] = "application/octet-stream"
    extension: ClassVar[str] = ""
    safe: ClassVar[bool] = True
    directory: ClassVar[bool] = False
    data: ClassVar[bool] = False
    requires: ClassVar[tuple[str, ...]] = ()
    checks_python: ClassVar[bool] = False
    priority: ClassVar[int] = 100
    zero_copy: ClassVar[bool] = False
    suffixes: ClassVar[tuple[str, ...]] = ()

    def matches(self, obj: object) -> bool:
        """Whether automatic choice may pick this format for ``obj`` (default: never; force it by name)."""
        return False

    def dump(self, obj: object) -> bytes:
        """The stored bytes of ``obj``.

        Raises:
            FormatError: ``obj`` does not fit this format.
        """
        raise FormatError(f"format {self.name!r} cannot store a single file")

    def load(self, data: bytes | bytearray, context: LoadContext) -> object:
        """The object stored as ``data`` (already verified against its digest): ``bytes``, or for a ``zero_copy``
        format a ``bytearray`` it may keep.

        Raises:
            UnsafeFormatError: loading would run code or trust types the caller did not allow.
        """
        raise FormatError(f"format {self.name!r} cannot load a single file")

    def write_directory(self, obj: object, scratch: Path) -> Path:
        """Directory formats: the local directory whose files store ``obj`` (``scratch`` is an empty directory
        this call may fill; it is removed afterwards).
        """
        raise FormatError(f"format {self.name!r} is not a directory format")


F = TypeVar("F", bound="type[Format] | Format")

_FORMATS: dict[str, Format] = {}

#: The built-in formats, in detection order (ties of priority go to the earlier one): name -> (module of this
#: package that defines it, file suffixes it claims). A module is imported the first time one of its formats is
#: asked for, so loading a skops model imports neither torch's nor onnx's format module (issue 20).
#: ``tests/test_formats_lazy.py`` checks this table against what the modules register.
BUILTIN_FORMATS: dict[str, tuple[str, tuple[str, ...]]] = {
    "directory": ("directory", ()),
    "keras": ("keras", (".keras",)),
    "lightgbm": ("lightgbm", ()),
    "npy": ("numpy", (".npy",)),
    "onnx": ("onnx", (".onnx",)),
    "parquet": ("parquet", (".parquet",)),
    "pickle": ("pickle", (".pkl", ".pickle")),
    "joblib": ("pickle", (".joblib",)),
    "prompt": ("prompt", ()),
    "skops": ("sklearn", (".skops",)),
    "json": ("text", (".json",)),
    "yaml": ("text", (".yaml", ".yml")),
    "text": ("text", (".txt",)),
    "torch": ("torch", (".safetensors",)),
    "torchscript": ("torch", ()),
    "torch-pickle": ("torch", ()),
    "torch-state": ("torch_state", ()),
    "xgboost": ("xgboost", ()),
}
_PACKAGE = __name__.rpartition(".")[0]
_entry_points_loaded = False
_entry_points_loading = False
_entry_points_lock = threading.RLock()


def register_format(fmt: F) -> F:
    """Register a format (a :class:`Format` subclass or instance); usable as a class decorator.

    Usage::

        @modelver.register_format
        class Tokenizer(modelver.Format):
            name = "my-tokenizer"
            extension = ".tok"
            def matches(self, obj): return isinstance(obj, MyTokenizer)
            def dump(self, obj): return obj.to_bytes()
            def load(self, data, context): return MyTokenizer.from_bytes(data)

    Returns:
        ``fmt`` unchanged.

    Raises:
        FormatError: ``fmt`` has no name, or its name is taken by a format of another class.

    Example:
        >>> modelver.register_format(VocabularyFormat())  # doctest: +SKIP
        >>> modelver.load("vocab@1.0.0")  # loaded by VocabularyFormat.load  # doctest: +SKIP
    """
    instance = fmt() if isinstance(fmt, type) else fmt
    if not isinstance(instance, Format) or not instance.name:
        raise FormatError(f"{fmt!r} is not a modelver.Format with a name; subclass Format and set name = '...'")
    builtin = BUILTIN_FORMATS.get(instance.name)
    if builtin is not None and type(instance).__module__ != f"{_PACKAGE}.{builtin[0]}":
        _import_builtin(instance.name)  # a built-in name stays taken, imported yet or not
    existing = _FORMATS.get(instance.name)
    if existing is not None and type(existing) is not type(instance):
        raise FormatError(
            f"format name {instance.name!r} is already taken by {type(existing).__module__}."
            f"{type(existing).__qualname__}; choose another name"
        )
    _FORMATS[instance.name] = instance
    return fmt


def _load_entry_points() -> None:
    global _entry_points_loaded, _entry_points_loading
    if _entry_points_loaded:
        return
    # Other threads wait for the whole registry (serving threads loading models at start must not see it half
    # filled); the loading thread itself, re-entering from a plugin that imports modelver, returns at once.
    with _entry_points_lock:
        if _entry_points_loaded or _entry_points_loading:
            return
        _entry_points_loading = True
        try:
            for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
                _register_entry_point(point)
        finally:
            _entry_points_loading = False
            _entry_points_loaded = True


def _register_entry_point(point: metadata.EntryPoint) -> None:
    try:
        register_format(point.load())
    except Exception as exc:
        # An installed plugin that fails must not stop models of other formats from loading.
        warnings.warn(
            f"modelver: the format plugin {point.name!r} ({point.value}) could not be loaded: {exc}",
            UserWarning,
            stacklevel=4,
        )


def _import_builtin(name: str) -> None:
    """Import the module of the built-in format ``name`` (it registers its formats), once."""
    if name not in _FORMATS:
        importlib.import_module(f"{_PACKAGE}.{BUILTIN_FORMATS[name][0]}")


def _in_order(names: Sequence[str]) -> dict[str, Format]:
    """The registered formats among ``names``: built-ins in table order, then the others as registered."""
    wanted = set(names)
    first = [name for name in BUILTIN_FORMATS if name in wanted and name in _FORMATS]
    rest = [name for name in _FORMATS if name in wanted and name not in BUILTIN_FORMATS]
    return {name: _FORMATS[name] for name in (*first, *rest)}


def formats() -> dict[str, Format]:
    """Every registered format by name (built-ins, decorated ones, and entry points of ``modelver.formats``).

    This imports every built-in format module (not their libraries); :func:`get_format` imports only the one asked
    for.

    Returns:
        Format name to its registered instance: built-ins in detection order, then the others as registered.

    Example:
        >>> "skops" in formats()
        True
    """
    for name in BUILTIN_FORMATS:
        _import_builtin(name)
    _load_entry_points()
    return _in_order(list(_FORMATS))


def registered_names() -> tuple[str, ...]:
    """The built-in format names and those registered so far, without importing a format module or loading entry
    points (safe to call while modelver is being imported).

    Returns:
        Names, built-ins first in detection order.

    Example:
        >>> registered_names()[:2]
        ('directory', 'keras')
    """
    return (*BUILTIN_FORMATS, *(name for name in _FORMATS if name not in BUILTIN_FORMATS))


def get_format(name: str) -> Format:
    """The format registered as ``name``; a built-in's module is imported now if it was not yet.

    Args:
        name: the format name recorded in a manifest (``"skops"``).

    Returns:
        The registered :class:`Format` instance.

    Raises:
        FormatError: no such format (the message lists the known ones).

    Example:
        >>> get_format("skops").extension
        '.skops'
    """
    if name in BUILTIN_FORMATS:
        _import_builtin(name)
        return _FORMATS[name]
    known = formats()
    if name not in known:
        raise FormatError(
            f"unknown format {name!r}; this modelver knows {', '.join(sorted(known))}. A plugin format needs its "
            "package installed (entry point group 'modelver.formats') or registered with modelver.register_format"
        )
    return known[name]


#: Top-level module a format imports -> the modelver extra that installs it (pyproject.toml).
EXTRAS = {
    "joblib": "sklearn",
    "keras": "keras",
    "lightgbm": "lightgbm",
    "numpy": "sklearn",
    "onnx": "onnx",
    "pyarrow": "parquet",
    "safetensors": "torch",
    "skops": "sklearn",
    "sklearn": "sklearn",
    "torch": "torch",
    "xgboost": "xgboost",
    "yaml": "yaml",
}


class MissingFormatLibraryError(FormatError, MissingDependencyError):
    """A format's library is not installed here (the message names the extra to install)."""


def import_library(module: str) -> Any:
    """Import ``module`` (a format's library, imported only when the format is used).

    Raises:
        MissingFormatLibraryError: it is not installed; the message names ``pip install 'modelver[<extra>]'``.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = (exc.name or module).split(".")[0]
        extra = EXTRAS.get(top)
        hint = f"pip install 'modelver[{extra}]'" if extra else f"install {top}"
        raise MissingFormatLibraryError(f"this format needs {top}, which is not installed here: {hint}") from exc


def unreadable(name: str, exc: BaseException) -> FormatError:
    """The error for stored bytes that are not a valid ``name`` file (damaged before hashing, or a file saved by its
    suffix that never was one), wrapping the library's own exception."""
    return FormatError(
        f"the stored {name!r} artifact cannot be read: {type(exc).__name__}: {exc}. The bytes match their digest, so "
        "they were written like this: republish the version from a valid file or object"
    )


def describe(obj: object) -> str:
    """``module.QualifiedName`` of ``obj``'s type, for messages."""
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def type_from(obj: object, *modules: str) -> bool:
    """Whether ``obj``'s type or a base class comes from one of the top-level ``modules`` (no import needed)."""
    return any(cls.__module__.split(".")[0] in modules for cls in type(obj).__mro__)


def loaded_module(name: str) -> Any:
    """The module ``name`` if some code already imported it, else ``None``: lets a format test types without
    importing a heavy library just to find the object is not one of its own."""
    return sys.modules.get(name)


def choose_format(obj: object, *, allow_pickle: bool = False) -> Format:
    """The format automatic choice picks for ``obj``: the highest-priority safe format that matches; an unsafe
    one (TorchScript, pickle) only with ``allow_pickle``.

    Raises:
        UnsafeFormatError: only an unsafe format fits and ``allow_pickle`` is false.
        FormatError: ``obj`` is a path to neither a directory nor a file with a known suffix.
    """
    if isinstance(obj, os.PathLike) and not Path(obj).is_dir():
        suffix = Path(obj).suffix.lower()
        # Only the built-in modules claiming this suffix are imported; every plugin format is considered.
        for name, (_, suffixes) in BUILTIN_FORMATS.items():
            if suffix in suffixes:
                _import_builtin(name)
        _load_entry_points()
        for fmt in sorted(_in_order(list(_FORMATS)).values(), key=lambda f: -f.priority):
            if suffix in fmt.suffixes:
                if not (fmt.safe or allow_pickle):
                    raise UnsafeFormatError(
                        f"{obj} is a {fmt.name} file, and loading it runs arbitrary code. Pass allow_pickle=True "
                        "(and to load) if you trust every reader of this store, or convert it to a safe format"
                    )
                return fmt
        raise FormatError(
            f"{obj} is not a directory nor a file of a known format ({suffix or 'no suffix'}); store it as a plain "
            "file with run.log_artifact(path), or force a format with format=..."
        )
    unsafe_match: Format | None = None
    for fmt in sorted(formats().values(), key=lambda f: -f.priority):
        if fmt.name == "pickle" or not fmt.matches(obj):
            continue
        if fmt.safe or allow_pickle:
            return fmt
        unsafe_match = unsafe_match or fmt
    if allow_pickle:
        return get_format("pickle")
    fits = f"only {unsafe_match.name!r}" if unsafe_match else "only pickle"
    from modelver.formats.json_check import json_problem  # only to explain a refusal

    problem = json_problem(obj)
    if problem is not None:
        raise UnsafeFormatError(
            f"no safe format fits a {describe(obj)}: it would be saved as JSON, but {problem}. Fix that part, or "
            "pass allow_pickle=True to save_model (and to load) if you trust every reader of this store "
            f"({fits} fits, and loading it runs arbitrary code)"
        )
    raise UnsafeFormatError(
        f"no safe format fits a {describe(obj)}; {fits} would, and loading it runs arbitrary code. Pass "
        "allow_pickle=True to save_model (and to load) if you trust every reader of this store, or save a safe form "
        "instead: a scikit-learn model (skops), a torch.nn.Module (safetensors), an array, a table, a JSON-able dict"
    )


def resolve_format(obj: object, format: str | None, allow_pickle: bool) -> Format:
    """The forced ``format`` (checked against ``allow_pickle``) or the automatic choice."""
    if format is None:
        return choose_format(obj, allow_pickle=allow_pickle)
    fmt = get_format(format)
    if not fmt.safe and not allow_pickle:
        raise UnsafeFormatError(
            f"format={format!r} needs allow_pickle=True: loading it runs arbitrary code. Pass it (and "
            "allow_pickle=True to load) if you trust every reader of this store"
        )
    return fmt


def refuse_unsafe(fmt: Format, context: LoadContext) -> None:
    """Raise unless the caller allowed ``fmt``'s code execution."""
    if not fmt.safe and not context.allow_pickle:
        raise UnsafeFormatError(
            f"this artifact is stored as {fmt.name!r}: loading it means unpickling, and unpickling runs arbitrary "
            "code from the store. Pass "
            "allow_pickle=True only if you trust everyone who can write to this store; the safe alternative is to "
            "republish it in a safe format (skops, safetensors, npy, parquet, JSON)"
        )


def trusted_names(trusted: Sequence[str] | None) -> tuple[str, ...]:
    """``trusted`` as a tuple, ``module:Class`` spelt ``module.Class``."""
    return tuple(name.replace(":", ".") for name in trusted or ())
