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


class AnsweringProxy(CountingProxy):
    """A :class:`CountingProxy` that can answer chosen requests itself with a given HTTP response, so a test can
    make a real client meet a real HTTP answer the server behind never sends (moto never answers 409).

    Client bytes are parsed into HTTP/1.1 requests (``Content-Length`` or chunked bodies, ``Expect: 100-continue``);
    a request matching an armed rule is consumed and answered here, every other one is relayed unchanged.
    """

    def __init__(self, upstream_port: int) -> None:
        self._rules: list[list[Any]] = []  # [method, path substring, times left, raw response]
        self.answered: list[tuple[str, str]] = []
        super().__init__(upstream_port)

    def answer(self, method: str, path_contains: str, times: int, status: int, reason: str, body: str) -> None:
        """Answer the next ``times`` requests ``method`` whose path contains ``path_contains`` with this response."""
        payload = body.encode()
        response = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {len(payload)}\r\n"
            "x-amz-request-id: modelver-test\r\n\r\n"
        ).encode() + payload
        with self._lock:
            self._rules.append([method, path_contains, times, response])

    def _take_rule(self, method: str, path: str) -> bytes | None:
        with self._lock:
            for rule in self._rules:
                if rule[0] == method and rule[1] in path and rule[2] > 0:
                    rule[2] -= 1
                    self.answered.append((method, path))
                    return bytes(rule[3])
        return None

    def _pump(self, source: socket.socket, target: socket.socket, outbound: bool) -> None:
        if not outbound:
            super()._pump(source, target, outbound)
            return
        reader = _Reader(source)
        try:
            while True:
                head = reader.until(b"\r\n\r\n")
                if head is None:
                    return
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {}
                for line in header_lines:
                    if ":" in line:
                        key, value = line.split(":", 1)
                        headers[key.strip().lower()] = value.strip()
                with self._lock:
                    self.requests.append((method, path))
                    self.sent_bytes += len(head)
                response = self._take_rule(method, path)
                if response is not None and headers.get("expect", "").lower() == "100-continue":
                    source.sendall(response.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
                    return  # the body never comes: close the connection
                forward = None if response is not None else target.sendall
                if forward is not None:
                    forward(head)
                self._body(reader, headers, forward)
                if response is not None:
                    source.sendall(response)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _body(self, reader: _Reader, headers: dict[str, str], forward: Any) -> None:
        def relay(data: bytes | None) -> None:
            if data is None:
                raise ConnectionError("client closed mid-request")
            with self._lock:
                self.sent_bytes += len(data)
            if forward is not None:
                forward(data)

        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                size_line = reader.until(b"\r\n")
                relay(size_line)
                assert size_line is not None
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    while (trailer := reader.until(b"\r\n")) not in (None, b"\r\n"):
                        relay(trailer)
                    relay(trailer)
                    return
                relay(reader.exactly(size + 2))
        else:
            relay(reader.exactly(int(headers.get("content-length", "0"))))


class _Reader:
    """Buffered reads of a socket: up to and including a delimiter, or an exact byte count (None at EOF)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""

    def _fill(self) -> bool:
        chunk = self._sock.recv(1 << 16)
        self._buffer += chunk
        return bool(chunk)

    def until(self, delimiter: bytes) -> bytes | None:
        while delimiter not in self._buffer:
            if not self._fill():
                return None
        end = self._buffer.index(delimiter) + len(delimiter)
        data, self._buffer = self._buffer[:end], self._buffer[end:]
        return data

    def exactly(self, count: int) -> bytes | None:
        while len(self._buffer) < count:
            if not self._fill():
                return None
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data


@pytest.fixture
def s3_answering_proxy(s3_server: S3Server, s3_endpoint: str) -> Iterator[AnsweringProxy]:
    """A relay in front of the test server that can answer chosen requests itself (see :class:`AnsweringProxy`)."""
    proxy = AnsweringProxy(s3_server.port)
    yield proxy
    proxy.close()
