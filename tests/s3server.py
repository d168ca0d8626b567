"""A real S3-compatible HTTP server for the object-store tests: moto in server mode on 127.0.0.1.

Use with ``pytest_plugins = ["s3server"]`` at the top of a test module. The server starts once per test session
(the first test that needs it), each test gets its own bucket, dummy credentials are set and ``AWS_PROFILE`` is
removed so nothing can reach a real AWS account, and s3fs's instance cache is cleared after every test so no
listing or connection leaks from one test into the next (the stores here also pass ``skip_instance_cache=True``).

:class:`CountingProxy` is a plain TCP relay in front of the server that counts the bytes a client sends and records
the HTTP request lines: the tests measure what goes over the wire with it, without mocking anything.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from modelver import Store

DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "modelver-test-key",
    "AWS_SECRET_ACCESS_KEY": "modelver-test-secret",
    "AWS_SECURITY_TOKEN": "modelver-test-token",
    "AWS_SESSION_TOKEN": "modelver-test-token",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def s3_options(endpoint: str, *, fail_fast: bool = False) -> dict[str, Any]:
    """Storage options for a Store on the test server.

    ``fail_fast``: one attempt, short timeouts, and a new connection per request, so that a stopped server is
    unreachable at once (werkzeug's shutdown leaves open keep-alive connections served).
    """
    options: dict[str, Any] = {"client_kwargs": {"endpoint_url": endpoint}, "skip_instance_cache": True}
    if fail_fast:
        options["config_kwargs"] = {
            "retries": {"max_attempts": 1},
            "connect_timeout": 2,
            "read_timeout": 5,
            "connector_args": {"force_close": True, "keepalive_timeout": None},
        }
    return options


def make_bucket(endpoint: str) -> str:
    """Create a fresh bucket on the server (boto3: s3fs mkdir is refused by moto under us-east-1 rules)."""
    import boto3

    name = f"modelver-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return name


class S3Server:
    """A moto server on 127.0.0.1 that can be stopped and started again on the same port (same state)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.running = False

    def start(self) -> None:
        """Start serving (again)."""
        from moto.server import ThreadedMotoServer

        if not self.running:
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            self._server.start()
            self.running = True

    def stop(self) -> None:
        """Stop serving; the port refuses connections until :meth:`start`. moto keeps its state in-process."""
        if self.running:
            self._server.stop()
            self.running = False


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """The session's moto server, with dummy AWS credentials in the environment."""
    saved = {key: os.environ.get(key) for key in [*DUMMY_ENV, "AWS_PROFILE"]}
    os.environ.update(DUMMY_ENV)
    os.environ.pop("AWS_PROFILE", None)
    server = S3Server()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def s3_endpoint(s3_server: S3Server, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The running server's endpoint URL; a private read cache per test; s3fs's instance cache cleared after."""
    import s3fs

    s3_server.start()  # a test before may have stopped it
    monkeypatch.setenv("MODELVER_CACHE", str(tmp_path / "modelver-cache"))
    yield s3_server.endpoint
    s3_server.start()
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A fresh, empty bucket on the test server."""
    return make_bucket(s3_endpoint)


@pytest.fixture
def s3_store(s3_endpoint: str, s3_bucket: str) -> Store:
    """A fresh, initialized store at ``s3://<fresh bucket>/store`` on the test server."""
    store = Store(f"s3://{s3_bucket}/store", **s3_options(s3_endpoint))
    store.initialize()
    return store


@pytest.fixture
def no_helper_processes_left() -> Iterator[None]:
    """Stop multiprocessing's forkserver and resource tracker after the test, so later tests that count this
    process's children (tests/test_resources.py) see only their own. Uses their private ``_stop()`` (CPython's own
    tests do the same); they restart on demand."""
    yield
    import gc
    import multiprocessing.forkserver
    import multiprocessing.resource_tracker

    gc.collect()  # semaphores of the test's barriers and queues unlink themselves while the tracker still runs
    for helper in (multiprocessing.forkserver._forkserver, multiprocessing.resource_tracker._resource_tracker):
        stop = getattr(helper, "_stop", None)
        if stop is not None:
            stop()


_REQUEST_LINE = re.compile(rb"(GET|PUT|POST|HEAD|DELETE) (/\S*) HTTP/1\.1\r\n")


class CountingProxy:
    """A TCP relay on 127.0.0.1 to ``upstream`` that counts the bytes clients send and records request lines.

    Request lines are found by pattern in the client's byte stream; a request body could only fake one by
    containing the literal text ``GET /... HTTP/1.1\\r\\n``, which the tests' payloads (random or numeric bytes) do
    not.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.endpoint = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self.sent_bytes = 0
        self.requests: list[tuple[str, str]] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def reset(self) -> None:
        """Forget the counts so far."""
        with self._lock:
            self.sent_bytes = 0
            self.requests = []

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, outbound: bool) -> None:
        tail = b""
        try:
            while chunk := source.recv(1 << 16):
                if outbound:
                    window = tail + chunk
                    found = [(m[1].decode(), m[2].decode()) for m in _REQUEST_LINE.finditer(window)]
                    with self._lock:
                        self.sent_bytes += len(chunk)
                        # a line split across two reads is found once: keep only the part not fully matched
                        self.requests.extend(found)
                    last = list(_REQUEST_LINE.finditer(window))
                    tail = window[last[-1].end() :][-512:] if last else window[-512:]
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        """Stop accepting connections."""
        self._closed = True
        self._listener.close()


@pytest.fixture
def s3_proxy(s3_server: S3Server, s3_endpoint: str) -> Iterator[CountingProxy]:
    """A byte- and request-counting relay in front of the test server."""
    proxy = CountingProxy(s3_server.port)
    yield proxy
    proxy.close()


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> tuple[str, str | None]:
    """``(store url, S3 endpoint or None)`` of a fresh store on local disk or on the moto server."""
    if request.param == "local":
        return str(tmp_path / "store"), None
    endpoint: str = request.getfixturevalue("s3_endpoint")
    return f"s3://{make_bucket(endpoint)}/store", endpoint
