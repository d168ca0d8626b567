"""Reproduce a version: rebuild its source tree, environment and config in a directory, check its data, re-run it.

:func:`reproduce` turns what :func:`modelver.track` recorded back into a runnable training directory::

    DIR/                      the source tree exactly as the run started:
    │                           with git: a repository at the recorded commit (fetched from the recorded working
    │                           tree if it still exists, else from the recorded remote), the recorded branch name
    │                           and remote URL, the uncommitted diff applied with ``git apply --index``, and the
    │                           untracked files written back; without git: the source snapshot
    └── .modelver/            what modelver adds (listed in .git/info/exclude, so the re-run does not capture it)
        ├── requirements.txt  exact pins (``name==version``); editable installs as comments with where they lived
        ├── python-version    the recorded Python version (``3.11.7``)
        ├── config.json       the recorded config (its lossless encoding: plain JSON unless it holds tagged values)
        ├── config.yaml       the same, when PyYAML is installed
        ├── notebook.py       a notebook run's cells (with git; without git it is the snapshot, in DIR itself)
        ├── notebook.ipynb    the same cells as a notebook, when nbformat is installed
        ├── venv/             with ``venv=True``
        └── report.json       the :class:`ReproduceReport`

Every file written from the store is read back and checked against its recorded digest. Tracked files are checked
through git: the commit is content-addressed, and ``git diff HEAD`` of the rebuilt tree must equal the recorded
diff line for line (abbreviated blob ids compared as prefixes of the full ones, since the abbreviation length
depends on how many objects a repository holds).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import venv as venv_module
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from modelver.capture.code import DIFF_COMMAND, NOTEBOOK, NOTEBOOK_SOURCE, GitError, _Git
from modelver.capture.redact import REDACTED
from modelver.data.drift import DataCheck
from modelver.errors import IntegrityError, InvalidReferenceError, ReproduceError, StoreError
from modelver.registry.data_check import check_data
from modelver.registry.diff import VersionDiff, diff_manifests
from modelver.registry.model_version import ModelVersion, get, list_versions
from modelver.serde import to_json_dict
from modelver.store.digest import digest_algorithm, digest_bytes
from modelver.store.location import open_store
from modelver.store.objects import Store
from modelver.store.paths import validate_artifact_path

__all__ = ["NotInstalled", "ReproduceReport", "Unrestored", "reproduce"]

#: The directory inside DIR that holds what modelver adds next to the source tree.
META_DIR = ".modelver"

# Fetching a whole history from a remote can take long; a hung ssh prompt must not hang forever.
_FETCH_TIMEOUT_S = 1800.0
_GIT_TIMEOUT_S = 600.0
# A failing `pip install -r` names one requirement at a time; after this many retries the rest is reported whole.
_PIP_RETRIES = 20
_OUTPUT_TAIL_CHARS = 20_000
_INDEX_LINE = re.compile(rb"^index ([0-9a-f]+)\.\.([0-9a-f]+)((?: [0-7]+)?)$")
_PIP_FAILED = (
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
    re.compile(r"Failed to build (\S+)"),
    re.compile(r"Failed building wheel for (\S+)"),
    re.compile(r"Invalid requirement: '([^']+)'"),
)
_PIP_INSTALL = ("-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "--no-input")
_CELL_MARKER = re.compile(r"^# %% \[cell \d+\]\n", re.MULTILINE)
_CONFIG_SUFFIXES = (".json", ".yaml", ".yml")


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


def reproduce(
    ref: str,
    directory: str | os.PathLike[str],
    *,
    run: bool = False,
    venv: bool = False,
    inherit_packages: bool = False,
    capture_output: bool = True,
    store: str | os.PathLike[str] | Store | None = None,
) -> ReproduceReport:
    """Rebuild the code, environment and config a version was trained with in ``directory``; optionally re-run it.

    Code: with git, the recorded commit is fetched into a new repository in ``directory`` from the recorded
    working tree (``GitInfo.root``) if it still holds the commit, else from the recorded remote; the recorded branch
    name is checked out at it, the remote URL set to the recorded one, the uncommitted diff applied with
    ``git apply --index`` and the untracked files written back. Without git (or in a notebook) the source snapshot is
    written. Everything written is verified (see the module docstring); what could not be restored is listed.

    Environment: ``.modelver/requirements.txt`` with exact pins and ``.modelver/python-version``; ``venv=True``
    makes ``.modelver/venv`` (with ``pythonX.Y`` from PATH when the recorded minor version differs from this one)
    and installs the pins with ``pip install --no-deps`` (every dependency is pinned already), reporting the ones
    pip could not install. ``inherit_packages=True`` lets the venv see this interpreter's packages (a ``.pth``
    file), so only the packages that differ are installed: fast, and offline when nothing differs.

    Config: ``.modelver/config.json`` (and ``config.yaml`` with PyYAML); an argument of the recorded command line
    naming a ``.json``/``.yaml`` file that the rebuilt tree lacks gets the config written at that path, so the
    recorded command finds it.

    Data: :func:`modelver.check_data` at the recorded locations, and at the rebuilt copy of data that lay inside the
    recorded tree.

    Run: the recorded entrypoint with the recorded arguments, in ``directory`` (the repository's top level or the
    snapshot root), with the venv's Python if one was made, ``MODELVER_STORE`` set to this store. The script's own
    ``track()`` publishes a new version; the report holds it and its :class:`~modelver.VersionDiff` against the
    original. A notebook run re-executes its cells in a Jupyter kernel when nbclient is installed (else as a
    script).

    Args:
        ref: the version (``"name@1.2.0"``, ``"name"``, an alias, a digest prefix).
        directory: where to build; it must not exist or be empty.
        run: re-run the entrypoint after building.
        venv: make a virtual environment and install the requirements.
        inherit_packages: with ``venv``, let the venv see the packages of the interpreter running this.
        capture_output: keep the re-run's output in the report (else it goes to this process's stdout/stderr).
        store: the store (default: see ``modelver info``).

    Returns:
        A :class:`ReproduceReport`; ``.modelver/report.json`` in the directory holds the same as JSON.

    Raises:
        ReproduceError: the directory is not empty; the recorded commit cannot be fetched (the message names the
            commit, the working tree and the remote); the recorded diff does not apply; or ``run`` with no
            runnable entrypoint recorded.
        InvalidReferenceError, VersionNotFoundError, IntegrityError: see :func:`modelver.get`.
    """
    opened = open_store(store)
    version = get(ref, store=opened)
    target = Path(directory).absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ReproduceError(f"{target} exists and is not an empty directory; reproduce {version.ref} into a new one")
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    meta = target / META_DIR
    builder = _Builder(version, target, meta)
    try:
        builder.restore_code()
    except BaseException as exc:
        # Leave no half-built tree behind: the same command can be retried once the cause is fixed.
        _empty(target, remove=created)
        if isinstance(exc, GitError | subprocess.TimeoutExpired):
            git = version.manifest.code.git
            commit, remote = (git.commit, git.remote or "") if git is not None else ("", "")
            raise ReproduceError(
                f"git failed while rebuilding the tree of {version.ref} at commit {commit}: {exc}",
                commit=commit,
                remote=remote,
            ) from exc
        raise
    meta.mkdir(exist_ok=True)
    builder.write_environment()
    builder.write_config()
    builder.check_data()
    if venv:
        builder.make_venv(inherit_packages)
    if run:
        builder.run(capture_output)
    report = builder.report()
    (meta / "report.json").write_text(json.dumps(to_json_dict(report), indent=2, ensure_ascii=False) + "\n")
    return report


@attrs.define
class _Builder:
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

    # --- code ---------------------------------------------------------------------------------------------------

    def restore_code(self) -> None:
        code = self.version.manifest.code
        self.workdir = self.target
        if code.git is not None:
            self.code = "git"
            self._restore_git()
        if code.sources:
            self.code = "git" if code.git is not None else "snapshot"
            self._restore_sources()
        for message in code.errors:
            self.notes.append(f"the code capture reported: {message}")

    def _restore_git(self) -> None:
        info = self.version.manifest.code.git
        assert info is not None  # restore_code checks
        self.commit = info.commit
        git = _git(str(self.target), _GIT_TIMEOUT_S)
        git.run("init", "--quiet")
        exclude = self.target / ".git" / "info" / "exclude"
        exclude.parent.mkdir(parents=True, exist_ok=True)
        with exclude.open("a", encoding="utf-8") as handle:
            handle.write(f"\n# written by modelver reproduce\n/{META_DIR}/\n")
        self.fetched_from = self._fetch(info.commit, info.root, info.remote)
        if info.remote:
            git.run("remote", "add", "--", "origin", info.remote)
        checkout = ["--detach", info.commit] if info.branch is None else ["-B", info.branch, info.commit]
        git.run("-c", "advice.detachedHead=false", "checkout", "--quiet", *checkout)

        diff = self._blob(info.diff, "the recorded diff of tracked files") if info.diff else None
        if diff is not None:
            with tempfile.NamedTemporaryFile(suffix=".patch", delete=False) as patch:
                patch.write(diff)
            try:
                git.run("apply", "--index", "--whitespace=nowarn", patch.name)
            except GitError as exc:
                raise ReproduceError(
                    f"the recorded diff of {self.version.ref} does not apply to commit {info.commit} "
                    f"(remote {info.remote or 'none recorded'}): {exc}",
                    commit=info.commit,
                    remote=info.remote or "",
                ) from exc
            finally:
                os.unlink(patch.name)
        elif info.diff is not None:
            self.unrestored.append(
                Unrestored("(tracked changes)", "the recorded diff is missing or corrupt in the store")
            )
        elif any("diff of the tracked changes" in e for e in self.version.manifest.code.errors):
            self.unrestored.append(Unrestored("(tracked changes)", "the diff of tracked files was not recorded"))
        # Without the recorded diff the tree is the commit, not what ran: nothing to verify it against.
        lost = any(item.path == "(tracked changes)" for item in self.unrestored)
        self.tracked_verified = not lost and self._verify_tracked(git, diff if diff is not None else b"")

        for rel, digest in sorted(info.untracked.items()):
            if digest is None:
                self.unrestored.append(Unrestored(rel, _why_not_stored(rel)))
                continue
            self._write_verified(rel, digest, self.target, f"untracked file {rel}")

    def _fetch(self, commit: str, root: str | None, remote: str | None) -> str:
        """Fetch ``commit`` into the new repository; return where it came from."""
        git = _git(str(self.target), _FETCH_TIMEOUT_S)
        tried: list[str] = []
        sources = [s for s in (root if root and os.path.isdir(root) else None, remote) if s]
        for source in sources:
            if source.startswith("-"):
                # A manifest is data, possibly from a store others write to: a "remote" such as
                # `--upload-pack=<command>` would be an option of `git fetch` that runs a command.
                tried.append(f"{source}: refused, it would be read as an option of git")
                continue
            # By id first: the recorded working tree serves any object it holds (a commit since amended away
            # included), and most hosts serve commits reachable from a branch. Then every branch and tag.
            for refspecs in ([commit], ["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"]):
                try:
                    git.run("fetch", "--quiet", "--no-tags", "--", source, *refspecs)
                except (GitError, subprocess.TimeoutExpired, OSError) as exc:
                    tried.append(f"{source}: {exc}")
                    continue
                code, _ = git.run("cat-file", "-e", f"{commit}^{{commit}}", ok=(0, 1, 128))
                if code == 0:
                    return source
                tried.append(f"{source}: does not have it")
        if not root:
            local = "no working tree was recorded"
        elif not os.path.isdir(root):
            local = f"the working tree {root} no longer exists"
        else:
            local = f"the working tree {root} does not hold it"
        served = f"the remote {remote} does not serve it" if remote else "no remote was recorded"
        raise ReproduceError(
            f"cannot fetch commit {commit} of {self.version.ref}: {local}, and {served} "
            f"({'; '.join(tried) or 'nothing to try'}). Push the commit to the remote or restore the repository, "
            "then retry",
            commit=commit,
            remote=remote or "",
        )

    def _verify_tracked(self, git: _Git, recorded: bytes) -> bool:
        _, now = git.run(*DIFF_COMMAND, "--full-index", "HEAD", "--")
        if _same_patch(recorded, now):
            return True
        self.notes.append("the tracked files differ from the recorded state: `git diff HEAD` in the directory shows it")
        return False

    def _restore_sources(self) -> None:
        code = self.version.manifest.code
        info = code.git
        base = self.target
        notebook = code.entrypoint == NOTEBOOK
        if info is not None and code.root and info.root:
            inside = _relative_inside(code.root, info.root)
            # Sources outside the repository (an entrypoint outside it) cannot go in the tree: beside it, then.
            base = self.target / inside if inside is not None else self.meta / "sources"
        self.workdir = base
        for rel, digest in sorted(code.sources.items()):
            # With git the cells go beside the tree: in it, they would be an untracked file of the re-run.
            where = self.meta if notebook and rel == NOTEBOOK_SOURCE and info is not None else base
            self._write_verified(rel, digest, where, f"source {rel}")
        if notebook and NOTEBOOK_SOURCE in code.sources:
            self._write_notebook()

    def _write_notebook(self) -> None:
        nbformat = _optional("nbformat")
        if nbformat is None:
            return
        self.meta.mkdir(exist_ok=True)
        nbformat.write(_notebook(nbformat, self._notebook_text()), str(self.meta / "notebook.ipynb"))

    def _notebook_text(self) -> str:
        where = self.meta if self.version.manifest.code.git is not None else (self.workdir or self.target)
        return (where / NOTEBOOK_SOURCE).read_text(encoding="utf-8", errors="surrogateescape")

    def _write_verified(self, rel: str, digest: str, base: Path, what: str) -> None:
        try:
            validate_artifact_path(rel)
        except InvalidReferenceError as exc:
            self.unrestored.append(Unrestored(rel, f"refused path: {exc}"))
            return
        path = base.joinpath(*rel.split("/"))
        if rel.split("/")[0] == ".git" or not _is_inside(path.parent, self.target):
            self.unrestored.append(Unrestored(rel, "refused path: it would be written outside the source tree"))
            return
        data = self._blob(digest, what)
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

    def _blob(self, digest: str, what: str) -> bytes | None:
        try:
            return self.version.store.read_blob(digest)
        except (IntegrityError, StoreError) as exc:
            self.notes.append(f"{what} could not be read: {exc}")
            return None

    # --- environment and config ---------------------------------------------------------------------------------

    def write_environment(self) -> None:
        env = self.version.manifest.environment
        lines = [f"# the packages of {self.version.ref} ({self.version.digest}), Python {env.python}"]
        for name, version in sorted(env.packages.items()):
            if name in env.editable:
                note = f"{name}: {env.editable[name].url or 'unknown source'}"
                self.unpinned.append(note)
                lines.append(f"# {name}=={version} was an editable install of {env.editable[name].url}: install it")
                lines.append("#   from that source (pip install -e <path>); pip cannot pin it")
                continue
            self.requirements.append(f"{name}=={version}")
            lines.append(f"{name}=={version}")
        (self.meta / "requirements.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        (self.meta / "python-version").write_text(f"{env.python}\n", encoding="utf-8")
        for message in env.errors:
            self.notes.append(f"the environment capture reported: {message}")

    def write_config(self) -> None:
        config = self.version.manifest.config
        if isinstance(config, dict) and config.get("$type") == "blob":
            config = json.loads(self.version.store.read_blob(config["digest"]))
        if _tagged(config):
            self.notes.append(
                "the config holds values plain JSON cannot (tagged with $type): decode them with modelver.decode_config"
            )
        formats = {".json": _dump_json(config)}
        try:
            import yaml

            formats[".yaml"] = yaml.safe_dump(config, sort_keys=True, allow_unicode=True)
        except ImportError:
            pass
        except yaml.YAMLError as exc:
            self.notes.append(f"config.yaml not written: {exc}")
        for suffix, dumped in formats.items():
            (self.meta / f"config{suffix}").write_text(dumped, encoding="utf-8")
            self.config_files.append(f"{META_DIR}/config{suffix}")
        # The form the entrypoint took it in: a config file named on the command line that the tree lacks.
        workdir = self.workdir or self.target
        for arg in self.version.manifest.code.argv:
            candidate = arg.partition("=")[2] if arg.startswith("-") and "=" in arg else arg
            suffix = os.path.splitext(candidate)[1].lower()
            if suffix not in _CONFIG_SUFFIXES or os.path.isabs(candidate):
                continue
            path = workdir / candidate
            # A dangling symlink of the rebuilt tree does not "exist", and writing through it would land outside.
            outside = not _is_inside(path.parent, self.target) or ".." in Path(candidate).parts
            if path.exists() or path.is_symlink() or outside:
                continue
            text = formats.get(".yaml" if suffix == ".yml" else suffix)
            if text is None:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("x", encoding="utf-8") as handle:
                handle.write(text)
            rel = path.relative_to(self.target).as_posix()
            self.config_files.append(rel)
            self._exclude(rel)
            self.notes.append(f"{rel} is named on the recorded command line but was not recorded: written from config")

    def _exclude(self, rel: str) -> None:
        exclude = self.target / ".git" / "info" / "exclude"
        if exclude.parent.is_dir():
            with exclude.open("a", encoding="utf-8") as handle:
                handle.write(f"/{rel}\n")

    # --- data -------------------------------------------------------------------------------------------------

    def check_data(self) -> None:
        ref = f"{self.version.name}@{self.version.version}"
        if not self.version.manifest.data:
            return
        self.data = check_data(ref, store=self.version.store)
        # Data that lay inside the recorded tree (tracked, or an untracked file) was rebuilt with it: the re-run
        # reads that copy, so check it too.
        code = self.version.manifest.code
        trees = [(code.git.root, self.target)] if code.git is not None and code.git.root else []
        if code.root and code.sources:
            trees.append((code.root, self.workdir or self.target))
        for label, entry in sorted(self.version.manifest.data.items()):
            for recorded_root, rebuilt_root in trees:
                inside = _relative_inside(entry.uri, recorded_root) if os.path.isabs(entry.uri) else None
                if not inside:
                    continue
                copy = rebuilt_root / inside
                if copy.exists():
                    self.data.extend(check_data(ref, label=label, location=copy, store=self.version.store))
                break

    # --- venv -------------------------------------------------------------------------------------------------

    def make_venv(self, inherit: bool) -> None:
        recorded = self.version.manifest.environment.python
        wanted = ".".join(recorded.split(".")[:2])
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        location = self.meta / "venv"
        python = None if not wanted or wanted == here else shutil.which(f"python{wanted}")
        if wanted and wanted != here and python is None:
            self.notes.append(f"the run used Python {recorded}; no python{wanted} on PATH, so the venv uses {here}")
        if python is not None and inherit:
            self.notes.append(f"packages are not inherited: this interpreter is Python {here}, the venv {wanted}")
            inherit = False
        venv_python = _venv_python(location)
        try:
            if python is None:
                venv_module.EnvBuilder(with_pip=not inherit, symlinks=os.name != "nt").create(location)
            else:
                subprocess.run([python, "-m", "venv", str(location)], check=True, capture_output=True)
            if inherit:
                self._inherit(venv_python)
        except (OSError, subprocess.CalledProcessError) as exc:
            reason = f"the virtual environment could not be made: {exc}"
            self.not_installed.extend(NotInstalled(requirement, reason) for requirement in self.requirements)
            return
        self.venv = location
        result = subprocess.run(
            [str(venv_python), "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
        )
        self.python_used = result.stdout.strip()
        self.not_installed.extend(NotInstalled(note.split(":", 1)[0], "editable install") for note in self.unpinned)
        self._pip_install(venv_python)

    def _inherit(self, venv_python: Path) -> None:
        """Add this interpreter's site directories to the venv, .pth files (editable installs) included."""
        result = subprocess.run(
            [str(venv_python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        )
        paths = [p for p in _site_dirs() if os.path.isdir(p)]
        line = "import site; " + "; ".join(f"site.addsitedir({p!r})" for p in paths)
        Path(result.stdout.strip(), "_modelver_inherit.pth").write_text(line + "\n", encoding="utf-8")

    def _pip_install(self, venv_python: Path) -> None:
        """Install the pins; pip stops at the first failure and names it, so drop that one and go again."""
        pending = list(self.requirements)
        attempts = 0
        while pending:
            if attempts == _PIP_RETRIES:
                reason = f"not attempted: pip failed {attempts} times first (install the rest from requirements.txt)"
                self.not_installed.extend(NotInstalled(r, reason) for r in pending)
                return
            attempts += 1
            with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as handle:
                handle.write("\n".join(pending) + "\n")
            try:
                result = subprocess.run(
                    [str(venv_python), *_PIP_INSTALL, "-r", handle.name], capture_output=True, text=True
                )
            finally:
                os.unlink(handle.name)
            if result.returncode == 0:
                return
            output = result.stdout + result.stderr
            failed = _pip_failure(output, pending)
            if failed is None:
                tail = " / ".join(output.strip().splitlines()[-3:])
                reason = f"pip failed and its message names no single requirement: {tail}"
                self.not_installed.extend(NotInstalled(r, reason) for r in pending)
                return
            self.not_installed.append(NotInstalled(*failed))
            pending.remove(failed[0])

    # --- run --------------------------------------------------------------------------------------------------

    def run(self, capture_output: bool) -> None:
        code = self.version.manifest.code
        entry = code.entrypoint
        workdir = self.workdir or self.target
        python = str(_venv_python(self.venv)) if self.venv is not None else sys.executable
        if entry is None or (entry.startswith("<") and entry != NOTEBOOK):
            raise ReproduceError(
                f"{self.version.ref} recorded no script to re-run (entrypoint {entry or 'unknown'}); the directory "
                f"{self.target} is built, run the training yourself",
                commit=self.commit or "",
            )
        if any(REDACTED in arg for arg in code.argv):
            self.notes.append("some recorded arguments were redacted (secrets): the re-run gets the placeholder")
        env = {**os.environ, "MODELVER_STORE": self.version.store.url}
        before = {tag.version for tag in list_versions(self.version.name, store=self.version.store)}
        if entry == NOTEBOOK:
            self._run_notebook(python, workdir, env, capture_output)
        else:
            script = Path(entry) if os.path.isabs(entry) else workdir.joinpath(*entry.split("/"))
            self.command = (python, str(script), *code.argv)
            result = subprocess.run(self.command, cwd=workdir, env=env, capture_output=capture_output, text=True)
            self.returncode = result.returncode
            if capture_output:
                self.output = (result.stdout + result.stderr)[-_OUTPUT_TAIL_CHARS:]
        after = list_versions(self.version.name, store=self.version.store)
        new = [tag for tag in after if tag.version not in before]
        if not new:
            self.notes.append(f"the re-run published no new version of {self.version.name}")
            return
        latest = get(f"{self.version.name}@{new[-1].version}", store=self.version.store)
        self.new_version = latest.ref
        self.diff = diff_manifests(self.version, latest)

    def _run_notebook(self, python: str, workdir: Path, env: dict[str, str], capture_output: bool) -> None:
        text = self._notebook_text()
        nbclient, nbformat = _optional("nbclient"), _optional("nbformat")
        if nbclient is None or nbformat is None or self.venv is not None:
            # A venv's interpreter is not the kernel nbclient would start: run the cells as a script in it.
            in_meta = self.version.manifest.code.git is not None
            script = (self.meta if in_meta else workdir) / NOTEBOOK_SOURCE
            self.command = (python, str(script))
            result = subprocess.run(self.command, cwd=workdir, env=env, capture_output=capture_output, text=True)
            self.returncode = result.returncode
            if capture_output:
                self.output = (result.stdout + result.stderr)[-_OUTPUT_TAIL_CHARS:]
            return
        book = _notebook(nbformat, text)
        self.command = ("jupyter-kernel", "python3", str(self.meta / "notebook.ipynb"))
        client = nbclient.NotebookClient(
            book, kernel_name="python3", timeout=None, resources={"metadata": {"path": str(workdir)}}
        )
        try:
            client.execute(env=env)
        except nbclient.exceptions.CellExecutionError as exc:
            self.returncode = 1
            self.output = str(exc)[-_OUTPUT_TAIL_CHARS:]
            return
        self.returncode = 0
        if capture_output:
            printed = "".join(output.get("text", "") for cell in book.cells for output in cell.get("outputs", ()))
            self.output = printed[-_OUTPUT_TAIL_CHARS:]

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


# --- helpers ------------------------------------------------------------------------------------------------------


def _git(directory: str, timeout_s: float) -> _Git:
    executable = shutil.which("git")
    if executable is None:
        raise ReproduceError("the version was recorded with git, and rebuilding its tree needs git on PATH")
    git = _Git(executable, directory, timeout_s)
    # An ssh remote must fail rather than wait for a host-key or passphrase prompt nobody answers.
    git.env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    # The recorded remote comes from a manifest: only transports that move data, never `ext::` (runs a command)
    # or a remote helper a user's config may have enabled.
    git.env["GIT_ALLOW_PROTOCOL"] = "file:git:http:https:ssh"
    return git


def _empty(directory: Path, *, remove: bool) -> None:
    if remove:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _same_patch(recorded: bytes, full_index: bytes) -> bool:
    """Whether two ``git diff`` outputs are the same patch, the second made with ``--full-index``."""
    left, right = recorded.split(b"\n"), full_index.split(b"\n")
    if len(left) != len(right):
        return False
    for a, b in zip(left, right, strict=True):
        if a == b:
            continue
        ma, mb = _INDEX_LINE.match(a), _INDEX_LINE.match(b)
        if ma is None or mb is None:
            return False
        if not (mb[1].startswith(ma[1]) and mb[2].startswith(ma[2]) and ma[3] == mb[3]):
            return False
    return True


def _why_not_stored(rel: str) -> str:
    if rel.endswith("/"):
        return "a nested repository: its files were not recorded"
    return "its content was not stored at capture time (over the size limit, a secret-looking name, or not a file)"


def _relative_inside(path: str, root: str) -> str | None:
    rel = os.path.relpath(os.path.realpath(path), os.path.realpath(root))
    if rel == os.curdir:
        return ""
    return None if rel.startswith(os.pardir) or os.path.isabs(rel) else rel


def _is_inside(path: Path, root: Path) -> bool:
    """Whether ``path`` resolves (symlinks followed) to ``root`` or a directory under it."""
    real, top = os.path.realpath(path), os.path.realpath(root)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def _optional(module: str) -> Any:
    """An optional dependency, or ``None`` when it is not installed (typed ``Any``: these ship no stubs)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _notebook(nbformat: Any, text: str) -> Any:
    book = nbformat.v4.new_notebook()
    book.cells = [nbformat.v4.new_code_cell(cell) for cell in _notebook_cells(text)]
    return book


def _notebook_cells(text: str) -> list[str]:
    """Split the recorded ``# %% [cell N]`` cells back into cell sources."""
    parts = _CELL_MARKER.split(text)
    return [part.rstrip("\n") for part in parts[1:]] if len(parts) > 1 else [text]


def _tagged(value: Any) -> bool:
    if isinstance(value, dict):
        return "$type" in value or any(_tagged(v) for v in value.values())
    if isinstance(value, list):
        return any(_tagged(v) for v in value)
    return False


def _dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _venv_python(location: Path) -> Path:
    return location / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _site_dirs() -> list[str]:
    import site
    import sysconfig

    paths = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    paths.update(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    return sorted(paths)


def _pip_failure(output: str, pending: Sequence[str]) -> tuple[str, str] | None:
    """The pending requirement pip's output names as failed, and the line that says so."""
    for pattern in _PIP_FAILED:
        match = pattern.search(output)
        if match is None:
            continue
        named = match.group(1).strip("'\"")
        for requirement in pending:
            name = requirement.split("==", 1)[0]
            if named == requirement or _canonical(named.split("==", 1)[0]) == _canonical(name):
                line = next((ln for ln in output.splitlines() if match.group(0) in ln), match.group(0))
                return requirement, line.strip().removeprefix("ERROR: ")
    return None


def _canonical(name: str) -> str:
    """PEP 503 normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()
