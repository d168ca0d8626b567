"""The git state of the repository that holds the code: commit, branch, whether the tree is dirty, the diff of the
tracked changes as a blob, the untracked files with their content (never those whose names usually hold secrets), and
the remote without credentials. Also runs git itself (:class:`_Git`: a timeout per call, no optional locks, capped
output), which reproduction uses to compare a checkout with the recorded diff.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import stat
import subprocess
import tempfile
import threading
from collections.abc import Callable, Collection, Iterable
from typing import IO

import attrs

from modelver.capture.code_errors import CaptureLimitError, _Errors, _put
from modelver.capture.local_code import _is_under, _json_safe
from modelver.capture.redact import strip_url_credentials
from modelver.capture.secrets import FileScan
from modelver.manifest import GitInfo, Redaction

__all__ = ["find_git_root"]

# Caps that keep a run start fast whatever the working tree holds. They are not parameters: a capture that hits
# one records an error saying which, and the fix is a .gitignore entry, not a bigger cap.
_UNTRACKED_MAX_FILES = 1000
_UNTRACKED_MAX_BYTES = 32 << 20
_DIFF_MAX_BYTES = 64 << 20
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


def _capture_git(
    starts: Iterable[str],
    put_blob: Callable[[bytes], str],
    untracked_limit_bytes: int,
    timeout_s: float,
    errors: _Errors,
    exclude: Collection[str] = (),
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
        return _describe(_Git(executable, repo, timeout_s), put_blob, untracked_limit_bytes, errors, exclude)
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


def _describe(
    git: _Git,
    put_blob: Callable[[bytes], str],
    untracked_limit_bytes: int,
    errors: _Errors,
    exclude: Collection[str] = (),
) -> GitInfo:
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

    # The store, the caches and output folders inside the tree are never code: git does not even walk them.
    pathspecs = exclude_pathspecs(top, exclude)
    _, out = git.run(
        "status", "--porcelain=v1", "-z", "--untracked-files=all", *(("--", ".", *pathspecs) if pathspecs else ())
    )
    tracked_changed, untracked_paths = _parse_status(out)

    diff = None
    if tracked_changed:
        diff = _capture_diff(git, put_blob, errors)

    redacted: dict[str, Redaction] = {}
    return GitInfo(
        commit=commit,
        branch=branch,
        detached=branch is None,
        dirty=tracked_changed or bool(untracked_paths),
        remote=_remote(git, errors),
        diff=diff,
        untracked=_store_untracked(top, untracked_paths, put_blob, untracked_limit_bytes, errors, redacted),
        shallow=shallow,
        root=top,
        redacted=redacted,  # filled by _store_untracked, evaluated just above
    )


def exclude_pathspecs(top: str, exclude: Iterable[str]) -> list[str]:
    """Git pathspecs (``:(top,exclude,literal)store``) for the entries of ``exclude`` at or under ``top``.

    ``top`` and the entries are real absolute paths; an entry holding ``*``, ``?`` or ``[`` becomes a ``glob``
    pathspec, any other a ``literal`` one. An entry equal to ``top`` itself is ignored: excluding the whole tree
    would hide every change.
    """
    specs: list[str] = []
    for entry in exclude:
        if not _is_under(entry, top) or entry == top:
            continue
        rel = os.path.relpath(entry, top).replace(os.sep, "/")
        if any(c in rel for c in "*?["):
            # A glob pathspec matches no leading directory: name what is under a matching directory too.
            specs += [f":(top,exclude,glob){rel}", f":(top,exclude,glob){rel}/**"]
        else:
            specs.append(f":(top,exclude,literal){rel}")
    return specs


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
    redacted: dict[str, Redaction] | None = None,
) -> dict[str, str | None]:
    decoded = sorted(os.fsdecode(p) for p in paths)
    scan: FileScan | None = None
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
        scan = scan or FileScan(top, errors)
        withheld = scan.withhold(rel, data)  # secrets found by content: recorded by name and digest only
        if withheld is not None:
            if redacted is not None:
                redacted[rel] = withheld
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
    # Every part of the path: a file of a secrets/ or credentials/ folder counts, whatever its own name.
    parts = rel.lower().split("/")
    return any(fnmatch.fnmatchcase(part, pattern) for part in parts for pattern in _SECRET_FILE_PATTERNS)
