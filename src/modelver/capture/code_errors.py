"""How a code capture fails without raising: :class:`CaptureLimitError` for a cap that was reached, the collector
of one capture's failures (messages and :class:`~modelver.manifest.CaptureErrorRecord`, the first ``_MAX_ERRORS``
kept), and the storing of a blob whose failure costs that blob, not the run.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from modelver.manifest import CaptureErrorRecord

# A store that is down would otherwise add one message per file.
_MAX_ERRORS = 20


class CaptureLimitError(RuntimeError):
    """A cap on what the code capture stores was reached (its message names the cap)."""


@attrs.define
class _Errors:
    """Collects the failures of one capture, keeping the first ``_MAX_ERRORS`` messages."""

    records: list[CaptureErrorRecord] = attrs.field(factory=list)
    dropped: int = 0

    def add(self, exc: BaseException, message: str) -> None:
        if len(self.records) < _MAX_ERRORS:
            self.records.append(CaptureErrorRecord(facet="code", error=type(exc).__name__, message=message))
        else:
            self.dropped += 1

    def finish(self) -> list[CaptureErrorRecord]:
        if not self.dropped:
            return list(self.records)
        summary = f"{self.dropped} more code capture errors like the ones above, not recorded"
        return [*self.records, CaptureErrorRecord(facet="code", error="CaptureLimitError", message=summary)]


def _put(put_blob: Callable[[bytes], str], data: bytes, what: str, errors: _Errors) -> str | None:
    try:
        return put_blob(data)
    except Exception as exc:  # a failing store costs this blob, not the run
        errors.add(exc, f"{what} not stored: {exc}")
        return None
