"""`track(strict=True)` and `track(require_clean=True)` refuse on entry what they would refuse after training."""

from __future__ import annotations

from pathlib import Path

import pytest

import modelver
from helpers import git, run_python
from modelver.errors import CaptureError, StoreError

TRAIN = """
import sys
import modelver
try:
    with modelver.track("m", strict="strict" in sys.argv, require_clean="clean" in sys.argv) as run:
        print("TRAINING RAN")
except modelver.ModelverError as exc:
    print(f"{type(exc).__name__}: {exc}")
else:
    print(f"PUBLISHED {run.version.ref}")
"""


@pytest.fixture(autouse=True)
def _hermetic_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's git config out of the repositories these tests create."""
    empty = tmp_path_factory.mktemp("gitconfig") / "config"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))


def _repo(path: Path) -> Path:
    """A repository whose one commit holds train.py."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "train.py").write_text(TRAIN)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def test_strict_without_git_on_path_fails_before_the_block_runs(tmp_path: Path) -> None:
    """A repository but no git executable: strict mode raises CaptureError on entry, and the block never runs."""
    repo = _repo(tmp_path / "repo")

    out = run_python("train.py", "strict", cwd=repo, env={"PATH": str(tmp_path / "no-bin"), "MODELVER_STORE": "st"})

    assert "TRAINING RAN" not in out.stdout
    assert out.stdout.startswith("CaptureError: strict mode: the code capture failed on entry")


def test_require_clean_refuses_a_dirty_tree_on_entry(tmp_path: Path) -> None:
    """An untracked source file makes the tree dirty: require_clean refuses before training and names the file."""
    repo = _repo(tmp_path / "repo")
    (repo / "scratch.py").write_text("X = 1\n")

    out = run_python("train.py", "clean", cwd=repo, env={"MODELVER_STORE": str(tmp_path / "store")})

    assert "TRAINING RAN" not in out.stdout
    assert "CaptureError: require_clean=True and the tree" in out.stdout
    assert "(untracked: scratch.py)" in out.stdout


def test_require_clean_accepts_a_store_inside_the_tree(tmp_path: Path) -> None:
    """A store at ./store (after a first publish filled it) does not make the tree dirty for require_clean."""
    repo = _repo(tmp_path / "repo")
    env = {"MODELVER_STORE": "./store", "MODELVER_CACHE": "./cache"}
    run_python("train.py", cwd=repo, env=env)

    out = run_python("train.py", "clean", "strict", cwd=repo, env=env)

    assert "TRAINING RAN\nPUBLISHED m@0.1.1\n" == out.stdout


def test_strict_refuses_an_unwritable_store_on_entry(tmp_path: Path) -> None:
    """A store that cannot take new objects is a StoreError on entry in strict mode; the block does not run."""
    store = tmp_path / "store"
    with modelver.track("m", store=store):
        pass
    # What a read-only mount looks like to any user, root included: the blob directory cannot be written into.
    blobs = store / "blobs"
    for path in sorted(blobs.rglob("*"), reverse=True):
        path.chmod(0o700)
        path.unlink() if path.is_file() else path.rmdir()
    blobs.rmdir()
    blobs.write_bytes(b"")
    ran = []

    with (
        pytest.raises(StoreError, match=r"strict mode: the store at .* cannot be written"),
        modelver.track("m", store=store, strict=True),
    ):
        ran.append(True)

    assert [] == ran


def test_strict_with_a_clean_checkout_still_publishes(tmp_path: Path) -> None:
    """The entry checks let a run that is fine through: strict mode in a clean repository publishes."""
    repo = _repo(tmp_path / "repo")

    out = run_python("train.py", "strict", cwd=repo, env={"MODELVER_STORE": str(tmp_path / "store")})

    assert "TRAINING RAN\nPUBLISHED m@0.1.0\n" == out.stdout


def test_capture_error_is_raised_not_deferred() -> None:
    """The entry error is the typed CaptureError the end of the run would raise (also a RuntimeError)."""
    assert issubclass(CaptureError, modelver.ModelverError)
