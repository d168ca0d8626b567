"""The errors modelver raises.

Every error derives from :class:`ModelverError`, and also from the built-in exception it resembles, so that
``except LookupError`` or ``except OSError`` written for the standard library keeps working (the convention of
``attrs.exceptions`` and ``huggingface_hub.errors``). Each message says what was wrong and what to do.
"""

from __future__ import annotations

__all__ = [
    "CaptureError",
    "CaptureWarning",
    "CheckpointIncompleteError",
    "ConfigClassWarning",
    "EnvironmentMismatchError",
    "EnvironmentMismatchWarning",
    "FormatError",
    "GraceTooShortError",
    "IntegrityError",
    "InvalidLabelError",
    "InvalidQueryError",
    "InvalidReferenceError",
    "InvalidStepError",
    "JobIdError",
    "MissingDependencyError",
    "ModelverError",
    "PolicyError",
    "ProtectedAliasError",
    "ReproduceError",
    "StoreError",
    "UnsafeFormatError",
    "VersionExistsError",
    "VersionNotFoundError",
    "YankedVersionWarning",
]


class ModelverError(Exception):
    """Root of every error raised by modelver."""


class InvalidReferenceError(ModelverError, ValueError):
    """A name, version, alias or reference string is malformed.

    Attributes:
        reference: the offending text.
    """

    def __init__(self, message: str, *, reference: str = "") -> None:
        super().__init__(message)
        self.reference = reference


class InvalidLabelError(ModelverError, ValueError):
    """A label key or value, or a description, is not acceptable (the message says which rule it breaks).

    Attributes:
        key: the offending label key (empty for a description).
    """

    def __init__(self, message: str, *, key: str = "") -> None:
        super().__init__(message)
        self.key = key


class InvalidQueryError(ModelverError, ValueError):
    """A search filter or ``order_by`` term is malformed (see docs/search.md for the grammar).

    Attributes:
        query: the text that was parsed.
        column: 0-based offset of the mistake in ``query``.
    """

    def __init__(self, message: str, *, query: str = "", column: int = 0) -> None:
        super().__init__(message)
        self.query = query
        self.column = column

    def caret(self) -> str:
        """The query and a caret under the mistake, on two lines (what the CLI prints)."""
        return f"{self.query}\n{' ' * self.column}^"


class InvalidStepError(ModelverError, TypeError):
    """``@modelver.versioned`` was given something it cannot version (a generator, a bad option or step name).

    Raised when the function is decorated, never while it runs.
    """


class VersionNotFoundError(ModelverError, LookupError):
    """A reference is well formed but nothing in the store matches it.

    Attributes:
        reference: the reference that was resolved.
        available: versions (or names) that do exist, nearest first, to put in front of the user.
    """

    def __init__(self, message: str, *, reference: str = "", available: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.reference = reference
        self.available = available


class VersionExistsError(ModelverError, FileExistsError):
    """A version tag is already taken; versions are never overwritten.

    Attributes:
        name: the model name.
        version: the version that was taken.
    """

    def __init__(self, message: str, *, name: str = "", version: str = "") -> None:
        super().__init__(message)
        self.name = name
        self.version = version


class IntegrityError(ModelverError, ValueError):
    """Bytes read from a store do not match the digest they are stored under (a ``ValueError``: the data is bad).

    Attributes:
        digest: the expected digest.
        actual: the digest of the bytes that were read (empty when the object is missing).
        location: the store path that was read.
    """

    def __init__(self, message: str, *, digest: str = "", actual: str = "", location: str = "") -> None:
        super().__init__(message)
        self.digest = digest
        self.actual = actual
        self.location = location


class UnsafeFormatError(ModelverError, ValueError):
    """Saving or loading would need an unsafe format (pickle) or untrusted types and the caller did not opt in.

    A ``ValueError``, as skops' ``UntrustedTypesFoundException`` is.
    """


class FormatError(ModelverError, ValueError):
    """A format is unknown, or does not fit the object or the stored bytes (the message names the formats that do)."""


class MissingDependencyError(ModelverError, ImportError):
    """An optional dependency is not installed here (the web UI's, a format's library); the message names the
    extra to install, ``pip install 'modelver[<extra>]'``."""


class EnvironmentMismatchError(ModelverError, RuntimeError):
    """``load(..., strict=True)``: the running environment differs from the recorded one where the format cares.

    Attributes:
        differences: one line per difference (``"scikit-learn: recorded 1.5.0, running 1.6.1"``).
    """

    def __init__(self, message: str, *, differences: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.differences = differences


class EnvironmentMismatchWarning(UserWarning):
    """The packages a loaded artifact's format depends on (or the Python minor version) differ from the recorded
    ones; the model loaded, but may behave differently. ``modelver show REF --requirements`` lists the recorded
    environment."""


class ReproduceError(ModelverError, RuntimeError):
    """A version's code cannot be rebuilt: its commit cannot be fetched, its diff does not apply, the target
    directory is not empty, or there is no entrypoint to re-run.

    Attributes:
        commit: the recorded commit (empty without git).
        remote: the recorded remote URL (empty when none was recorded).
    """

    def __init__(self, message: str, *, commit: str = "", remote: str = "") -> None:
        super().__init__(message)
        self.commit = commit
        self.remote = remote


class StoreError(ModelverError, OSError):
    """A store cannot be used: unreachable, not a modelver store, or lacking a create-if-absent primitive."""


class CaptureError(ModelverError, RuntimeError):
    """A capture failed and the run is in strict mode (otherwise capture failures are only warnings)."""


class ProtectedAliasError(ModelverError, PermissionError):
    """Moving a protected alias needs an explicit approver (``by=`` / ``--by``).

    Attributes:
        name: the model name.
        alias: the protected alias.
        protected_by: who protected it.
    """

    def __init__(self, message: str, *, name: str = "", alias: str = "", protected_by: str = "") -> None:
        super().__init__(message)
        self.name = name
        self.alias = alias
        self.protected_by = protected_by


class PolicyError(ModelverError, PermissionError):
    """A promotion the alias's approval policy does not allow yet (too few approvals of that exact digest).

    Attributes:
        name: the model name.
        alias: the guarded alias.
        digest: the manifest digest the promotion would point the alias at.
        required: how many distinct approvers the policy requires.
        approved_by: the approvers that count for that digest now, sorted.
    """

    def __init__(
        self,
        message: str,
        *,
        name: str = "",
        alias: str = "",
        digest: str = "",
        required: int = 0,
        approved_by: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.name = name
        self.alias = alias
        self.digest = digest
        self.required = required
        self.approved_by = approved_by


class YankedVersionWarning(UserWarning):
    """A yanked version was resolved by an exact version, alias or digest: it loads, but was withdrawn."""


class CaptureWarning(UserWarning):
    """A part of a run could not be captured; the run goes on and the failure is kept in ``capture_errors``."""


class ConfigClassWarning(UserWarning):
    """A recorded config names a class (dataclass, attrs, pydantic, enum, OmegaConf) that cannot be found here, so
    ``ModelVersion.config()`` returns it as plain nested data (``config(plain=True)``) instead of rebuilding it."""


class JobIdError(ModelverError, ValueError):
    """The processes of a distributed job cannot agree on a job id without one being given.

    Attributes:
        launcher: the launcher that was detected (``"torchrun"``, ``"mpi"``, ...).
    """

    def __init__(self, message: str, *, launcher: str = "") -> None:
        super().__init__(message)
        self.launcher = launcher


class GraceTooShortError(ModelverError, ValueError):
    """``gc`` was asked for a grace period below the smallest it allows without ``force``.

    Attributes:
        grace_s: the grace period asked for, in seconds.
        minimum_s: the smallest grace allowed without ``force``, in seconds.
    """

    def __init__(self, message: str, *, grace_s: float = 0.0, minimum_s: float = 0.0) -> None:
        super().__init__(message)
        self.grace_s = grace_s
        self.minimum_s = minimum_s


class CheckpointIncompleteError(ModelverError, TimeoutError):
    """Rank 0 saved its part of a sharded checkpoint step, but other ranks' parts did not arrive in time, so the
    step was not recorded as one checkpoint.

    Attributes:
        step: the training step of the checkpoint.
    """

    def __init__(self, message: str, *, step: int = 0) -> None:
        super().__init__(message)
        self.step = step
