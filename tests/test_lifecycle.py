"""Promote, rollback, yank, protect, release, history (modelver.registry.lifecycle) and their CLI commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import modelver
from modelver.errors import (
    InvalidReferenceError,
    ModelverError,
    VersionExistsError,
    VersionNotFoundError,
    YankedVersionWarning,
)
from modelver.registry.lifecycle import (
    ProtectedAliasError,
    aliases,
    history,
    promote,
    protect,
    release,
    rollback,
    unyank,
    yank,
)

# The registry commands as the lead wires them into `modelver` (register() plus the richer list).
CLI = [
    sys.executable,
    "-c",
    "import sys; from modelver.cli import cli, main; from modelver.cli.registry import register, list_command; "
    "register(cli); cli.add_command(list_command); main(sys.argv[1:])",
]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with the registry commands in a real subprocess."""
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=dict(os.environ), timeout=120)


def _publish(name: str, count: int, *, metric: str = "acc") -> list[str]:
    versions = []
    for i in range(count):
        with modelver.track(name, config={"i": i}) as run:
            run.log_metrics({metric: i / 10})
            run.save_model({"i": i})
        assert run.version is not None
        versions.append(run.version.version)
    return versions


def test_promote_records_approver_reason_and_host() -> None:
    """The event names the approver, the reason, and the OS user and host that wrote it."""
    _publish("m", 1)
    event = promote("m@0.1.0", "production", by="alice", reason="beats baseline")
    assert ("alice", True, "beats baseline", "0.1.0", None) == (
        event.by,
        event.explicit_by,
        event.reason,
        event.version,
        event.previous,
    )
    assert event.created_by.host
    assert "0.1.0" == modelver.get("m@production").version
    assert event == aliases("m")["production"].event


def test_promote_defaults_by_to_the_os_user_and_is_idempotent() -> None:
    """Without by= the OS user is recorded; promoting the same target again writes nothing."""
    _publish("m", 1)
    first = promote("m", "staging")
    assert (first.created_by.user, False) == (first.by, first.explicit_by)
    assert first == promote("m@0.1.0", "staging")
    assert 1 == len(history("m"))


def test_promote_through_another_alias() -> None:
    """`promote m@staging production` promotes what staging points at."""
    _publish("m", 2)
    promote("m@0.1.0", "staging")
    assert "0.1.0" == promote("m@staging", "production").version


def test_rollback_goes_back_and_is_itself_an_event() -> None:
    """Rollback moves to the previous target and appears in the history; with no earlier target it is an error."""
    _publish("m", 3)
    for version in ("0.1.0", "0.1.1", "0.1.2"):
        promote(f"m@{version}", "production")
    event = rollback("m", "production", reason="latency regression")
    assert ("rollback", "0.1.1", "0.1.2") == (event.kind, event.version, event.previous)
    assert "0.1.1" == modelver.get("m@production").version
    rollback("m", "production")
    assert "0.1.0" == modelver.get("m@production").version
    with pytest.raises(VersionNotFoundError, match=r"no earlier version.*earlier rollbacks used up its rollback stack"):
        rollback("m", "production")
    promote("m@0.1.2", "canary")
    with pytest.raises(VersionNotFoundError, match=r"it has pointed only at 0\.1\.2"):
        rollback("m", "canary")
    with pytest.raises(VersionNotFoundError, match="not set"):
        rollback("m", "staging")
    assert ["promote"] * 3 + ["rollback"] * 2 == [e.kind for e in history("m", alias="production")]


def test_protected_alias_needs_an_explicit_approver() -> None:
    """protect records who; promote and rollback without by= are refused; with by= they work."""
    _publish("m", 2)
    promote("m@0.1.0", "production")
    protected = protect("m", "production", by="carol", reason="serving traffic")
    assert ("protect", "carol") == (protected.kind, protected.by)
    with pytest.raises(ProtectedAliasError, match=r"protected \(by carol\).*--by"):
        promote("m@0.1.1", "production")
    promote("m@0.1.1", "production", by="dave")
    with pytest.raises(ProtectedAliasError):
        rollback("m", "production")
    assert "0.1.0" == rollback("m", "production", by="dave").version
    state = aliases("m")["production"]
    assert (True, "carol") == (state.protected, state.protected_by)
    with pytest.raises(InvalidReferenceError, match="does not name anyone"):
        promote("m@0.1.1", "production", by="  ")


def test_yank_skips_latest_and_ranges_and_warns_on_exact_load() -> None:
    """A yanked version is invisible to latest and ranges, loads by exact version with a warning, and unyanks."""
    _publish("m", 3)
    event = yank("m@0.1.2", reason="bad labels", by="erin")
    assert event is not None
    assert "bad labels" == event.reason
    assert yank("m@0.1.2", reason="again") is None
    assert "0.1.1" == modelver.get("m").version
    assert "0.1.1" == modelver.get("m@^0.1").version
    with pytest.warns(YankedVersionWarning, match="yanked by erin.*bad labels"):
        assert {"i": 2} == modelver.load("m@0.1.2")
    with pytest.raises(InvalidReferenceError, match="yanked"):
        promote("m@0.1.2", "production")
    with pytest.raises(InvalidReferenceError, match="reason"):
        yank("m@0.1.1", reason=" ")
    assert unyank("m@0.1.2") is not None
    assert unyank("m@0.1.2") is None
    assert "0.1.2" == modelver.get("m").version


def test_rollback_to_a_yanked_version_is_refused() -> None:
    """The previous target was yanked since: rollback refuses rather than serve it."""
    _publish("m", 2)
    promote("m@0.1.0", "production")
    promote("m@0.1.1", "production")
    yank("m@0.1.0", reason="leak")
    with pytest.raises(InvalidReferenceError, match="yanked"):
        rollback("m", "production")


def test_release_gives_an_experiment_a_semver_version_without_copying() -> None:
    """release --bump and --as create tags on the same manifest, and record a release event."""
    _publish("m", 1)
    with modelver.track("m", version="0.1.1-exp.20261129T160102Z") as run:
        run.save_model({"exp": True})
    source = modelver.get("m@0.1.1-exp.20261129T160102Z")
    tag = release("m@0.1.1-exp.20261129T160102Z", by="alice", reason="ship it")
    assert ("0.1.1", source.digest) == (tag.version, tag.manifest)
    minor = release("m@0.1.1", bump="minor")
    assert ("0.2.0", source.digest) == (minor.version, minor.manifest)
    explicit = release("m@0.2.0", version="1.0.0")
    assert "1.0.0" == explicit.version == modelver.get("m").version
    with pytest.raises(VersionExistsError):
        release("m@0.1.0", version="1.0.0")
    with pytest.raises(InvalidReferenceError, match=r"plain MAJOR\.MINOR\.PATCH"):
        release("m@0.1.0", version="2.0.0-rc.1")
    assert [("release", "0.1.1", "0.1.1-exp.20261129T160102Z")] == [
        (e.kind, e.version, e.previous) for e in history("m")[:1]
    ]


def test_lifecycle_errors_are_modelver_errors() -> None:
    """Unknown names and bad aliases raise typed errors."""
    with pytest.raises(VersionNotFoundError):
        promote("nothing@1.0.0", "production")
    _publish("m", 1)
    with pytest.raises(InvalidReferenceError, match="version"):
        promote("m", "1.0.0")
    with pytest.raises(VersionNotFoundError):
        protect("nothing", "production", by="x")
    assert issubclass(ProtectedAliasError, ModelverError)
    assert issubclass(ProtectedAliasError, PermissionError)


def test_cli_lifecycle_round_trip() -> None:
    """promote/alias list/rollback/yank/unyank/protect/history/list through the CLI, errors one line."""
    _publish("m", 3)
    assert 0 == cli("promote", "m@0.1.1", "production", "--by", "alice", "--reason", "good").returncode
    assert 0 == cli("promote", "m@0.1.2", "production", "--by", "bob").returncode
    again = cli("promote", "m@production", "production", "--by", "dave")
    assert "m@production already points at 0.1.2" in again.stdout
    assert "by bob); nothing written" in again.stdout
    listed = json.loads(cli("alias", "list", "m", "--json").stdout)
    assert ("0.1.2", "bob") == (listed["production"]["version"], listed["production"]["event"]["by"])
    assert "rollback m@production -> 0.1.1 (was 0.1.2)" in cli("rollback", "m", "production").stdout
    assert 0 == cli("protect", "m", "production", "--by", "carol").returncode
    refused = cli("promote", "m@0.1.0", "production")
    assert (1, 1) == (refused.returncode, len(refused.stderr.strip().splitlines()))
    assert "protected (by carol)" in refused.stderr
    yanked = cli("yank", "m@0.1.1", "--reason", "drift")
    assert "note: production still point(s) at 0.1.1" in yanked.stdout
    assert 0 == cli("unyank", "m@0.1.1").returncode
    typo = cli("history", "m", "--alias", "prod")
    assert (1, "modelver: error: no registry events for alias 'prod' of m; its aliases with events: production") == (
        typo.returncode,
        typo.stderr.strip(),
    )
    trail = json.loads(cli("history", "m", "--json").stdout)
    assert ["promote", "promote", "rollback", "protect", "yank", "unyank"] == [e["kind"] for e in trail]
    assert {"at", "by", "created_by", "reason", "version", "alias", "previous"} <= set(trail[0])
    table = cli("history", "m").stdout
    assert "alice" in table
    assert "good" in table
    rows = json.loads(cli("list", "m", "--json").stdout)
    assert [[], ["production"], []] == [r["aliases"] for r in rows]
    assert [0.0, 0.1, 0.2] == [r["metrics"]["acc"] for r in rows]
    assert "production" in cli("list", "m").stdout


def test_cli_yank_needs_a_reason_and_release_prints_the_new_version() -> None:
    """yank without --reason is a usage error; release names the new version."""
    _publish("m", 1)
    assert 2 == cli("yank", "m@0.1.0").returncode
    assert "released m@1.0.0" in cli("release", "m@0.1.0", "--as", "1.0.0").stdout


SERVE = """
import sys, modelver
for line in sys.stdin:
    print(modelver.get("m@production").version, flush=True)
"""


def test_a_serving_process_sees_promotions_and_rollbacks_made_by_another_process(tmp_path: Path) -> None:
    """A long-lived process resolving m@production sees each change on its next resolve, also after its cache ages."""
    _publish("m", 3)
    promote("m@0.1.0", "production")
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    assert server.stdin is not None
    assert server.stdout is not None

    def ask() -> str:
        assert server.stdin is not None
        assert server.stdout is not None
        server.stdin.write("\n")
        server.stdin.flush()
        return server.stdout.readline().strip()

    try:
        assert "0.1.0" == ask()
        assert 0 == cli("promote", "m@0.1.2", "production").returncode
        assert "0.1.2" == ask()
        # Let the server's listing age past the racy window, so it trusts its cached listing, then change again.
        time.sleep(3.2)
        assert "0.1.2" == ask()
        assert 0 == cli("rollback", "m", "production").returncode
        assert "0.1.0" == ask()
    finally:
        server.stdin.close()
        server.wait(30)
        server.stdout.close()
