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

import os
import sys
from collections.abc import Callable, Collection

import attrs

from modelver.capture.code_errors import _Errors, _put
from modelver.capture.git import _capture_git
from modelver.capture.local_code import _is_installed_script, _is_under, _posix, _relative_posix
from modelver.capture.notebook import NOTEBOOK, NOTEBOOK_SOURCE, _ipython_shell, _notebook_cells
from modelver.capture.redact import redact_argv
from modelver.capture.snapshot import _snapshot
from modelver.manifest import CaptureErrorRecord, CodeFacet, Redaction

__all__ = ["capture_code"]


def capture_code(
    *,
    put_blob: Callable[[bytes], str],
    entrypoint: str | None = None,
    cwd: str | None = None,
    untracked_limit_bytes: int = 1 << 20,
    git_timeout_s: float = 10.0,
    exclude: Collection[str] = (),
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
        exclude: real absolute paths (glob characters allowed) that are output, not code: the store, the read
            cache, the spool, framework output folders (:func:`modelver.settings.capture_excludes` builds the
            list). Untracked files there are not recorded and changes there do not make the tree dirty.

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
            exclude=exclude,
        )
    except Exception as exc:  # the promise is that tracking never breaks training
        errors.add(exc, f"code capture failed: {exc}")
        facet = CodeFacet()
    records = errors.finish()
    return attrs.evolve(facet, errors=tuple(r.message for r in records)), records


def _capture(
    *,
    put_blob: Callable[[bytes], str],
    entrypoint: str | None,
    cwd: str | None,
    untracked_limit_bytes: int,
    git_timeout_s: float,
    errors: _Errors,
    exclude: Collection[str] = (),
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
    git = _capture_git(starts, put_blob, untracked_limit_bytes, git_timeout_s, errors, exclude)

    sources: dict[str, str] = {}
    redacted: dict[str, Redaction] = {}
    root: str | None = None
    recorded_entrypoint = entrypoint
    if entry_path is not None and git is not None and git.root is not None and _is_under(entry_path, git.root):
        recorded_entrypoint = _relative_posix(entry_path, git.root)
    elif git is None or entry_path is not None:
        # Git cannot say what ran: no repository, refused, or the entrypoint lies outside the repository.
        sources, root = _snapshot(entry_path, cwd, put_blob, errors, redacted)
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
        redacted=redacted,
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
