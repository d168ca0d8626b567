"""modelver: model versioning without a server.

``track()`` captures a training run (code, environment, config, data fingerprints, resources, metrics, artifacts)
and publishes it as one immutable, content-addressed version on any fsspec storage; ``load()`` resolves a reference
such as ``"churn@1.2.0"`` or ``"churn@latest"``, verifies every byte it reads and returns the model.
"""

import importlib
from typing import TYPE_CHECKING, Any

from modelver._version import __version__

if TYPE_CHECKING:  # for type checkers and IDEs; at run time each name is imported on first use (`__getattr__`)
    from modelver.capture.config import encode_config
    from modelver.capture.config_decode import decode_config
    from modelver.cards.card import model_card
    from modelver.catalog.api import search
    from modelver.catalog.labels import describe, label, unlabel
    from modelver.catalog.lineage import used_by
    from modelver.data.drift import DataCheck
    from modelver.data.fingerprint import Fingerprint
    from modelver.data.sources import fingerprint
    from modelver.errors import (
        CaptureError,
        CaptureWarning,
        CheckpointIncompleteError,
        ConfigClassWarning,
        EnvironmentMismatchError,
        EnvironmentMismatchWarning,
        FormatError,
        GraceTooShortError,
        IntegrityError,
        InvalidLabelError,
        InvalidQueryError,
        InvalidReferenceError,
        InvalidStepError,
        JobIdError,
        MissingDependencyError,
        ModelverError,
        PolicyError,
        ProtectedAliasError,
        ReproduceError,
        StoreError,
        UnsafeFormatError,
        VersionExistsError,
        VersionNotFoundError,
        YankedVersionWarning,
    )
    from modelver.formats import Format, LoadContext, Prompt, register_format
    from modelver.hooks.callbacks import on
    from modelver.maintenance.gc import GcReport, collect_garbage
    from modelver.manifest import Manifest
    from modelver.registry.approvals import Approval, Policy, approvals, approve, set_policy
    from modelver.registry.data_check import check_data
    from modelver.registry.deployments import Deployment, deployments, record_deployment, record_undeployment
    from modelver.registry.diff import VersionDiff, diff
    from modelver.registry.events import AliasState, Event
    from modelver.registry.lifecycle import (
        aliases,
        history,
        promote,
        protect,
        release,
        rollback,
        unprotect,
        unyank,
        yank,
    )
    from modelver.registry.model_version import ModelVersion, get, list_versions, load
    from modelver.registry.resolution import VersionTag
    from modelver.registry.verify import StoreVerifyReport, VerifyReport, verify, verify_all
    from modelver.reproduction.rebuild import reproduce
    from modelver.reproduction.report import ReproduceReport
    from modelver.settings import StoreChoice, choose_store
    from modelver.steps.calls import StepCall
    from modelver.steps.decorator import versioned
    from modelver.steps.explain import StepExplanation, explain_step
    from modelver.steps.usage import Usage
    from modelver.store.objects import Store
    from modelver.tracking.run import Run, track

# Each public name and the module that defines it: `import modelver` imports none of them (issue 20: the import
# stays cheap, with no format library, fsspec backend or UI library loaded until a name is used).
_LAZY: dict[str, str] = {
    "AliasState": "modelver.registry.events",
    "Approval": "modelver.registry.approvals",
    "CaptureError": "modelver.errors",
    "CaptureWarning": "modelver.errors",
    "CheckpointIncompleteError": "modelver.errors",
    "ConfigClassWarning": "modelver.errors",
    "DataCheck": "modelver.data.drift",
    "Deployment": "modelver.registry.deployments",
    "EnvironmentMismatchError": "modelver.errors",
    "EnvironmentMismatchWarning": "modelver.errors",
    "Event": "modelver.registry.events",
    "Fingerprint": "modelver.data.fingerprint",
    "Format": "modelver.formats",
    "FormatError": "modelver.errors",
    "GraceTooShortError": "modelver.errors",
    "GcReport": "modelver.maintenance.gc",
    "IntegrityError": "modelver.errors",
    "InvalidLabelError": "modelver.errors",
    "InvalidQueryError": "modelver.errors",
    "InvalidReferenceError": "modelver.errors",
    "InvalidStepError": "modelver.errors",
    "JobIdError": "modelver.errors",
    "LoadContext": "modelver.formats",
    "Manifest": "modelver.manifest",
    "MissingDependencyError": "modelver.errors",
    "ModelVersion": "modelver.registry.model_version",
    "ModelverError": "modelver.errors",
    "Policy": "modelver.registry.approvals",
    "PolicyError": "modelver.errors",
    "Prompt": "modelver.formats",
    "ProtectedAliasError": "modelver.errors",
    "ReproduceError": "modelver.errors",
    "ReproduceReport": "modelver.reproduction.report",
    "Run": "modelver.tracking.run",
    "StepCall": "modelver.steps.calls",
    "StepExplanation": "modelver.steps.explain",
    "Store": "modelver.store.objects",
    "StoreChoice": "modelver.settings",
    "StoreError": "modelver.errors",
    "StoreVerifyReport": "modelver.registry.verify",
    "UnsafeFormatError": "modelver.errors",
    "Usage": "modelver.steps.usage",
    "VerifyReport": "modelver.registry.verify",
    "VersionDiff": "modelver.registry.diff",
    "VersionExistsError": "modelver.errors",
    "VersionNotFoundError": "modelver.errors",
    "VersionTag": "modelver.registry.resolution",
    "YankedVersionWarning": "modelver.errors",
    "aliases": "modelver.registry.lifecycle",
    "approvals": "modelver.registry.approvals",
    "approve": "modelver.registry.approvals",
    "check_data": "modelver.registry.data_check",
    "choose_store": "modelver.settings",
    "collect_garbage": "modelver.maintenance.gc",
    "decode_config": "modelver.capture.config_decode",
    "deployments": "modelver.registry.deployments",
    "describe": "modelver.catalog.labels",
    "diff": "modelver.registry.diff",
    "encode_config": "modelver.capture.config",
    "explain_step": "modelver.steps.explain",
    "fingerprint": "modelver.data.sources",
    "get": "modelver.registry.model_version",
    "history": "modelver.registry.lifecycle",
    "label": "modelver.catalog.labels",
    "list_versions": "modelver.registry.model_version",
    "on": "modelver.hooks.callbacks",
    "load": "modelver.registry.model_version",
    "model_card": "modelver.cards.card",
    "promote": "modelver.registry.lifecycle",
    "protect": "modelver.registry.lifecycle",
    "register_format": "modelver.formats",
    "release": "modelver.registry.lifecycle",
    "record_deployment": "modelver.registry.deployments",
    "record_undeployment": "modelver.registry.deployments",
    "reproduce": "modelver.reproduction.rebuild",
    "rollback": "modelver.registry.lifecycle",
    "search": "modelver.catalog.api",
    "set_policy": "modelver.registry.approvals",
    "track": "modelver.tracking.run",
    "unlabel": "modelver.catalog.labels",
    "unprotect": "modelver.registry.lifecycle",
    "unyank": "modelver.registry.lifecycle",
    "used_by": "modelver.catalog.lineage",
    "verify": "modelver.registry.verify",
    "verify_all": "modelver.registry.verify",
    "versioned": "modelver.steps.decorator",
    "yank": "modelver.registry.lifecycle",
}

__all__ = [
    "AliasState",
    "Approval",
    "CaptureError",
    "CaptureWarning",
    "CheckpointIncompleteError",
    "ConfigClassWarning",
    "DataCheck",
    "Deployment",
    "EnvironmentMismatchError",
    "EnvironmentMismatchWarning",
    "Event",
    "Fingerprint",
    "Format",
    "FormatError",
    "GcReport",
    "GraceTooShortError",
    "IntegrityError",
    "InvalidLabelError",
    "InvalidQueryError",
    "InvalidReferenceError",
    "InvalidStepError",
    "JobIdError",
    "LoadContext",
    "Manifest",
    "MissingDependencyError",
    "ModelVersion",
    "ModelverError",
    "Policy",
    "PolicyError",
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
    "approvals",
    "approve",
    "check_data",
    "choose_store",
    "collect_garbage",
    "decode_config",
    "deployments",
    "describe",
    "diff",
    "encode_config",
    "explain_step",
    "fingerprint",
    "get",
    "history",
    "label",
    "list_versions",
    "load",
    "model_card",
    "on",
    "promote",
    "protect",
    "record_deployment",
    "record_undeployment",
    "register_format",
    "release",
    "reproduce",
    "rollback",
    "search",
    "set_policy",
    "track",
    "unlabel",
    "unprotect",
    "unyank",
    "used_by",
    "verify",
    "verify_all",
    "versioned",
    "yank",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562), so ``import modelver`` stays cheap.

    Args:
        name: the attribute asked for, as in ``modelver.load`` or ``from modelver import load``.

    Returns:
        The public object, which is then cached in the package's namespace.

    Raises:
        AttributeError: ``name`` is not a public name of modelver.

    Example:
        >>> import modelver
        >>> modelver.VersionTag.__name__
        'VersionTag'
    """
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelver' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The package's namespace with every public name, imported or not (for ``dir()`` and completion)."""
    return sorted(set(globals()) | set(__all__))
