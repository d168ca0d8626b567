"""Content negotiation for the UI's pages: a request that asks for JSON gets the JSON API's answer.

A page (``/version/churn@1.2.0``) and its API endpoint (``/api/version/churn@1.2.0``) show the same data, so a
request to a page with ``Accept: application/json`` (and not ``text/html``) is answered by the endpoint, the same
handler and the same body; a page without a JSON counterpart (``/deployments/...``, ``/card/...``, the form
actions) answers 406 with a JSON body naming ``/api``. Browsers always accept ``text/html``, so pages are unchanged
for them. An unknown address is :class:`PageNotFoundError` (404 "Not found").
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from modelver.errors import ModelverError

__all__ = ["JSON_COUNTERPARTS", "JsonNegotiationMiddleware", "PageNotFoundError", "api_path", "wants_json"]

#: A page's path prefix (or exact path) and the API path that answers with its data.
JSON_COUNTERPARTS: tuple[tuple[str, str], ...] = (
    ("/name/", "/api/name/"),
    ("/version/", "/api/version/"),
    ("/lineage/", "/api/lineage/"),
    ("/run/", "/api/run/"),
)
#: Pages whose whole path maps to an endpoint (query parameters are kept).
_EXACT = {
    "/": "/api/names",
    "/runs": "/api/runs",
    "/compare": "/api/compare",
    "/search": "/api/search",
    "/api": "/api/openapi.json",
}


class PageNotFoundError(ModelverError, LookupError):
    """No page or endpoint at the requested address (a 404): not a missing version, a mistyped URL.

    Attributes:
        path: the address that was requested.
    """

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


def wants_json(accept: str) -> bool:
    """Whether an ``Accept`` header asks for JSON rather than a page.

    Args:
        accept: the header's value (``""`` when absent).

    Returns:
        True when ``application/json`` (or ``+json``) is accepted and ``text/html`` is not; browsers send
        ``text/html`` first, so they always get pages.

    Example:
        >>> wants_json("application/json"), wants_json("text/html,application/json;q=0.9"), wants_json("*/*")
        (True, False, False)
    """
    types = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    asks = "application/json" in types or any(t.endswith("+json") for t in types)
    return asks and "text/html" not in types


def api_path(path: str) -> str | None:
    """The API path that answers a page's path with JSON, or ``None`` when the page has none.

    Args:
        path: a page's path (``/version/churn@1.2.0``).

    Returns:
        The endpoint's path (``/api/version/churn@1.2.0``), or ``None``.

    Example:
        >>> api_path("/runs"), api_path("/card/churn")
        ('/api/runs', None)
    """
    if path in _EXACT:
        return _EXACT[path]
    for page, api in JSON_COUNTERPARTS:
        if path.startswith(page) and len(path) > len(page):
            return api + path[len(page) :]
    return None


class JsonNegotiationMiddleware:
    """ASGI middleware: route a page request that wants JSON to its API endpoint, or answer 406 (JSON body).

    ``/api...`` requests, static files and requests that accept HTML pass through untouched; so does a path that
    is no page at all, which then gets the JSON 404.

    Args:
        app: the application to wrap.

    Example:
        >>> from starlette.middleware import Middleware
        >>> Middleware(JsonNegotiationMiddleware)  # doctest: +SKIP
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        accept = dict(scope.get("headers") or ()).get(b"accept", b"").decode("latin-1")
        if path.startswith(("/api/", "/static/")) or not wants_json(accept):
            await self.app(scope, receive, send)
            return
        target = api_path(path)
        if target is not None:
            raw = scope.get("raw_path")
            raw_target = api_path(raw.decode("latin-1")) if raw else None  # percent-encoded, so ASCII
            rewritten = {**scope, "path": target, "raw_path": raw_target.encode("latin-1") if raw_target else None}
            await self.app(rewritten, receive, send)
            return
        if not path.startswith(("/deployments/", "/card/", "/action/")):
            await self.app(scope, receive, send)  # no page here either: the JSON 404
            return
        from starlette.responses import JSONResponse

        body = {
            "error": "NotAcceptable",
            "title": "Not acceptable",
            "message": f"{path} is a page with no JSON form; the JSON API is listed at /api (/api/openapi.json)",
        }
        await JSONResponse(body, status_code=406)(scope, receive, send)
