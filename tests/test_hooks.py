"""Hooks (modelver.hooks): signed HTTP payloads to a real local receiver, the outbox and retries, Python hooks."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import modelver
from modelver.errors import CaptureWarning, InvalidReferenceError
from modelver.hooks.callbacks import off
from modelver.hooks.config import add_hook
from modelver.hooks.delivery import SIGNATURE_HEADER, deliver, delivery_log
from modelver.manifest import CreatedBy
from modelver.registry.deployments import record_deployment
from modelver.registry.lifecycle import aliases, promote, yank
from modelver.store.location import open_store

ME = CreatedBy("tester", "host")
SECRET = "s3cret-for-tests"


class Receiver:
    """A real HTTP server on 127.0.0.1 that records each POST and answers with ``status``."""

    def __init__(self, status: int = 200, port: int = 0) -> None:
        self.status = status
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A receiver answering 200."""
    server = Receiver()
    yield server
    server.close()


def _publish(name: str, version: str) -> None:
    with modelver.track(name, version=version) as run:
        run.save_model({"v": version})


def test_signed_payloads_reach_the_receiver_and_the_hmac_verifies(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, store_dir: Path
) -> None:
    """promote, deploy, yank and publish each POST a payload whose HMAC-SHA256 verifies; the secret is not stored."""
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    _publish("m", "1.0.0")
    store = open_store(None)
    add_hook(
        store,
        receiver.url,
        events=("promote", "deploy", "yank", "publish"),
        by="ops",
        created_by=ME,
        secret_env="HOOK_SECRET",
    )
    _publish("m", "1.1.0")
    promote("m@1.1.0", "production", by="alice")
    record_deployment("m@production", "prod-eu", by="ci")
    yank("m@1.0.0", reason="old", by="bob")
    payloads = []
    for headers, body in receiver.requests:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(expected, headers[SIGNATURE_HEADER])
        payloads.append(json.loads(body))
    assert [("publish", "1.1.0"), ("promote", "1.1.0"), ("deploy", "1.1.0"), ("yank", "1.0.0")] == [
        (p["event"], p["version"]) for p in payloads
    ]
    assert ("alice", "production", "prod-eu") == (payloads[1]["by"], payloads[1]["alias"], payloads[2]["target"])
    assert payloads[1]["digest"].startswith("blake3:")
    assert ["delivered"] * 4 == [attempts[-1].outcome for _, attempts in delivery_log(store)]
    stored = b"".join(p.read_bytes() for p in (store_dir / "hooks").rglob("*.json"))
    assert SECRET.encode() not in stored
    assert b"HOOK_SECRET" in stored


def test_a_failing_receiver_is_retried_then_given_up_and_the_promotion_stands(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 500: the first attempt fails and is recorded; `deliver` retries after the backoff; gives up at the limit."""
    receiver.status = 500
    _publish("m", "1.0.0")
    store = open_store(None)
    add_hook(store, receiver.url, events=("promote",), by="ops", created_by=ME)
    promote("m@1.0.0", "production", by="alice")
    assert "1.0.0" == aliases("m")["production"].version
    [(_, attempts)] = delivery_log(store)
    assert [("failed", 500)] == [(a.outcome, a.status) for a in attempts]
    assert [] == deliver(store)  # not due yet: the first retry waits for its backoff (60 s)
    later = datetime.now(timezone.utc) + timedelta(days=1)
    assert [(2, "failed")] == [(a.n, a.outcome) for a in deliver(store, backoff_s=0, max_attempts=3, now=later)]
    assert [(3, "gave-up")] == [(a.n, a.outcome) for a in deliver(store, backoff_s=0, max_attempts=3, now=later)]
    assert [] == deliver(store, backoff_s=0, max_attempts=3, now=later)
    [(_, attempts)] = delivery_log(store)
    assert [("failed", 500), ("failed", 500), ("gave-up", 500)] == [(a.outcome, a.status) for a in attempts]
    assert 3 == len(receiver.requests)
    assert "1.0.0" == aliases("m")["production"].version


def test_the_outbox_delivers_once_the_receiver_is_back() -> None:
    """Receiver down: the attempt fails with a connection error; once it is up again, `deliver` delivers."""
    down = Receiver()
    port = down.server.server_address[1]
    down.close()
    _publish("m", "1.0.0")
    store = open_store(None)
    add_hook(store, down.url, events=("*",), by="ops", created_by=ME)
    promote("m@1.0.0", "production")
    [(_, attempts)] = delivery_log(store)
    assert (None, "failed") == (attempts[0].status, attempts[0].outcome)
    up = Receiver(port=port)
    try:
        later = datetime.now(timezone.utc) + timedelta(hours=1)
        assert [(2, "delivered", 200)] == [(a.n, a.outcome, a.status) for a in deliver(store, now=later)]
        assert ["promote"] == [json.loads(body)["event"] for _, body in up.requests]
    finally:
        up.close()


def test_allow_list_blocks_other_hosts(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """MODELVER_HOOK_HOSTS set to another host: nothing is sent and the attempt says why."""
    monkeypatch.setenv("MODELVER_HOOK_HOSTS", "hooks.example.com")
    _publish("m", "1.0.0")
    store = open_store(None)
    add_hook(store, receiver.url, events=("promote",), by="ops", created_by=ME)
    promote("m@1.0.0", "production")
    [(_, attempts)] = delivery_log(store)
    assert [] == receiver.requests
    assert "blocked: 127.0.0.1 is not in MODELVER_HOOK_HOSTS" in attempts[0].error
    monkeypatch.setenv("MODELVER_HOOK_HOSTS", "127.0.0.1")
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    assert ["delivered"] == [a.outcome for a in deliver(store, now=later)]
    assert 1 == len(receiver.requests)


def test_hook_input_is_checked() -> None:
    """Non-http URLs, URLs with credentials, unknown kinds and a secret in place of a variable name are refused."""
    store = open_store(None)
    for url, kinds, env, match in [
        ("file:///etc/passwd", ("promote",), None, "not an http"),
        ("https://u:p@h/x", ("promote",), None, "credentials"),
        ("https://h/x", ("promot",), None, "unknown"),
        ("https://h/x", ("promote",), "my secret!", "never the secret"),
    ]:
        with pytest.raises(InvalidReferenceError, match=match):
            add_hook(store, url, events=kinds, by="ops", created_by=ME, secret_env=env)


def test_python_hooks_run_in_process_and_a_failing_one_only_warns() -> None:
    """@modelver.on("promote") sees the payload; one that raises gives a CaptureWarning and the promotion stands."""
    seen: list[dict[str, Any]] = []

    def record(payload: dict[str, Any]) -> None:
        seen.append(payload)

    def broken(payload: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    modelver.on("promote")(record)
    modelver.on("promote")(broken)
    try:
        _publish("m", "1.0.0")
        with pytest.warns(CaptureWarning, match="raised RuntimeError: boom; the event stands"):
            promote("m@1.0.0", "production", by="alice")
    finally:
        off("promote", record)
        off("promote", broken)
    assert [("promote", "m", "1.0.0", "alice")] == [(p["event"], p["name"], p["version"], p["by"]) for p in seen]
    assert "1.0.0" == aliases("m")["production"].version


@pytest.mark.slow
def test_cli_hooks_add_list_log_deliver(receiver: Receiver) -> None:
    """hooks add/list/remove/log/deliver through the real CLI."""

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "modelver.cli", *args], capture_output=True, text=True, env=dict(os.environ)
        )

    _publish("m", "1.0.0")
    added = cli("hooks", "add", receiver.url, "--events", "promote", "--secret-env", "HOOK_SECRET")
    assert "added hook" in added.stdout
    assert receiver.url in cli("hooks", "list").stdout
    receiver.status = 503
    assert 0 == cli("promote", "m@1.0.0", "production").returncode
    log = json.loads(cli("hooks", "log", "--json").stdout)
    assert ["failed"] == [a["outcome"] for a in log[0]["attempts"]]
    assert "secret variable HOOK_SECRET is not set" in log[0]["attempts"][0]["error"]
    assert "0 delivered" in cli("hooks", "deliver", "--backoff", "0").stdout
    hook_id = json.loads(cli("hooks", "list", "--json").stdout)[0]["id"]
    assert "removed hook" in cli("hooks", "remove", hook_id).stdout
    assert "no hooks" in cli("hooks", "list").stdout
