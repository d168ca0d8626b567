"""Tests for modelver.capture.code: real git repositories in tmp dirs, real subprocesses and a real Jupyter kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from helpers import git, run_python
from modelver.capture.code import capture_code
from modelver.capture.git import find_git_root
from modelver.manifest import CodeFacet, GitInfo
from modelver.store.digest import digest_bytes

# Printed by the scripts that run capture_code in a fresh interpreter. Blobs travel as latin-1 text, which maps
# every byte to one character, so the test gets back the exact bytes.
CAPTURE_AND_PRINT = """
import json
from modelver.capture.code import capture_code
from modelver.store.digest import digest_bytes
from modelver.serde import to_json_dict

blobs = {}

def put_blob(data):
    digest = digest_bytes(data)
    blobs[digest] = data.decode("latin-1")
    return digest

facet, errors = capture_code(put_blob=put_blob)
print(json.dumps({"facet": to_json_dict(facet), "errors": [to_json_dict(e) for e in errors], "blobs": blobs}))
"""


class Blobs:
    """A dict-backed ``put_blob``: digest to bytes."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        digest = digest_bytes(data)
        self.data[digest] = data
        return digest


@pytest.fixture(autouse=True)
def _hermetic_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's git config (signing, diff prefixes, safe.directory) out of git and of capture_code."""
    empty = tmp_path_factory.mktemp("gitconfig") / "config"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name, raising=False)
    # jupyter_core warns (an error under filterwarnings=error) unless told to use platformdirs already.
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")


def commit_repo(path: Path, files: dict[str, bytes | str] | None = None) -> Path:
    """Create a repository on branch main with one commit of ``files``."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, content in (files or {"train.py": "print('train')\n"}).items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            target.write_text(content)
        else:
            target.write_bytes(content)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def capture(repo: Path, blobs: Blobs, **kwargs: Any) -> CodeFacet:
    """Capture with ``repo/train.py`` as the entrypoint and ``repo`` as cwd; fail on any capture error."""
    facet, errors = capture_code(put_blob=blobs.put, entrypoint=str(repo / "train.py"), cwd=str(repo), **kwargs)
    assert not errors
    assert not facet.errors
    return facet


def run_json(script: str, cwd: Path, *args: str, module: bool = False, env: dict[str, str] | None = None) -> Any:
    """Run a Python script (or module) that prints one JSON document; return it."""
    return json.loads(run_python(script, *args, cwd=cwd, module=module, env=env).stdout)


def head(repo: Path) -> str:
    """The full SHA of HEAD in ``repo``."""
    return git(repo, "rev-parse", "HEAD").strip()


def test_clean_repo(tmp_path: Path) -> None:
    """A clean checkout records its commit and branch, no blob, no snapshot."""
    repo = commit_repo(tmp_path / "repo")
    blobs = Blobs()

    facet = capture(repo, blobs)

    expected = CodeFacet(
        git=GitInfo(commit=head(repo), branch="main", detached=False, dirty=False, root=os.path.realpath(repo)),
        entrypoint="train.py",
        argv=facet.argv,  # pytest's own arguments, not under test here
    )
    assert expected == facet
    assert not blobs.data


def test_dirty_tracked_files_diff_applies(tmp_path: Path) -> None:
    """Staged, unstaged and binary changes land in one diff blob that `git apply` replays on a fresh clone."""
    repo = commit_repo(
        tmp_path / "repo",
        {"train.py": "lr = 0.1\n", "model.py": "layers = 2\n", "weights.bin": bytes(range(256)) * 4},
    )
    (repo / "train.py").write_text("lr = 0.01\n")
    (repo / "model.py").write_text("layers = 3\n")
    git(repo, "add", "model.py")
    (repo / "weights.bin").write_bytes(bytes(reversed(range(256))) * 4)
    blobs = Blobs()

    facet = capture(repo, blobs)

    assert facet.git is not None
    diff = digest_bytes(
        subprocess.run(["git", "-C", str(repo), "diff", "--binary", "HEAD"], check=True, capture_output=True).stdout
    )
    expected = GitInfo(
        commit=head(repo), branch="main", detached=False, dirty=True, diff=diff, root=os.path.realpath(repo)
    )
    assert expected == facet.git
    patch = tmp_path / "change.patch"
    patch.write_bytes(blobs.data[diff])
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
    git(clone, "apply", "--check", str(patch))
    git(clone, "apply", str(patch))
    for name in ("train.py", "model.py", "weights.bin"):
        assert (repo / name).read_bytes() == (clone / name).read_bytes()


def test_untracked_files(tmp_path: Path) -> None:
    """Small untracked files are stored; big and secret-looking ones are listed without content; ignored ones not."""
    repo = commit_repo(tmp_path / "repo")
    files = {
        "augment.py": b"def flip(x):\n    return x[::-1]\n",
        "pkg/layers.py": b"DEPTH = 4\n",
        ".gitignore": b"*.log\n",
        "big.bin": os.urandom(5000),
        ".env": b"API_TOKEN=s3cret\n",
        "run.log": b"ignored\n",
    }
    for name, content in files.items():
        (repo / name).parent.mkdir(exist_ok=True)
        (repo / name).write_bytes(content)
    blobs = Blobs()

    facet = capture(repo, blobs, untracked_limit_bytes=1000)

    assert facet.git is not None
    expected = {
        "augment.py": digest_bytes(files["augment.py"]),
        "pkg/layers.py": digest_bytes(files["pkg/layers.py"]),
        ".gitignore": digest_bytes(files[".gitignore"]),
        "big.bin": None,
        ".env": None,
    }
    assert (
        GitInfo(
            commit=head(repo),
            branch="main",
            detached=False,
            dirty=True,
            untracked=expected,
            root=os.path.realpath(repo),
        )
        == facet.git
    )
    stored = {files[name] for name in ("augment.py", "pkg/layers.py", ".gitignore")}
    assert stored == set(blobs.data.values())


def test_detached_head(tmp_path: Path) -> None:
    """A detached HEAD records no branch and detached=True."""
    repo = commit_repo(tmp_path / "repo")
    git(repo, "checkout", "-q", "--detach")
    blobs = Blobs()

    facet = capture(repo, blobs)

    expected = GitInfo(commit=head(repo), branch=None, detached=True, dirty=False, root=os.path.realpath(repo))
    assert expected == facet.git


def test_shallow_clone(tmp_path: Path) -> None:
    """A --depth 1 clone is captured and marked shallow, with its file:// remote."""
    origin = commit_repo(tmp_path / "origin")
    (origin / "train.py").write_text("print('second')\n")
    git(origin, "commit", "-q", "-am", "second")
    clone = tmp_path / "clone"
    url = origin.as_uri()
    subprocess.run(["git", "clone", "-q", "--depth", "1", url, str(clone)], check=True)
    blobs = Blobs()

    facet = capture(clone, blobs)

    expected = GitInfo(
        commit=head(origin),
        branch="main",
        detached=False,
        dirty=False,
        remote=url,
        shallow=True,
        root=os.path.realpath(clone),
    )
    assert expected == facet.git


def test_submodule_clean_and_dirty(tmp_path: Path) -> None:
    """A repository with a submodule is captured, clean and with changes inside the submodule."""
    lib = commit_repo(tmp_path / "lib", {"lib.py": "X = 1\n"})
    repo = commit_repo(tmp_path / "repo")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendor/lib")
    git(repo, "commit", "-q", "-m", "add submodule")
    blobs = Blobs()

    clean = capture(repo, blobs)
    (repo / "vendor" / "lib" / "lib.py").write_text("X = 2\n")
    dirty = capture(repo, blobs)

    expected = GitInfo(commit=head(repo), branch="main", detached=False, dirty=False, root=os.path.realpath(repo))
    assert expected == clean.git
    assert dirty.git is not None
    assert (head(repo), True, "train.py") == (dirty.git.commit, dirty.git.dirty, dirty.entrypoint)
    # git marks the submodule "-dirty" in the superproject's diff; its own changes stay its business.
    assert f"+Subproject commit {head(lib)}-dirty".encode() in blobs.data[dirty.git.diff or ""]


def test_remote_credentials_stripped(tmp_path: Path) -> None:
    """origin wins over an earlier remote, and its password never reaches the record."""
    repo = commit_repo(tmp_path / "repo")
    git(repo, "remote", "add", "backup", "https://backup.example.com/org/repo.git")
    git(repo, "remote", "add", "origin", "https://user:s3cret@example.com/org/repo.git")
    blobs = Blobs()

    facet = capture(repo, blobs)

    assert facet.git is not None
    expected = "https://example.com/org/repo.git"
    assert expected == facet.git.remote


def test_subdirectory_entrypoint_same_for_script_and_module(tmp_path: Path) -> None:
    """`cd repo/src && python train.py` and `cd repo && python -m src.train` record the same commit and path."""
    repo = commit_repo(tmp_path / "repo", {"src/__init__.py": "", "src/train.py": CAPTURE_AND_PRINT})

    as_script = run_json("train.py", repo / "src", "--token=abc", "--lr", "0.1")
    as_module = run_json("src.train", repo, module=True)

    git_info = {
        "commit": head(repo),
        "branch": "main",
        "detached": False,
        "dirty": False,
        "remote": None,
        "diff": None,
        "untracked": {},
        "shallow": False,
        "root": os.path.realpath(repo),
        "redacted": {},
    }
    expected: dict[str, Any] = {
        "git": git_info,
        "entrypoint": "src/train.py",
        "sources": {},
        "root": None,
        "errors": [],
        "redacted": {},
    }
    for result, argv in ((as_script, ["--token=***", "--lr", "0.1"]), (as_module, [])):
        assert ({**expected, "argv": argv}, []) == (result["facet"], result["errors"])


def test_no_git_executable_snapshots_local_sources(tmp_path: Path) -> None:
    """Without git on PATH, the entrypoint and its local helper are stored byte for byte, installed code is not."""
    helper = b"SCALE = 3  # helper\r\n"
    repo = commit_repo(tmp_path / "repo", {"helper.py": helper, "train.py": "import helper\n" + CAPTURE_AND_PRINT})
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python").symlink_to(sys.executable)

    result = run_json("train.py", repo, env={"PATH": str(bin_dir)})

    facet = result["facet"]
    script = (repo / "train.py").read_bytes()
    expected_sources = {"helper.py": digest_bytes(helper), "train.py": digest_bytes(script)}
    assert (None, "train.py", expected_sources) == (facet["git"], facet["entrypoint"], facet["sources"])
    assert os.path.realpath(repo) == facet["root"]
    blobs = {digest: text.encode("latin-1") for digest, text in result["blobs"].items()}
    assert {digest_bytes(helper): helper, digest_bytes(script): script} == blobs
    expected_errors = ["FileNotFoundError"]
    assert expected_errors == [error["error"] for error in result["errors"]]
    assert "no git executable on PATH" in result["errors"][0]["message"]


def test_no_repository_snapshot_without_error(tmp_path: Path) -> None:
    """A script outside any repository gets a snapshot, and that is not an error."""
    script = tmp_path / "plain" / "train.py"
    script.parent.mkdir()
    script.write_text("print('no repo')\n")
    blobs = Blobs()

    facet, errors = capture_code(put_blob=blobs.put, entrypoint=str(script), cwd=str(script.parent))

    assert not errors
    assert not facet.errors
    assert facet.git is None
    assert facet.root is not None
    assert facet.entrypoint is not None
    assert os.path.realpath(script) == os.path.join(facet.root, facet.entrypoint)
    assert script.read_bytes() == blobs.data[facet.sources[facet.entrypoint]]
    assert not [path for path in facet.sources if "site-packages" in path or "modelver/" in path]


def test_script_outside_the_repository_it_is_started_from_is_snapshotted(make_repo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`cd repo && python /elsewhere/train.py` runs nothing of the repository: no git state, a script snapshot."""
    repo = make_repo({"model.py": "WEIGHTS = 1\n"})
    script = tmp_path / "elsewhere" / "train.py"
    script.parent.mkdir()
    script.write_text("print('outside')\n")
    blobs = Blobs()

    facet, errors = capture_code(put_blob=blobs.put, entrypoint=str(script), cwd=str(repo))

    assert not errors
    assert facet.git is None
    assert facet.root is not None
    assert facet.entrypoint is not None
    assert os.path.realpath(script) == os.path.join(facet.root, facet.entrypoint)
    assert script.read_bytes() == blobs.data[facet.sources[facet.entrypoint]]


def test_repository_without_commits(tmp_path: Path) -> None:
    """A repository with no commit yet falls back to the snapshot and says why."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text("print('first')\n")
    blobs = Blobs()

    facet, errors = capture_code(put_blob=blobs.put, entrypoint=str(repo / "train.py"), cwd=str(repo))

    assert facet.git is None
    expected_errors = ["GitError"]
    assert expected_errors == [error.error for error in errors]
    assert "no commits yet" in errors[0].message
    assert tuple(error.message for error in errors) == facet.errors
    assert facet.entrypoint is not None
    assert (repo / "train.py").read_bytes() == blobs.data[facet.sources[facet.entrypoint]]


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give the repository another owner"
)
def test_refused_repository(tmp_path: Path) -> None:
    """A repository git refuses for its owner (dubious ownership) falls back to the snapshot."""
    repo = commit_repo(tmp_path / "repo")
    subprocess.run(["chown", "-R", "nobody", str(repo)], check=True)
    blobs = Blobs()

    facet, errors = capture_code(put_blob=blobs.put, entrypoint=str(repo / "train.py"), cwd=str(repo))

    assert facet.git is None
    expected_errors = ["GitError"]
    assert expected_errors == [error.error for error in errors]
    assert "dubious ownership" in errors[0].message
    assert facet.entrypoint is not None
    assert (repo / "train.py").read_bytes() == blobs.data[facet.sources[facet.entrypoint]]


def test_git_timeout(tmp_path: Path) -> None:
    """A git call that outlives the timeout is killed and the capture falls back to the snapshot."""
    repo = commit_repo(tmp_path / "repo")
    hook = tmp_path / "slow-fsmonitor.sh"
    hook.write_text("#!/bin/sh\nsleep 3\n")
    hook.chmod(0o755)
    git(repo, "config", "core.fsmonitor", str(hook))  # `git status` waits for this hook
    blobs = Blobs()

    facet, errors = capture_code(
        put_blob=blobs.put, entrypoint=str(repo / "train.py"), cwd=str(repo), git_timeout_s=0.5
    )

    assert facet.git is None
    expected_errors = ["TimeoutExpired"]
    assert expected_errors == [error.error for error in errors]
    assert facet.entrypoint is not None
    assert (repo / "train.py").read_bytes() == blobs.data[facet.sources[facet.entrypoint]]


def test_failing_store_never_raises(tmp_path: Path) -> None:
    """A put_blob that raises costs the blobs, not the capture."""
    repo = commit_repo(tmp_path / "repo")
    (repo / "train.py").write_text("print('changed')\n")
    (repo / "new.py").write_text("NEW = 1\n")

    def put_blob(data: bytes) -> str:
        raise OSError("store is down")

    facet, errors = capture_code(put_blob=put_blob, entrypoint=str(repo / "train.py"), cwd=str(repo))

    expected = GitInfo(
        commit=head(repo),
        branch="main",
        detached=False,
        dirty=True,
        untracked={"new.py": None},
        root=os.path.realpath(repo),
    )
    assert expected == facet.git
    expected_errors = [
        ("OSError", "the diff of the tracked changes not stored: store is down"),
        ("OSError", "untracked file new.py not stored: store is down"),
    ]
    assert expected_errors == [(error.error, error.message) for error in errors]


def test_find_git_root(tmp_path: Path) -> None:
    """The search walks up to the nearest .git, a directory or a file (worktrees, submodules)."""
    (tmp_path / "outer" / ".git").mkdir(parents=True)
    (tmp_path / "outer" / "inner" / "deep").mkdir(parents=True)
    (tmp_path / "outer" / "inner" / ".git").write_text("gitdir: ../.git/modules/inner\n")

    assert str(tmp_path / "outer" / "inner") == find_git_root(str(tmp_path / "outer" / "inner" / "deep"))
    assert str(tmp_path / "outer") == find_git_root(str(tmp_path / "outer"))


def test_notebook(tmp_path: Path) -> None:
    """In a Jupyter kernel the entrypoint is <notebook>, the executed cells are stored, git comes from cwd."""
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    repo = commit_repo(tmp_path / "repo")
    notebook = nbformat.v4.new_notebook()
    first = "learning_rate = 0.125  # first cell"
    notebook.cells = [nbformat.v4.new_code_cell(first), nbformat.v4.new_code_cell(CAPTURE_AND_PRINT)]
    client = nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=60, resources={"metadata": {"path": str(repo)}}
    )

    client.execute()

    printed = "".join(output["text"] for output in notebook.cells[1].outputs if output.get("name") == "stdout")
    result = json.loads(printed)
    facet = result["facet"]
    assert ("<notebook>", [], head(repo), ["notebook.py"], []) == (
        facet["entrypoint"],
        facet["argv"],
        facet["git"]["commit"],
        [*facet["sources"]],
        result["errors"],
    )
    cells = result["blobs"][facet["sources"]["notebook.py"]]
    assert f"# %% [cell 1]\n{first}\n" in cells
