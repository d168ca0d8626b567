"""The store, the read cache, the spool and configured output folders are never captured as code (issue #20)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import git, run_python
from modelver.capture.code import capture_code
from modelver.capture.git import exclude_pathspecs
from modelver.errors import StoreError
from modelver.settings import capture_excludes
from modelver.store.digest import digest_bytes

TRAIN = """
import json
import modelver
from modelver.serde import to_json_dict
with modelver.track("m", config={"lr": 0.1}) as run:
    run.save_config("cfg", {"a": 1})
print(json.dumps(to_json_dict(run.version.manifest.code.git)))
"""


@pytest.fixture(autouse=True)
def _hermetic_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's git config out of the repositories these tests create."""
    empty = tmp_path_factory.mktemp("gitconfig") / "config"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.delenv("MODELVER_CAPTURE_EXCLUDE", raising=False)


def _repo(path: Path) -> Path:
    """A repository on branch main whose one commit holds train.py and a .gitignore that knows nothing of stores."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "train.py").write_text(TRAIN)
    (path / ".gitignore").write_text("__pycache__/\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def _train(repo: Path, **env: str) -> dict[str, object]:
    """Run train.py twice in a real subprocess (the second run sees the store's objects); return its git info."""
    env = {"MODELVER_STORE": "./store", "MODELVER_CACHE": "./cache", "MODELVER_SPOOL": "./spool", **env}
    run_python("train.py", cwd=repo, env=env)
    result: dict[str, object] = json.loads(run_python("train.py", cwd=repo, env=env).stdout)
    return result


def test_store_cache_and_spool_inside_the_repository_are_not_untracked_code(tmp_path: Path) -> None:
    """A store at ./store (with cache and spool beside it) leaves the tree clean and records no untracked file."""
    repo = _repo(tmp_path / "repo")
    (repo / "cache").mkdir()
    (repo / "cache" / "leftover.bin").write_bytes(b"x")
    (repo / "spool").mkdir()
    (repo / "spool" / "entry.json").write_text("{}")

    info = _train(repo)

    assert any((repo / "store" / "blobs").rglob("*"))  # the store did get objects inside the tree
    assert (False, {}) == (info["dirty"], info["untracked"])


def test_real_untracked_code_is_still_recorded_beside_the_store(tmp_path: Path) -> None:
    """Excluding the store does not hide the user's own untracked file: it is recorded and marks the tree dirty."""
    repo = _repo(tmp_path / "repo")
    (repo / "helper.py").write_bytes(b"X = 1\n")

    info = _train(repo)

    assert (True, {"helper.py": digest_bytes(b"X = 1\n")}) == (info["dirty"], info["untracked"])


def test_configured_output_folders_are_excluded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`capture-exclude` in pyproject.toml and MODELVER_CAPTURE_EXCLUDE (globs too) keep output folders out."""
    repo = _repo(tmp_path / "repo")
    (repo / "pyproject.toml").write_text('[tool.modelver]\ncapture-exclude = ["lightning_logs"]\n')
    git(repo, "add", "pyproject.toml")
    git(repo, "commit", "-q", "-m", "config")
    for rel in ("lightning_logs/version_0/events.out", "wandb/run-1/files.txt", "outputs-1/x.txt", "keep.py"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(rel)

    info = _train(repo, MODELVER_CAPTURE_EXCLUDE=os.pathsep.join(["wandb", "outputs-*"]))

    assert ["keep.py"] == sorted(info["untracked"])  # type: ignore[call-overload]


def test_capture_excludes_order_and_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The always-excluded paths come first, then the environment, then pyproject.toml, each made absolute."""
    (tmp_path / "pyproject.toml").write_text('[tool.modelver]\ncapture-exclude = ["runs", "~/x"]\n')
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("MODELVER_CAPTURE_EXCLUDE", os.pathsep.join(["out", "", "/abs/logs"]))
    real = os.path.realpath

    expected = (
        real(tmp_path / "store"),
        real(work / "out"),
        "/abs/logs",
        real(tmp_path / "runs"),
        real(os.path.expanduser("~/x")),
    )
    assert expected == capture_excludes(tmp_path / "store", None, tmp_path / "store")


def test_capture_excludes_refuses_a_bad_pyproject_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `capture-exclude` that is not a list of strings is a StoreError (a ValueError-free OSError) saying how."""
    (tmp_path / "pyproject.toml").write_text('[tool.modelver]\ncapture-exclude = "runs"\n')
    monkeypatch.chdir(tmp_path)

    with pytest.raises(StoreError, match="must be a list of non-empty path strings"):
        capture_excludes()


def test_exclude_does_not_hide_the_tree_itself(tmp_path: Path) -> None:
    """An exclude entry equal to the repository (a store at the top level) is ignored, not applied to everything."""
    repo = _repo(tmp_path / "repo")
    (repo / "new.py").write_text("Y = 2\n")

    facet, errors = capture_code(
        put_blob=digest_bytes, entrypoint=str(repo / "train.py"), cwd=str(repo), exclude=(os.path.realpath(repo),)
    )

    assert ([], ["new.py"]) == (errors, sorted(facet.git.untracked))  # type: ignore[union-attr]


@given(
    parts=st.lists(
        st.text(st.characters(blacklist_characters="/\0", codec="utf-8"), min_size=1, max_size=8),
        min_size=1,
        max_size=4,
    ).filter(lambda p: all(x not in (".", "..") for x in p))
)
def test_exclude_pathspecs_name_exactly_the_entries_under_the_top(parts: list[str]) -> None:
    """An entry under the top becomes one literal pathspec (two glob ones when it holds glob characters) naming its
    path relative to the top; an entry outside the top, or the top itself, becomes none."""
    top = "/repo/top"
    rel = "/".join(parts)
    inside = exclude_pathspecs(top, [f"{top}/{rel}"])
    outside = exclude_pathspecs(top, [f"/repo/other/{rel}", top, "/repo/to"])

    if any(c in rel for c in "*?["):
        expected = [f":(top,exclude,glob){rel}", f":(top,exclude,glob){rel}/**"]
    else:
        expected = [f":(top,exclude,literal){rel}"]
    assert (expected, []) == (inside, outside)
