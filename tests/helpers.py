"""Helpers shared by tests: real git repositories and real subprocesses."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

GIT_ENV = {
    "GIT_AUTHOR_NAME": "modelver tests",
    "GIT_AUTHOR_EMAIL": "tests@modelver.invalid",
    "GIT_COMMITTER_NAME": "modelver tests",
    "GIT_COMMITTER_EMAIL": "tests@modelver.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` and return its stdout."""
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    ).stdout


def run_python(
    script: Path | str,
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    drop_env: tuple[str, ...] = (),
    module: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run a Python script (or ``-m module``) in a real subprocess with this interpreter; fail loudly.

    ``env`` is added to this process's environment, and the ``drop_env`` variables are removed.
    """
    argv = [sys.executable, "-m", str(script)] if module else [sys.executable, str(script)]
    full_env = {k: v for k, v in os.environ.items() if k not in drop_env} | (env or {})
    result = subprocess.run([*argv, *args], cwd=cwd, capture_output=True, text=True, env=full_env, timeout=300)
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def stop_process(process: subprocess.Popen[Any], timeout_s: float = 10) -> None:
    """Terminate a server process started by a fixture; kill it if it does not exit within ``timeout_s``."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def serve_ui(store: Path, *extra: str) -> Iterator[str]:
    """Run ``modelver --store STORE ui --port 0 [EXTRA]`` as a real process for the block; yield its base URL
    (``http://127.0.0.1:PORT``, no trailing slash). Fails the test with the server's stderr if it does not start."""
    import pytest

    command = [sys.executable, "-m", "modelver.cli", "--store", str(store), "ui", "--port", "0", *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.match(r"modelver ui: (http://127\.0\.0\.1:\d+)/", line)
    if match is None:
        process.kill()
        _, err = process.communicate(timeout=30)
        pytest.fail(f"modelver ui {' '.join(extra)} did not start: {line!r} {err}")
    try:
        yield match.group(1)
    finally:
        process.terminate()
        process.communicate(timeout=30)
