"""The source snapshot recorded when git cannot say what ran: the entrypoint and every local module imported so far,
stored as blobs keyed by their path relative to the files' common directory, within caps on their number and size.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from modelver.capture.code_errors import CaptureLimitError, _Errors, _put
from modelver.capture.local_code import (
    _excluded_roots,
    _is_under,
    _is_under_any,
    _json_safe,
    _local_module_files,
    _relative_posix,
)
from modelver.capture.secrets import FileScan
from modelver.manifest import Redaction

# Caps that keep a run start fast whatever the working tree holds. They are not parameters: a capture that hits
# one records an error saying which, and the fix is a .gitignore entry, not a bigger cap.
_SNAPSHOT_MAX_FILES = 500
_SNAPSHOT_MAX_BYTES = 20 << 20


def _snapshot(
    entry_path: str | None,
    cwd: str,
    put_blob: Callable[[bytes], str],
    errors: _Errors,
    redacted: dict[str, Redaction] | None = None,
) -> tuple[dict[str, str], str | None]:
    """Store the entrypoint and the local modules imported so far; return ``(sources, root)``.

    A source in which a secret is found is not stored: it goes into ``redacted`` (docs/security.md).
    """
    anchor = entry_path if entry_path is not None else cwd
    excluded = _excluded_roots(anchor)
    files = _local_module_files(excluded)
    if entry_path is not None and not _is_under_any(entry_path, excluded):
        files.discard(entry_path)
        ordered = [entry_path, *sorted(files)]
    else:
        ordered = sorted(files)
    if not ordered:
        return {}, None

    selected: list[tuple[str, int]] = []
    total = 0
    for path in ordered:
        try:
            size = os.stat(path).st_size
        except OSError as exc:
            errors.add(exc, f"source {path} not stored: {exc}")
            continue
        if len(selected) >= _SNAPSHOT_MAX_FILES or total + size > _SNAPSHOT_MAX_BYTES:
            errors.add(
                CaptureLimitError(f"{_SNAPSHOT_MAX_FILES} files, {_SNAPSHOT_MAX_BYTES} bytes"),
                f"source snapshot capped at {_SNAPSHOT_MAX_FILES} files and {_SNAPSHOT_MAX_BYTES} bytes; "
                f"{len(ordered) - len(selected)} local modules not stored",
            )
            break
        selected.append((path, size))
        total += size
    if not selected:
        return {}, None

    anchors = [os.path.dirname(path) for path, _ in selected]
    if entry_path is None:
        anchors.append(cwd)  # a notebook's cells live where the kernel runs
    try:
        root = os.path.commonpath(anchors)
    except ValueError:  # paths on different Windows drives have no common directory
        root = os.path.dirname(selected[0][0])
        selected = [(p, s) for p, s in selected if _is_under(p, root)]

    sources: dict[str, str] = {}
    scan = FileScan(root, errors)
    for path, _ in selected:
        rel = _relative_posix(path, root)
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            errors.add(exc, f"source {rel} not stored: {exc}")
            continue
        if not _json_safe(rel):
            errors.add(UnicodeError(rel), f"source {rel!r} skipped: its name is not valid UTF-8")
            continue
        withheld = scan.withhold(rel, data)
        if withheld is not None:
            if redacted is not None:
                redacted[rel] = withheld
            continue
        digest = _put(put_blob, data, f"source {rel}", errors)
        if digest is not None:
            sources[rel] = digest
    return sources, root
