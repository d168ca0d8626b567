"""`modelver runs` as a group with `runs show`, `modelver download`, and the VersionExistsError message (issue #20)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import modelver
from test_cli import cli


def _fail_a_run() -> str:
    """Run a block that raises after logging a metric; return the run id of its failed-run record."""
    with pytest.raises(ValueError, match="bad batch"), modelver.track("boom", config={"lr": 0.1}) as run:  # noqa: PT012 - the body is what is tested
        run.log_metrics({"loss": 0.5})
        _raise_bad_batch()
    return run.run_id


def _raise_bad_batch() -> None:
    """A frame of its own, so the traceback names it."""
    raise ValueError("bad batch 17")


def test_runs_and_runs_json_keep_working() -> None:
    """`modelver runs` still lists without a subcommand, and `--json` prints the same records as before."""
    run_id = _fail_a_run()

    listed = json.loads(cli("runs", "--json").stdout)
    table = cli("runs")

    expected = [{"run_id": run_id, "name": "boom", "status": "failed", "reason": "ValueError: bad batch 17"}]
    assert (expected, 0) == (listed, table.returncode)
    assert "boom" in table.stdout


def test_runs_show_prints_the_traceback_and_the_captured_facets() -> None:
    """`modelver runs show ID` shows why the run failed, the traceback down to the raising frame, and its facets."""
    run_id = _fail_a_run()

    out = cli("runs", "show", run_id[:-2])

    assert 0 == out.returncode, out.stderr
    for expected in (
        "ValueError: bad batch 17",
        "traceback",
        "_raise_bad_batch",
        "metric     loss = 0.5",
        "config     lr = 0.1",
    ):
        assert expected in out.stdout


def test_runs_show_json_has_the_traceback_and_manifest() -> None:
    """`runs show ID --json` prints the whole record, traceback and captured manifest included."""
    run_id = _fail_a_run()

    record = json.loads(cli("runs", "show", run_id, "--json").stdout)

    assert (run_id, {"loss": 0.5}) == (record["run_id"], record["manifest"]["metrics"])
    assert record["traceback"].endswith("ValueError: bad batch 17\n")


def test_runs_show_unknown_run_is_one_line() -> None:
    """An unknown run id is one error line saying how to list the runs, exit 1."""
    out = cli("runs", "show", "nope")

    assert (1, "") == (out.returncode, out.stdout)
    assert "`modelver runs` lists them all." in out.stderr


def test_download_writes_verified_artifacts(tmp_path: Path) -> None:
    """`modelver download REF DIR` writes each artifact at its path with the bytes that were saved."""
    source = tmp_path / "readme.txt"
    source.write_bytes(b"hello")
    with modelver.track("dl") as run:
        run.log_artifact(source, name="notes/readme.txt")
    target = tmp_path / "out"

    out = cli("download", "dl@0.1.0", str(target))

    assert (0, b"hello") == (out.returncode, (target / "notes" / "readme.txt").read_bytes()), out.stderr
    assert "1 artifact(s) of dl@0.1.0" in out.stdout


def test_download_never_overwrites_a_different_file(tmp_path: Path) -> None:
    """A different file already at an artifact's path is left alone and the command exits 1 with one line."""
    source = tmp_path / "readme.txt"
    source.write_bytes(b"hello")
    with modelver.track("dl") as run:
        run.log_artifact(source)
    target = tmp_path / "out"
    target.mkdir()
    (target / "readme.txt").write_bytes(b"mine")

    out = cli("download", "dl", str(target))

    assert (1, b"mine") == (out.returncode, (target / "readme.txt").read_bytes())
    assert "exists with other content" in out.stderr


def test_version_exists_message_ends_with_a_period() -> None:
    """Both places that refuse a taken version say so in a sentence that ends with a period."""
    with modelver.track("m", version="1.0.0"):
        pass
    with pytest.raises(modelver.VersionExistsError) as on_entry, modelver.track("m", version="1.0.0"):
        pass
    from modelver.store.location import open_store

    with pytest.raises(modelver.VersionExistsError) as on_create:
        open_store(None).create_tag("m", "1.0.0", b"{}")

    assert (".", ".") == (str(on_entry.value)[-1], str(on_create.value)[-1])
