"""The recorded git tree rebuilt: a new repository at the recorded commit (fetched from the recorded working tree or
remote), branch and remote URL, the uncommitted diff applied and checked with ``git diff HEAD``, the untracked
files written back.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

from modelver.capture.git import DIFF_COMMAND, GitError, _Git
from modelver.errors import ReproduceError
from modelver.reproduction.builder import META_DIR, Builder
from modelver.reproduction.report import Unrestored

# Fetching a whole history from a remote can take long; a hung ssh prompt must not hang forever.
_FETCH_TIMEOUT_S = 1800.0
_GIT_TIMEOUT_S = 600.0
_INDEX_LINE = re.compile(rb"^index ([0-9a-f]+)\.\.([0-9a-f]+)((?: [0-7]+)?)$")


def restore_git(builder: Builder) -> None:
    """Fetch the recorded commit, apply the recorded diff, restore untracked files and verify the tree."""
    info = builder.version.manifest.code.git
    assert info is not None  # restore_code checks
    builder.commit = info.commit
    git = _git(str(builder.target), _GIT_TIMEOUT_S)
    git.run("init", "--quiet")
    exclude = builder.target / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    with exclude.open("a", encoding="utf-8") as handle:
        handle.write(f"\n# written by modelver reproduce\n/{META_DIR}/\n")
    builder.fetched_from = _fetch(builder, info.commit, info.root, info.remote)
    if info.remote:
        git.run("remote", "add", "--", "origin", info.remote)
    checkout = ["--detach", info.commit] if info.branch is None else ["-B", info.branch, info.commit]
    git.run("-c", "advice.detachedHead=false", "checkout", "--quiet", *checkout)

    diff = builder.blob(info.diff, "the recorded diff of tracked files") if info.diff else None
    if diff is not None:
        with tempfile.NamedTemporaryFile(suffix=".patch", delete=False) as patch:
            patch.write(diff)
        try:
            git.run("apply", "--index", "--whitespace=nowarn", patch.name)
        except GitError as exc:
            raise ReproduceError(
                f"the recorded diff of {builder.version.ref} does not apply to commit {info.commit} "
                f"(remote {info.remote or 'none recorded'}): {exc}",
                commit=info.commit,
                remote=info.remote or "",
            ) from exc
        finally:
            os.unlink(patch.name)
    elif info.diff is not None:
        builder.unrestored.append(
            Unrestored("(tracked changes)", "the recorded diff is missing or corrupt in the store")
        )
    elif any("diff of the tracked changes" in e for e in builder.version.manifest.code.errors):
        builder.unrestored.append(Unrestored("(tracked changes)", "the diff of tracked files was not recorded"))
    # Without the recorded diff the tree is the commit, not what ran: nothing to verify it against.
    lost = any(item.path == "(tracked changes)" for item in builder.unrestored)
    builder.tracked_verified = not lost and _verify_tracked(builder, git, diff if diff is not None else b"")

    for rel, digest in sorted(info.untracked.items()):
        if digest is None:
            builder.unrestored.append(Unrestored(rel, _why_not_stored(rel)))
            continue
        builder.write_verified(rel, digest, builder.target, f"untracked file {rel}")


def _fetch(builder: Builder, commit: str, root: str | None, remote: str | None) -> str:
    """Fetch ``commit`` into the new repository; return where it came from."""
    git = _git(str(builder.target), _FETCH_TIMEOUT_S)
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
        f"cannot fetch commit {commit} of {builder.version.ref}: {local}, and {served} "
        f"({'; '.join(tried) or 'nothing to try'}). Push the commit to the remote or restore the repository, "
        "then retry",
        commit=commit,
        remote=remote or "",
    )


def _verify_tracked(builder: Builder, git: _Git, recorded: bytes) -> bool:
    _, now = git.run(*DIFF_COMMAND, "--full-index", "HEAD", "--")
    if _same_patch(recorded, now):
        return True
    builder.notes.append("the tracked files differ from the recorded state: `git diff HEAD` in the directory shows it")
    return False


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
