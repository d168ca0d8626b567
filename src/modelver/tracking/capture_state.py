"""What a run captures into, before any of it is a manifest: the requested name, version and scheme, the store, the
logged config, data, metrics, artifacts and lineage, all guarded by one lock; and how a capture failure is handled (a
recorded error and a :class:`~modelver.CaptureWarning`, or :class:`~modelver.CaptureError` in strict mode).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from modelver.capture.redact import redact_text
from modelver.capture.resources import ResourceMonitor
from modelver.distributed.launcher import Launch
from modelver.errors import CaptureError, CaptureWarning, InvalidReferenceError
from modelver.manifest import (
    ArtifactEntry,
    CaptureErrorRecord,
    CodeFacet,
    DataEntry,
    EnvironmentFacet,
    Segment,
    StepRecord,
    check_description,
    check_labels,
)
from modelver.registry.model_version import ModelVersion
from modelver.registry.names import validate_name
from modelver.registry.schemes import BUMPS, DEFAULT_BUMP, DEFAULT_SCHEME, SCHEMES
from modelver.registry.semver import SemVer
from modelver.store.location import open_store
from modelver.store.objects import Store
from modelver.store.paths import path_clash
from modelver.tracking.job import JobPart
from modelver.warnings import warn_user


class CaptureState:
    """The state of a run being captured, and its capture errors; :class:`~modelver.Run` adds the lifecycle."""

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
        require_clean: bool = False,
        labels: Mapping[str, str] | None = None,
        description: str = "",
    ) -> None:
        self.name = validate_name(name)
        # track(labels=..., description=...): checked before anything runs.
        self._labels = check_labels(labels)
        self._description = check_description(description)
        self.require_clean = require_clean
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
        self._code_captured: list[CaptureErrorRecord] | None = None  # the code errors, when captured on entry
        self._inputs_token: Any = None
        self._run_token: Any = None
        # A distributed job (modelver.tracking.job): set by track() when a launcher is detected or given.
        self._launch: Launch | None = None
        self._report_timeout_s = 600.0
        self._job: JobPart | None = None
        # Checkpoints and resume (modelver.tracking.checkpoints): set by track().
        self._keep_checkpoints: int | None = None
        self._resume: bool | str = False
        self._series = self.run_id
        self._segments: list[Segment] = []
        self._last_checkpoint: int | None = None

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

    def _skipped_on_rank(self, what: str) -> bool:
        """Whether ``what`` (``save_model``, ``log_artifact``...) stores nothing here: a rank other than 0 of a job
        (warned about once per kind of call)."""
        if self._job is None or self._job.launch.is_main:
            return False
        self._check_open(what)
        self._job.warn_once(what)
        return True

    def _check_open(self, what: str) -> None:
        if self.status != "running":
            raise CaptureError(
                f"{what} on run {self.run_id}, which is {self.status}: log inside the `with modelver.track(...)` "
                "block; a published version never changes"
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
