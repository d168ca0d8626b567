"""User text printed by the CLI keeps its square brackets (rich markup is escaped), and a missing store says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

import modelver
from modelver.cli.common import add_plain_row, esc, styled
from modelver.errors import CaptureWarning, VersionNotFoundError

CLI = [sys.executable, "-m", "modelver.cli"]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `modelver` CLI in a subprocess, with tables wide enough that no cell wraps."""
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "250", **(env or {})}, timeout=120
    )


def _row(out: str, marker: str) -> list[str]:
    """The cells of the table row that contains ``marker`` (rich's box-drawing separators)."""
    line = next(line for line in out.splitlines() if marker in line)
    return [cell.strip() for cell in line.strip().strip("│┃").split("│")]


def test_history_shows_bracketed_by_and_reason_verbatim() -> None:
    """`promote --by "[bob]" --reason "[fix] better than [red]old[/red]"`: history prints both as typed."""
    with modelver.track("brackets", version="0.1.0") as run:
        run.save_model({"v": 1})
    reason = "[fix] better than [red]old[/red]"
    promoted = cli("promote", "brackets@0.1.0", "staging", "--by", "[bob]", "--reason", reason)
    assert 0 == promoted.returncode, promoted.stderr
    shown = cli("history", "brackets")
    assert 0 == shown.returncode, shown.stderr
    cells = _row(shown.stdout, "promote")
    assert ("[bob]", reason) == (cells[5], cells[7])
    events = json.loads(cli("history", "brackets", "--json").stdout)  # JSON carries the values, no escapes
    assert ("[bob]", reason) == (events[-1]["by"], events[-1]["reason"])


def test_alias_list_shows_bracketed_by_verbatim() -> None:
    """`alias list` prints the promoter's bracketed name and reason as typed."""
    with modelver.track("brackets", version="0.1.0") as run:
        run.save_model({"v": 1})
    modelver.promote("brackets@0.1.0", "staging", by="[bob]", reason="[fix]")
    shown = cli("alias", "list", "brackets")
    assert ["[bob]", "[fix]"] == _row(shown.stdout, "staging")[3:5]


def test_show_prints_a_capture_error_with_brackets_verbatim() -> None:
    """`modelver show` prints a capture error naming an extra ("modelver[secrets]") with its brackets."""
    message = "secret scanning needs detect-secrets: pip install 'modelver[secrets]'"
    with modelver.track("brackets", version="0.1.0") as run:
        run.save_model({"v": 1})
        with pytest.warns(CaptureWarning, match="secrets"):
            run._capture_failed("secrets", message, raise_strict=False)
    shown = cli("show", "brackets@0.1.0")
    assert 0 == shown.returncode, shown.stderr
    assert f"  secrets: {message}" in shown.stdout.splitlines()


def test_verify_table_keeps_its_own_styling() -> None:
    """`modelver verify` still styles its status cells (no literal "[green]"), and the cell helpers print user
    text verbatim while keeping a style."""
    with modelver.track("brackets", version="0.1.0") as run:
        run.save_model({"v": 1})
    shown = cli("verify", "brackets@0.1.0")
    assert (0, False, "ok") == (shown.returncode, "[green]" in shown.stdout, _row(shown.stdout, "model.json")[2])
    table = Table("status")
    add_plain_row(table, styled("missing", "red", "[x] gone"))
    console = Console(width=80, record=True)
    console.print(table)
    assert ("missing [x] gone" in console.export_text(), esc("[b]")) == (True, "\\[b]")


def test_list_of_a_store_that_does_not_exist_says_so(tmp_path: Path) -> None:
    """`MODELVER_STORE=/path/typo modelver list` says the directory does not exist (exit 0) and creates nothing."""
    typo = tmp_path / "typo"
    listed = cli("list", env={"MODELVER_STORE": str(typo)})
    expected = f"{typo} does not exist yet: check MODELVER_STORE / --store; the first publish creates it"
    assert (0, expected) == (listed.returncode, listed.stdout.strip())
    assert not typo.exists()
    typo.mkdir()  # an existing, empty store keeps the plain line
    listed = cli("list", env={"MODELVER_STORE": str(typo)})
    assert (0, f"no versions in {typo} yet") == (listed.returncode, listed.stdout.strip())


def test_load_from_a_store_that_does_not_exist_says_so(tmp_path: Path) -> None:
    """`modelver.load` / `get` on a missing local store directory hint at MODELVER_STORE / --store."""
    typo = tmp_path / "typo"
    for call in (modelver.load, modelver.get):
        with pytest.raises(VersionNotFoundError) as raised:
            call("model", store=typo)
        assert f"{typo} does not exist yet: check MODELVER_STORE / --store" in str(raised.value)
