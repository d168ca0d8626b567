"""The re-run of a rebuilt version: its recorded entrypoint and arguments (or a notebook's cells) run in the
directory with this store, and the version it publishes compared with the original.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from modelver.capture.notebook import NOTEBOOK, NOTEBOOK_SOURCE
from modelver.capture.redact import REDACTED
from modelver.errors import ReproduceError
from modelver.registry.diff import diff_manifests
from modelver.registry.model_version import get, list_versions
from modelver.reproduction.builder import Builder
from modelver.reproduction.notebook import notebook, notebook_text, optional
from modelver.reproduction.virtual_env import venv_interpreter
from modelver.tracking.reproduction_mode import ENV_REPRODUCTION_OF, ReproductionOf

_OUTPUT_TAIL_CHARS = 20_000


def rerun(builder: Builder, capture_output: bool, publish: bool = False) -> None:
    """Re-run the rebuilt entrypoint under ``track()`` and diff the result with the original version."""
    code = builder.version.manifest.code
    entry = code.entrypoint
    workdir = builder.workdir or builder.target
    python = str(venv_interpreter(builder.venv)) if builder.venv is not None else sys.executable
    if entry is None or (entry.startswith("<") and entry != NOTEBOOK):
        raise ReproduceError(
            f"{builder.version.ref} recorded no script to re-run (entrypoint {entry or 'unknown'}); the directory "
            f"{builder.target} is built, run the training yourself",
            commit=builder.commit or "",
        )
    if any(REDACTED in arg for arg in code.argv):
        builder.notes.append("some recorded arguments were redacted (secrets): the re-run gets the placeholder")
    env = {**os.environ, "MODELVER_STORE": builder.version.store.url}
    env.pop(ENV_REPRODUCTION_OF, None)
    if not publish:
        # The re-run publishes a reproduction linked to the original (a pre-release), not a release that would
        # take the next number and move `latest`.
        version = builder.version
        env[ENV_REPRODUCTION_OF] = ReproductionOf(version.name, version.version, version.digest).to_env()
    before = {tag.version for tag in list_versions(builder.version.name, store=builder.version.store)}
    if entry == NOTEBOOK:
        _run_notebook(builder, python, workdir, env, capture_output)
    else:
        script = Path(entry) if os.path.isabs(entry) else workdir.joinpath(*entry.split("/"))
        builder.command = (python, str(script), *code.argv)
        result = subprocess.run(builder.command, cwd=workdir, env=env, capture_output=capture_output, text=True)
        builder.returncode = result.returncode
        if capture_output:
            builder.output = (result.stdout + result.stderr)[-_OUTPUT_TAIL_CHARS:]
    after = list_versions(builder.version.name, store=builder.version.store)
    new = [tag for tag in after if tag.version not in before]
    if not new:
        builder.notes.append(f"the re-run published no new version of {builder.version.name}")
        return
    latest = get(f"{builder.version.name}@{new[-1].version}", store=builder.version.store)
    builder.new_version = latest.ref
    builder.diff = diff_manifests(builder.version, latest)


def _run_notebook(builder: Builder, python: str, workdir: Path, env: dict[str, str], capture_output: bool) -> None:
    text = notebook_text(builder)
    nbclient, nbformat = optional("nbclient"), optional("nbformat")
    if nbclient is None or nbformat is None or builder.venv is not None:
        # A venv's interpreter is not the kernel nbclient would start: run the cells as a script in it.
        in_meta = builder.version.manifest.code.git is not None
        script = (builder.meta if in_meta else workdir) / NOTEBOOK_SOURCE
        builder.command = (python, str(script))
        result = subprocess.run(builder.command, cwd=workdir, env=env, capture_output=capture_output, text=True)
        builder.returncode = result.returncode
        if capture_output:
            builder.output = (result.stdout + result.stderr)[-_OUTPUT_TAIL_CHARS:]
        return
    book = notebook(nbformat, text)
    builder.command = ("jupyter-kernel", "python3", str(builder.meta / "notebook.ipynb"))
    client = nbclient.NotebookClient(
        book, kernel_name="python3", timeout=None, resources={"metadata": {"path": str(workdir)}}
    )
    try:
        client.execute(env=env)
    except nbclient.exceptions.CellExecutionError as exc:
        builder.returncode = 1
        builder.output = str(exc)[-_OUTPUT_TAIL_CHARS:]
        return
    builder.returncode = 0
    if capture_output:
        printed = "".join(output.get("text", "") for cell in book.cells for output in cell.get("outputs", ()))
        builder.output = printed[-_OUTPUT_TAIL_CHARS:]
