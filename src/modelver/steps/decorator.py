"""The ``@modelver.versioned`` decorator and its call wrapper: it checks the function at decoration; each call
fingerprints the arguments, looks the step key up in the cache (:mod:`.cache`), runs the function on a miss, and
records the step version and the call.

Each call of a versioned function records a **step version**: the step's code identity
(:mod:`modelver.capture.identity`), the fingerprint of every argument, the versions of the packages its code imports,
and the fingerprint of what it returned (and of each part of a returned tuple, list or dict, one level deep, so a
later step passed one part links to it: :func:`~modelver.steps.fingerprints.output_fingerprints`). Inside
``modelver.track()`` the call is added to the run's ``lineage.steps`` (a :class:`~modelver.manifest.StepRecord`);
outside it is stored all the same.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import threading
import types
from collections.abc import Callable
from typing import Any, TypeVar, overload

import attrs

from modelver.capture.distributions import package_versions
from modelver.capture.identity import CodeIdentity, code_identity, module_label
from modelver.errors import CaptureWarning, InvalidStepError, UnsafeFormatError
from modelver.manifest import StepRecord
from modelver.serde import canonical_json
from modelver.settings import choose_store
from modelver.steps.cache import _create_key, _key_path, _load_hit, _step_key
from modelver.steps.calls import _Clock, _write_call
from modelver.steps.fingerprints import _type_name, fingerprint_value, output_fingerprints
from modelver.steps.layout import _NAME_RE
from modelver.steps.outputs import _store_output
from modelver.steps.step_versions import STEP_SCHEMA
from modelver.steps.values import shown_value
from modelver.store.location import open_store
from modelver.store.objects import Store
from modelver.tracking.run import current_run
from modelver.warnings import warn_user

__all__ = ["versioned"]

F = TypeVar("F", bound=Callable[..., Any])
_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def _open_store(store: str | os.PathLike[str] | Store | None) -> Store:
    if isinstance(store, Store):
        return store
    url = choose_store(store).url  # chosen per call: MODELVER_STORE may change between calls
    with _stores_lock:
        opened = _stores.get(url)
        if opened is None:
            opened = open_store(url)
            opened.initialize()
            _stores[url] = opened
    return opened


@attrs.frozen
class _Options:
    name: str
    cache: bool
    ignore: frozenset[str]
    version: str | None
    allow_pickle: bool
    trusted: tuple[str, ...]
    store: str | os.PathLike[str] | Store | None


@attrs.frozen
class _Prepared:
    store: Store
    identity: CodeIdentity
    inputs: dict[str, str]
    unfingerprinted: dict[str, str]
    packages: dict[str, str]
    key: str
    values: dict[str, str] = attrs.field(factory=dict)


class _Step:
    """The state of one versioned function: its options and its code identity (computed at the first call)."""

    def __init__(self, func: Callable[..., Any], options: _Options) -> None:
        self.func = func
        self.options = options
        self.signature = inspect.signature(func)
        self._identity: CodeIdentity | None = None
        self._identity_algorithm = ""
        self._lock = threading.Lock()

    def identity(self, algorithm: str) -> CodeIdentity:
        with self._lock:
            if self._identity is None or self._identity_algorithm != algorithm:
                self._identity = code_identity(self.func, algorithm=algorithm)
                self._identity_algorithm = algorithm
            return self._identity

    # -- before the call -------------------------------------------------------------------------------------

    def prepare(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Prepared:
        run = current_run.get()
        store = run.store if run is not None and self.options.store is None else _open_store(self.options.store)
        algorithm = store.algorithm
        identity = self.identity(algorithm)
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        inputs: dict[str, str] = {}
        unfingerprinted: dict[str, str] = {}
        values: dict[str, str] = {}
        for arg, value in bound.arguments.items():
            if arg in self.options.ignore:
                continue
            kind = self.signature.parameters[arg].kind
            try:
                if kind is inspect.Parameter.VAR_KEYWORD:
                    for key, item in value.items():
                        inputs[key] = fingerprint_value(item, algorithm)
                else:
                    inputs[arg] = fingerprint_value(value, algorithm)
                    shown = shown_value(arg, value)
                    if shown is not None:
                        values[arg] = shown
            except TypeError as exc:
                unfingerprinted[arg] = str(exc)
        packages = package_versions(identity.packages)
        key = _step_key(self.options.name, identity.digest, inputs, packages, self.options.version, algorithm)
        return _Prepared(store, identity, inputs, unfingerprinted, packages, key, values)

    def lookup(self, prepared: _Prepared) -> tuple[str, dict[str, Any], Any] | str:
        """The stored (step version, record, output) for the key, or the reason none can be reused."""
        if not self.options.cache:
            return "the step has cache=False"
        if prepared.unfingerprinted:
            names = ", ".join(sorted(prepared.unfingerprinted))
            return f"argument(s) {names} could not be fingerprinted, so no stored result can be trusted"
        store = prepared.store
        try:
            raw = store.fs.cat_file(_key_path(store, self.options.name, prepared.key))
        except FileNotFoundError:
            return "no stored step version has this code, these inputs and package versions"
        try:
            return _load_hit(
                store, self.options.name, prepared.key, raw, self.options.allow_pickle, self.options.trusted
            )
        except Exception as exc:  # a collected or corrupt blob, a format this process cannot read: run instead
            return f"the stored output could not be read ({type(exc).__name__}: {exc}), so the step ran again"

    # -- after the call --------------------------------------------------------------------------------------

    def record(
        self,
        prepared: _Prepared,
        value: Any,
        *,
        reason: str,
        started_at: str,
        duration_s: float,
        cpu_time_s: float,
    ) -> None:
        """Store the step version (and, when caching, its output and key) and the call; add it to the run."""
        store = prepared.store
        name = self.options.name
        warnings_: list[str] = [
            f"step {name}: argument {arg!r} not fingerprinted ({message}); the call is recorded without it and not "
            f"cached. Pass ignore=({arg!r},) to @versioned if it does not change the result"
            for arg, message in sorted(prepared.unfingerprinted.items())
        ]
        output, outputs, error = output_fingerprints(value, store.algorithm)
        if error is not None:
            warnings_.append(f"step {name}: its output is not fingerprinted ({error}); later steps cannot link to it")
        stored = None
        if self.options.cache and not prepared.unfingerprinted:
            try:
                stored = _store_output(value, store, self.options.allow_pickle)
            except UnsafeFormatError as exc:
                reason += "; its output was not stored, so the next call runs again"
                warnings_.append(f"step {name}: output not cached: {exc}")
        record = {
            "schema": STEP_SCHEMA,
            "name": name,
            "code": prepared.identity.digest,
            "parts": prepared.identity.parts,
            "inputs": prepared.inputs,
            "unfingerprinted": sorted(prepared.unfingerprinted),
            "packages": prepared.packages,
            "version": self.options.version,
            "key": prepared.key,
            "output": output,
            "outputs": outputs,
            "stored": stored,
        }
        step_version = store.put_bytes(canonical_json(record))
        if stored is not None:
            step_version = _create_key(store, name, prepared.key, step_version, output)
        self._finish(
            prepared, step_version, output, outputs, False, reason, started_at, duration_s, cpu_time_s, warnings_
        )

    def _finish(
        self,
        prepared: _Prepared,
        step_version: str,
        output: str | None,
        outputs: dict[str, str],
        cached: bool,
        reason: str,
        started_at: str,
        duration_s: float,
        cpu_time_s: float,
        warnings_: list[str],
    ) -> None:
        run = current_run.get()
        _write_call(
            prepared.store,
            self.options.name,
            step_version,
            cached=cached,
            reason=reason,
            started_at=started_at,
            duration_s=duration_s,
            cpu_time_s=cpu_time_s,
            run_id=run.run_id if run is not None else None,
        )
        if run is not None:
            run.record_step(
                StepRecord(
                    name=self.options.name,
                    step_version=step_version,
                    code=prepared.identity.digest,
                    inputs=dict(prepared.inputs),
                    output=output,
                    outputs=dict(outputs),
                    cached=cached,
                    started_at=started_at,
                    duration_s=duration_s,
                    values=dict(prepared.values),
                )
            )
        for message in warnings_:
            _capture_failed(message)

    # -- the call --------------------------------------------------------------------------------------------

    def begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[_Prepared | None, str, Any]:
        """Fingerprint the call and look it up: ``(prepared, reason, hit)``; ``hit`` is ``_MISS`` to run."""
        try:
            prepared = self.prepare(args, kwargs)
        except Exception as exc:  # tracking never breaks the pipeline: run the function unrecorded
            _capture_failed(f"step {self.options.name}: not recorded: {type(exc).__name__}: {exc}")
            return None, "", _MISS
        try:
            found = self.lookup(prepared)
        except Exception as exc:  # e.g. the store cannot be reached: run the function, and record if we can
            found = f"the store could not be read ({type(exc).__name__}: {exc}), so the step ran"
        if isinstance(found, str):
            return prepared, found, _MISS
        return prepared, "reused a stored step version with the same code, inputs and package versions", found

    def reuse(self, prepared: _Prepared, hit: tuple[str, dict[str, Any], Any], reason: str, clock: _Clock) -> Any:
        step_version, record, value = hit
        try:
            duration_s, cpu_time_s = clock.stop()
            outputs = record.get("outputs")
            if not isinstance(outputs, dict):  # a record written before parts were recorded: hash them now
                outputs = output_fingerprints(value, prepared.store.algorithm)[1]
            self._finish(
                prepared,
                step_version,
                record.get("output"),
                outputs,
                True,
                reason,
                clock.started_at,
                duration_s,
                cpu_time_s,
                [],
            )
        except Exception as exc:
            _capture_failed(f"step {self.options.name}: call not recorded: {type(exc).__name__}: {exc}")
        return value

    def after(self, prepared: _Prepared | None, value: Any, reason: str, clock: _Clock) -> None:
        if prepared is None:
            return
        duration_s, cpu_time_s = clock.stop()
        try:
            self.record(
                prepared,
                value,
                reason=reason,
                started_at=clock.started_at,
                duration_s=duration_s,
                cpu_time_s=cpu_time_s,
            )
        except Exception as exc:
            _capture_failed(f"step {self.options.name}: not recorded: {type(exc).__name__}: {exc}")


_MISS = object()


def _capture_failed(message: str) -> None:
    """Record a capture failure in the current run, else warn, blaming the step's caller."""
    run = current_run.get()
    if run is not None:
        with contextlib.suppress(Exception):
            run.step_capture_failed(message)
        return
    warn_user(f"modelver: {message}", CaptureWarning)


def _default_name(func: Callable[..., Any]) -> str:
    qualname = func.__qualname__.replace("<locals>.", "")
    return f"{module_label(func.__module__)}.{qualname}"


def _make_step(func: Any, options: dict[str, Any]) -> Any:
    wrapper_type: type[staticmethod[Any, Any]] | type[classmethod[Any, Any, Any]] | None = None
    if isinstance(func, (staticmethod, classmethod)):
        wrapper_type = type(func)
        func = func.__func__
    if not isinstance(func, types.FunctionType):
        raise InvalidStepError(
            f"@modelver.versioned decorates functions, methods and staticmethods/classmethods, not a {_type_name(func)}"
        )
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        raise InvalidStepError(
            f"@modelver.versioned cannot version the generator {func.__qualname__}: its output is produced lazily, "
            "after the call returns. Return a list (or another value) instead, or version the function that consumes "
            "the generator"
        )
    name = options["name"] if options["name"] is not None else _default_name(func)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidStepError(
            f"step name {name!r} is not valid: use letters, digits, '_', '.' and '-', starting with a letter, digit "
            "or '_', at most 128 characters"
        )
    ignore = frozenset(options["ignore"])
    parameters = inspect.signature(func).parameters
    unknown = sorted(ignore - set(parameters))
    if unknown:
        raise InvalidStepError(
            f"ignore= names {', '.join(map(repr, unknown))}, which {func.__qualname__} has no parameter for; its "
            f"parameters are {', '.join(parameters) or '(none)'}"
        )
    step = _Step(
        func,
        _Options(
            name=name,
            cache=bool(options["cache"]),
            ignore=ignore,
            version=None if options["version"] is None else str(options["version"]),
            allow_pickle=bool(options["allow_pickle"]),
            trusted=tuple(options["trusted"]),
            store=options["store"],
        ),
    )
    wrapper: Any
    if inspect.iscoroutinefunction(func):

        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            clock = _Clock()
            prepared, reason, hit = step.begin(args, kwargs)
            if prepared is not None and hit is not _MISS:
                return step.reuse(prepared, hit, reason, clock)
            value = await func(*args, **kwargs)
            step.after(prepared, value, reason, clock)
            return value

        wrapper = async_wrapper
    else:

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            clock = _Clock()
            prepared, reason, hit = step.begin(args, kwargs)
            if prepared is not None and hit is not _MISS:
                return step.reuse(prepared, hit, reason, clock)
            value = func(*args, **kwargs)  # the user's exceptions propagate untouched, and nothing is recorded
            step.after(prepared, value, reason, clock)
            return value

    functools.update_wrapper(wrapper, func)
    wrapper.__modelver_step__ = step
    return wrapper_type(wrapper) if wrapper_type is not None else wrapper


@overload
def versioned(func: F, /) -> F: ...


@overload
def versioned(
    *,
    name: str | None = None,
    cache: bool = True,
    ignore: tuple[str, ...] | list[str] = (),
    version: str | None = None,
    allow_pickle: bool = False,
    trusted: tuple[str, ...] | list[str] = (),
    store: str | os.PathLike[str] | Store | None = None,
) -> Callable[[F], F]: ...


def versioned(
    func: Any = None,
    /,
    *,
    name: str | None = None,
    cache: bool = True,
    ignore: tuple[str, ...] | list[str] = (),
    version: str | None = None,
    allow_pickle: bool = False,
    trusted: tuple[str, ...] | list[str] = (),
    store: str | os.PathLike[str] | Store | None = None,
) -> Any:
    """Make a function a versioned pipeline step (docs/steps.md).

    Usage::

        @modelver.versioned
        def featurize(raw: Path) -> np.ndarray: ...

        @modelver.versioned(name="train", ignore=("verbose",))
        def train(X: np.ndarray, lr: float, verbose: bool = False) -> dict[str, list[float]]: ...

    Each call records a step version (code identity, argument fingerprints, package versions, output fingerprint,
    time and resources) in the store and, inside ``modelver.track()``, in the run's ``lineage.steps``. With
    ``cache=True`` a call whose code, inputs and package versions match a stored step version returns its stored
    output without running. Works on plain functions, methods, staticmethods/classmethods (either decorator order)
    and ``async def`` functions.

    Args:
        func: the function (when used bare, ``@versioned``).
        name: the step name (default ``"<module>.<qualname>"``; a script's module is its file stem); letters,
            digits, ``_.-``.
        cache: reuse stored outputs (default). ``False`` records every call and always runs.
        ignore: parameter names left out of the fingerprints (a logger, a verbosity flag, ``self``).
        version: a label of your own, part of the step key: change it to force a re-run.
        allow_pickle: store (and load) outputs with no safe format as pickle: only for stores you trust.
        trusted: skops type names to trust when loading a stored scikit-learn output (see ``modelver.load``).
        store: where step versions go outside ``track()`` (inside, the run's store; default: ``modelver info``).

    Raises:
        InvalidStepError: at decoration: a generator, a non-function, a bad name, or ``ignore`` naming a parameter
            the function does not have.

    Example:
        >>> @modelver.versioned(ignore=("verbose",))  # doctest: +SKIP
        ... def featurize(raw: Path, verbose: bool = False) -> np.ndarray: ...
        >>> X = featurize(Path("data/raw.csv"))  # doctest: +SKIP
    """
    options = {
        "name": name,
        "cache": cache,
        "ignore": ignore,
        "version": version,
        "allow_pickle": allow_pickle,
        "trusted": trusted,
        "store": store,
    }
    if func is None:
        return lambda f: _make_step(f, options)
    return _make_step(func, options)
