"""The local web UI behind ``modelver ui`` (needs the ``ui`` extra: Starlette, uvicorn, Jinja2).

- :mod:`.app`: the ASGI application, its routes, error pages and the JSON API (documented at ``/api``);
- :mod:`.views`: what each page shows, read through the library (shared by pages and API);
- :mod:`.lineage`: a version's lineage as a laid-out graph;
- :mod:`.svg`: charts and the graph, drawn on the server;
- :mod:`.security`: the response headers (no framing, a strict CSP), the CSRF token and the checks on every write;
- ``templates/`` and ``static/``: the HTML templates, one stylesheet and one small script, shipped in the wheel.
"""

from __future__ import annotations

from modelver.ui.app import LOOPBACK_HOSTS, create_app

__all__ = ["LOOPBACK_HOSTS", "create_app"]
