"""``modelver.track()``: capture a training run and publish it as one immutable version.

Data flow: capture (code and environment in a background thread started on entry, resources sampled in another,
config/data/metrics/artifacts as the user logs them) → :class:`~modelver.manifest.Manifest` → store (blobs as they
are logged, then the manifest, then the version tag: the single create-if-absent write that makes the version
visible).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import attrs

from modelver.capture.code import capture_code
from modelver.capture.config import encode_config
from modelver.capture.environment import capture_environment
from modelver.capture.redact import redact_text
from modelver.capture.resources import ResourceMonitor
from modelver.data.fingerprint import fingerprint, tree_json, walk_tree
from modelver.errors import (
    CaptureError,
    CaptureWarning,
    FormatError,
    InvalidReferenceError,
    StoreError,
    VersionExistsError,
)
from modelver.formats import Format, make_prompt, resolve_format, serialize
from modelver.manifest import (
    ArtifactEntry,
    CaptureErrorRecord,
    CodeFacet,
    DataEntry,
    EnvironmentFacet,
    Lineage,
    Manifest,
    ResourcesFacet,
    StepRecord,
)
from modelver.provenance import created_by, utc_now
from modelver.registry.model_version import ModelVersion, loaded_inputs
from modelver.registry.refs import validate_name
from modelver.registry.schemes import BUMPS, DEFAULT_BUMP, DEFAULT_SCHEME, SCHEMES
from modelver.registry.semver import SemVer
from modelver.serde import canonical_json, to_json_dict
from modelver.store.digest import DEFAULT_ALGORITHM
from modelver.store.location import open_store
from modelver.store.objects import Store, is_unreachable
from modelver.store.paths import path_clash, validate_artifact_path
from modelver.tracking.spool import create_version_tag, pending, push, spool_store, write_entry
from modelver.warnings import warn_user

#: A config whose canonical JSON is larger than this is stored whole as a blob and referenced from the manifest.
CONFIG_INLINE_LIMIT_BYTES = 1 << 20
#: How long leaving the block waits for the background code/environment capture (a hung remote write, say).
STATIC_CAPTURE_TIMEOUT_S = 120.0
RUN_SCHEMA = "modelver.run/1"

#: The run whose ``with`` block is executing in this context; ``@modelver.versioned`` steps record into it.
current_run: contextvars.ContextVar[Run | None] = contextvars.ContextVar("modelver_run", default=None)


def _media_type(path: str) -> str:
    import mimetypes

    return mimetypes.guess_type(path)[0] or "application/octet-stream"


class Run:
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
    """

    def __init__(
        self,
        name: str,
        *,
        version: str | None = None,
        config: object = None,
        data: Mapping[str, object] | None = None,
        store: str | os.PathLike[str] | Store | None = None,
        strict: bool = False,
        scheme: str = DEFAULT_SCHEME,
        bump: str = DEFAULT_BUMP,
    ) -> None:
        self.name = validate_name(name)
        self._requested = SemVer.parse(version) if version is not None else None
        if scheme not in SCHEMES or bump not in BUMPS:
            raise InvalidReferenceError(
                f"unknown version scheme {scheme!r} or bump {bump!r}: schemes are {', '.join(SCHEMES)}, bumps "
                f"{', '.join(BUMPS)}",
                reference=f"{scheme}/{bump}",
            )
        self._scheme = scheme
        self._bump = bump
        self.store = open_store(store)
        self.strict = strict
        self.run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"
        self.version: ModelVersion | None = None
        self.status = "created"
        self._lock = threading.RLock()
        self._config_root = config
        self._params: dict[str, object] = {}
        self._data_sources = dict(data or {})
        self._data: dict[str, DataEntry] = {}
        self._metrics: dict[str, float | int | None] = {}
        self._history: list[dict[str, Any]] = []
        self._artifacts: dict[str, ArtifactEntry] = {}
        self._errors: list[CaptureErrorRecord] = []
        self._inputs: list[str] = []
        self._steps: list[StepRecord] = []
        self._code = CodeFacet()
        self._environment = EnvironmentFacet()
        self._monitor = ResourceMonitor()
        self._static_thread: threading.Thread | None = None
        self._background_errors: list[CaptureErrorRecord] = []
        self._inputs_token: Any = None
        self._run_token: Any = None

    # -- capture errors and warnings -------------------------------------------------------------------------

    @staticmethod
    def _warn(message: str, category: type[Warning] = CaptureWarning) -> None:
        warn_user(message, category)

    def _capture_failed(self, facet: str, exc: BaseException | str, *, raise_strict: bool = True) -> None:
        record = (
            CaptureErrorRecord(facet, "CaptureError", redact_text(exc))
            if isinstance(exc, str)
            else CaptureErrorRecord(facet, type(exc).__name__, redact_text(str(exc)))
        )
        with self._lock:
            self._errors.append(record)
        if self.strict and raise_strict:
            raise CaptureError(f"{facet} capture failed in strict mode: {record.message}")
        self._warn(f"modelver: {facet} capture failed: {record.message}")

    def _check_open(self, what: str) -> None:
        if self.status != "running":
            raise CaptureError(
                f"{what} on run {self.run_id}, which is {self.status}: log inside the `with modelver.track(...)` "
                "block; a published version never changes"
            )

    # -- lifecycle -------------------------------------------------------------------------------------------

    def __enter__(self) -> Run:
        if self.status != "created":
            raise RuntimeError(f"run {self.run_id} was already entered; call modelver.track() for a new run")
        self.store.initialize()
        if self._requested is not None and str(self._requested) in self.store.list_versions(self.name):
            # Checked now so hours of training are not spent on a version that is taken; the create at the end
            # is still atomic.
            raise VersionExistsError(
                f"{self.name}@{self._requested} already exists in {self.store.url}; choose another version or "
                "leave version= unset",
                name=self.name,
                version=str(self._requested),
            )
        self.status = "running"
        self._monitor.start()
        self._static_thread = threading.Thread(target=self._capture_static, name="modelver-capture", daemon=True)
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
            self._code, code_errors = capture_code(put_blob=self.store.put_bytes)
        except Exception as exc:
            code_errors = [CaptureErrorRecord("code", type(exc).__name__, str(exc))]
        try:
            self._environment, env_errors = capture_environment()
        except Exception as exc:
            env_errors = [CaptureErrorRecord("environment", type(exc).__name__, str(exc))]
        self._background_errors = code_errors + env_errors

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        with contextlib.suppress(ValueError, LookupError):  # exited in another context (an asyncio task)
            loaded_inputs.reset(self._inputs_token)
        with contextlib.suppress(ValueError, LookupError):
            current_run.reset(self._run_token)
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
        if exc_type is not None:
            self.status = "failed"
            self._write_failed_run(body, f"{exc_type.__name__}: {redact_text(str(exc))}")
            self._warn_all(fresh_errors)
            return False  # the user's exception propagates untouched
        if self.strict and self._errors:
            self.status = "failed"
            self._write_failed_run(body, "strict mode: capture errors")
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
                self._write_failed_run(body, f"publishing failed: {type(publish_exc).__name__}: {publish_exc}")
            raise
        self.status = "published" if self.version is not None else "spooled"
        if self.version is not None and self.store.is_remote:
            self._push_spooled()
        return False

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

    def _finish_capture(self) -> tuple[Manifest, bytes, list[CaptureErrorRecord]]:
        """Stop capturing, close the run to logging, and build the manifest from one consistent snapshot.

        Returns the manifest, its canonical body, and the capture errors found now (to warn about once the run's
        outcome is recorded).
        """
        resources, resource_errors = self._monitor.stop()
        if self._static_thread is not None:
            self._static_thread.join(STATIC_CAPTURE_TIMEOUT_S)
            if self._static_thread.is_alive():
                self._background_errors = [
                    CaptureErrorRecord(
                        "code",
                        "TimeoutError",
                        f"code and environment capture did not finish within {STATIC_CAPTURE_TIMEOUT_S:.0f} s",
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
        config, config_errors = self._encoded_config()
        with self._lock:
            self._errors.extend(config_errors)
            errors = tuple(self._errors)
        history_digest = None
        if history:
            lines = "".join(json.dumps(entry, sort_keys=True) + "\n" for entry in history)
            history_digest = self.store.put_bytes(lines.encode())
        data, metrics, artifacts = snapshot
        manifest = Manifest(
            name=self.name,
            created_at=utc_now(),
            created_by=created_by(),
            run_id=self.run_id,
            code=self._code,
            environment=self._environment,
            config=config,
            data=data,
            resources=resources,
            metrics=metrics,
            metrics_history=history_digest,
            artifacts=artifacts,
            lineage=Lineage(steps=steps, inputs=inputs),
            capture_errors=errors,
        )
        body = to_json_dict(manifest)
        del body["version"], body["digest"]
        return manifest, canonical_json(body), [*fresh, *config_errors]

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

    def _encoded_config(self) -> tuple[Any, list[CaptureErrorRecord]]:
        root = self._config_root
        if not self._params:
            value: object = {} if root is None else root
        elif root is None or isinstance(root, Mapping):
            value = {**(root or {}), **self._params}
        elif hasattr(root, "__dict__") and type(root).__name__ == "Namespace":
            value = type(root)(**{**vars(root), **self._params})
        else:
            value = {"config": root, "params": self._params}
        encoded = encode_config(value)
        errors = [
            CaptureErrorRecord("config", error, f"{f'config key {path!r}' if path else 'the config'}: {message}")
            for path, error, message in encoded.errors
        ]
        raw = canonical_json(encoded.value)
        if len(raw) > CONFIG_INLINE_LIMIT_BYTES:
            return {"$type": "blob", "digest": self.store.put_bytes(raw), "size_bytes": len(raw)}, errors
        return encoded.value, errors

    def _write_failed_run(self, body: bytes, reason: str) -> None:
        record = {
            "schema": RUN_SCHEMA,
            "run_id": self.run_id,
            "name": self.name,
            "status": "failed",
            "reason": reason,
            "manifest": json.loads(body),
        }
        try:
            self.store.write_run(self.run_id, canonical_json(record))
        except Exception as exc:
            self._warn(f"modelver: could not keep the failed run record: {exc}")

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
        by = created_by()
        try:
            tag = create_version_tag(
                self.store,
                self.name,
                digest,
                None if self._requested is None else str(self._requested),
                by,
                scheme=self._scheme,
                bump=self._bump,
                code=self._code,
                metrics=manifest.metrics,
            )
        except VersionExistsError as exc:  # only an explicit version is never replaced by the next one
            self._write_failed_run(body, f"version {exc.version} was taken")
            raise VersionExistsError(
                f"{exc} The run's bundle is kept as manifest {digest} (run record runs/{self.run_id}.json)",
                name=self.name,
                version=exc.version,
            ) from exc
        return ModelVersion(
            name=self.name,
            version=tag.version,
            digest=digest,
            manifest=attrs.evolve(manifest, version=tag.version, digest=digest),
            published_at=tag.created_at,
            published_by=by,
            store=self.store,
        )

    def _add_artifact(self, path: str, entry: ArtifactEntry) -> None:
        with self._lock:
            self._check_open(f"adding artifact {path}")
            clash = path_clash([*self._artifacts, path])
            if clash is not None:
                raise InvalidReferenceError(
                    f"artifact {path!r} cannot be added: {clash[0]!r} would be a file and a directory (it holds "
                    f"{clash[1]!r}) at once; choose another name",
                    reference=path,
                )
            replacing = path in self._artifacts
            self._artifacts[path] = entry
        if replacing:
            # Saving a checkpoint under one name every epoch is common: the last one wins, but say so.
            self._warn(f"modelver: {path} was already saved in this run; the bundle keeps the latest", UserWarning)

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
        0-d tensor); anything else is a capture error. NaN and infinities are kept in the history (as ``"nan"``,
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

    def save_model(
        self, obj: object, name: str = "model", *, format: str | None = None, allow_pickle: bool = False
    ) -> str:
        """Serialize ``obj`` in a safe format (docs/formats.md) and add it to the bundle.

        The format is chosen from the object's type (scikit-learn → ``skops``, ``torch.nn.Module`` → ``torch``
        safetensors, ``save_pretrained`` objects and directories → ``directory``, ONNX, arrays, tables, JSON,
        text, prompts) and recorded in ``artifacts.<path>.format``.

        Args:
            obj: the model or data.
            name: artifact name; the stored path is ``name`` plus the format's extension (``model.skops``); a
                directory's files are stored below ``name/``.
            format: force a format by name (``"skops"``, ``"torch"``, ``"directory"``, ``"yaml"``, ``"pickle"``...).
            allow_pickle: permit a code-running format (pickle, joblib, TorchScript) when no safe one fits.

        Returns:
            The artifact's path in the bundle (for a directory: ``name``). Saving again under the same name replaces
            the earlier object (with a warning): the bundle keeps the latest.

        Raises:
            UnsafeFormatError: only a code-running format fits and ``allow_pickle`` is false (nothing is written).
            FormatError: ``format`` is unknown or does not fit ``obj``.
            InvalidReferenceError: ``name`` is not a clean relative path, or clashes with another artifact.
            CaptureError: the run is no longer running.
        """
        self._check_open("save_model")
        validate_artifact_path(name)
        fmt = resolve_format(obj, format, allow_pickle)
        if fmt.directory:
            return self._save_directory(obj, name, fmt)
        serialized = serialize(obj, format=fmt.name, allow_pickle=allow_pickle)
        path = validate_artifact_path(name + serialized.extension)
        digest = self.store.put_bytes(serialized.data)
        self._add_artifact(path, ArtifactEntry(digest, len(serialized.data), serialized.media_type, serialized.format))
        return path

    def _save_directory(self, obj: object, name: str, fmt: Format) -> str:
        """Store a directory format's files one blob each, as ``name/<rel>`` entries with ``tree=name``."""
        with tempfile.TemporaryDirectory(prefix="modelver-save-") as scratch:
            source = fmt.write_directory(obj, Path(scratch))
            found, skipped = walk_tree(str(source), str(source))
            if skipped:
                self._capture_failed("artifacts", f"{source}: not stored: {'; '.join(skipped)}", raise_strict=False)
            if not found:
                raise FormatError(f"{name}: the directory to save ({source}) holds no files")
            entries = []
            for rel, real in sorted(found):
                path = validate_artifact_path(f"{name}/{rel}")
                digest, size = self.store.put_file(real)
                entries.append((path, ArtifactEntry(digest, size, _media_type(path), fmt.name, tree=name)))
        with self._lock:
            # Saving a directory again replaces it whole: files of the earlier save that are gone now must go too.
            for stale in [p for p, e in self._artifacts.items() if e.tree == name]:
                del self._artifacts[stale]
        for path, entry in entries:
            self._add_artifact(path, entry)
        return name

    def save_prompt(
        self,
        name: str,
        template: str,
        *,
        variables: Sequence[str] | None = None,
        metadata: Mapping[str, object] | None = None,
    ) -> str:
        """Version a prompt template as data (``name.prompt.json``, format ``prompt``); ``load`` returns a
        :class:`modelver.Prompt` whose ``render(**values)`` fills it, and ``modelver diff`` shows a text diff.

        Args:
            name: artifact name (``"system"``, ``"prompts/answer"``).
            template: the text with ``{variable}`` placeholders (``{{``/``}}`` for literal braces).
            variables: the placeholder names, checked against the template (default: read from it).
            metadata: JSON values kept with the template (model name, temperature...).

        Returns:
            The artifact's path in the bundle.

        Raises:
            FormatError: a malformed placeholder, or ``variables`` that differ from the template's.
            InvalidReferenceError, CaptureError: see :meth:`save_model`.
        """
        prompt = make_prompt(template, None if variables is None else list(variables), metadata or {})
        return self.save_model(prompt, name, format="prompt")

    def save_config(self, name: str, config: Mapping[str, object], *, format: str = "json") -> str:
        """Version an AI-system configuration (a RAG setup, retrieval parameters, tool lists) as a data artifact,
        apart from the run's own config: ``name.json`` (or ``format="yaml"``); ``load`` returns the mapping.

        Raises:
            FormatError: ``config`` is not made of JSON values (or ``format`` is neither ``json`` nor ``yaml``).
            InvalidReferenceError, CaptureError: see :meth:`save_model`.
        """
        if format not in ("json", "yaml"):
            raise FormatError(f"save_config stores format 'json' or 'yaml', not {format!r}")
        if not isinstance(config, Mapping):
            raise FormatError(f"save_config takes a mapping, not a {type(config).__name__}")
        return self.save_model(dict(config), name, format=format)

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None) -> list[str]:
        """Add a file, or every file under a directory, to the bundle as plain files.

        A directory follows the data fingerprint's symlink policy: nothing outside it is read; links that leave
        it, dangling links and links to directories are skipped with a capture error. A missing path is a capture
        error too (training goes on).

        Args:
            path: a local file or directory.
            name: path in the bundle (default: the file or directory name). A directory's files go below it.

        Returns:
            The bundle paths added.

        Raises:
            InvalidReferenceError: ``name`` is not a clean relative path, or clashes with another artifact.
            CaptureError: the run is no longer running, or the path cannot be read in strict mode.
        """
        self._check_open("log_artifact")
        source = Path(path)
        prefix = validate_artifact_path(name if name is not None else source.name)
        if source.is_file():
            files = [(prefix, str(source))]
        elif source.is_dir():
            try:
                found, skipped = walk_tree(str(source), str(source))
            except CaptureError as exc:
                self._capture_failed("artifacts", exc)
                return []
            if skipped:
                self._capture_failed("artifacts", f"{source}: not stored: {'; '.join(skipped)}", raise_strict=False)
            files = sorted((f"{prefix}/{rel}", real) for rel, real in found)
        else:
            self._capture_failed("artifacts", f"log_artifact: {source} is neither a file nor a directory")
            return []
        added = []
        for rel, file in files:
            validate_artifact_path(rel)
            digest, size = self.store.put_file(file)
            self._add_artifact(rel, ArtifactEntry(digest, size, _media_type(rel), "file"))
            added.append(rel)
        return added


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
        strict: turn capture failures into :class:`CaptureError` (and publish nothing).

    Raises:
        InvalidReferenceError: bad name, version, scheme or bump (before anything runs).
        VersionExistsError: ``version`` is taken (checked on entry, and atomically at publish).
        StoreError: the store cannot be written or cannot publish atomically.
    """
    return Run(name, version=version, config=config, data=data, store=store, strict=strict, scheme=scheme, bump=bump)
