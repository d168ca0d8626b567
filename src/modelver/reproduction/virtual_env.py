"""The virtual environment of a reproduction (``.modelver/venv``): made with the recorded Python minor version when
one is on PATH, optionally seeing this interpreter's packages, and the pins installed with ``pip --no-deps``, one
failing requirement dropped and reported at a time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import venv as venv_module
from collections.abc import Sequence
from pathlib import Path

from modelver.reproduction.builder import Builder
from modelver.reproduction.report import NotInstalled

# A failing `pip install -r` names one requirement at a time; after this many retries the rest is reported whole.
_PIP_RETRIES = 20
_PIP_FAILED = (
    re.compile(r"No matching distribution found for (\S+)"),
    re.compile(r"Could not find a version that satisfies the requirement (\S+)"),
    re.compile(r"Failed to build (\S+)"),
    re.compile(r"Failed building wheel for (\S+)"),
    re.compile(r"Invalid requirement: '([^']+)'"),
)
_PIP_INSTALL = ("-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "--no-input")


def make_venv(builder: Builder, inherit: bool) -> None:
    """Create ``.modelver/venv`` for the recorded Python; install the pins, or inherit this environment's packages."""
    recorded = builder.version.manifest.environment.python
    wanted = ".".join(recorded.split(".")[:2])
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    location = builder.meta / "venv"
    python = None if not wanted or wanted == here else shutil.which(f"python{wanted}")
    if wanted and wanted != here and python is None:
        builder.notes.append(f"the run used Python {recorded}; no python{wanted} on PATH, so the venv uses {here}")
    if python is not None and inherit:
        builder.notes.append(f"packages are not inherited: this interpreter is Python {here}, the venv {wanted}")
        inherit = False
    venv_python = venv_interpreter(location)
    try:
        if python is None:
            venv_module.EnvBuilder(with_pip=not inherit, symlinks=os.name != "nt").create(location)
        else:
            subprocess.run([python, "-m", "venv", str(location)], check=True, capture_output=True)
        if inherit:
            _inherit(builder, venv_python)
    except (OSError, subprocess.CalledProcessError) as exc:
        reason = f"the virtual environment could not be made: {exc}"
        builder.not_installed.extend(NotInstalled(requirement, reason) for requirement in builder.requirements)
        return
    builder.venv = location
    result = subprocess.run(
        [str(venv_python), "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
    )
    builder.python_used = result.stdout.strip()
    builder.not_installed.extend(NotInstalled(note.split(":", 1)[0], "editable install") for note in builder.unpinned)
    _pip_install(builder, venv_python)


def _inherit(builder: Builder, venv_python: Path) -> None:
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


def _pip_install(builder: Builder, venv_python: Path) -> None:
    """Install the pins; pip stops at the first failure and names it, so drop that one and go again."""
    pending = list(builder.requirements)
    attempts = 0
    while pending:
        if attempts == _PIP_RETRIES:
            reason = f"not attempted: pip failed {attempts} times first (install the rest from requirements.txt)"
            builder.not_installed.extend(NotInstalled(r, reason) for r in pending)
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
            builder.not_installed.extend(NotInstalled(r, reason) for r in pending)
            return
        builder.not_installed.append(NotInstalled(*failed))
        pending.remove(failed[0])


def venv_interpreter(location: Path) -> Path:
    """The Python executable of the virtual environment at ``location``."""
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
