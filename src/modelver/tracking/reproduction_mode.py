"""A run started by ``modelver reproduce --run``: it publishes a *reproduction* of the original version, not a
release.

``reproduce`` sets :data:`ENV_REPRODUCTION_OF` for the re-run (unless asked to publish). A :func:`~modelver.track`
of the same name then takes the version ``<major>.<minor>.<patch>-repro.<run id>`` of the original: a SemVer
pre-release, so it is listed and can be loaded, diffed and promoted, but it is never ``latest``, no range picks it,
and the next auto-assigned release number stays free. The original's ``name@digest`` is added to the run's lineage
inputs, which is the link ``modelver lineage`` and the UI follow.
"""

from __future__ import annotations

import json
import os

import attrs

from modelver.errors import InvalidReferenceError
from modelver.registry.semver import SemVer

__all__ = ["ENV_REPRODUCTION_OF", "ReproductionOf", "reproduction_of"]

#: Set by ``modelver reproduce --run`` for the re-run: JSON ``{"name", "version", "digest"}`` of the original.
ENV_REPRODUCTION_OF = "MODELVER_REPRODUCTION_OF"


@attrs.frozen
class ReproductionOf:
    """The version a run reproduces.

    Attributes:
        name: the model name.
        version: the original's version.
        digest: the original's manifest digest.
    """

    name: str
    version: str
    digest: str

    def to_env(self) -> str:
        """The value of :data:`ENV_REPRODUCTION_OF` that names this original."""
        return json.dumps({"name": self.name, "version": self.version, "digest": self.digest}, sort_keys=True)

    def version_for(self, run_id: str) -> SemVer:
        """The reproduction's version: the original's release numbers, pre-release ``repro.<run_id>``.

        Example:
            >>> str(ReproductionOf("m", "1.2.0", "blake3:00").version_for("20260101T000000Z-ab12"))
            '1.2.0-repro.20260101T000000Z-ab12'
        """
        original = SemVer.parse(self.version)
        return SemVer(original.major, original.minor, original.patch, ("repro", run_id))

    @property
    def ref(self) -> str:
        """``name@digest``: how lineage records an input version."""
        return f"{self.name}@{self.digest}"


def reproduction_of(name: str) -> ReproductionOf | None:
    """The original a run named ``name`` reproduces, from :data:`ENV_REPRODUCTION_OF`; ``None`` for a normal run.

    A script that tracks several models reproduces only the one ``reproduce`` was asked for; its other runs publish
    as usual.

    Raises:
        InvalidReferenceError: the variable is set but is not the JSON ``reproduce`` writes.
    """
    raw = os.environ.get(ENV_REPRODUCTION_OF)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        original = ReproductionOf(str(data["name"]), str(data["version"]), str(data["digest"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidReferenceError(
            f"{ENV_REPRODUCTION_OF} is {raw!r}, not the JSON object modelver reproduce sets; unset it to publish "
            "a normal version.",
            reference=raw,
        ) from exc
    return original if original.name == name else None
