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

import json
import os
import shutil
import subprocess
from pathlib import Path

from modelver.capture.git import GitError
from modelver.errors import ReproduceError
from modelver.registry.model_version import get
from modelver.reproduction.builder import META_DIR, Builder
from modelver.reproduction.code_tree import restore_code
from modelver.reproduction.data_checks import check_rebuilt_data
from modelver.reproduction.environment import write_config, write_environment
from modelver.reproduction.report import ReproduceReport, report_json
from modelver.reproduction.rerun import rerun
from modelver.reproduction.virtual_env import make_venv
from modelver.store.location import open_store
from modelver.store.objects import Store

__all__ = ["reproduce"]


def reproduce(
    ref: str,
    directory: str | os.PathLike[str],
    *,
    run: bool = False,
    venv: bool = False,
    inherit_packages: bool = False,
    capture_output: bool = True,
    store: str | os.PathLike[str] | Store | None = None,
    publish: bool = False,
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
    ``track()`` of the same name publishes a *reproduction*: the pre-release ``<x.y.z>-repro.<run id>`` of the
    original's numbers, with the original among its lineage inputs, so ``latest`` and the next release number are
    untouched (``publish=True``: a normal new release instead). The report holds it and its
    :class:`~modelver.VersionDiff` against the original. A notebook run re-executes its cells in a Jupyter kernel
    when nbclient is installed (else as a script).

    Args:
        ref: the version (``"name@1.2.0"``, ``"name"``, an alias, a digest prefix).
        directory: where to build; it must not exist or be empty.
        run: re-run the entrypoint after building.
        venv: make a virtual environment and install the requirements.
        inherit_packages: with ``venv``, let the venv see the packages of the interpreter running this.
        capture_output: keep the re-run's output in the report (else it goes to this process's stdout/stderr).
        store: the store (default: see ``modelver info``).
        publish: with ``run``, let the re-run publish a new release (the next version, moving ``latest``) instead
            of a reproduction.

    Returns:
        A :class:`ReproduceReport`; ``.modelver/report.json`` in the directory holds the same as JSON.

    Raises:
        ReproduceError: the directory is not empty; the recorded commit cannot be fetched (the message names the
            commit, the working tree and the remote); the recorded diff does not apply; or ``run`` with no
            runnable entrypoint recorded.
        InvalidReferenceError, VersionNotFoundError, IntegrityError: see :func:`modelver.get`.

    Example:
        >>> report = modelver.reproduce("churn@1.2.0", "rebuild/churn", venv=True, run=True)  # doctest: +SKIP
        >>> [(c.key, c.delta) for c in report.diff.metrics]  # doctest: +SKIP
        [('accuracy', 0.0)]
    """
    opened = open_store(store)
    version = get(ref, store=opened)
    target = Path(directory).absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ReproduceError(f"{target} exists and is not an empty directory; reproduce {version.ref} into a new one")
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    meta = target / META_DIR
    builder = Builder(version, target, meta)
    try:
        restore_code(builder)
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
    write_environment(builder)
    write_config(builder)
    check_rebuilt_data(builder)
    if venv:
        make_venv(builder, inherit_packages)
    if run:
        rerun(builder, capture_output, publish)
    report = builder.report()
    (meta / "report.json").write_text(json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n")
    return report


def _empty(directory: Path, *, remove: bool) -> None:
    if remove:
        shutil.rmtree(directory, ignore_errors=True)
        return
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
