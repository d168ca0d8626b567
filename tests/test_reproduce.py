"""``modelver.reproduce``: a version rebuilt into a directory from a real git repository, a plain directory and a
notebook kernel, re-run as a real process with the same metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

import modelver
from helpers import git, run_python
from modelver.capture.notebook import _notebook_cells as capture_cells
from modelver.errors import ReproduceError
from modelver.provenance import created_by
from modelver.reproduction.git_tree import _same_patch
from modelver.reproduction.notebook import _notebook_cells
from modelver.serde import canonical_json
from modelver.tracking.spool import create_version_tag

# A deterministic training: a seeded random forest on scikit-learn's bundled wine data, read from a CSV named on
# the command line (so the data is checked and the re-run reads the same file).
TRAIN = """\
import argparse

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

import modelver
from features import scale
from params import N_ESTIMATORS

parser = argparse.ArgumentParser()
parser.add_argument("--data")
parser.add_argument("--seed", type=int)
parser.add_argument("--save", action="store_true")
args = parser.parse_args()
table = np.loadtxt(args.data, delimiter=",")
x, y = scale(table[:, :-1]), table[:, -1].astype(int)
config = {"seed": args.seed, "n_estimators": N_ESTIMATORS}
with modelver.track("wine", config=config, data={"train": args.data}) as run:
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=args.seed)
    model = RandomForestClassifier(n_estimators=N_ESTIMATORS, random_state=args.seed).fit(x_train, y_train)
    run.log_metrics({"accuracy": float(model.score(x_test, y_test))})
    if args.save:  # skops takes seconds to import: only the test that needs a model saves one
        run.save_model(model)
print(run.version.ref)
"""
TINY = """\
import sys

import modelver

with modelver.track("tiny", config={"prefix": sys.prefix}) as run:
    run.log_metrics({"m": 1})
"""
FEATURES = "def scale(x):\n    return (x - x.mean(axis=0)) / x.std(axis=0)\n"


def wine_csv(path: Path) -> Path:
    """Write scikit-learn's bundled wine data (features, then the class) as a CSV file."""
    from sklearn.datasets import load_wine

    bunch = load_wine()
    rows = [[*map(float, features), int(target)] for features, target in zip(bunch.data, bunch.target, strict=True)]
    path.write_text("\n".join(",".join(repr(v) for v in row) for row in rows) + "\n")
    return path


def tree_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative POSIX path to bytes), without .git, .modelver and __pycache__."""
    skip = {".git", ".modelver", "__pycache__"}
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not skip & set(path.relative_to(root).parts)
    }


@pytest.fixture
def trained_dirty_repo(tmp_path: Path, make_repo: Callable[..., Path]) -> tuple[Path, dict[str, bytes], str]:
    """A repository trained from a dirty tree (modified, staged-new and untracked files), then committed past.

    Returns the repository, its files at training time, and the published reference.
    """
    repo = make_repo(
        {"train.py": TRAIN, "params.py": "N_ESTIMATORS = 10\n", ".gitignore": "__pycache__/\n", "README": "wine\n"}
    )
    (repo / "params.py").write_text("N_ESTIMATORS = 12  # tried after the commit\n")
    (repo / "notes.md").write_text("staged, never committed\n")
    git(repo, "add", "notes.md")
    (repo / "features.py").write_text(FEATURES)
    (repo / "README").unlink()
    data = wine_csv(tmp_path / "wine.csv")

    ref = run_python(repo / "train.py", "--data", str(data), "--seed", "3", "--save", cwd=repo).stdout.strip()
    at_training = tree_files(repo)

    (repo / "params.py").write_text("N_ESTIMATORS = 50\n")
    (repo / "train.py").write_text(TRAIN.replace("test_size=0.3", "test_size=0.5"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "later work")
    return repo, at_training, ref


def test_git_tree_rebuilt_byte_identical_and_rerun_gives_same_metrics(
    tmp_path: Path, trained_dirty_repo: tuple[Path, dict[str, bytes], str]
) -> None:
    """The rebuilt tree equals the tree at training time byte for byte, verified through git; the re-run publishes
    a version whose code, config, packages, data and metrics equal the original's."""
    repo, at_training, ref = trained_dirty_repo
    target = tmp_path / "rebuilt"

    report = modelver.reproduce(ref, target, run=True)

    original = modelver.get(ref)
    assert 0 == report.returncode, report.output
    assert at_training == tree_files(target)
    assert (True, (), ("features.py",), str(repo)) == (
        report.tracked_verified,
        report.unrestored,
        report.restored,
        os.path.realpath(report.fetched_from or ""),
    )
    assert original.manifest.code.git is not None
    assert original.manifest.code.git.commit == git(target, "rev-parse", "HEAD").strip()
    assert ["identical"] == [check.status for check in report.data]
    assert report.diff is not None
    assert report.new_version is not None
    assert ((), (), (), (), ()) == (
        report.diff.code,
        report.diff.environment,
        report.diff.config,
        report.diff.data,
        report.diff.metrics,
    )
    rerun = modelver.get(report.new_version)
    assert original.manifest.metrics == rerun.manifest.metrics
    assert [*original.manifest.artifacts] == [*rerun.manifest.artifacts] != []
    assert original.manifest.code.git.diff == rerun.manifest.code.git.diff  # type: ignore[union-attr]
    meta = target / ".modelver"
    pins = (meta / "requirements.txt").read_text()
    assert f"scikit-learn=={original.manifest.environment.packages['scikit-learn']}\n" in pins
    assert original.manifest.environment.python + "\n" == (meta / "python-version").read_text()
    assert {"seed": 3, "n_estimators": 12} == json.loads((meta / "config.json").read_text())
    written = json.loads((meta / "report.json").read_text())
    assert (report.ref, report.complete) == (written["ref"], written["complete"])
    assert "" == git(target, "status", "--porcelain", "--untracked-files=no", "--", ".modelver")


def test_patch_comparison_allows_only_abbreviated_ids_to_differ(tmp_path: Path, make_repo: Callable[..., Path]) -> None:
    """The tracked-file check compares the rebuilt tree's `git diff HEAD` with the recorded diff: equal patches
    (abbreviated ids against full ones) pass, a patch with one more changed line does not."""
    repo = make_repo({"a.txt": "one\n", "b.bin": "\0\1\2"})
    (repo / "a.txt").write_text("two\n")
    (repo / "b.bin").write_bytes(b"\0\1\2\3")
    recorded = git(repo, "diff", "--binary", "HEAD").encode()
    full = git(repo, "diff", "--binary", "--full-index", "HEAD").encode()
    (repo / "a.txt").write_text("three\n")
    other = git(repo, "diff", "--binary", "--full-index", "HEAD").encode()

    assert (True, False, False) == (
        _same_patch(recorded, full),
        _same_patch(recorded, other),
        _same_patch(recorded, full + b"+more\n"),
    )


def test_plain_directory_snapshot_rebuilt_and_rerun(tmp_path: Path) -> None:
    """Without git the snapshot (entrypoint and the local modules it imported) is written back byte for byte and
    the re-run reproduces the metrics."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(TRAIN)
    (project / "features.py").write_text(FEATURES)
    (project / "params.py").write_text("N_ESTIMATORS = 8\n")
    (project / "unrelated.txt").write_text("not imported, not captured\n")
    data = wine_csv(tmp_path / "wine.csv")
    ref = run_python(project / "train.py", "--data", str(data), "--seed", "5", cwd=project).stdout.strip()
    captured = {rel: (project / rel).read_bytes() for rel in ("train.py", "features.py", "params.py")}
    (project / "params.py").write_text("N_ESTIMATORS = 99\n")

    report = modelver.reproduce(ref, tmp_path / "rebuilt", run=True)

    assert 0 == report.returncode, report.output
    assert ("snapshot", None, ()) == (report.code, report.tracked_verified, report.unrestored)
    assert captured == tree_files(tmp_path / "rebuilt")
    assert report.diff is not None
    assert ((), (), ()) == (report.diff.config, report.diff.data, report.diff.metrics)
    assert modelver.get(ref).manifest.metrics == modelver.get(report.new_version or "").manifest.metrics


NOTEBOOK_CELLS = [
    "import numpy as np\nfrom sklearn.datasets import load_iris\nfrom sklearn.linear_model import LogisticRegression",
    "x, y = load_iris(return_X_y=True)\nrng = np.random.default_rng(7)\norder = rng.permutation(len(y))",
    textwrap.dedent(
        """\
        import modelver
        with modelver.track("iris-nb", config={"C": 0.5}) as run:
            model = LogisticRegression(C=0.5, max_iter=500).fit(x[order[:100]], y[order[:100]])
            run.log_metrics({"accuracy": float(model.score(x[order[100:]], y[order[100:]]))})
        print(run.version.ref)"""
    ),
]


def test_notebook_run_rebuilt_and_rerun_in_a_kernel(tmp_path: Path, make_repo: Callable[..., Path]) -> None:
    """A run captured in a Jupyter kernel started in a repository's subdirectory is rebuilt as the repository plus
    its cells (byte-identical to the recorded ones, beside the tree, plus an .ipynb) and re-executed in a kernel in
    the same subdirectory: same cells, same commit, same metrics."""
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    repo = make_repo({"notebooks/README.md": "analysis lives here\n"})
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(cell) for cell in NOTEBOOK_CELLS]
    nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(repo / "notebooks")}}
    ).execute()
    ref = notebook.cells[-1].outputs[0]["text"].strip()
    original = modelver.get(ref)
    recorded_cells = original.store.read_blob(original.manifest.code.sources["notebook.py"])
    rebuilt = tmp_path / "rebuilt"

    report = modelver.reproduce(ref, rebuilt, run=True)

    assert 0 == report.returncode, report.output
    assert ((".modelver/notebook.py",), True) == (report.restored, report.tracked_verified)
    assert {"notebooks/README.md": b"analysis lives here\n"} == tree_files(rebuilt)
    assert recorded_cells == (rebuilt / ".modelver" / "notebook.py").read_bytes()
    as_notebook = nbformat.read(rebuilt / ".modelver" / "notebook.ipynb", as_version=4)
    assert NOTEBOOK_CELLS == [cell.source for cell in as_notebook.cells]
    assert report.diff is not None
    assert ((), (), ()) == (report.diff.code, report.diff.config, report.diff.metrics)
    rerun = modelver.get(report.new_version or "")
    assert (str(rebuilt / "notebooks"), "<notebook>") == (rerun.manifest.code.root, rerun.manifest.code.entrypoint)


@given(st.lists(st.text(st.characters(codec="utf-8", exclude_characters="\r"), min_size=1), max_size=6))
def test_notebook_cells_round_trip(cells: list[str]) -> None:
    """The cells the capture joins into notebook.py split back into the same cells (as the capture keeps them:
    right-stripped, blank ones dropped), unless a cell itself holds a cell marker line."""
    kept = [cell.rstrip() for cell in cells if cell.strip()]
    text = capture_cells(SimpleNamespace(user_ns={"In": ["", *cells]}))
    if any(line.startswith("# %% [cell ") for cell in kept for line in cell.split("\n")) or not kept:
        return
    assert kept == _notebook_cells(text or "")


def test_commit_not_reachable_names_commit_and_remote(tmp_path: Path, make_repo: Callable[..., Path]) -> None:
    """The working tree is gone and the remote never got the commit: a ReproduceError naming both; once the
    commit is pushed the tree is fetched from the remote."""
    remote = tmp_path / "remote.git"
    repo = make_repo({"train.py": TINY})
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    (repo / "train.py").write_text((repo / "train.py").read_text() + "# local only\n")
    git(repo, "commit", "-q", "-am", "not pushed")
    run_python(repo / "train.py", cwd=repo)
    commit = git(repo, "rev-parse", "HEAD").strip()
    moved = tmp_path / "moved"
    repo.rename(moved)

    with pytest.raises(ReproduceError) as caught:
        modelver.reproduce("tiny", tmp_path / "rebuilt")

    assert (commit, str(remote), False) == (caught.value.commit, caught.value.remote, (tmp_path / "rebuilt").exists())
    assert f"cannot fetch commit {commit} of tiny@0.1.0: the working tree {repo} no longer exists, and the remote " + (
        f"{remote} does not serve it"
    ) in str(caught.value)

    git(moved, "push", "-q", "origin", "main")
    report = modelver.reproduce("tiny", tmp_path / "rebuilt")
    assert (str(remote), True) == (report.fetched_from, report.tracked_verified)
    assert (moved / "train.py").read_bytes() == (tmp_path / "rebuilt" / "train.py").read_bytes()
    assert str(remote) == git(tmp_path / "rebuilt", "remote", "get-url", "origin").strip()


def test_a_remote_that_looks_like_a_git_option_is_refused(tmp_path: Path, make_repo: Callable[..., Path]) -> None:
    """A recorded remote such as ``--upload-pack=<command>`` (a manifest is data, and a store can be shared) is
    never passed to git as an option: reproduce fails with a ReproduceError and the command never runs."""
    marker = tmp_path / "pwned"
    remote = f"--upload-pack=touch {marker}; false"
    repo = make_repo({"train.py": TINY})
    git(repo, "remote", "add", "--", "origin", remote)
    run_python(repo / "train.py", cwd=repo)
    assert remote == modelver.get("tiny").manifest.code.git.remote
    repo.rename(tmp_path / "moved")  # the working tree is gone: only the remote is left to fetch from

    with pytest.raises(ReproduceError) as caught:
        modelver.reproduce("tiny", tmp_path / "rebuilt")

    assert "refused, it would be read as an option of git" in str(caught.value)
    assert not marker.exists()


def test_a_diff_that_does_not_apply_names_the_commit_and_leaves_nothing(
    tmp_path: Path, make_repo: Callable[..., Path]
) -> None:
    """A manifest whose recorded diff does not apply to its recorded commit (written by hand, or by a tool that
    rewrote the commit) is a ReproduceError naming the commit and the remote, and the target directory is removed."""
    repo = make_repo({"train.py": TINY})
    (repo / "train.py").write_text(TINY + "# dirty\n")
    run_python(repo / "train.py", cwd=repo)
    git(repo, "checkout", "-q", "--", "train.py")
    (repo / "train.py").write_text("# rewritten\n")
    git(repo, "commit", "-q", "-am", "rewrite train.py")
    other = git(repo, "rev-parse", "HEAD").strip()
    original = modelver.get("tiny@0.1.0")
    body = json.loads(original.store.read_manifest(original.digest))
    body["code"]["git"]["commit"] = other  # the diff was taken against the first commit
    digest = original.store.put_manifest(canonical_json(body))
    create_version_tag(original.store, "tiny", digest, "9.0.0", created_by())

    with pytest.raises(ReproduceError) as caught:
        modelver.reproduce("tiny@9.0.0", tmp_path / "rebuilt")

    assert (other, "") == (caught.value.commit, caught.value.remote)
    assert f"the recorded diff of tiny@9.0.0 does not apply to commit {other} (remote none recorded)" in str(
        caught.value
    )
    assert not (tmp_path / "rebuilt").exists()


def test_target_must_be_empty(tmp_path: Path) -> None:
    """Reproducing into a directory that holds files is refused before anything is written."""
    with modelver.track("tiny") as run:
        run.log_metrics({"m": 1})
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")

    with pytest.raises(ReproduceError, match="not an empty directory"):
        modelver.reproduce("tiny", target)
    assert ["keep.txt"] == sorted(p.name for p in target.iterdir())


def test_venv_reports_what_pip_could_not_install(
    tmp_path: Path, make_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--venv with inherited packages installs nothing that is already here; a package only the training saw
    (offline, so pip cannot fetch it) and the editable installs are reported; the re-run runs in the venv."""
    extra = tmp_path / "extra"
    dist_info = extra / "only_at_training-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: only-at-training\nVersion: 1.0\n")
    repo = make_repo({"train.py": TINY})
    run_python(repo / "train.py", cwd=repo, env={"PYTHONPATH": str(extra)})
    original = modelver.get("tiny")
    editable = sorted(original.manifest.environment.editable)
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip's own setting: nothing may come from an index

    report = modelver.reproduce("tiny", tmp_path / "rebuilt", venv=True, inherit_packages=True, run=True)

    assert 0 == report.returncode, report.output
    not_installed = {item.requirement: item.reason for item in report.not_installed}
    assert [*editable, "only-at-training==1.0"] == sorted(not_installed)
    assert "only-at-training==1.0" in not_installed["only-at-training==1.0"]
    assert report.command[0] == str(Path(report.venv or "") / "bin" / "python")
    assert report.diff is not None
    assert [("package:only-at-training", "removed")] == [(c.key, c.status) for c in report.diff.environment]
    assert [("prefix", os.path.realpath(report.venv or ""))] == [
        (c.key, os.path.realpath(c.b)) for c in report.diff.config
    ]
    assert not report.complete


def test_cli_reproduce(tmp_path: Path, make_repo: Callable[..., Path]) -> None:
    """`modelver reproduce REF DIR` exits 0 for a complete rebuild; an untracked file whose content was never
    stored (a secret-looking name) makes it exit 1, listed in the --json report; a busy DIR is a one-line error."""
    repo = make_repo({"train.py": TINY})
    run_python(repo / "train.py", cwd=repo)
    (repo / "prod.env").write_text("TOKEN=not stored\n")
    run_python(repo / "train.py", cwd=repo)
    cli = str(Path(sys.executable).parent / "modelver")

    clean = subprocess.run([cli, "reproduce", "tiny@0.1.0", str(tmp_path / "a")], capture_output=True, text=True)
    partial = subprocess.run(
        [cli, "reproduce", "tiny@0.1.1", str(tmp_path / "b"), "--json"], capture_output=True, text=True
    )
    busy = subprocess.run([cli, "reproduce", "tiny", str(tmp_path / "a")], capture_output=True, text=True)

    assert (0, 1, 1) == (clean.returncode, partial.returncode, busy.returncode), clean.stderr + partial.stderr
    assert "tracked files verified" in clean.stdout
    report = json.loads(partial.stdout)
    assert ("tiny@0.1.1", "git", True) == (report["ref"], report["code"], report["tracked_verified"])
    assert report["complete"] is False  # the verdict is in the JSON, not only in the exit code
    assert ["prod.env"] == [item["path"] for item in report["unrestored"]]
    assert busy.stderr.startswith("modelver: error:")
    assert "not an empty directory" in busy.stderr


def test_data_inside_the_tree_is_checked_at_its_rebuilt_copy(tmp_path: Path, make_repo: Callable[..., Path]) -> None:
    """Data tracked in the repository and changed since is reported changed where it was recorded and identical in
    the rebuilt tree (the copy a re-run reads), so the reproduction still counts as complete."""
    repo = make_repo(
        {
            "data.csv": "x\n1\n",
            "train.py": "import modelver\nwith modelver.track('tabular', data={'train': 'data.csv'}):\n    pass\n",
        }
    )
    run_python(repo / "train.py", cwd=repo)
    (repo / "data.csv").write_text("x\n2\n")
    git(repo, "commit", "-q", "-am", "new data")

    report = modelver.reproduce("tabular", tmp_path / "rebuilt")

    assert [("changed", str(repo / "data.csv")), ("identical", str(tmp_path / "rebuilt" / "data.csv"))] == [
        (check.status, check.location) for check in report.data
    ]
    assert report.complete


def test_corrupt_blobs_are_reported_not_written(tmp_path: Path, make_repo: Callable[..., Path]) -> None:
    """A diff blob and an untracked-file blob damaged in the store are not applied or written: both are listed as
    not restored, the tracked files are not verified, and the reproduction is not complete."""
    repo = make_repo({"train.py": TINY})
    (repo / "train.py").write_text(TINY + "# dirty\n")
    (repo / "helper.py").write_text("VALUE = 1\n")
    run_python(repo / "train.py", cwd=repo)
    git_info = modelver.get("tiny").manifest.code.git
    assert git_info is not None
    assert git_info.diff is not None
    for digest in (git_info.diff, git_info.untracked["helper.py"] or ""):
        blob = Path(modelver.get("tiny").store.blob_path(digest))
        blob.chmod(0o644)
        blob.write_bytes(b"tampered")

    report = modelver.reproduce("tiny", tmp_path / "rebuilt")

    assert [("(tracked changes)", False), ("helper.py", False)] == [
        (item.path, (tmp_path / "rebuilt" / item.path).exists()) for item in report.unrestored
    ]
    assert (False, False) == (report.tracked_verified, report.complete)
    assert TINY == (tmp_path / "rebuilt" / "train.py").read_text()  # the commit, without the diff


def test_config_file_named_on_the_command_line_is_written_for_the_rerun(
    tmp_path: Path, make_repo: Callable[..., Path]
) -> None:
    """A config file kept out of git and named by the recorded arguments is written from the recorded config, so
    the recorded command runs; the re-run records the same config and sees no untracked file."""
    script = (
        "import json, sys\nimport modelver\nconfig = json.load(open(sys.argv[2]))\n"
        "with modelver.track('configured', config=config) as run:\n    run.log_metrics({'lr': config['lr']})\n"
    )
    repo = make_repo({"train.py": script, ".gitignore": "local-params.json\n"})
    (repo / "local-params.json").write_text('{"lr": 0.25, "layers": [8, 4]}')
    run_python(repo / "train.py", "--config", "local-params.json", cwd=repo)
    rebuilt = tmp_path / "rebuilt"

    report = modelver.reproduce("configured", rebuilt, run=True)

    assert 0 == report.returncode, report.output
    assert {"lr": 0.25, "layers": [8, 4]} == json.loads((rebuilt / "local-params.json").read_text())
    assert "local-params.json" in report.config_files
    assert report.diff is not None
    assert ((), (), ()) == (report.diff.code, report.diff.config, report.diff.metrics)
    assert "" == git(rebuilt, "status", "--porcelain")
