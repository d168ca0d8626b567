"""What :func:`modelver.reproduce` reports: :class:`ReproduceReport`, with the files it could not restore
(:class:`Unrestored`) and the requirements the virtual environment did not get (:class:`NotInstalled`).
"""

from __future__ import annotations

from typing import Any

import attrs

from modelver.data.drift import DataCheck
from modelver.registry.diff import VersionDiff
from modelver.serde import to_json_dict

__all__ = ["NotInstalled", "ReproduceReport", "Unrestored"]


@attrs.frozen
class Unrestored:
    """A file of the recorded tree that is not in the rebuilt directory as it was.

    Attributes:
        path: relative POSIX path (to the repository top level, or to the snapshot root).
        reason: why: not stored at capture time (over the size limit, a secret-looking name, a nested
            repository), missing or corrupt in the store, refused path, or content that does not match its digest.
    """

    path: str
    reason: str


@attrs.frozen
class NotInstalled:
    """A requirement that the virtual environment did not get.

    Attributes:
        requirement: the pin (``name==version``) or, for an editable install, the name.
        reason: pip's message, or why it was not attempted.
    """

    requirement: str
    reason: str


@attrs.frozen
class ReproduceReport:
    """What :func:`reproduce` rebuilt, checked and ran.

    Attributes:
        ref: ``name@version`` of the reproduced version.
        digest: its manifest digest.
        directory: the absolute directory that was built.
        code: how the tree was rebuilt: ``"git"``, ``"snapshot"`` or ``"none"`` (nothing was recorded).
        commit: the recorded commit (with git).
        fetched_from: where the commit was fetched from: the recorded working tree or the recorded remote.
        restored: relative POSIX paths written from the store (untracked files, snapshot, notebook cells), each
            verified against its digest after writing.
        unrestored: files that could not be restored as they were.
        tracked_verified: with git, whether ``git diff HEAD`` of the rebuilt tree equals the recorded diff
            (``False`` when that diff was not recorded or cannot be read; ``None`` without git).
        requirements: the pins written to ``requirements.txt``.
        unpinned: editable installs that pip cannot pin, ``"name: source URL"``.
        python: the recorded Python version; ``python_used`` the one the venv or the run used.
        config_files: files written with the config, relative POSIX paths in the directory.
        data: one check per recorded data label at its recorded location (identical / changed / missing /
            unavailable), then one per label whose recorded location lay inside the recorded tree, at its copy in
            the rebuilt directory.
        venv: the virtual environment's directory, when one was made.
        not_installed: requirements the venv did not get.
        command: the recorded entrypoint and arguments as a command run in the directory (empty when there is
            none to run: a ``python -c`` run, say).
        returncode: the exit status of the re-run (``None`` when not run).
        output: the re-run's stdout and stderr (the last 20,000 characters; empty when not captured).
        new_version: ``name@version`` the re-run published (``None`` when not run or nothing was published).
        diff: the new version against the original, facet by facet.
        notes: everything else worth knowing (redacted arguments, another Python version, ...).

    Example:
        >>> report = modelver.reproduce("churn@1.2.0", "rebuild/churn", venv=True, run=True)  # doctest: +SKIP
        >>> report.complete, report.returncode, report.new_version  # doctest: +SKIP
        (True, 0, 'churn@1.2.0-repro.20261201T101500Z-ab12')
    """

    ref: str
    digest: str
    directory: str
    code: str
    commit: str | None = None
    fetched_from: str | None = None
    restored: tuple[str, ...] = ()
    unrestored: tuple[Unrestored, ...] = ()
    tracked_verified: bool | None = None
    requirements: tuple[str, ...] = ()
    unpinned: tuple[str, ...] = ()
    python: str = ""
    python_used: str = ""
    config_files: tuple[str, ...] = ()
    data: tuple[DataCheck, ...] = ()
    venv: str | None = None
    not_installed: tuple[NotInstalled, ...] = ()
    command: tuple[str, ...] = ()
    returncode: int | None = None
    output: str = ""
    new_version: str | None = None
    diff: VersionDiff | None = None
    notes: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Whether the tree, environment and data are all as recorded (and a re-run, if any, succeeded).

        A data label counts as recorded when one of its checks (the recorded location, or the copy in the rebuilt
        tree) is identical.
        """
        return (
            not self.unrestored
            and self.tracked_verified is not False
            and not self.not_installed
            and all(
                any(c.status in ("identical", "unavailable") for c in self.data if c.label == check.label)
                for check in self.data
            )
            and self.returncode in (None, 0)
        )


def report_json(report: ReproduceReport) -> dict[str, Any]:
    """The report as JSON data (``reproduce --json`` and ``.modelver/report.json``), with ``complete`` included:
    JSON readers get the verdict, not only the exit code.

    Example:
        >>> report_json(report)["complete"]  # doctest: +SKIP
        True
    """
    return {**to_json_dict(report), "complete": report.complete}
