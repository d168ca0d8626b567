"""The web UI against other pages: security headers on every response, the CSRF token on form posts, the client
header on API writes, and the origin checks (:mod:`modelver.ui.security`), over a real uvicorn server and a store a
real training run published. The same in a real browser is in ``test_ui_browser.py``."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

import modelver
from modelver.ui.security import SECURITY_HEADERS, CrossOriginError, check_form_token, check_same_origin
from test_ui_api import Served, build_registry, serve_app

PROMOTE = {"ref": "churn@0.1.0", "alias": "shadow", "by": "mallory"}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The module's store, published by a real training run."""
    return build_registry(tmp_path_factory.mktemp("ui-security"))


@pytest.fixture(scope="module")
def read_only(published: Path) -> Iterator[Served]:
    """A read-only UI over the module's store."""
    served, stop = serve_app(published)
    yield served
    stop()


@pytest.fixture
def writable(published: Path, tmp_path: Path) -> Iterator[tuple[Served, Path]]:
    """A UI started with allow_write over a writable copy of the store; the UI and the copy."""
    copy = tmp_path / "store"
    shutil.copytree(published, copy)
    for path in copy.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
    served, stop = serve_app(copy, allow_write=True)
    yield served, copy
    stop()


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/", {}, 200),
        ("/version/churn@0.1.2", {}, 200),
        ("/api/names", {}, 200),
        ("/static/ui.js", {}, 200),
        ("/no/such/page", {}, 404),
        ("/api/names", {"Host": "attacker.example"}, 400),
    ],
)
def test_every_response_forbids_framing_sniffing_and_foreign_content(
    read_only: Served, path: str, headers: dict[str, str], status: int
) -> None:
    """Pages, JSON, static files, errors and the host check's refusals all carry X-Frame-Options DENY, nosniff and
    the strict Content-Security-Policy (frame-ancestors 'none', only the UI's own script and style)."""
    got, response_headers, _ = read_only.request(path, headers=headers)
    lowered = {name.lower(): value for name, value in response_headers.items()}
    sent = {name: lowered.get(name.lower()) for name in SECURITY_HEADERS}

    assert (status, dict(SECURITY_HEADERS)) == (got, sent)
    assert "frame-ancestors 'none'" in str(sent["Content-Security-Policy"])
    assert "script-src 'self';" in str(sent["Content-Security-Policy"])


def test_a_form_post_without_origin_and_with_a_foreign_referer_is_refused(writable: tuple[Served, Path]) -> None:
    """The reported hole: a form post with no Origin header and another site's Referer is 403 and writes nothing
    (it has no token either, and the Referer alone is refused even with the right token)."""
    ui, store = writable
    before = modelver.history("churn", store=store)
    foreign = {"Referer": "http://attacker.example/page.html"}

    without_token, _ = ui.post_form("/action/promote", PROMOTE, headers=foreign, token=False)
    with_token, _ = ui.post_form("/action/promote", PROMOTE, headers=foreign)

    assert (403, 403) == (without_token, with_token)
    assert before == modelver.history("churn", store=store)


def test_a_form_post_needs_this_servers_csrf_token(writable: tuple[Served, Path]) -> None:
    """Without Origin or Referer, a form post without the token or with another one is 403; with the token from the
    UI's own page it goes through (303) and is recorded."""
    ui, store = writable
    missing, page = ui.post_form("/action/promote", PROMOTE, token=False)
    wrong, _ = ui.post_form("/action/promote", {**PROMOTE, "csrf_token": "guessed"}, token=False)
    unchanged = () == modelver.history("churn", alias="shadow", store=store)
    right, _ = ui.post_form("/action/promote", {**PROMOTE, "by": "dana"})

    assert (403, 403, True, 303) == (missing, wrong, unchanged, right)
    assert "reload the UI&#39;s page and submit the form again" in page
    assert "dana" == modelver.history("churn", alias="shadow", store=store)[-1].by


def test_every_form_of_the_ui_carries_the_token(writable: tuple[Served, Path]) -> None:
    """Each state-changing form the UI draws (promote, yank, roll back) holds the token as a hidden field."""
    ui, _ = writable
    token = ui.csrf_token()
    forms = [
        ui.get("/version/churn@0.1.1")[1].count(f'name="csrf_token" value="{token}"'),
        ui.get("/name/churn")[1].count(f'name="csrf_token" value="{token}"'),
    ]

    assert token is not None
    assert [2, 1] == forms


def test_an_api_write_needs_the_client_header(writable: tuple[Served, Path]) -> None:
    """A JSON write without X-Modelver-Client is 403 and writes nothing; with it, the promote is done."""
    ui, store = writable
    without, body = ui.post_json("/api/promote", PROMOTE, client_header=False)
    unchanged = () == modelver.history("churn", alias="shadow", store=store)
    with_header, _ = ui.post_json("/api/promote", PROMOTE)

    assert (403, "CrossOriginError", True, 200) == (without, body["error"], unchanged, with_header)
    assert "X-Modelver-Client" in body["message"]


def test_a_cors_preflight_is_not_granted(writable: tuple[Served, Path]) -> None:
    """The preflight a browser sends before a cross-site request with the client header gets no
    Access-Control-Allow-* answer, so the browser never sends the write."""
    ui, _ = writable
    status, headers, _ = ui.request(
        "/api/promote",
        method="OPTIONS",
        headers={
            "Origin": "http://attacker.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-modelver-client",
        },
    )

    assert 405 == status
    assert [] == [name for name in headers if name.lower().startswith("access-control-allow")]


def _request(headers: dict[str, str]) -> Request:
    """A bare Starlette request to http://127.0.0.1:8000/action/promote with these headers."""
    raw = [(k.lower().encode(), v.encode()) for k, v in {"host": "127.0.0.1:8000", **headers}.items()]
    scope: dict[str, Any] = {"type": "http", "method": "POST", "scheme": "http", "path": "/action/promote"}
    scope.update(headers=raw, server=("127.0.0.1", 8000), query_string=b"", root_path="")
    return Request(scope)


HOSTS = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z]{2,6}){0,2}(:[0-9]{1,5})?", fullmatch=True)


@given(host=HOSTS, path=st.from_regex(r"(/[a-zA-Z0-9._-]{0,10}){0,3}", fullmatch=True), as_origin=st.booleans())
def test_only_the_uis_own_origin_passes(host: str, path: str, as_origin: bool) -> None:
    """For any Origin or Referer, the origin check passes exactly when scheme, host and port are the UI's own."""
    value = f"http://{host}" if as_origin else f"http://{host}{path}"
    request = _request({"Origin": value} if as_origin else {"Referer": value})
    try:
        check_same_origin(request)
        passed = True
    except CrossOriginError:
        passed = False

    assert (host == "127.0.0.1:8000") == passed


@given(sent=st.text(max_size=50))
def test_only_the_exact_token_passes(sent: str) -> None:
    """Any posted token other than the server's own (empty included) is refused."""
    token = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg"
    try:
        check_form_token({"csrf_token": sent}, token)
        passed = True
    except CrossOriginError:
        passed = False

    assert (sent == token) == passed
