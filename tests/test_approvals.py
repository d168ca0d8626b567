"""Approval policies and approvals, with real SSH signatures (modelver.registry.approvals) and their CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import modelver
from modelver.errors import InvalidReferenceError, PolicyError
from modelver.registry.approvals import approval_message, approvals, approve, policies, set_policy, verify_signature
from modelver.registry.lifecycle import history, promote

needs_ssh_keygen = pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen (openssh-client) missing")


def _publish(name: str, version: str) -> None:
    with modelver.track(name, version=version) as run:
        run.save_model({"v": version})


def _key(directory: Path, principal: str) -> Path:
    """A fresh unencrypted ed25519 key pair made by the real ssh-keygen."""
    key = directory / principal
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", principal, "-f", str(key)], check=True)
    return key


def _allowed_signers(directory: Path, keys: dict[str, Path]) -> Path:
    lines = []
    for principal, key in keys.items():
        keytype, blob = key.with_suffix(".pub").read_text().split()[:2]
        lines.append(f"{principal} {keytype} {blob}")
    path = directory / "allowed_signers"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_promotion_needs_two_distinct_approvers_of_that_exact_digest() -> None:
    """One approval: refused; the same approver again: still refused; approvals of another digest: refused;
    two distinct approvers of this digest: accepted."""
    _publish("m", "1.0.0")
    _publish("m", "1.1.0")
    set_policy("m", "production", require_approvals=2, by="lead")
    approve("m@1.0.0", alias="production", by="alice")
    approve("m@1.0.0", alias="production", by="bob")
    approve("m@1.1.0", alias="production", by="alice")
    approve("m@1.1.0", alias="production", by="alice")
    with pytest.raises(PolicyError) as refused:
        promote("m@1.1.0", "production", by="carol")
    assert (2, ("alice",)) == (refused.value.required, refused.value.approved_by)
    assert "requires 2 distinct approvals" in str(refused.value)
    assert isinstance(refused.value, PermissionError)
    approve("m@1.1.0", alias="staging", by="bob")  # another alias does not count either
    with pytest.raises(PolicyError):
        promote("m@1.1.0", "production", by="carol")
    approve("m@1.1.0", alias="production", by="bob")
    assert "1.1.0" == promote("m@1.1.0", "production", by="carol").version
    assert "1.0.0" == promote("m@1.0.0", "production", by="carol").version  # 1.0.0 had its own two approvals
    kinds = [e.kind for e in history("m")]
    assert ["policy", "approve", "approve"] == kinds[:3]
    assert 2 == kinds.count("promote")


def test_only_listed_approvers_count_and_the_policy_can_be_lifted() -> None:
    """With --approvers, an outsider's approval does not count; require_approvals=0 lifts the policy."""
    _publish("m", "1.0.0")
    set_policy("m", "production", require_approvals=1, approvers=["alice"], by="lead")
    approve("m@1.0.0", alias="production", by="mallory")
    with pytest.raises(PolicyError, match="from alice"):
        promote("m@1.0.0", "production")
    assert ("alice",) == policies("m")["production"].approvers
    set_policy("m", "production", require_approvals=0, by="lead")
    assert {} == policies("m")
    assert "1.0.0" == promote("m@1.0.0", "production").version


def test_policy_input_is_checked() -> None:
    """Negative counts, more approvals than approvers, and approvers with spaces are typed errors."""
    _publish("m", "1.0.0")
    with pytest.raises(InvalidReferenceError, match="positive count"):
        set_policy("m", "production", require_approvals=-1, by="lead")
    with pytest.raises(InvalidReferenceError, match="only 1 approver"):
        set_policy("m", "production", require_approvals=2, approvers=["alice"], by="lead")
    with pytest.raises(InvalidReferenceError, match="one word"):
        approve("m", alias="production", by="alice smith")


@needs_ssh_keygen
def test_signed_policy_counts_only_verified_signatures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """require_signatures: unsigned and forged approvals do not count; two verified SSH signatures do."""
    _publish("m", "1.0.0")
    keys = {who: _key(tmp_path, who) for who in ("alice", "bob", "mallory")}
    allowed = _allowed_signers(tmp_path, {"alice": keys["alice"], "bob": keys["bob"]})
    set_policy("m", "production", require_approvals=2, require_signatures=True, by="lead")
    with pytest.raises(PolicyError, match="no allowed_signers file"):
        promote("m@1.0.0", "production")
    monkeypatch.setenv("MODELVER_ALLOWED_SIGNERS", str(allowed))
    approve("m@1.0.0", alias="production", by="alice", sign_with=keys["alice"])
    approve("m@1.0.0", alias="production", by="bob")  # unsigned: claimed only
    approve("m@1.0.0", alias="production", by="bob", sign_with=keys["mallory"])  # mallory claiming to be bob
    with pytest.raises(PolicyError) as refused:
        promote("m@1.0.0", "production")
    assert ("alice",) == refused.value.approved_by
    assert ["verified", "claimed", "bad signature"] == [a.status for a in approvals("m@1.0.0")]
    approve("m@1.0.0", alias="production", by="bob", sign_with=keys["bob"])
    assert "1.0.0" == promote("m@1.0.0", "production").version
    monkeypatch.delenv("MODELVER_ALLOWED_SIGNERS")
    assert {"claimed"} == {a.status for a in approvals("m@1.0.0")}  # nothing to verify against: claimed


@needs_ssh_keygen
def test_a_signature_binds_the_digest(tmp_path: Path) -> None:
    """A valid signature copied onto an approval of another digest does not verify."""
    _publish("m", "1.0.0")
    _publish("m", "1.1.0")
    key = _key(tmp_path, "alice")
    allowed = _allowed_signers(tmp_path, {"alice": key})
    good = approve("m@1.0.0", alias="production", by="alice", sign_with=key)
    approve("m@1.1.0", alias="production", by="alice", sign_with=key)
    (first,) = approvals("m@1.0.0", allowed_signers=allowed)
    assert (good.id, "verified") == (first.event.id, first.status)
    other = approval_message("m", "production", modelver.get("m@1.1.0").digest, "alice")
    assert not verify_signature(other, good.details["signature"], "alice", allowed)


@pytest.mark.slow
@needs_ssh_keygen
def test_cli_policy_approve_approvals_promote(tmp_path: Path) -> None:
    """policy set/show, approve --sign-with, approvals --json and a refused promote through the real CLI."""
    _publish("m", "1.0.0")
    key = _key(tmp_path, "alice")
    allowed = _allowed_signers(tmp_path, {"alice": key})

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "modelver.cli", *args],
            capture_output=True,
            text=True,
            env={**os.environ, "MODELVER_ALLOWED_SIGNERS": str(allowed)},
            timeout=120,
        )

    assert (
        "needs 1 distinct approver(s), signed"
        in cli(
            "policy", "set", "m", "production", "--require-approvals", "1", "--require-signatures", "--by", "lead"
        ).stdout
    )
    assert "m@production: 1 distinct approver(s), signed (set by lead)" in cli("policy", "show", "m").stdout
    refused = cli("promote", "m@1.0.0", "production", "--by", "carol")
    assert (1, 1) == (refused.returncode, len(refused.stderr.strip().splitlines()))
    assert "requires 1 distinct signed approvals" in refused.stderr
    assert "signed" in cli("approve", "m@1.0.0", "--for", "production", "--by", "alice", "--sign-with", str(key)).stdout
    listed = json.loads(cli("approvals", "m@1.0.0", "--json").stdout)
    assert [("alice", "production", "verified")] == [(a["by"], a["alias"], a["status"]) for a in listed]
    assert 0 == cli("promote", "m@1.0.0", "production", "--by", "carol").returncode
    assert "approve" in cli("history", "m").stdout
