"""``modelver.track()``: capture a training run and publish it as one immutable version.

Data flow: capture (code and environment in a background thread started on entry, resources sampled in another,
config/data/metrics/artifacts as the user logs them) → :class:`~modelver.manifest.Manifest` → store (blobs as they
are logged, then the manifest, then the version tag: the single create-if-absent write that makes the version
visible).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import sys
import time
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Literal

import attrs

from modelver.capture.code import capture_code
from modelver.capture.environment import capture_environment
from modelver.capture.redact import redact_text
from modelver.data.fingerprint import tree_json
from modelver.data.sources import fingerprint
from modelver.distributed.launcher import detect_launch
from modelver.errors import CaptureError, StoreError, VersionExistsError
from modelver.manifest import CaptureErrorRecord, DataEntry, Manifest, ResourcesFacet, StepRecord
from modelver.registry.model_version import ModelVersion, loaded_inputs
from modelver.registry.schemes import DEFAULT_BUMP, DEFAULT_SCHEME
from modelver.settings import capture_excludes
from modelver.store.backend import is_unreachable
from modelver.store.digest import DEFAULT_ALGORITHM
from modelver.store.objects import Store
from modelver.store.statcache import cache_dir
from modelver.threads import quiet_thread
from modelver.tracking.failed_run import write_failed_run
from modelver.tracking.interrupt import SIGNAL_CAPTURE_WAIT_S, SignalGuard, signal_name, write_interrupted_run
from modelver.tracking.job import DEFAULT_REPORT_TIMEOUT_S, JobPart, finish_part
from modelver.tracking.preflight import check_before_training, check_store_writable
from modelver.tracking.publish import publish_version
from modelver.tracking.reproduction_mode import reproduction_of
from modelver.tracking.resume import CheckpointSaving
from modelver.tracking.run_manifest import build_manifest, encode_run_config
from modelver.tracking.spool import pending, push, spool_dir, spool_store, write_entry

#: How long leaving the block waits for the background code/environment capture (a hung remote write, say).
STATIC_CAPTURE_TIMEOUT_S = 120.0

#: The largest metric magnitude recorded: readers compare, format and plot metrics as floats.
_FLOAT_MAX = sys.float_info.max

#: The run whose ``with`` block is executing in this context; ``@modelver.versioned`` steps record into it.
current_run: contextvars.ContextVar[Run | None] = contextvars.ContextVar("modelver_run", default=None)


class Run(CheckpointSaving):
    """A training run being captured; returned by :func:`track`.

    Logging methods are safe to call from several threads. After the ``with`` block exits cleanly,
    :attr:`version` holds the published version.

    Attributes:
        name: the model name.
        run_id: unique id of this run (also the name of its failed-run record).
        store: where the version is published.
        version: the published :class:`~modelver.ModelVersion`, or ``None`` before a clean exit.
        status: ``"created"``, ``"running"``, ``"published"``, ``"spooled"`` (the store could not be reached at
            the end: the bundle waits in the local spool for ``modelver push``) or ``"failed"``.

    Example:
        >>> with modelver.track("churn", config={"lr": 0.1}) as run:  # doctest: +SKIP
        ...     run.log_metrics({"loss": 0.42}, step=1)
        ...     run.save_model(model)
        >>> run.status, run.version.version  # doctest: +SKIP
        ('published', '0.1.3')
    """

    _signals: SignalGuard | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------

    def __enter__(self) -> Run:
        if self.status != "created":
            raise RuntimeError(f"run {self.run_id} was already entered; call modelver.track() for a new run")
        self.store.initialize()
        original = reproduction_of(self.name)
        if original is not None:
            # `modelver reproduce --run`: a reproduction of the original, never a release (reproduction_mode.py).
            self._requested = original.version_for(self.run_id)
            self._inputs.append(original.ref)
        if self._requested is not None and str(self._requested) in self.store.list_versions(self.name):
            # Checked now so hours of training are not spent on a version that is taken; the create at the end
            # is still atomic.
            raise VersionExistsError(
                f"{self.name}@{self._requested} already exists in {self.store.url}; choose another version or "
                "leave version= unset.",
                name=self.name,
                version=str(self._requested),
            )
        if self.strict or self.require_clean:
            # What the end of the run would refuse is known now: refuse it before hours of training.
            try:
                if self.strict:
                    check_store_writable(self.store)  # first: the code capture writes blobs
                self._code, code_errors = capture_code(put_blob=self.store.put_bytes, exclude=self._capture_exclude())
                self._code_captured = code_errors
                check_before_training(self._code, code_errors, strict=self.strict, require_clean=self.require_clean)
            except BaseException:
                self.status = "failed"
                raise
        if self._launch is not None:
            self._job = JobPart.start(self._launch, self.name, self._report_timeout_s)
        self._begin_series()
        self.status = "running"
        self._signals = SignalGuard(self._interrupted)
        self._signals.install()
        self._monitor.start()
        self._static_thread = quiet_thread(self._capture_static, "modelver-capture")
        self._static_thread.start()
        self._inputs_token = loaded_inputs.set(self._inputs)
        self._run_token = current_run.set(self)
        try:
            for label, source in self._data_sources.items():
                self.log_data(label, source)
        except BaseException:
            # strict mode (or Ctrl-C) while fingerprinting: stop the capture threads and keep the failed run
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _capture_static(self) -> None:
        # Runs in a background thread; its errors are recorded and warned about on exit, in the user's thread.
        try:
            if self._code_captured is not None:  # captured on entry (strict mode, require_clean)
                code_errors = self._code_captured
            else:
                self._code, code_errors = capture_code(put_blob=self.store.put_bytes, exclude=self._capture_exclude())
        except Exception as exc:
            code_errors = [CaptureErrorRecord("code", type(exc).__name__, str(exc))]
        try:
            self._environment, env_errors = capture_environment()
        except Exception as exc:
            env_errors = [CaptureErrorRecord("environment", type(exc).__name__, str(exc))]
        self._background_errors = code_errors + env_errors

    def _capture_exclude(self) -> tuple[str, ...]:
        # The store, the read cache and the spool are output, never code, wherever they live (docs/capture.md).
        return capture_excludes(self.store.root if self.store.is_local else None, cache_dir(), spool_dir())

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        with contextlib.suppress(ValueError, LookupError):  # exited in another context (an asyncio task)
            loaded_inputs.reset(self._inputs_token)
        with contextlib.suppress(ValueError, LookupError):
            current_run.reset(self._run_token)
        if self._signals is not None:
            self._signals.restore()
        if self.status == "interrupted":  # recorded when the signal arrived (KeyboardInterrupt ends up here)
            return False
        if exc_type is SystemExit and getattr(exc, "code", 1) in (None, 0):  # sys.exit(0) ends a script successfully
            exc_type, exc, tb = None, None, None
        self._spooled_for: Store | None = None
        if exc_type is None and self.store.is_remote:
            try:
                self.store.exists()
            except Exception as probe:  # backends raise their own types (e.g. missing credentials)
                if is_unreachable(probe):
                    # The store went away: what is left to write goes to the local spool (docs/storage.md).
                    self._spool_instead()
        try:
            manifest, body, fresh_errors = self._finish_capture()
        except Exception as capture_exc:
            self.status = "failed"
            if exc_type is not None:
                self._warn(f"modelver: could not record the failed run: {capture_exc}")
                return False  # the user's exception wins
            raise
        manifest, body = self._with_segments(manifest, body)
        if self._job is not None:  # one version per job: rank 0 publishes after the other ranks reported
            error = None
            if exc_type is not None:
                reason = f"{exc_type.__name__}: {redact_text(str(exc))}"
                error = (reason, redact_text("".join(traceback.format_exception(exc_type, exc, tb))))
            self.status, shared = finish_part(self._job, self.store, manifest, self.run_id, error)
            if shared is None:
                self._warn_all(fresh_errors)
                return False
            manifest, body = shared
        if exc_type is not None:
            self.status = "failed"
            reason = f"{exc_type.__name__}: {redact_text(str(exc))}"
            trace = redact_text("".join(traceback.format_exception(exc_type, exc, tb)))
            write_failed_run(self.store, self.run_id, self.name, body, reason, trace)
            self._warn_all(fresh_errors)
            return False  # the user's exception propagates untouched
        if self.strict and self._errors:
            self.status = "failed"
            write_failed_run(self.store, self.run_id, self.name, body, "strict mode: capture errors")
            listed = "; ".join(f"{e.facet}: {e.message}" for e in self._errors)
            raise CaptureError(f"{len(self._errors)} capture error(s) in strict mode, no version published: {listed}")
        self._warn_all(fresh_errors)
        try:
            try:
                self.version = self._publish(manifest, body)
            except BaseException as publish_exc:
                if not (self._spooled_for is None and self.store.is_remote and is_unreachable(publish_exc)):
                    raise
                self._spool_instead()
                self.version = self._publish(manifest, body)
        except BaseException as publish_exc:
            self.status = "failed"
            if not isinstance(publish_exc, VersionExistsError):  # that path keeps its own record
                write_failed_run(
                    self.store,
                    self.run_id,
                    self.name,
                    body,
                    f"publishing failed: {type(publish_exc).__name__}: {publish_exc}",
                )
            raise
        self.status = "published" if self.version is not None else "spooled"
        if self.version is not None:
            self._series_published(self.version.version)
        if self.version is not None and self.store.is_remote:
            self._push_spooled()
        return False

    def _interrupted(self, signum: int) -> None:
        # SIGTERM/SIGINT in the block (modelver.tracking.interrupt): record the run, then the signal goes on.
        if self.status != "running":
            return
        manifest, body, _ = self._finish_capture(SIGNAL_CAPTURE_WAIT_S)
        self.status = "interrupted"
        if self._job is not None:
            own = self._job.report(
                self.store, manifest, self.run_id, "interrupted", f"interrupted by {signal_name(signum)}"
            )
            self._job.failure_after(self.store, manifest, own, self._resume_record(signum))
        else:
            write_interrupted_run(
                self.store,
                self.run_id,
                self.name,
                body,
                signum,
                checkpoint_step=self.checkpoint_step,
                extra=self._series_record(),
            )

    def _push_spooled(self) -> None:
        # The store is reachable again: publish what earlier runs spooled for it. The version is already out, so
        # nothing here may fail the run.
        try:
            if pending(self.store.url):
                for result in push(self.store):
                    if result.error:
                        self._warn(f"modelver: spooled run {result.entry.run_id} not pushed: {result.error}")
        except Exception as exc:
            self._warn(f"modelver: could not push spooled runs: {exc}")

    def _spool_instead(self) -> None:
        # Part of __exit__/_publish (the offline spool): later writes of this run go to a local spool store.
        remote = self.store
        try:
            algorithm = remote.algorithm
        except StoreError:
            algorithm = DEFAULT_ALGORITHM  # push re-digests the manifest with the store's algorithm
        self._spooled_for = remote
        self.store = spool_store(self.run_id, algorithm)

    def _warn_all(self, records: list[CaptureErrorRecord]) -> None:
        for record in records:
            self._warn(f"modelver: {record.facet} capture failed: {record.message}")

    def _finish_capture(
        self, wait_s: float = STATIC_CAPTURE_TIMEOUT_S
    ) -> tuple[Manifest, bytes, list[CaptureErrorRecord]]:
        """Stop capturing, close the run to logging, and build the manifest from one consistent snapshot.

        Returns the manifest, its canonical body, and the capture errors found now (to warn about once the run's
        outcome is recorded).
        """
        resources, resource_errors = self._monitor.stop()
        if self._static_thread is not None:
            self._static_thread.join(wait_s)
            if self._static_thread.is_alive():
                self._background_errors = [
                    CaptureErrorRecord(
                        "code", "TimeoutError", f"code and environment capture did not finish within {wait_s:.0f} s"
                    )
                ]
        if self._scheme == "git" and self._code.git is None and self._requested is None:
            # Decided now, before the manifest is built, so the bundle records why its version is a timestamp.
            self._background_errors.append(
                CaptureErrorRecord(
                    "code",
                    "CaptureError",
                    "scheme='git' needs the git commit, and none was captured; the version uses the timestamp "
                    "scheme instead",
                )
            )
            self._scheme = "timestamp"
        with self._lock:
            self.status = "closing"
            fresh = [*self._background_errors, *resource_errors]
            self._errors.extend(fresh)
            history = list(self._history)
            snapshot = (dict(self._data), dict(self._metrics), dict(sorted(self._artifacts.items())))
            inputs = tuple(dict.fromkeys(self._inputs))
            steps = tuple(self._steps)
        resources = self._store_series(resources, fresh)
        config, config_errors = encode_run_config(self._config_root, self._params, self.store)
        with self._lock:
            self._errors.extend(config_errors)
            errors = tuple(self._errors)
        data, metrics, artifacts = snapshot
        manifest, body = build_manifest(
            self.store,
            name=self.name,
            run_id=self.run_id,
            code=self._code,
            environment=self._environment,
            config=config,
            data=data,
            resources=resources,
            metrics=metrics,
            history=history,
            artifacts=artifacts,
            steps=steps,
            inputs=inputs,
            errors=errors,
            labels=self._labels,
            description=self._description,
        )
        return manifest, body, [*fresh, *config_errors]

    def _store_series(self, resources: ResourcesFacet, errors: list[CaptureErrorRecord]) -> ResourcesFacet:
        """Store the sampled resource time series as a blob and point ``resources.series`` at it."""
        try:
            digest = self.store.put_bytes(self._monitor.series_json())
        except Exception as exc:  # a failed write of a plot's data must not cost the version
            record = CaptureErrorRecord("resources", type(exc).__name__, f"resource time series not stored: {exc}")
            errors.append(record)
            with self._lock:
                self._errors.append(record)
            return resources
        return attrs.evolve(resources, series=digest)

    def _publish(self, manifest: Manifest, body: bytes) -> ModelVersion | None:
        digest = self.store.put_manifest(body)
        remote = self._spooled_for
        if remote is not None:
            entry = write_entry(
                self.run_id,
                remote.url,
                self.name,
                None if self._requested is None else str(self._requested),
                digest,
                scheme=self._scheme,
                bump=self._bump,
            )
            self.store = remote
            message = (
                f"modelver: the store {remote.url} cannot be reached, so {self.name} was not published; the run's "
                f"bundle is kept in the spool at {entry.directory}. When the store is back, run `modelver push` "
                "(the next modelver.track() to that store pushes it too)"
            )
            print(message, file=sys.stderr)
            self._warn(message, UserWarning)
            return None
        return publish_version(
            self.store,
            manifest,
            body,
            digest,
            name=self.name,
            run_id=self.run_id,
            requested=None if self._requested is None else str(self._requested),
            scheme=self._scheme,
            bump=self._bump,
            code=self._code,
        )

    def record_step(self, step: StepRecord) -> None:
        """Add a finished ``@modelver.versioned`` call to the run's lineage (ignored once the run is closing)."""
        with self._lock:
            if self.status == "running":
                self._steps.append(step)

    def step_capture_failed(self, message: str) -> None:
        """Record a step capture failure as a capture error of the run (``strict=True`` then publishes nothing)."""
        self._capture_failed("lineage", message, raise_strict=False)

    # -- logging API -----------------------------------------------------------------------------------------

    def log_params(self, **params: object) -> None:
        """Add keyword parameters to the run's config (later values win).

        Raises:
            CaptureError: the run is no longer running (log inside the ``with`` block).
        """
        with self._lock:
            self._check_open("log_params")
            self._params.update(params)

    def log_config(self, config: Mapping[str, object]) -> None:
        """Add a mapping to the run's config (later values win).

        Raises:
            CaptureError: the run is no longer running (log inside the ``with`` block).
        """
        with self._lock:
            self._check_open("log_config")
            self._params.update(config)

    def log_metrics(self, metrics: Mapping[str, object], step: int | None = None) -> None:
        """Record metric values; the manifest keeps the last value of each, a blob keeps every call.

        Keys must be strings and values real numbers (Python, numpy, or anything ``float()`` accepts, such as a
        0-d tensor) within the float range (an int over ``sys.float_info.max`` is refused); anything else is a
        capture error, and the value is not recorded. NaN and infinities are kept in the history (as ``"nan"``,
        ``"inf"``) and recorded as ``None`` in ``metrics``, with a capture error. Each history line is
        ``{"time": unix seconds, "step": step or null, "metrics": {...}}``.

        Raises:
            CaptureError: the run is no longer running, or a value is bad in strict mode.
        """
        self._check_open("log_metrics")
        values: dict[str, float | int | str] = {}
        for key, raw in metrics.items():
            if not isinstance(key, str):
                self._capture_failed("metrics", f"metric name {key!r} is not a string; the value is not recorded")
                continue
            try:
                value: float | int = raw if isinstance(raw, int) and not isinstance(raw, bool) else float(raw)  # type: ignore[arg-type]
            except (TypeError, ValueError) as exc:
                self._capture_failed("metrics", f"metric {key!r}={raw!r} is not a number: {exc}")
                continue
            except OverflowError as exc:  # a huge int subclass or Decimal that float() cannot hold
                self._capture_failed("metrics", f"metric {key!r} is outside the float range: {exc}; not recorded")
                continue
            if isinstance(value, int) and not -_FLOAT_MAX <= value <= _FLOAT_MAX:
                self._capture_failed(
                    "metrics",
                    f"metric {key!r} is an integer of {value.bit_length()} bits, outside the float range "
                    f"(±{_FLOAT_MAX:.6g}) that readers compare and plot metrics in; not recorded. Log it as a "
                    "float or a logarithm",
                )
                continue
            finite = isinstance(value, int) or math.isfinite(value)
            values[key] = value if finite else str(value)
            with self._lock:
                if not finite and self._metrics.get(key, 0) is not None:
                    self._capture_failed("metrics", f"metric {key!r} is {value}; recorded as null", raise_strict=False)
                self._metrics[key] = value if finite else None
        with self._lock:
            self._history.append({"time": time.time(), "step": None if step is None else int(step), "metrics": values})

    def log_data(self, label: str, source: object) -> DataEntry | None:
        """Fingerprint a data source (path, fsspec URL, numpy array, pandas frame, bytes) under ``label``.

        Returns:
            The recorded entry, or ``None`` when the fingerprint failed (recorded as a capture error).

        Raises:
            CaptureError: the run is no longer running, or the fingerprint failed in strict mode.
        """
        self._check_open("log_data")
        try:
            fp = fingerprint(source, algorithm=self.store.algorithm)
            # The stored listing hashes to the tree digest itself, so a drift check can diff file by file.
            tree = self.store.put_bytes(tree_json(fp.entries)) if fp.entries else None
        except Exception as exc:
            self._capture_failed("data", f"{label!r}: {exc}")
            return None
        entry = DataEntry(
            uri=fp.uri,
            digest=fp.digest,
            size_bytes=fp.size_bytes,
            files=fp.files,
            kind=fp.kind,
            method=fp.method,
            summary=dict(fp.summary),
            tree=tree,
        )
        if fp.skipped:
            self._capture_failed("data", f"{label!r}: not hashed: {'; '.join(fp.skipped)}", raise_strict=False)
        with self._lock:
            self._data[label] = entry
        return entry


def track(
    name: str,
    *,
    version: str | None = None,
    config: object = None,
    data: Mapping[str, object] | None = None,
    store: str | os.PathLike[str] | Store | None = None,
    strict: bool = False,
    scheme: str = DEFAULT_SCHEME,
    bump: str = DEFAULT_BUMP,
    require_clean: bool = False,
    job_id: str | None = None,
    rank: int | None = None,
    world_size: int | None = None,
    report_timeout_s: float = DEFAULT_REPORT_TIMEOUT_S,
    keep_checkpoints: int | None = None,
    resume: bool = False,
    run_id: str | None = None,
    labels: Mapping[str, str] | None = None,
    description: str = "",
) -> Run:
    """Capture a training run; on a clean exit of the ``with`` block, publish it as one immutable version.

    Usage::

        with modelver.track("churn", config={"lr": 0.1}, data={"train": "data/train.csv"}) as run:
            model = train(...)
            run.log_metrics({"accuracy": acc})
            run.save_model(model)
        print(run.version)          # churn@0.1.3 (blake3:...)

    Code (git state or a source snapshot), installed packages, config, data fingerprints and resources are
    captured automatically. A capture that fails is recorded in ``capture_errors`` with a :class:`CaptureWarning`
    and never stops training, unless ``strict=True``. If the block raises, no version is published, the capture is
    kept as ``runs/<run_id>.json`` in the store, and the exception propagates untouched.

    Args:
        name: model name (lowercase letters, digits, ``-_.``, namespaces with ``/``).
        version: an explicit SemVer 2.0.0 version; default: chosen by ``scheme``.
        scheme: how a version is chosen without ``version=`` (docs/registry.md): ``"semver"`` (default: the
            highest release bumped by ``bump``, ``0.1.0`` first), ``"timestamp"``, ``"git"`` (short commit, dirty
            marked) or ``"hybrid"`` (a timestamped experiment pre-release, promoted later with ``release``).
        bump: ``"patch"`` (default), ``"minor"`` or ``"major"`` for the semver and hybrid schemes.
        config: the run's config: a mapping, ``argparse.Namespace``, dataclass, attrs instance... encoded
            losslessly (:func:`modelver.encode_config`).
        data: label to data source, fingerprinted on entry (paths, fsspec URLs, numpy arrays, pandas frames).
        store: store URL or path (default: see ``modelver info``).
        strict: turn capture failures into :class:`CaptureError` (and publish nothing). What is known on entry
            is checked on entry, before the block runs: the code capture (no git executable for a repository, a
            repository git refuses) and whether the store takes writes.
        require_clean: refuse, on entry, a tree that is dirty or not in git (:class:`CaptureError`). The store,
            the caches, the spool and ``[tool.modelver] capture-exclude`` folders never make a tree dirty.
        job_id: the id shared by every rank of a distributed job (default: from the launcher; docs/distributed.md).
        rank: this process's global rank (default: from the launcher); give it with ``world_size``.
        world_size: the number of ranks of the job (default: from the launcher).
        report_timeout_s: how long rank 0 waits at the end for the other ranks' reports, in seconds.
        keep_checkpoints: keep the last K checkpoints of ``run.save_checkpoint`` (older ones become collectable).
        resume: continue the latest interrupted run of ``name`` (of this job, under a launcher):
            ``run.latest_checkpoint()`` returns its last checkpoint, and the version records every segment with
            summed resources. Nothing interrupted: a fresh run.
        run_id: with ``resume=True``, the interrupted run to continue (``modelver runs`` lists them).
        labels: key=value metadata recorded in the manifest (``{"team": "risk"}``; searchable as ``labels.team``);
            ``modelver label`` changes them later, per key.
        description: a text recorded in the manifest (at most 10,000 characters).

    Under a launcher (torchrun, Accelerate, DeepSpeed, SLURM, MPI, Ray Train) the ranks of one job publish one
    version: each rank hands its report to rank 0 through the store; rank 0 publishes it with a ``distributed``
    section. Other ranks' ``save_model``/``log_artifact`` store nothing (one warning) and their ``run.version``
    stays ``None``. SIGTERM or SIGINT in the block records the run as interrupted, then reaches the handler that
    was installed before (or the default action).

    Raises:
        InvalidReferenceError: bad name, version, scheme or bump (before anything runs).
        InvalidLabelError: a label key or value, or the description, breaks the rules (before anything runs).
        VersionExistsError: ``version`` is taken (checked on entry, and atomically at publish).
        StoreError: the store cannot be written (strict mode: checked on entry) or cannot publish atomically.
        CaptureError: strict mode and the code capture failed on entry, or ``require_clean`` and the tree is dirty.
        JobIdError: a job on several nodes whose launcher gives no shared id: pass ``job_id=``.

    Example:
        >>> with modelver.track("churn", data={"train": "data/train.csv"}, bump="minor") as run:  # doctest: +SKIP
        ...     run.save_model(train(lr=0.1))
        >>> run.version.version  # doctest: +SKIP
        '0.2.0'
    """
    run = Run(
        name,
        version=version,
        config=config,
        data=data,
        store=store,
        strict=strict,
        scheme=scheme,
        bump=bump,
        require_clean=require_clean,
        labels=labels,
        description=description,
    )
    run._launch = detect_launch(job_id=job_id, rank=rank, world_size=world_size)
    run._report_timeout_s = report_timeout_s
    run._keep_checkpoints = keep_checkpoints
    run._resume = (run_id or True) if resume else False
    return run
