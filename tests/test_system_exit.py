"""``sys.exit`` inside ``track()``: exit status 0 (or ``None``) ends the script successfully, so the run publishes;
any other status is a failure (real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from modelver.store.objects import Store

SCRIPT = """
import sys
import modelver

with modelver.track("exits") as run:
    run.log_metrics({"loss": 0.2})
    sys.exit(None if sys.argv[1] == "none" else int(sys.argv[1]))
"""


def exit_with(tmp_path: Path, status: str) -> int:
    """Run SCRIPT with ``status``; its exit code."""
    script = tmp_path / "exits.py"
    script.write_text(textwrap.dedent(SCRIPT))
    return subprocess.run([sys.executable, str(script), status], capture_output=True, timeout=120).returncode


def test_sys_exit_zero_publishes(tmp_path: Path, store_dir: Path) -> None:
    """``sys.exit(0)`` and ``sys.exit()`` inside the block: the process exits 0 and the run is a version."""
    assert [0, 0] == [exit_with(tmp_path, "0"), exit_with(tmp_path, "none")]
    assert ["0.1.0", "0.1.1"] == sorted(Store(store_dir).list_versions("exits"))
    assert [] == Store(store_dir).list_runs()


def test_sys_exit_nonzero_is_a_failed_run(tmp_path: Path, store_dir: Path) -> None:
    """``sys.exit(3)``: exit code 3 unchanged, no version, a failed-run record naming SystemExit."""
    assert 3 == exit_with(tmp_path, "3")
    assert [] == Store(store_dir).list_versions("exits")
    [record] = [json.loads(raw) for raw in Store(store_dir).list_runs()]
    assert ("failed", "SystemExit: 3") == (record["status"], record["reason"])
