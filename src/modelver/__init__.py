"""modelver: model versioning without a server.

``track()`` captures a training run (code, environment, config, data fingerprints, resources, metrics, artifacts)
and publishes it as one immutable, content-addressed version on any fsspec storage; ``load()`` resolves a reference
such as ``"churn@1.2.0"`` or ``"churn@latest"``, verifies every byte it reads and returns the model.
"""

from ._config import decode_config, encode_config
from ._diff import VersionDiff, diff
from ._drift import DataCheck, check_data
from ._events import AliasState, Event
from ._fingerprint import Fingerprint, fingerprint
from ._formats import Format, LoadContext, Prompt, register_format
from ._gc import GcReport, collect_garbage
from ._lifecycle import aliases, history, promote, protect, release, rollback, unprotect, unyank, yank
from ._model_version import ModelVersion, get, list_versions, load
from ._registry import VersionTag
from ._reproduce import ReproduceReport, reproduce
from ._settings import StoreChoice, choose_store
from ._steps import StepCall, StepExplanation, Usage, explain_step, used_by, versioned
from ._store import Store
from ._tracking import Run, track
from ._verify import StoreVerifyReport, VerifyReport, verify, verify_all
from ._version import __version__
from .errors import (
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
from .manifest import Manifest

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
