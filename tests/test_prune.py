"""Retention (modelver.maintenance.prune): tombstones, what is never pruned, bytes, concurrent publishers, the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

import modelver
from modelver.errors import InvalidReferenceError, VersionExistsError, VersionNotFoundError
from modelver.maintenance.prune import parse_age, prune, set_retention
from modelver.manifest import CreatedBy
from modelver.registry.deployments import record_deployment
from modelver.registry.lifecycle import promote
from modelver.registry.resolution import VersionTag, resolve, sorted_versions
from modelver.registry.verify import referenced_blobs, verify
from modelver.store.location import open_store

OLD = (datetime.now(timezone.utc) - timedelta(days=90)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _publish(name: str, version: str, payload: str) -> str:
    with modelver.track(name, version=version) as run:
        run.save_model({"payload": payload})
    assert run.version is not None
    return run.version.digest


def _old_tags(name: str, manifest: str, versions: list[str]) -> None:
    """Version tags created directly in the store, stamped 90 days ago, on an existing manifest."""
    store = open_store(None)
    for version in versions:
        tag = VersionTag(name, version, manifest, OLD, CreatedBy("old", "host"))
        store.create_tag(name, version, tag.to_bytes())


@pytest.mark.slow
def test_retention_on_200_versions_prunes_only_what_nothing_needs() -> None:
    """200 versions with an alias, a deployment and a lineage reference: only the prunable go, the rest verify, a
    pruned version resolves to a clear error and can never be published again."""
    digests = {v: _publish("m", v, f"model {v}") for v in ("1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4")}
    promote("m@1.0.0", "production", by="alice")
    record_deployment("m@1.0.1", "prod-eu", by="ci")
    with modelver.track("consumer", version="1.0.0") as run:
        modelver.get("m@1.0.2")
        run.save_model({"uses": "m"})
    _old_tags("m", digests["1.0.3"], [f"0.0.{i}" for i in range(195)])
    store = open_store(None)
    assert 200 == len(sorted_versions(store, "m"))
    later = datetime.now(timezone.utc) + timedelta(days=60)

    dry = prune(keep_last=1, older_than="30d", name="m", dry_run=True, now=later)
    manifest_bytes = store.fs.size(store.manifest_path(digests["1.0.3"]))
    shared = {
        d
        for ref in ("m@1.0.0", "m@1.0.1", "m@1.0.2", "m@1.0.4", "consumer@1.0.0")
        for _, d in referenced_blobs(modelver.get(ref).manifest)
    }
    only_pruned = {d: role for role, d in referenced_blobs(modelver.get("m@1.0.3").manifest) if d not in shared}
    assert "artifact model.json" in only_pruned.values()
    blob_bytes = sum(store.blob_size(d) or 0 for d in only_pruned)
    assert manifest_bytes + blob_bytes == dry.bytes_freed
    expected_kept = {
        "m@1.0.0": "alias production",
        "m@1.0.1": "deployed at prod-eu",
        "m@1.0.2": "lineage of consumer@1.0.0",
    }
    assert (196, expected_kept) == (len(dry.pruned), dry.kept)
    assert "1.0.3" == modelver.get("m@1.0.3").version  # the dry run wrote nothing

    report = prune(keep_last=1, older_than="30d", name="m", by="ops", reason="retention", now=later)
    assert (dry.pruned, dry.bytes_freed) == (report.pruned, report.bytes_freed)
    with pytest.raises(
        VersionNotFoundError, match=r"m@1.0.3 \(resolved from an exact version\) was pruned on .* by ops"
    ):
        resolve(store, "m@1.0.3")
    with pytest.raises(VersionNotFoundError, match="pruned"):
        resolve(store, "m@0.0.7")
    assert "1.0.4" == modelver.get("m").version
    remaining = ["1.0.0", "1.0.1", "1.0.2", "1.0.4"]
    assert all(verify(f"m@{v}").ok for v in remaining)
    assert verify("consumer@1.0.0").ok
    with pytest.raises(VersionExistsError):
        _publish("m", "1.0.3", "other bytes")
    assert () == prune(keep_last=1, older_than="30d", name="m", now=later).pruned  # idempotent


@pytest.mark.slow
def test_prune_is_safe_while_other_processes_publish() -> None:
    """Two real processes publish while prune runs: every version they published stays; only the old ones go."""
    manifest = _publish("m", "1.0.0", "seed")
    _old_tags("m", manifest, [f"0.0.{i}" for i in range(40)])
    code = (
        "import modelver\n"
        "for i in range(3):\n"
        "    with modelver.track('m') as run:\n"
        "        run.save_model({'i': i})\n"
        "    print(run.version.version, flush=True)\n"
    )
    publishers = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=dict(os.environ))
        for _ in range(2)
    ]
    pruned: list[str] = []
    while any(p.poll() is None for p in publishers):
        pruned += prune(keep_last=0, older_than="30d", name="m").pruned
    published = [line for p in publishers for line in p.communicate(timeout=300)[0].split()]
    assert [0, 0] == [p.returncode for p in publishers]
    pruned += prune(keep_last=0, older_than="30d", name="m").pruned
    assert sorted(f"m@0.0.{i}" for i in range(40)) == sorted(pruned)
    assert 6 == len(published)
    assert published == [modelver.get(f"m@{v}").version for v in published]


def test_plain_prune_applies_stored_rules_and_names_without_rules_are_left_alone() -> None:
    """retention set: a plain prune uses it; another name without rules keeps everything."""
    manifest = _publish("m", "1.0.0", "a")
    other = _publish("n", "1.0.0", "b")
    _old_tags("m", manifest, ["0.0.1", "0.0.2"])
    _old_tags("n", other, ["0.0.1"])
    set_retention("m", keep_last=1, older_than="30d", by="ops")
    assert ("m@0.0.1", "m@0.0.2") == prune().pruned
    assert "0.0.1" == modelver.get("n@0.0.1").version


def test_bad_rules_are_typed_errors() -> None:
    """No rule at all, a negative keep, or an unparsable age say what to write."""
    with pytest.raises(InvalidReferenceError, match="give --keep-last"):
        set_retention("m", keep_last=None, older_than=None, by="ops")
    with pytest.raises(InvalidReferenceError, match="0 or more"):
        prune(keep_last=-1)
    with pytest.raises(InvalidReferenceError, match="not an age"):
        parse_age("a month")
    assert timedelta(weeks=2) == parse_age("2w")


@pytest.mark.slow
def test_cli_prune_dry_run_and_json() -> None:
    """prune --dry-run prints the bytes gc would free; --json reports; retention set/show."""
    manifest = _publish("m", "1.0.0", "a")
    _old_tags("m", manifest, ["0.0.1"])

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "modelver.cli", *args], capture_output=True, text=True, env=dict(os.environ)
        )

    dry = cli("prune", "--older-than", "30d", "--dry-run")
    assert "would prune m@0.0.1" in dry.stdout
    assert "would prune 1 version(s); `modelver gc` would free 0 B (0 bytes)" in dry.stdout
    assert ["m@0.0.1"] == json.loads(cli("prune", "--older-than", "30d", "--json").stdout)["pruned"]
    assert "m: keep last 3" in cli("retention", "set", "m", "--keep-last", "3", "--by", "ops").stdout
    assert "prune older than -" in cli("retention", "show", "m").stdout


def test_gc_frees_what_only_a_pruned_version_used_and_keeps_its_tombstone() -> None:
    """After prune, gc removes the pruned version's manifest and its own blobs, keeps what live versions share, and
    the tombstone still refuses a re-publish; verify --all does not count the pruned version as unreadable."""
    _publish("g", "1.0.0", "only in 1.0.0")
    kept_digest = _publish("g", "1.0.1", "kept")
    store = open_store(None)
    pruned = modelver.get("g@1.0.0")
    own_blobs = {digest for _, digest in referenced_blobs(pruned.manifest)}
    kept_blobs = {digest for _, digest in referenced_blobs(modelver.get("g@1.0.1").manifest)}
    assert own_blobs - kept_blobs  # the pruned model's bytes are its own

    assert 2 == len(modelver.search("name = 'g'"))  # indexed before the prune
    report = prune(keep_last=1, name="g", now=datetime.now(timezone.utc) + timedelta(days=1))
    modelver.collect_garbage(grace_s=0, force=True)
    assert ["1.0.1"] == [v.version for v in modelver.search("name = 'g'", include_yanked=True)]
    shutil.rmtree(os.path.join(os.environ["MODELVER_CACHE"], "search"))  # a fresh index meets the tombstone too
    assert ["1.0.1"] == [v.version for v in modelver.search("name = 'g'", include_yanked=True)]

    assert ("g@1.0.0",) == report.pruned
    assert not store.fs.exists(store.manifest_path(pruned.digest))
    assert [] == sorted(d for d in own_blobs - kept_blobs if store.fs.exists(store.blob_path(d)))
    assert verify("g@1.0.1").ok
    assert kept_digest == modelver.get("g@1.0.1").digest
    assert () == modelver.verify_all().unreadable
    listing = subprocess.run(
        [sys.executable, "-m", "modelver.cli", "list", "g"], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert "pruned" in listing
    assert "unreadable" not in listing
    with pytest.raises(VersionExistsError):
        _publish("g", "1.0.0", "other bytes")
