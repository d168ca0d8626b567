"""`reproduce --run` records a reproduction linked to the original, not a release, unless asked to publish."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import modelver
from helpers import run_python
from modelver.errors import InvalidReferenceError
from modelver.registry.semver import SemVer
from modelver.tracking.reproduction_mode import ENV_REPRODUCTION_OF, ReproductionOf, reproduction_of

TRAIN = (
    "import modelver\n"
    "with modelver.track('repro', config={'lr': 0.5}) as run:\n"
    "    run.log_metrics({'acc': 0.75})\n"
    "print(run.version.ref)\n"
)
CLI = [str(Path(sys.executable).parent / "modelver")]


@pytest.fixture
def original(make_repo: Callable[..., Path]) -> str:
    """A version `repro@0.1.0` trained from a committed script in a real repository."""
    repo = make_repo({"train.py": TRAIN})
    return run_python(repo / "train.py", cwd=repo).stdout.strip()


def test_rerun_is_a_reproduction_and_latest_stays(original: str, tmp_path: Path) -> None:
    """The re-run takes `0.1.0-repro.<run id>`, lists the original as a lineage input, and `latest` does not move."""
    report = modelver.reproduce(original, tmp_path / "rebuilt", run=True)

    assert 0 == report.returncode, report.output
    assert report.new_version is not None
    assert report.new_version.startswith("repro@0.1.0-repro.")
    first = modelver.get(original)
    again = modelver.get(report.new_version)
    assert ["0.1.0"] == [v for v in (t.version for t in modelver.list_versions("repro")) if "-" not in v]
    assert ("0.1.0", (f"repro@{first.digest}",)) == (
        modelver.get("repro@latest").version,
        again.manifest.lineage.inputs,
    )
    assert report.diff is not None
    assert ((), ()) == (report.diff.metrics, report.diff.config)


def test_publish_makes_the_rerun_a_release(original: str, tmp_path: Path) -> None:
    """With publish=True the re-run is the next release and `latest` moves to it (the old behaviour, on request)."""
    report = modelver.reproduce(original, tmp_path / "rebuilt", run=True, publish=True)

    assert ("repro@0.1.1", "0.1.1") == (report.new_version, modelver.get("repro@latest").version)


def test_cli_publish_needs_run(original: str, tmp_path: Path) -> None:
    """`--publish` without `--run` is a usage error, and `--run --publish` publishes a release."""
    env = {**os.environ}
    refused = subprocess.run(
        [*CLI, "reproduce", original, str(tmp_path / "a"), "--publish"], capture_output=True, text=True, env=env
    )
    done = subprocess.run(
        [*CLI, "reproduce", original, str(tmp_path / "b"), "--run", "--publish", "--json"],
        capture_output=True,
        text=True,
        env=env,
    )

    assert (2, 0) == (refused.returncode, done.returncode), done.stderr
    assert "--publish only applies with --run" in refused.stderr
    assert "repro@0.1.1" == json.loads(done.stdout)["new_version"]


def test_reproduction_of_only_applies_to_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variable names one model: a script's other runs publish as usual; a malformed value is a typed error."""
    monkeypatch.setenv(ENV_REPRODUCTION_OF, ReproductionOf("a", "1.0.0", "blake3:00").to_env())
    assert (ReproductionOf("a", "1.0.0", "blake3:00"), None) == (reproduction_of("a"), reproduction_of("b"))

    monkeypatch.setenv(ENV_REPRODUCTION_OF, "a@1.0.0")
    with pytest.raises(InvalidReferenceError, match="unset it to publish"):
        reproduction_of("a")


@given(
    major=st.integers(0, 10**6),
    minor=st.integers(0, 10**6),
    patch=st.integers(0, 10**6),
    pre=st.sampled_from(["", "-rc.1", "-exp.20260101T000000Z"]),
    run_id=st.from_regex(r"\A[0-9]{8}T[0-9]{6}Z-[0-9a-f]{12}\Z"),
)
def test_reproduction_env_round_trips_and_version_is_a_prerelease(
    major: int, minor: int, patch: int, pre: str, run_id: str
) -> None:
    """What reproduce writes is read back unchanged, and the reproduction's version sorts just below the release."""
    original = ReproductionOf("m", f"{major}.{minor}.{patch}{pre}", "blake3:" + "0" * 64)
    with pytest.MonkeyPatch.context() as patch_env:
        patch_env.setenv(ENV_REPRODUCTION_OF, original.to_env())
        read = reproduction_of("m")
    version = original.version_for(run_id)

    assert original == read
    parsed = SemVer.parse(str(version))
    assert (("repro", run_id), (major, minor, patch)) == (parsed.prerelease, (parsed.major, parsed.minor, parsed.patch))
    assert parsed < SemVer(major, minor, patch)
