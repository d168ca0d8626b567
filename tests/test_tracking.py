"""track(): capture, publish, failure handling, version assignment."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import modelver
from helpers import git, run_python
from modelver import CaptureError, CaptureWarning, VersionExistsError


def _train_iris() -> LogisticRegression:
    x, y = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=300).fit(x, y)


def test_clean_exit_publishes_one_version_with_every_facet(tmp_path: Path) -> None:
    """A clean run publishes 0.1.0 whose manifest holds config, data, metrics, resources, environment, model."""
    data = tmp_path / "train.csv"
    data.write_text("a,b\n1,2\n")
    with modelver.track("iris", config={"lr": 0.1, "layers": [3, 4]}, data={"train": data}) as run:
        run.log_params(seed=7)
        run.log_metrics({"accuracy": 0.9}, step=1)
        run.log_metrics({"accuracy": 0.95}, step=2)
        path = run.save_model(_train_iris())
    assert run.status == "published"
    assert run.version is not None
    m = run.version.manifest
    assert ("iris", "0.1.0") == (run.version.name, run.version.version)
    assert {"lr": 0.1, "layers": [3, 4], "seed": 7} == m.config
    assert modelver.fingerprint(data).digest == m.data["train"].digest
    assert {"accuracy": 0.95} == m.metrics
    assert "model.skops" == path
    assert "skops" == m.artifacts["model.skops"].format
    assert metadata.version("scikit-learn") == m.environment.packages["scikit-learn"]
    assert m.resources.wall_time_s > 0
    assert m.resources.peak_rss_bytes > 0
    assert () == m.capture_errors
    history = [json.loads(line) for line in run.store.read_blob(m.metrics_history or "").splitlines()]
    assert [1, 2] == [h["step"] for h in history]


def test_auto_versions_take_the_next_patch_and_explicit_versions_are_kept() -> None:
    """Versions go 0.1.0, 0.1.1, then an explicit 2.0.0, then 2.0.1."""
    published = []
    for version in (None, None, "2.0.0", None):
        with modelver.track("m", version=version) as run:
            pass
        assert run.version is not None
        published.append(run.version.version)
    assert ["0.1.0", "0.1.1", "2.0.0", "2.0.1"] == published
    assert published == [t.version for t in modelver.list_versions("m")]


def test_taken_explicit_version_is_refused_before_the_block_runs() -> None:
    """A taken version= raises VersionExistsError on entry and the block never runs."""
    with modelver.track("m", version="1.0.0"):
        pass
    with pytest.raises(VersionExistsError, match=r"m@1\.0\.0 already exists"):
        modelver.track("m", version="1.0.0").__enter__()
    assert ["1.0.0"] == [t.version for t in modelver.list_versions("m")]


def test_exception_publishes_nothing_and_keeps_a_failed_run(store_dir: Path) -> None:
    """The user's exception propagates untouched; no version; runs/<id>.json holds the capture."""
    error = RuntimeError("diverged")
    with pytest.raises(RuntimeError) as caught, modelver.track("m", config={"lr": 10}) as run:  # noqa: PT012 - the body is what is tested
        run.log_metrics({"loss": 3.0})
        raise error
    assert caught.value is error
    assert "failed" == run.status
    assert run.version is None
    assert [] == modelver.list_versions("m")
    record = json.loads((store_dir / "runs" / f"{run.run_id}.json").read_text())
    assert ("failed", "RuntimeError: diverged") == (record["status"], record["reason"])
    assert {"lr": 10} == record["manifest"]["config"]


def test_capture_failures_warn_and_are_recorded_but_training_goes_on(tmp_path: Path) -> None:
    """An unencodable config value and a missing data path become capture errors, and the version is published."""
    with (
        pytest.warns(CaptureWarning) as warned,
        modelver.track("m", config={"callback": lambda x: x}, data={"train": tmp_path / "missing.csv"}) as run,
    ):
        pass
    assert run.version is not None
    facets = sorted(e.facet for e in run.version.manifest.capture_errors)
    assert ["config", "data"] == facets
    assert len(warned) >= 2
    assert "unencodable" == run.version.manifest.config["callback"]["$type"]


def test_strict_mode_turns_capture_failures_into_errors(tmp_path: Path) -> None:
    """strict=True raises CaptureError at the failing call and publishes nothing."""
    with pytest.raises(CaptureError, match=r"missing\.csv"), modelver.track("m", strict=True) as run:
        run.log_data("train", tmp_path / "missing.csv")
    assert [] == modelver.list_versions("m")


def test_nan_metric_is_recorded_as_null_with_a_capture_error() -> None:
    """NaN has no JSON form: the manifest keeps null and says why, the history keeps 'nan'."""
    with pytest.warns(CaptureWarning, match="nan"), modelver.track("m") as run:
        run.log_metrics({"loss": float("nan"), "acc": np.float32(0.5)})
    assert run.version is not None
    assert {"loss": None, "acc": 0.5} == run.version.manifest.metrics


def test_large_config_is_stored_whole_as_a_blob() -> None:
    """A config over 1 MiB goes to a blob and decodes back equal."""
    config = {"vocabulary": [f"token-{i}" for i in range(200_000)]}
    with modelver.track("m", config=config) as run:
        pass
    assert run.version is not None
    assert "blob" == run.version.manifest.config["$type"]
    assert config == run.version.config()


def test_artifacts_files_and_directories_download_byte_identical(tmp_path: Path) -> None:
    """log_artifact stores files and directory trees; download() writes the same bytes back."""
    src = tmp_path / "tokenizer"
    (src / "sub").mkdir(parents=True)
    (src / "vocab.txt").write_bytes(b"a\nb\n")
    (src / "sub" / "merges.bin").write_bytes(bytes(range(256)))
    single = tmp_path / "README.md"
    single.write_text("notes")
    with modelver.track("m") as run:
        added = run.log_artifact(src)
        added += run.log_artifact(single, name="docs/readme.md")
    assert ["tokenizer/sub/merges.bin", "tokenizer/vocab.txt", "docs/readme.md"] == added
    assert run.version is not None
    out = run.version.download(tmp_path / "out")
    assert bytes(range(256)) == (out / "tokenizer" / "sub" / "merges.bin").read_bytes()
    assert "notes" == (out / "docs" / "readme.md").read_text()
    assert "text/markdown" == run.version.manifest.artifacts["docs/readme.md"].media_type


def test_versions_loaded_inside_a_run_become_lineage_inputs() -> None:
    """get()/load() inside track() records the exact input version by digest."""
    with modelver.track("features") as first:
        first.save_model({"mean": 1.5})
    assert first.version is not None
    with modelver.track("model") as second:
        assert {"mean": 1.5} == modelver.load("features@latest")
    assert second.version is not None
    assert (f"features@{first.version.digest}",) == second.version.manifest.lineage.inputs


def test_peak_memory_includes_child_processes() -> None:
    """A child allocating 300 MiB raises the run's peak above 300 MiB although this process stays small."""
    code = "b = bytearray(300 << 20); b[::4096] = b'x' * len(b[::4096])"
    with modelver.track("m") as run:
        subprocess.run([sys.executable, "-c", code], check=True)
    assert run.version is not None
    assert run.version.manifest.resources.peak_rss_bytes >= 300 << 20


def test_real_training_script_in_a_dirty_git_repo(make_repo, tmp_path: Path, store_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """A real subprocess trains under track(); the version records commit, dirty diff, untracked file, sklearn."""
    script = textwrap.dedent(
        """
        import modelver
        from helper import make_model
        with modelver.track("repo-model", config={"C": 1.0}) as run:
            run.save_model(make_model())
        print(run.version.version)
        """
    )
    repo = make_repo({"train.py": script, "README.md": "v1\n"})
    (repo / "README.md").write_text("v2\n")  # tracked and modified
    (repo / "helper.py").write_text(
        "from sklearn.datasets import load_iris\nfrom sklearn.tree import DecisionTreeClassifier\n"
        "def make_model():\n    return DecisionTreeClassifier(random_state=0).fit(*load_iris(return_X_y=True))\n"
    )
    out = run_python("train.py", cwd=repo)
    assert "0.1.0" == out.stdout.strip()
    version = modelver.get("repo-model@0.1.0")
    g = version.manifest.code.git
    assert g is not None
    assert git(repo, "rev-parse", "HEAD").strip() == g.commit
    assert ("main", True) == (g.branch, g.dirty)
    assert g.diff is not None
    assert git(repo, "diff", "--binary", "HEAD").encode() == version.store.read_blob(g.diff)
    assert ["helper.py"] == sorted(g.untracked)
    assert "train.py" == version.manifest.code.entrypoint
    assert metadata.version("scikit-learn") == version.manifest.environment.packages["scikit-learn"]


def _publish_in_child(store: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    with modelver.track("race", store=store) as run:
        pass
    assert run.version is not None
    queue.put(run.version.version)


def test_concurrent_auto_versioned_publishes_get_distinct_versions(store_dir: Path) -> None:
    """Eight processes publishing at once each get their own version; none is overwritten."""
    modelver.Store(store_dir).initialize()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_publish_in_child, args=(str(store_dir), queue)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [0] * 8 == [p.exitcode for p in procs]
    versions = sorted(queue.get(timeout=5) for _ in procs)
    assert [f"0.1.{i}" for i in range(8)] == sorted(versions, key=lambda v: int(v.split(".")[2]))
    assert len(set(versions)) == 8
    for version in versions:
        assert modelver.verify(f"race@{version}").ok


def test_directory_data_keeps_a_file_listing_whose_digest_is_the_tree_digest(tmp_path: Path) -> None:
    """A directory's per-file listing is stored, hashes to the tree digest, and is checked by verify()."""
    data = tmp_path / "images"
    (data / "cats").mkdir(parents=True)
    (data / "cats" / "1.png").write_bytes(b"\x89PNG-1")
    (data / "dogs.csv").write_text("id\n1\n")
    with modelver.track("m", data={"images": data}) as run:
        pass
    assert run.version is not None
    entry = run.version.manifest.data["images"]
    assert ("directory", 2, entry.digest) == (entry.kind, entry.files, entry.tree)
    listing = json.loads(run.store.read_blob(entry.digest))
    assert ["cats/1.png", "dogs.csv"] == [e[0] for e in listing["entries"]]
    assert "data images file list" in [o.role for o in modelver.verify("m").objects]


def test_strict_failure_while_fingerprinting_data_on_entry_leaves_no_capture_thread(tmp_path: Path) -> None:
    """A strict data failure in track(data=...) raises on entry, keeps a failed run and stops the capture threads."""
    import threading

    before = {t.name for t in threading.enumerate()}
    run = modelver.track("m", data={"train": tmp_path / "missing.csv"}, strict=True)
    with pytest.raises(CaptureError, match=r"missing\.csv"):
        run.__enter__()
    assert "failed" == run.status
    assert before == {t.name for t in threading.enumerate()}
    assert (run.store.url + f"/runs/{run.run_id}.json") in [str(p) for p in Path(run.store.url, "runs").iterdir()]


def test_saving_twice_under_one_name_keeps_the_latest_with_a_warning() -> None:
    """A checkpoint saved every epoch under one name: the bundle holds the last one, and the user is told."""
    with modelver.track("m") as run:
        run.save_model({"epoch": 1}, name="checkpoint")
        with pytest.warns(UserWarning, match="already saved"):
            run.save_model({"epoch": 2}, name="checkpoint")
    assert {"epoch": 2} == modelver.load("m", name="checkpoint")


def test_loading_a_version_without_artifacts_says_so() -> None:
    """A metadata-only version loads nothing, and the error says the run saved no artifact."""
    with modelver.track("m"):
        pass
    with pytest.raises(modelver.VersionNotFoundError, match="saved none"):
        modelver.load("m")


def test_version_schemes_reach_track() -> None:
    """bump= and scheme= choose the version: a minor bump, then a hybrid experiment above the last release."""
    with modelver.track("m"):
        pass
    with modelver.track("m", bump="minor") as minor:
        pass
    with modelver.track("m", scheme="hybrid") as experiment:
        pass
    assert minor.version is not None
    assert experiment.version is not None
    assert "0.2.0" == minor.version.version
    assert experiment.version.version.startswith("0.2.1-exp.")
    assert "0.2.0" == modelver.get("m@latest").version
    with pytest.raises(modelver.InvalidReferenceError, match="unknown version scheme"):
        modelver.track("m", scheme="calver")


def test_git_scheme_without_git_falls_back_to_a_timestamp(tmp_path: Path) -> None:
    """Outside any repository, scheme='git' still publishes (timestamp version) and says why."""
    script = tmp_path / "train.py"
    script.write_text(
        "import warnings, modelver\nwarnings.simplefilter('ignore')\n"
        "with modelver.track('m', scheme='git') as run:\n    pass\n"
        "print(run.version.version)\n"
        "print([e.message for e in run.version.manifest.capture_errors if 'timestamp' in e.message])\n"
    )
    out = run_python(script, cwd=tmp_path).stdout.splitlines()
    major = out[0].split(".")[0]
    assert major.isdigit()
    assert 14 == len(major)
    assert "scheme='git' needs the git commit" in out[1]


def test_resource_series_and_metrics_history_read_back_from_the_version() -> None:
    """The version stores a resource time series sampled up to the run's end, and every log_metrics call in order."""
    with modelver.track("m") as run:
        held = np.ones(20 << 17)  # 20 MiB held until the end, so the last sample sees it
        for step in range(3):
            run.log_metrics({"loss": 1.0 / (step + 1)}, step=step)
    assert run.version is not None
    loaded = modelver.get(run.version.ref)
    series = loaded.resource_series()
    history = loaded.metrics_history()

    assert series is not None
    assert "modelver.resources-series/1" == series["schema"]
    assert [0, 1, 2] == [entry["step"] for entry in history]
    assert [1.0, 0.5, 1.0 / 3] == [entry["metrics"]["loss"] for entry in history]
    last_time, last_memory = series["rows"][-1][:2]
    assert last_time + 0.001 >= loaded.manifest.resources.wall_time_s
    assert last_memory >= held.nbytes
    roles = {checked.role: checked.status for checked in modelver.verify(loaded.ref).objects}
    assert "ok" == roles["resource series"]  # verified, pushed from a spool and kept by gc like any blob


def test_capture_warnings_point_at_the_user_s_code(tmp_path: Path) -> None:
    """A capture warning names the user's file, not a line inside modelver, inside a run and from a step in it."""

    @modelver.versioned(name="reads-a-handle")
    def count_lines(handle: object) -> int:
        return 3

    with (
        pytest.warns(CaptureWarning) as caught,
        modelver.track("m", data={"gone": tmp_path / "missing.csv"}),
        (tmp_path / "f.txt").open("w") as handle,
    ):
        count_lines(handle)
    assert len(caught) >= 2
    assert {__file__} == {warning.filename for warning in caught}
