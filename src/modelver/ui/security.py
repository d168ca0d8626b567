"""What keeps other web pages away from the UI: response headers, the CSRF token, and the checks on every write.

A browser will send requests to ``http://127.0.0.1:<port>`` on behalf of any page it has open, so the UI must tell
its own pages from everyone else's (docs/security.md, "The web UI"):

- **Headers on every response** (:data:`SECURITY_HEADERS`): no other page may frame the UI (``X-Frame-Options:
  DENY`` and CSP ``frame-ancestors 'none'``, against clickjacking), nothing is sniffed into a script
  (``X-Content-Type-Options: nosniff``), and a strict Content-Security-Policy lets a page run only the UI's own
  script and style, load nothing from elsewhere and post forms only to the UI.
- **Form posts** (``/action/...``) must carry the per-server CSRF token (:data:`CSRF_FIELD`), which the UI writes
  into its own forms and another origin cannot read; and they must not say they come from elsewhere: a foreign
  ``Origin``, a ``Sec-Fetch-Site`` other than ``same-origin``/``none``, or, without ``Origin``, a foreign
  ``Referer`` is refused.
- **JSON API writes** (``/api/promote`` ...) must send the header :data:`API_CLIENT_HEADER` and
  ``Content-Type: application/json``: a page can only send either cross-site after a CORS preflight, and the UI
  answers no preflight.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelver.errors import ModelverError

__all__ = [
    "API_CLIENT_HEADER",
    "CONTENT_SECURITY_POLICY",
    "CSRF_FIELD",
    "SECURITY_HEADERS",
    "CrossOriginError",
    "SecurityHeadersMiddleware",
    "check_api_client",
    "check_form_token",
    "check_same_origin",
    "new_csrf_token",
]

#: The hidden form field that carries the CSRF token.
CSRF_FIELD = "csrf_token"
#: The header a JSON API client sends with a write (any non-empty value); browsers cannot send it cross-site.
API_CLIENT_HEADER = "X-Modelver-Client"
#: Only the UI's own script, style and images; no network beyond the UI; forms post only to it; never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: Sent with every response, pages, JSON, static files and errors alike.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class CrossOriginError(ModelverError, PermissionError):
    """A write that did not come from the UI's own page: another origin, no CSRF token, or no API client header.

    Example:
        >>> str(CrossOriginError("refused a write from another origin (http://evil.example)"))
        'refused a write from another origin (http://evil.example)'
    """


def new_csrf_token() -> str:
    """A fresh CSRF token: 256 random bits, URL-safe; one per UI server, written into its forms.

    Returns:
        The token (43 characters).

    Example:
        >>> len(new_csrf_token())
        43
    """
    return secrets.token_urlsafe(32)


def check_same_origin(request: Request) -> None:
    """Refuse a request that says it comes from another origin than the UI it is sent to.

    ``Origin`` must be the UI's own; without it, ``Sec-Fetch-Site`` must be ``same-origin`` or ``none`` (typed by
    the user) when sent, and a ``Referer``, when sent, must be on the UI's own origin. A request with none of the
    three (a command-line client) passes this check; the token or the API header is what it must still show.

    Args:
        request: the incoming request.

    Raises:
        CrossOriginError: a header names another origin or site.
    """
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    origin = request.headers.get("origin")
    if origin is not None:
        if origin != own:
            raise CrossOriginError(f"refused a write from another origin ({origin}); use the UI's own page")
        return
    if request.headers.get("sec-fetch-site") not in (None, "same-origin", "none"):
        raise CrossOriginError("refused a write from another site; use the UI's own page")
    referer = request.headers.get("referer")
    if referer is not None:
        parts = urlsplit(referer)
        if f"{parts.scheme}://{parts.netloc}" != own:
            raise CrossOriginError(f"refused a write posted from another page ({parts.netloc}); use the UI's own page")


def check_form_token(fields: Mapping[str, str], token: str) -> None:
    """Refuse a form post without this server's CSRF token (compared in constant time).

    Args:
        fields: the posted form fields.
        token: this server's token (:func:`new_csrf_token`).

    Raises:
        CrossOriginError: the field is missing or holds another token.

    Example:
        >>> check_form_token({"csrf_token": "abc"}, "abc")
    """
    sent = fields.get(CSRF_FIELD, "")
    if not sent or not hmac.compare_digest(sent.encode(), token.encode()):
        raise CrossOriginError(
            "refused a form post without this UI's CSRF token; reload the UI's page and submit the form again"
        )


def check_api_client(request: Request) -> None:
    """Refuse a JSON API write without the :data:`API_CLIENT_HEADER` header.

    Args:
        request: the incoming request.

    Raises:
        CrossOriginError: the header is missing or empty.
    """
    if not request.headers.get(API_CLIENT_HEADER, "").strip():
        raise CrossOriginError(
            f"API writes must send the header {API_CLIENT_HEADER}: 1 (a web page on another site cannot); "
            "add it to the request"
        )


class SecurityHeadersMiddleware:
    """ASGI middleware that adds :data:`SECURITY_HEADERS` to every HTTP response.

    Args:
        app: the application to wrap.

    Example:
        >>> from starlette.applications import Starlette
        >>> wrapped = SecurityHeadersMiddleware(Starlette())
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the headers to the response's start message."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
