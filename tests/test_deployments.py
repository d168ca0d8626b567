"""Deployment records and time travel (modelver.registry.deployments, modelver.registry.timeline) and their CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import modelver
from modelver.errors import CaptureWarning, InvalidReferenceError, VersionNotFoundError
from modelver.manifest import CreatedBy
from modelver.registry.approvals import approve, set_policy
from modelver.registry.deployments import deployments, record_deployment, record_served, record_undeployment
from modelver.registry.events import Event, new_event, read_state, write_event
from modelver.registry.lifecycle import history, promote, rollback, yank
from modelver.registry.resolution import resolve
from modelver.registry.timeline import clock_skew, event_skew, parse_instant, resolve_at
from modelver.store.location import open_store

CLI = [sys.executable, "-m", "modelver.cli"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real `modelver` CLI in a subprocess."""
    # Wide enough that no table cell wraps, whatever COLUMNS the test runner's terminal left behind.
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=120)


def _publish(name: str, version: str) -> None:
    with modelver.track(name, version=version) as run:
        run.save_model({"v": version})


def _instant() -> str:
    """Now, as an --at instant; then wait so the next write is stamped strictly later (tags keep milliseconds)."""
    moment = datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    time.sleep(0.005)
    return moment


def _deployed(at: str | None = None) -> dict[str, tuple[str, str | None]]:
    return {d.target: (d.version, d.via) for d in deployments("m", at=at)}


def test_timeline_at_six_instants_returns_what_stood_then() -> None:
    """Publish, promote, deploy to two targets, roll one back, yank, undeploy: --at answers as things stood."""
    t0 = _instant()
    _publish("m", "1.0.0")
    t1 = _instant()
    _publish("m", "1.1.0")
    promote("m@1.0.0", "production", by="alice")
    set_policy("m", "production", require_approvals=2, by="lead")
    approve("m@1.1.0", alias="production", by="alice")
    approve("m@1.1.0", alias="production", by="erin")
    t2 = _instant()
    promote("m@1.1.0", "production", by="bob")
    record_deployment("m@production", "prod-eu", by="ci", note="CHG-1")
    record_deployment("m@production", "prod-us", by="ci")
    t3 = _instant()
    rollback("m", "production", by="carol")
    record_deployment("m@production", "prod-eu", by="oncall")
    t4 = _instant()
    yank("m@1.1.0", reason="drift", by="dave")
    t5 = _instant()
    record_undeployment("m", "prod-us", by="ci")
    store = open_store(None)

    with pytest.raises(VersionNotFoundError, match="had no versions yet"):
        resolve_at(store, "m", t0)
    assert {} == _deployed(t0)
    assert ("1.0.0", {}) == (resolve_at(store, "m", t1).version, _deployed(t1))
    with pytest.raises(VersionNotFoundError, match="alias 'production' of m was not set"):
        resolve_at(store, "m@production", t1)
    assert ("1.1.0", "1.0.0") == (resolve_at(store, "m", t2).version, resolve_at(store, "m@production", t2).version)
    expected_t3 = {"prod-eu": ("1.1.0", "production"), "prod-us": ("1.1.0", "production")}
    assert ("1.1.0", expected_t3) == (resolve_at(store, "m@production", t3).version, _deployed(t3))
    expected_t4 = {"prod-eu": ("1.0.0", "production"), "prod-us": ("1.1.0", "production")}
    assert ("1.0.0", expected_t4) == (resolve_at(store, "m@production", t4).version, _deployed(t4))
    assert "1.1.0" == resolve_at(store, "m", t4).version
    assert "1.0.0" == resolve_at(store, "m", t5).version  # 1.1.0 yanked by then: latest skips it
    assert ({"prod-eu": ("1.0.0", "production")}, "1.0.0") == (_deployed(), modelver.get("m").version)
    assert "1.1.0" == modelver.get("m@^1", at=t4).version
    assert "1.0.0" == modelver.get("m@^1", at=t5).version
    timeline = [e.kind for e in history("m")]
    expected_kinds = ["promote", "policy", "approve", "approve", "promote", "deploy", "deploy", "rollback", "deploy"]
    assert [*expected_kinds, "yank", "undeploy"] == timeline


def test_deployment_records_who_when_host_and_keeps_since_on_redeploy() -> None:
    """A deploy records by, host, note, via; deploying the same digest again keeps `since`; history shows both."""
    _publish("m", "1.0.0")
    first = record_deployment("m@1.0.0", "prod-eu", by="alice", note="CHG-7")
    again = record_deployment("m@latest", "prod-eu", by="bob")
    (deployed,) = deployments("m")
    assert ("1.0.0", first.at, "bob", None, "CHG-7") == (
        deployed.version,
        deployed.since,
        deployed.by,
        deployed.via,
        deployed.note,
    )
    assert first.created_by.host == deployed.host
    assert (first, again) == deployed.history
    assert ["deploy", "deploy"] == [e.kind for e in history("m")]
    assert {} == read_state(open_store(None), "m").aliases  # deployments never touch aliases


def test_undeploy_of_what_is_not_deployed_is_a_clear_error() -> None:
    """Undeploying a target that serves nothing says where the name is deployed."""
    _publish("m", "1.0.0")
    record_deployment("m", "prod-eu")
    with pytest.raises(VersionNotFoundError, match=r"not deployed at 'prod-us' \(deployed at: prod-eu\)"):
        record_undeployment("m", "prod-us")


@pytest.mark.parametrize("target", ["", " prod", "prod\n", "x" * 129])
def test_bad_targets_are_refused(target: str) -> None:
    """A target must be printable, unpadded and at most 128 characters (checked before the store is read)."""
    with pytest.raises(InvalidReferenceError, match="deployment target"):
        record_deployment("m", target)


def test_load_with_deployment_records_served_once_per_process_and_digest() -> None:
    """Two loads of one digest write one `served` event; a new digest writes another; the fold shows it served."""
    _publish("m", "1.0.0")
    record_deployment("m@1.0.0", "prod-eu", by="ci")
    assert {"v": "1.0.0"} == modelver.load("m@1.0.0", deployment="prod-eu")
    modelver.load("m", deployment="prod-eu")
    _publish("m", "1.1.0")
    modelver.load("m", deployment="prod-eu")
    modelver.load("m@1.1.0", deployment="prod-eu")
    served = [e for e in history("m") if e.kind == "served"]
    assert [("1.0.0", "prod-eu"), ("1.1.0", "prod-eu")] == [(e.version, e.target) for e in served]
    (deployed,) = deployments("m")
    assert ("1.1.0", "served", served[1].at) == (deployed.version, deployed.source, deployed.last_served)


def test_each_serving_process_records_once(tmp_path: Path) -> None:
    """Two real processes, each loading twice, record one `served` event each."""
    _publish("m", "1.0.0")
    code = "import modelver\nfor _ in range(2): modelver.load('m', deployment='prod-eu')\n"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ), timeout=120)
    served = [e for e in history("m") if e.kind == "served"]
    assert 2 == len(served)
    (deployed,) = deployments("m")
    assert (served[0].at, served[1].at) == (deployed.since, deployed.last_served)


def test_a_failing_served_record_warns_is_spooled_and_written_later(
    store_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unwritable events directory: load returns the model with a CaptureWarning and spools the event; the next
    record that reaches the store writes it, with its original time, once."""
    monkeypatch.setenv("MODELVER_SPOOL", str(tmp_path / "spool"))
    _publish("m", "1.0.0")
    blocker = store_dir / "names" / "m" / "events"
    blocker.write_text("not a directory")
    with pytest.warns(CaptureWarning, match="could not record that m@1.0.0 is served at 'prod-eu'.*spooled to"):
        model = modelver.load("m", deployment="prod-eu")
    assert {"v": "1.0.0"} == model
    assert 1 == len(list((tmp_path / "spool" / "events").rglob("*.json")))
    modelver.load("m", deployment="prod-eu")  # once per process and digest: no second attempt, no warning
    blocker.unlink()
    second = record_served_now("m", "prod-us")
    served = [e for e in history("m") if e.kind == "served"]
    assert [("prod-eu", "1.0.0"), ("prod-us", "1.0.0")] == [(e.target, e.version) for e in served]
    assert second == served[1]
    assert [] == list((tmp_path / "spool" / "events").rglob("*.json"))


def record_served_now(name: str, target: str) -> Event | None:
    """Record a served event for the latest version of ``name`` directly (what ``load(deployment=)`` does)."""
    store = open_store(None)
    return record_served(store, resolve(store, name), target)


def test_at_needs_a_time_zone_and_a_time() -> None:
    """A naive or unparsable --at is a typed error that says what to write."""
    with pytest.raises(InvalidReferenceError, match="has no time zone; add Z"):
        parse_instant("2026-12-01T14:02")
    with pytest.raises(InvalidReferenceError, match="is not a time"):
        parse_instant("last tuesday")
    assert datetime(2026, 12, 1, tzinfo=timezone.utc) == parse_instant("2026-12-01")


@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1), timezones=st.just(timezone.utc)),
    st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_parse_instant_round_trips_any_offset(moment: datetime, offset_minutes: int) -> None:
    """Any aware instant written with any offset parses back to the same UTC instant."""
    zone = timezone(timedelta(minutes=offset_minutes))
    assert moment == parse_instant(moment.astimezone(zone).isoformat())
    assert moment == parse_instant(moment.isoformat().replace("+00:00", "Z"))


def test_clock_skew_of_a_fresh_event_on_local_disk_is_small() -> None:
    """The store's own mtime of an event written now is within seconds of the writer's stamp."""
    _publish("m", "1.0.0")
    event = record_deployment("m", "prod-eu")
    store = open_store(None)
    path = next(p for p in store.fs.ls(str(Path(store.tag_path("m", "_")).parent.parent / "events"), detail=False))
    skew = clock_skew(store, str(path), event.at)
    assert skew is not None
    assert abs(skew) < 60


@pytest.mark.slow
def test_cli_deploy_deployments_resolve_and_history() -> None:
    """deploy/undeploy/deployments --json/--at, resolve --at and history through the real CLI."""
    _publish("m", "1.0.0")
    promote("m@1.0.0", "production", by="alice")
    before = _instant()
    deployed = cli("deploy", "m@production", "--target", "prod-eu", "--by", "ci", "--note", "CHG-1")
    assert "deployed m@1.0.0 to prod-eu via m@production by ci" in deployed.stdout
    _publish("m", "1.1.0")
    rows = json.loads(cli("deployments", "m", "--json").stdout)
    assert [("prod-eu", "1.0.0", "production", "ci")] == [(r["target"], r["version"], r["via"], r["by"]) for r in rows]
    assert [] == json.loads(cli("deployments", "--at", before, "--json").stdout)
    assert "nothing of m was deployed at" in cli("deployments", "m", "--at", before).stdout
    assert "m@1.0.0 " in cli("resolve", "m", "--at", before).stdout
    assert "m@1.1.0 " in cli("resolve", "m").stdout
    assert "prod-eu" in cli("deployments").stdout
    assert "target prod-eu via production" in cli("history", "m").stdout
    assert "undeployed m@1.0.0 from prod-eu" in cli("undeploy", "m", "--target", "prod-eu").stdout
    naive = cli("resolve", "m", "--at", "2026-12-01T14:02")
    assert (1, 1) == (naive.returncode, len(naive.stderr.strip().splitlines()))
    assert "has no time zone" in naive.stderr


@pytest.mark.slow
def test_an_event_stamped_by_a_wrong_clock_is_flagged() -> None:
    """A deploy event whose writer's clock was two hours behind: the store's own time shows the skew, and
    `modelver deployments` says so."""
    _publish("m", "1.0.0")
    store = open_store(None)
    tag = resolve(store, "m")
    event = new_event("m", "deploy", by="ci", created_by=CreatedBy("ci", "skewed-host"), target="prod-eu")
    behind = datetime.now(timezone.utc) - timedelta(hours=2)
    event = attrs.evolve(
        event,
        at=behind.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        version=tag.version,
        digest=tag.manifest,
    )
    write_event(store, event)
    skew = event_skew(store, event)
    assert skew is not None
    assert 7100 < skew < 7300
    shown = cli("deployments", "m")
    assert "clock skew: the last event of m at prod-eu is stamped +72" in shown.stdout
    assert 7100 < json.loads(cli("deployments", "m", "--json").stdout)[0]["clock_skew_s"] < 7300
