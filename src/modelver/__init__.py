"""modelver: model versioning without a server.

``track()`` captures a training run (code, environment, config, data fingerprints, resources, metrics, artifacts)
and publishes it as one immutable, content-addressed version on any fsspec storage; ``load()`` resolves a reference
such as ``"churn@1.2.0"`` or ``"churn@latest"``, verifies every byte it reads and returns the model.
"""

from modelver._version import __version__
from modelver.capture.config import decode_config, encode_config
from modelver.data.drift import DataCheck
from modelver.data.fingerprint import Fingerprint, fingerprint
from modelver.errors import (
    CaptureError,
    CaptureWarning,
    EnvironmentMismatchError,
    EnvironmentMismatchWarning,
    FormatError,
    IntegrityError,
    InvalidReferenceError,
    InvalidStepError,
    MissingDependencyError,
    ModelverError,
    ProtectedAliasError,
    ReproduceError,
    StoreError,
    UnsafeFormatError,
    VersionExistsError,
    VersionNotFoundError,
    YankedVersionWarning,
)
from modelver.formats import Format, LoadContext, Prompt, register_format
from modelver.maintenance.gc import GcReport, collect_garbage
from modelver.manifest import Manifest
from modelver.registry.data_check import check_data
from modelver.registry.diff import VersionDiff, diff
from modelver.registry.events import AliasState, Event
from modelver.registry.lifecycle import aliases, history, promote, protect, release, rollback, unprotect, unyank, yank
from modelver.registry.model_version import ModelVersion, get, list_versions, load
from modelver.registry.resolution import VersionTag
from modelver.registry.verify import StoreVerifyReport, VerifyReport, verify, verify_all
from modelver.reproduction.rebuild import ReproduceReport, reproduce
from modelver.settings import StoreChoice, choose_store
from modelver.steps.core import StepCall, StepExplanation, Usage, explain_step, used_by, versioned
from modelver.store.objects import Store
from modelver.tracking.run import Run, track

__all__ = [
    "AliasState",
    "CaptureError",
    "CaptureWarning",
    "DataCheck",
    "EnvironmentMismatchError",
    "EnvironmentMismatchWarning",
    "Event",
    "Fingerprint",
    "Format",
    "FormatError",
    "GcReport",
    "IntegrityError",
    "InvalidReferenceError",
    "InvalidStepError",
    "LoadContext",
    "Manifest",
    "MissingDependencyError",
    "ModelVersion",
    "ModelverError",
    "Prompt",
    "ProtectedAliasError",
    "ReproduceError",
    "ReproduceReport",
    "Run",
    "StepCall",
    "StepExplanation",
    "Store",
    "StoreChoice",
    "StoreError",
    "StoreVerifyReport",
    "UnsafeFormatError",
    "Usage",
    "VerifyReport",
    "VersionDiff",
    "VersionExistsError",
    "VersionNotFoundError",
    "VersionTag",
    "YankedVersionWarning",
    "__version__",
    "aliases",
    "check_data",
    "choose_store",
    "collect_garbage",
    "decode_config",
    "diff",
    "encode_config",
    "explain_step",
    "fingerprint",
    "get",
    "history",
    "list_versions",
    "load",
    "promote",
    "protect",
    "register_format",
    "release",
    "reproduce",
    "rollback",
    "track",
    "unprotect",
    "unyank",
    "used_by",
    "verify",
    "verify_all",
    "versioned",
    "yank",
]
