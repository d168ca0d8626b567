"""Capture of the code that ran: the git state of its repository, or a snapshot of its sources.

:func:`capture_code` is called when a run starts, so it stays cheap: four to six short git subprocesses, reads of
the untracked files that are small, and no hashing of tracked files (the commit already names them). It never
raises, because tracking must never break training: every failure becomes a message in :attr:`CodeFacet.errors`
and a :class:`~modelver.manifest.CaptureErrorRecord` for the run.

What is recorded (docs/architecture.md, "code"):

- with git: the commit, branch, whether the tree was dirty, ``git diff --binary HEAD`` as a blob (staged and
  unstaged changes of tracked files, appliable with ``git apply``), the untracked files with their content, the
  remote without credentials, and the entrypoint relative to the repository's top level;
- without git (no executable, no repository, a repository git refuses or that has no commit yet): a snapshot of
  the entrypoint and every local module imported so far, relative to their common directory;
- in a notebook: the executed cells as one ``notebook.py`` blob, plus git when the working directory is in a
  repository.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Callable, Collection, Iterable
from pathlib import PurePath
from typing import IO, Any

import attrs

from modelver.capture.redact import redact_argv, strip_url_credentials
from modelver.manifest import CaptureErrorRecord, CodeFacet, GitInfo

__all__ = ["capture_code", "find_git_root"]

#: The ``entrypoint`` recorded for IPython and Jupyter sessions.
NOTEBOOK = "<notebook>"
#: The ``sources`` key of the executed notebook cells.
NOTEBOOK_SOURCE = "notebook.py"

# Caps that keep a run start fast whatever the working tree holds. They are not parameters: a capture that hits
# one records an error saying which, and the fix is a .gitignore entry, not a bigger cap.
_SNAPSHOT_MAX_FILES = 500
_SNAPSHOT_MAX_BYTES = 20 << 20
_UNTRACKED_MAX_FILES = 1000
_UNTRACKED_MAX_BYTES = 32 << 20
_DIFF_MAX_BYTES = 64 << 20
# A store that is down would otherwise add one message per file.
_MAX_ERRORS = 20
_READ_CHUNK = 1 << 16

# Untracked files whose names usually hold secrets: listed, never stored (docs/architecture.md, "Safety").
# "token" is left out on purpose: tokenizer.json and friends are ordinary ML files.
_SECRET_FILE_PATTERNS = (
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.kdbx",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    "_netrc",
    ".envrc",
    ".pgpass",
    "*.tfvars",
    "*.tfstate",
    "kubeconfig*",
    ".dockercfg",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    ".htpasswd",
    "credentials*",
    "*secret*",
)

# Variables that point git at another repository or index than the one found here (a git hook running the
# training script sets GIT_DIR and GIT_INDEX_FILE, for one); the capture must describe the repository it found.
_GIT_LOCATION_VARS = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
)


class GitError(RuntimeError):
    """git ran but failed, refused the repository, or its answer cannot be recorded."""


class CaptureLimitError(RuntimeError):
    """A cap on what the code capture stores was reached (its message names the cap)."""


def capture_code(
    *,
    put_blob: Callable[[bytes], str],
    entrypoint: str | None = None,
    cwd: str | None = None,
    untracked_limit_bytes: int = 1 << 20,
    git_timeout_s: float = 10.0,
) -> tuple[CodeFacet, list[CaptureErrorRecord]]:
    """Record what code is running: git state, or a snapshot of the sources when git cannot say.

    The repository is found by searching upward for ``.git`` from the entrypoint's directory, so
    ``cd repo/src && python train.py`` and ``cd repo && python -m src.train`` record the same commit and the
    entrypoint ``src/train.py``. ``cwd`` is searched only when there is no entrypoint file (``python -c``, a REPL)
    or the entrypoint is an installed console script (under ``sys.prefix``): a script outside any repository is
    snapshotted, whatever directory it was started from. With git, ``sources`` stays empty unless the entrypoint
    lies outside the repository (then the entrypoint and the local modules are snapshotted as without git).

    Args:
        put_blob: stores bytes content-addressed and returns their digest (``"blake3:<hex>"``); the diff, the
            untracked files and the snapshot go through it.
        entrypoint: path of the script that runs (absolute, or relative to ``cwd``), or ``"<notebook>"``.
            Default: ``__main__.__file__`` (covers ``python train.py`` and ``python -m pkg.mod``), else
            ``sys.argv[0]``; ``"<notebook>"`` in IPython and Jupyter.
        cwd: the working directory to resolve a relative entrypoint against and to search for a repository
            from when the entrypoint's directory is not in one. Default: :func:`os.getcwd`.
        untracked_limit_bytes: untracked files larger than this many bytes are listed with the digest ``None``
            and their content is not stored. ``None`` also marks untracked files whose names usually hold
            secrets (``.env``, ``*.pem``, ``*secret*``, ...; never stored), nested repositories (``"dir/"``),
            special files, and files the store failed to take.
        git_timeout_s: timeout in seconds of each git subprocess.

    Returns:
        The code facet, and one ``CaptureErrorRecord(facet="code", ...)`` per failure (the same messages as
        ``CodeFacet.errors``). Nothing is raised.
    """
    errors = _Errors()
    try:
        facet = _capture(
            put_blob=put_blob,
            entrypoint=entrypoint,
            cwd=cwd,
            untracked_limit_bytes=untracked_limit_bytes,
            git_timeout_s=git_timeout_s,
            errors=errors,
        )
    except Exception as exc:  # the promise is that tracking never breaks training
        errors.add(exc, f"code capture failed: {exc}")
        facet = CodeFacet()
    records = errors.finish()
    return attrs.evolve(facet, errors=tuple(r.message for r in records)), records


def _is_installed_script(path: str) -> bool:
    """Whether ``path`` lies in this interpreter's installation (a venv's ``bin/``, site-packages)."""
    return _is_under_any(path, {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})


def find_git_root(start: str) -> str | None:
    """Return the nearest directory at or above ``start`` that holds a ``.git`` entry, or ``None``.

    ``.git`` counts as a directory (a normal repository) or a file (a worktree or submodule: git itself reads
    the ``gitdir:`` line). Only the file system is looked at; whether git accepts the repository is found out
    when git runs.
    """
    current = os.path.abspath(start)
    while True:
        if os.path.lexists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


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


def _capture(
    *,
    put_blob: Callable[[bytes], str],
    entrypoint: str | None,
    cwd: str | None,
    untracked_limit_bytes: int,
    git_timeout_s: float,
    errors: _Errors,
) -> CodeFacet:
    cwd = os.path.abspath(cwd if cwd is not None else os.getcwd())
    shell = _ipython_shell() if entrypoint is None else None
    if entrypoint is None:
        entrypoint = NOTEBOOK if shell is not None else _detect_entrypoint()
    notebook = entrypoint == NOTEBOOK
    # A kernel's argv is its connection file, not arguments of the user's code.
    argv = () if notebook else redact_argv(sys.argv[1:])
    # The real path, because git reports its top level with symlinks resolved.
    candidate = os.path.join(cwd, entrypoint)
    entry_path = None if notebook or not os.path.isfile(candidate) else os.path.realpath(candidate)

    if entry_path is None:
        starts = [cwd]
    elif _is_installed_script(entry_path):
        # A console script of an (often editable) install: the code it runs is the package, so the repository the
        # user works in is the one to record.
        starts = [os.path.dirname(entry_path), cwd]
    else:
        # A script of the user's own: the repository it lives in, or none. The working directory's repository is
        # not what ran (`cd proj && python /tmp/other.py` imports nothing from proj), so it is not recorded.
        starts = [os.path.dirname(entry_path)]
    git = _capture_git(starts, put_blob, untracked_limit_bytes, git_timeout_s, errors)

    sources: dict[str, str] = {}
    root: str | None = None
    recorded_entrypoint = entrypoint
    if entry_path is not None and git is not None and git.root is not None and _is_under(entry_path, git.root):
        recorded_entrypoint = _relative_posix(entry_path, git.root)
    elif git is None or entry_path is not None:
        # Git cannot say what ran: no repository, refused, or the entrypoint lies outside the repository.
        sources, root = _snapshot(entry_path, cwd, put_blob, errors)
        if entry_path is not None:
            if root is not None and _is_under(entry_path, root):
                recorded_entrypoint = _relative_posix(entry_path, root)
            else:  # an installed console script, say: not part of the snapshot
                recorded_entrypoint = _posix(entry_path)

    if notebook:
        if root is None:
            root = cwd
        cells = _notebook_cells(shell if shell is not None else _ipython_shell())
        if cells is None:
            errors.add(RuntimeError("no IPython shell"), "entrypoint is <notebook> but no IPython shell is running")
        else:
            digest = _put(put_blob, cells.encode("utf-8", "surrogateescape"), "the notebook cells", errors)
            if digest is not None:
                sources[NOTEBOOK_SOURCE] = digest

    return CodeFacet(
        git=git,
        entrypoint=recorded_entrypoint,
        argv=argv,
        sources=dict(sorted(sources.items())),
        root=root,
    )


# --- entrypoint -------------------------------------------------------------------------------------------------


def _detect_entrypoint() -> str:
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if isinstance(main_file, str) and main_file:
        return main_file
    argv0 = sys.argv[0] if sys.argv else ""
    # What CPython puts in argv[0] when there is no script file.
    return {"-c": "<command>", "-": "<stdin>", "": "<interactive>"}.get(argv0, argv0)


def _ipython_shell() -> Any:
    """The running IPython shell, without importing IPython when the process has not (it is slow to import)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file:
        return None
    try:
        return ipython.get_ipython()
    except Exception:  # a broken IPython means "not a notebook", not a failed run
        return None


def _notebook_cells(shell: Any) -> str | None:
    if shell is None:
        return None
    cells = shell.user_ns.get("In") if isinstance(getattr(shell, "user_ns", None), dict) else None
    if not isinstance(cells, list):
        cells = list(getattr(getattr(shell, "history_manager", None), "input_hist_raw", None) or [])
    # In[0] is an empty placeholder, so the list index is the execution count the notebook shows.
    return "".join(
        f"# %% [cell {number}]\n{source.rstrip()}\n\n"
        for number, source in enumerate(cells)
        if isinstance(source, str) and source.strip()
    )


# --- git --------------------------------------------------------------------------------------------------------


def _capture_git(
    starts: Iterable[str],
    put_blob: Callable[[bytes], str],
    untracked_limit_bytes: int,
    timeout_s: float,
    errors: _Errors,
) -> GitInfo | None:
    repo = next((found for start in starts if (found := find_git_root(start)) is not None), None)
    if repo is None:
        return None
    executable = shutil.which("git")
    if executable is None:
        errors.add(
            FileNotFoundError("git"),
            f"found a git repository at {repo} but no git executable on PATH; recorded a source snapshot instead",
        )
        return None
    try:
        return _describe(_Git(executable, repo, timeout_s), put_blob, untracked_limit_bytes, errors)
    except (GitError, CaptureLimitError, subprocess.TimeoutExpired, OSError, UnicodeError) as exc:
        errors.add(exc, f"git could not describe the repository at {repo}: {exc}; recorded a source snapshot instead")
        return None


@attrs.define
class _Git:
    """Runs git on one repository, with a timeout per call and without taking optional locks."""

    executable: str
    directory: str
    timeout_s: float
    env: dict[str, str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS}
        # A concurrent `git commit` by the user must not fail on a lock held by our `git status`.
        env["GIT_OPTIONAL_LOCKS"] = "0"
        env["GIT_TERMINAL_PROMPT"] = "0"
        self.env = env

    def run(self, *args: str, ok: Collection[int] = (0,), limit: int | None = None) -> tuple[int, bytes]:
        """Run ``git -C <directory> *args``; return the exit code (one of ``ok``) and stdout.

        Raises:
            GitError: git exited with a code outside ``ok``.
            CaptureLimitError: stdout exceeded ``limit`` bytes (git is killed).
            subprocess.TimeoutExpired: git ran longer than the timeout (git is killed).
        """
        command = [self.executable, "-C", self.directory, *args]
        fired = threading.Event()
        # stderr goes to a file so that a chatty git cannot fill a pipe we are not reading and hang.
        with (
            tempfile.TemporaryFile() as stderr,
            subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, env=self.env
            ) as process,
        ):

            def kill() -> None:
                fired.set()
                process.kill()

            timer = threading.Timer(self.timeout_s, kill)
            timer.start()
            try:
                assert process.stdout is not None  # stdout=PIPE above
                output = _read_capped(process.stdout, limit)
                if output is None:
                    process.kill()
                    raise CaptureLimitError(f"`git {' '.join(args)}` printed more than {limit} bytes")
                code = process.wait()
            finally:
                timer.cancel()
                if process.poll() is None:
                    process.kill()
            if fired.is_set():
                raise subprocess.TimeoutExpired(command, self.timeout_s)
            if code not in ok:
                stderr.seek(0)
                message = stderr.read().decode("utf-8", "replace").strip() or f"exit status {code}"
                raise GitError(f"`git {' '.join(args)}` failed: {message}")
        return code, output


def _read_capped(stream: IO[bytes], limit: int | None) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(_READ_CHUNK):
        size += len(chunk)
        if limit is not None and size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _describe(git: _Git, put_blob: Callable[[bytes], str], untracked_limit_bytes: int, errors: _Errors) -> GitInfo:
    # One call learns the top level and whether git accepts the repository at all ("dubious ownership", a broken
    # .git file) before anything else runs.
    _, out = git.run("rev-parse", "--show-toplevel", "--is-shallow-repository")
    lines = out.decode("utf-8", "surrogateescape").splitlines()
    if not lines or not lines[0]:
        raise GitError(f"{git.directory} has no working tree (a bare repository?)")
    top = os.path.realpath(lines[0])
    shallow = len(lines) > 1 and lines[1].strip() == "true"
    git = attrs.evolve(git, directory=top)

    code, out = git.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", ok=(0, 1))
    if code != 0:
        raise GitError(f"HEAD of {top} names no commit (a repository with no commits yet?)")
    commit = out.decode("ascii").strip()

    code, out = git.run("symbolic-ref", "--quiet", "--short", "HEAD", ok=(0, 1))
    branch = out.decode("utf-8", "replace").strip() if code == 0 else None

    _, out = git.run("status", "--porcelain=v1", "-z", "--untracked-files=all")
    tracked_changed, untracked_paths = _parse_status(out)

    diff = None
    if tracked_changed:
        diff = _capture_diff(git, put_blob, errors)

    return GitInfo(
        commit=commit,
        branch=branch,
        detached=branch is None,
        dirty=tracked_changed or bool(untracked_paths),
        remote=_remote(git, errors),
        diff=diff,
        untracked=_store_untracked(top, untracked_paths, put_blob, untracked_limit_bytes, errors),
        shallow=shallow,
        root=top,
    )


def _parse_status(output: bytes) -> tuple[bool, list[bytes]]:
    """Split ``status --porcelain=v1 -z`` into (any tracked change, untracked paths)."""
    tracked_changed = False
    untracked: list[bytes] = []
    entries = iter(output.split(b"\0"))
    for entry in entries:
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code == b"??":
            untracked.append(path)
            continue
        tracked_changed = True
        if code[:1] in b"RC":
            next(entries, None)  # the rename or copy source follows as its own NUL-terminated field
    return tracked_changed, untracked


#: ``git diff`` with fixed options, so that the user's config (diff.noprefix, color.diff=always, textconv drivers, an
#: external diff tool) cannot turn the patch into something ``git apply`` rejects; reproduce compares with the same.
DIFF_COMMAND = (
    "diff",
    "--binary",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)


def _capture_diff(git: _Git, put_blob: Callable[[bytes], str], errors: _Errors) -> str | None:
    try:
        _, patch = git.run(*DIFF_COMMAND, "HEAD", "--", limit=_DIFF_MAX_BYTES)
    except (GitError, CaptureLimitError, subprocess.TimeoutExpired, OSError) as exc:
        errors.add(exc, f"the diff of the tracked changes was not recorded: {exc}")
        return None
    if not patch:
        return None
    return _put(put_blob, patch, "the diff of the tracked changes", errors)


def _remote(git: _Git, errors: _Errors) -> str | None:
    try:
        code, out = git.run("config", "-z", "--get-regexp", r"^remote\..*\.url$", ok=(0, 1))
    except (GitError, subprocess.TimeoutExpired, OSError) as exc:
        errors.add(exc, f"the git remote was not recorded: {exc}")
        return None
    if code != 0:
        return None
    urls: dict[str, str] = {}
    for entry in out.split(b"\0"):
        key, sep, value = entry.decode("utf-8", "replace").partition("\n")
        if sep:
            # Remote names may contain dots, so strip the fixed prefix and suffix rather than split.
            urls.setdefault(key[len("remote.") : -len(".url")], value)
    if not urls:
        return None
    url = urls.get("origin", next(iter(urls.values())))
    return strip_url_credentials(url)


def _store_untracked(
    top: str,
    paths: list[bytes],
    put_blob: Callable[[bytes], str],
    limit_bytes: int,
    errors: _Errors,
) -> dict[str, str | None]:
    decoded = sorted(os.fsdecode(p) for p in paths)
    if len(decoded) > _UNTRACKED_MAX_FILES:
        errors.add(
            CaptureLimitError(str(_UNTRACKED_MAX_FILES)),
            f"{len(decoded)} untracked files; recorded the first {_UNTRACKED_MAX_FILES} only "
            "(add the rest to .gitignore)",
        )
        decoded = decoded[:_UNTRACKED_MAX_FILES]
    result: dict[str, str | None] = {}
    stored_bytes = 0
    total_capped = False
    for rel in decoded:
        if not _json_safe(rel):
            errors.add(UnicodeError(rel), f"untracked file {rel!r} skipped: its name is not valid UTF-8")
            continue
        path = os.path.join(top, rel)
        result[rel] = None
        # A nested repository shows as "dir/"; its files are its own repository's business.
        if rel.endswith("/") or _looks_secret(rel):
            continue
        try:
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                # Like git, record the link itself: following it could read outside the repository.
                data = os.fsencode(os.readlink(path))
            elif stat.S_ISREG(info.st_mode) and info.st_size <= limit_bytes:
                if stored_bytes + info.st_size > _UNTRACKED_MAX_BYTES:
                    total_capped = True
                    continue
                with open(path, "rb") as handle:
                    data = handle.read(limit_bytes + 1)
                if len(data) > limit_bytes:  # grew since lstat
                    continue
            else:
                continue
        except OSError as exc:
            errors.add(exc, f"untracked file {rel} not stored: {exc}")
            continue
        stored_bytes += len(data)
        result[rel] = _put(put_blob, data, f"untracked file {rel}", errors)
    if total_capped:
        errors.add(
            CaptureLimitError(str(_UNTRACKED_MAX_BYTES)),
            f"untracked files over {_UNTRACKED_MAX_BYTES} bytes in total; the rest are listed without content",
        )
    return result


def _looks_secret(rel: str) -> bool:
    name = rel.rsplit("/", 1)[-1].lower()
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _SECRET_FILE_PATTERNS)


# --- source snapshot --------------------------------------------------------------------------------------------


def _snapshot(
    entry_path: str | None, cwd: str, put_blob: Callable[[bytes], str], errors: _Errors
) -> tuple[dict[str, str], str | None]:
    """Store the entrypoint and the local modules imported so far; return ``(sources, root)``."""
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
        digest = _put(put_blob, data, f"source {rel}", errors)
        if digest is not None:
            sources[rel] = digest
    return sources, root


def _excluded_roots(anchor: str) -> list[str]:
    """Directories whose modules are not "local": the interpreter's, installed packages', modelver's own."""
    lib_keys = ("stdlib", "platstdlib", "purelib", "platlib")
    roots: set[str] = set()
    bases = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix}
    for paths in (sysconfig.get_paths(), sysconfig.get_paths(vars=bases)):
        roots.update(paths[key] for key in lib_keys if key in paths)
    # A prefix that holds the entrypoint is a project, not an installation (Debian's prefix /usr with the app in
    # /usr/src/app): only its library directories, added above, are excluded then.
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}:
        if not _is_under(anchor, prefix):
            roots.add(prefix)
    # modelver itself (this file is in modelver/capture/) is never the user's code.
    roots.add(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return sorted({os.path.abspath(r) for r in roots} | {os.path.realpath(r) for r in roots})


def _local_module_files(excluded: list[str]) -> set[str]:
    files: set[str] = set()
    # A copy: another thread may import while we iterate.
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if not isinstance(name, str) or not name.endswith(".py"):
            continue
        # The cheap string test first; realpath costs a few system calls per path component.
        path = os.path.abspath(name)
        if _is_installed(path) or _is_under_any(path, excluded):
            continue
        path = os.path.realpath(path)
        if _is_installed(path) or _is_under_any(path, excluded) or not os.path.isfile(path):
            continue
        files.add(path)
    return files


def _is_installed(path: str) -> bool:
    # A string test, not PurePath.parts: this runs for every module of a process that may have imported thousands.
    return f"{os.sep}site-packages{os.sep}" in path or f"{os.sep}dist-packages{os.sep}" in path


# --- helpers ----------------------------------------------------------------------------------------------------


def _put(put_blob: Callable[[bytes], str], data: bytes, what: str, errors: _Errors) -> str | None:
    try:
        return put_blob(data)
    except Exception as exc:  # a failing store costs this blob, not the run
        errors.add(exc, f"{what} not stored: {exc}")
        return None


def _is_under(path: str, directory: str) -> bool:
    directory = directory.rstrip(os.sep) + os.sep
    return path == directory[:-1] or path.startswith(directory)


def _is_under_any(path: str, directories: Iterable[str]) -> bool:
    return any(_is_under(path, directory) for directory in directories)


def _relative_posix(path: str, start: str) -> str:
    return PurePath(os.path.relpath(path, start)).as_posix()


def _posix(path: str) -> str:
    return PurePath(path).as_posix()


def _json_safe(text: str) -> bool:
    """Whether ``text`` encodes as UTF-8 (file names that are not decode with surrogates, which JSON refuses)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
