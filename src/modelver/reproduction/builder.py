"""The state of one reproduction (:class:`Builder`), filled step by step by the other modules of this package, with
the verified writes of recorded files into the directory being built and the report made from it; also where that
directory keeps what modelver adds (:data:`META_DIR`) and the path checks the steps share.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePosixPath

import attrs

from modelver.data.drift import DataCheck
from modelver.errors import IntegrityError, InvalidReferenceError, StoreError
from modelver.registry.diff import VersionDiff
from modelver.registry.model_version import ModelVersion
from modelver.reproduction.report import NotInstalled, ReproduceReport, Unrestored
from modelver.store.digest import digest_algorithm, digest_bytes
from modelver.store.paths import validate_artifact_path

#: The directory inside DIR that holds what modelver adds next to the source tree.
META_DIR = ".modelver"


@attrs.define
class Builder:
    """The state of one reproduction, filled step by step."""

    version: ModelVersion
    target: Path
    meta: Path
    code: str = "none"
    commit: str | None = None
    fetched_from: str | None = None
    restored: list[str] = attrs.field(factory=list)
    unrestored: list[Unrestored] = attrs.field(factory=list)
    tracked_verified: bool | None = None
    requirements: list[str] = attrs.field(factory=list)
    unpinned: list[str] = attrs.field(factory=list)
    python_used: str = ""
    config_files: list[str] = attrs.field(factory=list)
    data: list[DataCheck] = attrs.field(factory=list)
    venv: Path | None = None
    not_installed: list[NotInstalled] = attrs.field(factory=list)
    command: tuple[str, ...] = ()
    returncode: int | None = None
    output: str = ""
    new_version: str | None = None
    diff: VersionDiff | None = None
    notes: list[str] = attrs.field(factory=list)
    #: The directory the run starts in and the snapshot's relative paths start from.
    workdir: Path | None = None

    # --- verified writes ----------------------------------------------------------------------------------------

    def write_verified(self, rel: str, digest: str, base: Path, what: str) -> None:
        try:
            validate_artifact_path(rel)
        except InvalidReferenceError as exc:
            self.unrestored.append(Unrestored(rel, f"refused path: {exc}"))
            return
        path = base.joinpath(*rel.split("/"))
        if rel.split("/")[0] == ".git" or not is_inside(path.parent, self.target):
            self.unrestored.append(Unrestored(rel, "refused path: it would be written outside the source tree"))
            return
        data = self.blob(digest, what)
        if data is None:
            self.unrestored.append(Unrestored(rel, f"{what} is missing or corrupt in the store"))
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("xb") as handle:
                handle.write(data)
            written = path.read_bytes()
        except OSError as exc:
            self.unrestored.append(Unrestored(rel, f"not written: {exc}"))
            return
        if digest_bytes(written, digest_algorithm(digest)) != digest:
            self.unrestored.append(Unrestored(rel, "the written file does not match its recorded digest"))
            return
        self.restored.append(PurePosixPath(path.relative_to(self.target).as_posix()).as_posix())

    def blob(self, digest: str, what: str) -> bytes | None:
        try:
            return self.version.store.read_blob(digest)
        except (IntegrityError, StoreError) as exc:
            self.notes.append(f"{what} could not be read: {exc}")
            return None

    # --- report -----------------------------------------------------------------------------------------------

    def report(self) -> ReproduceReport:
        return ReproduceReport(
            ref=self.version.ref,
            digest=self.version.digest,
            directory=str(self.target),
            code=self.code,
            commit=self.commit,
            fetched_from=self.fetched_from,
            restored=tuple(self.restored),
            unrestored=tuple(self.unrestored),
            tracked_verified=self.tracked_verified,
            requirements=tuple(self.requirements),
            unpinned=tuple(self.unpinned),
            python=self.version.manifest.environment.python,
            python_used=self.python_used or (sys.version.split()[0] if self.returncode is not None else ""),
            config_files=tuple(self.config_files),
            data=tuple(self.data),
            venv=str(self.venv) if self.venv is not None else None,
            not_installed=tuple(self.not_installed),
            command=self.command,
            returncode=self.returncode,
            output=self.output,
            new_version=self.new_version,
            diff=self.diff,
            notes=tuple(self.notes),
        )


def relative_inside(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` after resolving links, ``""`` for root itself, ``None`` when outside."""
    rel = os.path.relpath(os.path.realpath(path), os.path.realpath(root))
    if rel == os.curdir:
        return ""
    return None if rel.startswith(os.pardir) or os.path.isabs(rel) else rel


def is_inside(path: Path, root: Path) -> bool:
    """Whether ``path`` resolves (symlinks followed) to ``root`` or a directory under it."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)
