"""The UI's version list with a filter box and chosen columns: ``/search`` (a page) and ``/api/search`` (JSON).

The filter box takes the filter language of ``modelver search`` (docs/search.md); a malformed filter shows its
message with a caret under the mistake, and the page answers 400. Columns are any field keys (``metrics.auc``,
``config.optimizer.lr``, ``labels.team``); clicking a column's header sorts by it (the server sorts through the index:
the page needs no script). Answers come from the search index, so the page reads no manifest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from modelver.catalog.api import field_values, search_hits
from modelver.errors import InvalidQueryError
from modelver.store.objects import Store

__all__ = ["MAX_ROWS", "search_routes", "search_view"]

#: At most this many versions on the page (the filter narrows it).
MAX_ROWS = 500

PageFn = Callable[[str, Request, dict[str, Any]], Response]
Guard = Callable[[bool], Callable[[Callable[[Request], Response]], Callable[[Request], Awaitable[Response]]]]


def search_view(store: Store, params: Any) -> dict[str, Any]:
    """What ``/search`` shows for the query parameters ``params``: ``q`` (filter), ``name`` (repeatable), ``col``
    (repeatable column keys), ``sort`` (a column or ``created``/``name``/``version``) and ``dir`` (``asc``/``desc``).

    Args:
        store: the UI's store.
        params: the request's query parameters (``getlist`` and ``get``).

    Returns:
        ``{"q", "names", "columns", "sort", "dir", "rows", "error", "caret", "sort_links"}``; ``error`` and
        ``caret`` are set (and ``rows`` empty) when the filter is malformed.

    Raises:
        InvalidReferenceError: a ``name`` is not a valid name.

    Example:
        >>> search_view(store, {"q": "metrics.auc > 0.8"})["rows"]  # doctest: +SKIP
        [{'ref': 'churn@0.1.1', 'values': [0.83], ...}]
    """
    query = str(params.get("q") or "")
    names = [n for n in params.getlist("name") if n.strip()]
    columns = list(dict.fromkeys(c.strip() for c in params.getlist("col") if c.strip()))
    sort = str(params.get("sort") or "")
    direction = "asc" if params.get("dir") == "asc" else "desc"
    view: dict[str, Any] = {"q": query, "names": names, "columns": columns, "sort": sort, "dir": direction}
    view.update(rows=[], error="", caret="")
    try:
        order = [f"{sort} {direction.upper()}"] if sort else ["created DESC"]
        hits = search_hits(query, names=names or None, order_by=order, limit=MAX_ROWS, store=store)
    except InvalidQueryError as exc:
        view.update(error=str(exc), caret=exc.caret())
        return view
    values = field_values(hits, columns, store=store)
    view["rows"] = [
        {"ref": h.ref, "name": h.name, "version": h.version, "created": h.created, "digest": h.digest}
        | {"values": values.get((h.name, h.version), [None] * len(columns))}
        for h in hits
    ]
    base = [("q", query), *(("name", n) for n in names), *(("col", c) for c in columns)]
    view["sort_links"] = {
        key: "/search?"
        + urlencode([*base, ("sort", key), ("dir", "asc" if (sort, direction) == (key, "desc") else "desc")])
        for key in ["created", *columns]
    }
    return view


def search_routes(store: Store, page: PageFn, guarded: Guard) -> list[BaseRoute]:
    """The ``/search`` page and ``/api/search`` over ``store``.

    Args:
        store: the UI's store.
        page: renders a template with the app's common context.
        guarded: the app's error guard (``guarded(as_json)``).

    Returns:
        Routes to add to the app.

    Example:
        >>> routes = [*search_routes(opened, page, guarded)]  # doctest: +SKIP
    """

    @guarded(False)
    def search_page(request: Request) -> Response:
        view = search_view(store, request.query_params)
        response = page("search.html", request, {"data": view})
        if view["error"]:
            response.status_code = 400
        return response

    @guarded(True)
    def api_search(request: Request) -> Response:
        view = search_view(store, request.query_params)
        if view["error"]:
            body = {"error": "InvalidQueryError", "message": view["error"], "caret": view["caret"]}
            return JSONResponse(body, status_code=400)
        rows = [
            {k: row[k] for k in ("name", "version", "digest", "created")}
            | {"fields": dict(zip(view["columns"], row["values"], strict=True))}
            for row in view["rows"]
        ]
        return JSONResponse({"filter": view["q"], "columns": view["columns"], "versions": rows})

    return [Route("/search", search_page), Route("/api/search", api_search)]
