"""modelver: model versioning without a server.

``track()`` captures a training run (code, environment, config, data fingerprints, resources, metrics, artifacts)
and publishes it as one immutable, content-addressed version on any fsspec storage; ``load()`` resolves a reference
such as ``"churn@1.2.0"`` or ``"churn@latest"``, verifies every byte it reads and returns the model.
"""

from ._config import decode_config, encode_config
from ._drift import DataCheck, check_data
from ._fingerprint import Fingerprint, fingerprint
from ._model_version import ModelVersion, get, list_versions, load
from ._registry import VersionTag
from ._settings import StoreChoice, choose_store
from ._store import Store
from ._tracking import Run, track
from ._verify import VerifyReport, verify
from ._version import __version__
from .errors import (
    CaptureError,
    CaptureWarning,
    IntegrityError,
    InvalidReferenceError,
    ModelverError,
    StoreError,
    UnsafeFormatError,
    VersionExistsError,
    VersionNotFoundError,
)
from .manifest import Manifest

__all__ = [
    "CaptureError",
    "CaptureWarning",
    "DataCheck",
    "Fingerprint",
    "IntegrityError",
    "InvalidReferenceError",
    "Manifest",
    "ModelVersion",
    "ModelverError",
    "Run",
    "Store",
    "StoreChoice",
    "StoreError",
    "UnsafeFormatError",
    "VerifyReport",
    "VersionExistsError",
    "VersionNotFoundError",
    "VersionTag",
    "__version__",
    "check_data",
    "choose_store",
    "decode_config",
    "encode_config",
    "fingerprint",
    "get",
    "list_versions",
    "load",
    "track",
    "verify",
]
