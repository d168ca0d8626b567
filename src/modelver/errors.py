"""The errors modelver raises.

Every error derives from :class:`ModelverError`, and also from the built-in exception it resembles, so that
``except LookupError`` or ``except OSError`` written for the standard library keeps working (the convention of
``attrs.exceptions`` and ``huggingface_hub.errors``). Each message says what was wrong and what to do.
"""

from __future__ import annotations

__all__ = [
    "CaptureError",
    "CaptureWarning",
    "IntegrityError",
    "InvalidReferenceError",
    "ModelverError",
    "ProtectedAliasError",
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


class IntegrityError(ModelverError):
    """Bytes read from a store do not match the digest they are stored under.

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


class UnsafeFormatError(ModelverError):
    """Saving or loading would need an unsafe format (pickle) or untrusted types and the caller did not opt in."""


class StoreError(ModelverError, OSError):
    """A store cannot be used: unreachable, not a modelver store, or lacking a create-if-absent primitive."""


class CaptureError(ModelverError):
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


class YankedVersionWarning(UserWarning):
    """A yanked version was resolved by an exact version, alias or digest: it loads, but was withdrawn."""


class CaptureWarning(UserWarning):
    """A part of a run could not be captured; the run goes on and the failure is kept in ``capture_errors``."""
