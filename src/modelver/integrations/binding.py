"""What every integration shares: a :class:`RunBinding` that joins the open ``track()`` run or opens its own, and
records the integration's own failures as capture errors instead of raising into the training loop.

A run the binding opened is published by :meth:`RunBinding.finish` (the framework's train-end hook). When training
raises and the framework has no hook for that, the run is recorded as failed by the interpreter's exception hook,
or at exit at the latest: a run the binding opened never stays open and never publishes half a training.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import weakref
from collections.abc import Callable, Mapping
from importlib import metadata
from types import TracebackType
from typing import Any, TypeVar

from modelver.errors import CaptureWarning, ModelverError
from modelver.settings import ENV_CAPTURE_EXCLUDE
from modelver.tracking.run import Run, current_run, track
from modelver.warnings import warn_user

T = TypeVar("T")

#: Bindings holding a run they opened and have not finished (closed as failed on an uncaught exception or at exit).
_OPEN: weakref.WeakSet[RunBinding] = weakref.WeakSet()
_HOOK_LOCK = threading.Lock()
_hooks_installed = False


class TrainingEndedError(ModelverError, RuntimeError):
    """Training stopped without the framework's train-end hook (it raised, or the process exited): the run the
    integration opened is recorded as failed (``modelver runs`` lists it) and no version is published."""


def framework_version(*distributions: str) -> str:
    """The installed version of the first of ``distributions`` found, or ``"unknown"``."""
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


def exclude_outputs(*paths: str | os.PathLike[str]) -> None:
    """Keep framework output folders (``lightning_logs``, a Trainer's ``output_dir``...) out of the code capture.

    The paths are added to :data:`~modelver.settings.ENV_CAPTURE_EXCLUDE` of this process (and so of the processes
    it starts, the ranks of a job), the exclude list :func:`modelver.settings.capture_excludes` reads: they never
    appear as untracked files nor make the tree dirty. Relative paths are resolved against the working directory
    when a run captures its code, so a run that was opened before the folder was named is not affected: list such
    folders under ``[tool.modelver] capture-exclude`` in ``pyproject.toml`` instead.

    Args:
        paths: folders (or glob patterns) to exclude.

    Example:
        >>> exclude_outputs("lightning_logs")  # doctest: +SKIP
    """
    current = [e for e in os.environ.get(ENV_CAPTURE_EXCLUDE, "").split(os.pathsep) if e]
    for path in paths:
        entry = os.fspath(path)
        if entry and entry not in current:
            current.append(entry)
    os.environ[ENV_CAPTURE_EXCLUDE] = os.pathsep.join(current)


def _close_open_runs(exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
    for binding in list(_OPEN):
        binding.finish(exc if exc is not None else TrainingEndedError("the process exited before training ended"))


def _install_hooks() -> None:
    global _hooks_installed
    with _HOOK_LOCK:
        if _hooks_installed:
            return
        _hooks_installed = True
        previous = sys.excepthook

        def excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
            _close_open_runs(exc_type, exc, tb)
            previous(exc_type, exc, tb)

        sys.excepthook = excepthook
        atexit.register(_close_open_runs, None, None, None)


class RunBinding:
    """The run an integration records into: the user's open ``track()`` run, or one it opens itself.

    Args:
        framework: the framework's name, recorded in the config under ``integration``.
        distributions: distribution names whose installed version is the framework's version.
        name: the model name for a run the binding opens when none is open; ``None``: only join.
        track_kwargs: more keyword arguments for that ``track()`` call (``store=``, ``config=``...).
    """

    def __init__(
        self, framework: str, distributions: tuple[str, ...], name: str | None, track_kwargs: Mapping[str, Any]
    ) -> None:
        self.framework = framework
        self.distributions = distributions
        self.name = name
        self.track_kwargs = dict(track_kwargs)
        self.run: Run | None = None
        self.owned = False
        self._warned_no_run = False

    def begin(self) -> Run | None:
        """Join the open run or open one (train begin). Never raises: a failure is a warning and no run."""
        if self.run is not None and self.run.status == "running":
            return self.run
        try:
            joined = current_run.get()
            if joined is not None and joined.status == "running":
                self.run, self.owned = joined, False
            elif self.name is not None:
                run = track(self.name, **self.track_kwargs)
                run.__enter__()
                self.run, self.owned = run, True
                _OPEN.add(self)
                _install_hooks()
            else:
                if not self._warned_no_run:
                    self._warned_no_run = True
                    warn_user(
                        f"modelver: the {self.framework} integration found no open modelver.track() run and has no "
                        "name to open one; nothing is recorded. Wrap training in `with modelver.track(...)` or pass "
                        "name=... to the callback",
                        CaptureWarning,
                    )
                return None
        except Exception as exc:
            warn_user(f"modelver: the {self.framework} integration could not start a run: {exc}", CaptureWarning)
            self.run = None
            return None
        self.guard(
            "recording the framework",
            self.run.log_config,
            {
                "integration": {
                    "framework": self.framework,
                    "version": framework_version(*self.distributions),
                }
            },
        )
        return self.run

    def guard(self, what: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """``call(*args, **kwargs)``, or ``None`` with a capture error and one warning when it raises.

        Nothing an integration does may stop training: even in strict mode the failure is recorded and
        the run's end decides (strict mode then publishes nothing).
        """
        try:
            return call(*args, **kwargs)
        except Exception as exc:
            message = f"{self.framework} integration, {what}: {type(exc).__name__}: {exc}"
            run = self.run
            if run is not None and run.status == "running":
                try:
                    run._capture_failed("integration", message, raise_strict=False)
                except Exception:
                    warn_user(f"modelver: {message}", CaptureWarning)
            else:
                warn_user(f"modelver: {message}", CaptureWarning)
            return None

    def finish(self, error: BaseException | None = None) -> None:
        """End a run the binding opened: publish it, or record it as failed when ``error`` is given. A run the
        user opened is left alone. Never raises; a failure to publish is a warning."""
        run, owned = self.run, self.owned
        _OPEN.discard(self)
        self.run, self.owned = None, False
        if run is None or not owned or run.status != "running":
            return
        try:
            if error is None:
                run.__exit__(None, None, None)
            else:
                run.__exit__(type(error), error, error.__traceback__)
        except Exception as exc:
            warn_user(f"modelver: the {self.framework} integration could not publish its run: {exc}", CaptureWarning)
