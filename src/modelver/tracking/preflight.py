"""Checks a strict run (``track(strict=True)``) or a run that requires a clean tree makes when it is entered, so that
what it would refuse after training (no git, a dirty tree, a store it cannot write) stops it before training starts.
"""

from __future__ import annotations

import contextlib
import uuid

from modelver.errors import CaptureError, StoreError
from modelver.manifest import CaptureErrorRecord, CodeFacet
from modelver.store.objects import Store

__all__ = ["check_before_training", "check_store_writable"]


def check_store_writable(store: Store) -> None:
    """Write and remove a probe object under ``blobs/.staging/`` (where uploads in flight live).

    A blob that exists is never written again, so writing a known blob proves nothing; the probe is the only
    write that says the store takes new objects. If the probe cannot be removed (credentials that may write but
    not delete), it stays for ``gc``, which clears stale staging objects.

    Raises:
        StoreError: the store refused the write.
    """
    staging = f"{store.root.rstrip('/')}/blobs/.staging"
    path = f"{staging}/preflight-{uuid.uuid4().hex}"
    try:
        store.fs.makedirs(staging, exist_ok=True)  # a no-op on object stores
        with store.fs.open(path, "wb") as handle:
            handle.write(b"")
    except Exception as exc:
        raise StoreError(
            f"strict mode: the store at {store.url} cannot be written ({type(exc).__name__}: {exc}); nothing was "
            "trained. Fix its permissions or credentials, or choose another store with store= or MODELVER_STORE."
        ) from exc
    with contextlib.suppress(Exception):
        store.fs.rm_file(path)


def check_before_training(
    code: CodeFacet,
    code_errors: list[CaptureErrorRecord],
    *,
    strict: bool,
    require_clean: bool,
) -> None:
    """Refuse, before training, a run that would be refused after it.

    Args:
        code: the code facet, captured synchronously on entry.
        code_errors: the code capture's errors; in strict mode any one of them would fail the run at its end.
        strict: the run's ``strict=``.
        require_clean: the run's ``require_clean=``: a dirty tree, or no git, is refused whatever ``strict`` says.

    Raises:
        CaptureError: strict mode and the code capture failed (no git executable, a repository git refuses...),
            or a clean tree is required and the tree is dirty or not in git.
    """
    if require_clean:
        if code.git is None:
            raise CaptureError(
                "require_clean=True needs the code in a git repository and git on PATH, and the code capture found "
                "none; nothing was trained. Run from a git checkout, or drop require_clean."
            )
        if code.git.dirty:
            changed = ", ".join(sorted(code.git.untracked)[:5])
            detail = f" (untracked: {changed})" if changed else ""
            raise CaptureError(
                f"require_clean=True and the tree at {code.git.root} is dirty{detail}; nothing was trained. Commit "
                "or stash the changes (add output folders to [tool.modelver] capture-exclude), or drop require_clean."
            )
    if not strict:
        return
    if code_errors:
        listed = "; ".join(e.message for e in code_errors)
        raise CaptureError(
            f"strict mode: the code capture failed on entry, so the run would be refused after training: {listed}. "
            "Nothing was trained; fix the cause or run without strict=True."
        )
