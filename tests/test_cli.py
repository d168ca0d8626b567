"""The modelver command line, run as a real subprocess through its installed entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import modelver

CLI = [str(Path(sys.executable).parent / "modelver")]
MANIFEST_KEYS = {
    "schema",
    "name",
    "version",
    "digest",
    "created_at",
    "created_by",
    "code",
    "environment",
    "config",
    "data",
    "resources",
    "metrics",
    "artifacts",
    "lineage",
    "capture_errors",
}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``modelver ARGS`` and return the finished process."""
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env={**os.environ, **(env or {})})


@pytest.fixture
def published(tmp_path: Path) -> modelver.ModelVersion:
    """One version with a data fingerprint, a metric and a JSON model."""
    data = tmp_path / "d.csv"
    data.write_text("x\n1\n")
    with modelver.track("demo", config={"lr": 0.5}, data={"train": data}) as run:
        run.log_metrics({"acc": 0.75})
        run.save_model({"w": [1, 2]})
    assert run.version is not None
    return run.version


def test_help_lists_the_commands() -> None:
    """--help names every command."""
    out = cli("--help")
    assert 0 == out.returncode
    for command in ("info", "list", "show", "verify"):
        assert command in out.stdout


def test_info_says_which_store_and_why(store_dir: Path) -> None:
    """info prints the store URL and that MODELVER_STORE chose it."""
    out = cli("info")
    assert 0 == out.returncode
    assert str(store_dir) in out.stdout
    assert "MODELVER_STORE" in out.stdout


def test_show_json_has_the_contract_keys(published: modelver.ModelVersion) -> None:
    """show --json prints the manifest with design.md's top-level keys and the resolved version/digest."""
    out = cli("show", "demo@0.1.0", "--json")
    assert 0 == out.returncode, out.stderr
    shown = json.loads(out.stdout)
    assert MANIFEST_KEYS <= set(shown)
    assert ("0.1.0", published.digest) == (shown["version"], shown["digest"])
    assert {"lr": 0.5} == shown["config"]
    assert published.manifest.data["train"].digest == shown["data"]["train"]["digest"]


def test_list_shows_names_and_versions(published: modelver.ModelVersion) -> None:
    """list prints names; list NAME --json prints the version tags in order."""
    assert "demo" == cli("list").stdout.strip()
    tags = json.loads(cli("list", "demo", "--json").stdout)
    assert [("0.1.0", published.digest)] == [(t["version"], t["manifest"]) for t in tags]


def test_verify_passes_then_fails_after_corruption(published: modelver.ModelVersion) -> None:
    """verify exits 0 on an intact version and 1 once a blob is corrupted."""
    assert 0 == cli("verify", "demo").returncode
    blob = Path(published.store.blob_path(published.manifest.artifacts["model.json"].digest))
    blob.chmod(0o644)
    blob.write_bytes(b"tampered")
    out = cli("verify", "demo")
    assert 1 == out.returncode
    assert "corrupt" in out.stdout


def test_errors_are_one_line_and_exit_1_with_a_traceback_on_debug() -> None:
    """A bad reference prints one error line; MODELVER_DEBUG=1 shows the traceback instead."""
    out = cli("show", "Bad@@ref")
    assert 1 == out.returncode
    assert 1 == len(out.stderr.strip().splitlines())
    assert out.stderr.startswith("modelver: error:")
    debug = cli("show", "Bad@@ref", env={"MODELVER_DEBUG": "1"})
    assert 1 == debug.returncode
    assert "Traceback" in debug.stderr
    assert "InvalidReferenceError" in debug.stderr


def test_show_prints_config_and_the_diff_on_request(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """show lists config keys; show --diff prints the recorded uncommitted diff."""
    repo = make_repo({"train.py": "import modelver\nwith modelver.track('d', config={'lr': 0.25}):\n    pass\n"})
    (repo / "train.py").write_text((repo / "train.py").read_text() + "# tuned\n")
    subprocess.run([sys.executable, "train.py"], cwd=repo, check=True, capture_output=True)
    summary = cli("show", "d")
    assert "config     lr = 0.25" in summary.stdout
    diff = cli("show", "d", "--diff")
    assert "+# tuned" in diff.stdout


def test_list_of_an_unknown_name_is_an_error() -> None:
    """list NAME for a name with no versions fails like show does, with a suggestion."""
    with modelver.track("iris"):
        pass
    out = cli("list", "irs")
    assert 1 == out.returncode
    assert "did you mean iris" in out.stderr


def test_runs_lists_runs_that_published_nothing() -> None:
    """A raising block leaves a run record that `modelver runs` shows with its reason."""
    with pytest.raises(ZeroDivisionError), modelver.track("boom"):
        _ = 1 / 0
    out = cli("runs", "--json")
    assert [("boom", "failed")] == [(r["name"], r["status"]) for r in json.loads(out.stdout)]
    assert "modelver runs" in cli("show", "boom").stderr


def test_missing_filesystem_package_is_one_line_naming_the_extra() -> None:
    """A store URL whose fsspec implementation is not installed names the extra to install.

    The dev environment installs every extra, so the child process makes ``import gcsfs`` fail the way a missing
    package does (``sys.modules[name] = None`` is Python's documented way to block an import).
    """
    code = "import sys; sys.modules['gcsfs'] = None; from modelver.cli import main; main(sys.argv[1:])"
    out = subprocess.run(
        [sys.executable, "-c", code, "--store", "gs://bucket/store", "list"], capture_output=True, text=True
    )
    assert 1 == out.returncode
    assert "modelver[gcs]" in out.stderr
    assert 1 == len(out.stderr.strip().splitlines())


def test_filesystem_without_a_modelver_extra_says_to_install_its_implementation() -> None:
    """A protocol fsspec knows but whose package is not installed (and no extra provides) gets the generic hint."""
    out = cli("--store", "dropbox://folder/store", "list")
    assert 1 == out.returncode
    assert "install the fsspec implementation" in out.stderr
    assert 1 == len(out.stderr.strip().splitlines())


def test_filesystem_errors_are_one_line_not_a_traceback(store_dir: Path) -> None:
    """A directory where a version tag should be is reported in one line with exit 1."""
    with modelver.track("a"):
        pass
    (store_dir / "names" / "a" / "versions" / "2.0.0.json").mkdir()
    out = cli("show", "a@2.0.0")
    assert 1 == out.returncode
    assert out.stderr.startswith("modelver: error:")
    assert "Traceback" not in out.stderr
