"""The ASGI application behind ``modelver ui``: server-rendered pages plus a JSON API over the same data.

Built on Starlette (routing, static files, Jinja2 templates); served by uvicorn from :mod:`modelver.cli.ui`. Every
page and endpoint reads through :mod:`modelver.ui.views`; the charts and the lineage graph are SVG drawn on the
server (:mod:`modelver.ui.svg`), so the page loads nothing from the network.

Errors never show a traceback: a bad reference is 400, an unknown name, version or alias 404, a protected alias 403,
a damaged store (a corrupt or missing manifest or blob) 500 with what is damaged, an unreachable store 503; anything
else is 500 with a generic message (the traceback goes to the server's log).

Writing (promote, rollback, yank) is off unless the app is built with ``allow_write=True``; then every action
records the ``by`` the person typed, like the CLI's ``--by``. Requests must name this server as their Host (so a
DNS-rebinding page cannot reach it); a form post must carry the server's CSRF token and an API write the
``X-Modelver-Client`` header, and neither may come from another origin; every response forbids framing and carries
a strict Content-Security-Policy (:mod:`modelver.ui.security`).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from modelver._version import __version__
from modelver.catalog.runs import run_summaries
from modelver.errors import (
    IntegrityError,
    InvalidReferenceError,
    ModelverError,
    ProtectedAliasError,
    StoreError,
    VersionExistsError,
    VersionNotFoundError,
)
from modelver.registry.diff import diff as diff_versions
from modelver.registry.lifecycle import promote, rollback, yank
from modelver.serde import to_json_dict
from modelver.store.backend import is_unreachable
from modelver.store.location import open_store
from modelver.store.objects import Store
from modelver.tracking.failed_run import find_run, read_runs
from modelver.ui import svg, views
from modelver.ui.deployments import deployment_routes
from modelver.ui.fields import MissingFieldError, required_field
from modelver.ui.negotiation import JsonNegotiationMiddleware, PageNotFoundError, wants_json
from modelver.ui.parallel import parallel_axes, parallel_svg
from modelver.ui.saved import saved_documents
from modelver.ui.search_page import search_routes
from modelver.ui.security import (
    API_CLIENT_HEADER,
    CSRF_FIELD,
    CrossOriginError,
    SecurityHeadersMiddleware,
    check_api_client,
    check_form_token,
    check_same_origin,
    new_csrf_token,
)
from modelver.units import format_metric, human_bytes

__all__ = ["API", "LOOPBACK_HOSTS", "create_app"]

log = logging.getLogger("modelver.ui")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
_PACKAGE = resources.files("modelver.ui")


class WriteDisabledError(ModelverError, PermissionError):
    """A write action was requested from a UI started without ``--allow-write``."""


#: The JSON API: path, method, summary, parameters (name, where, required, description). The OpenAPI document and
#: the /api page are generated from it.
API: tuple[tuple[str, str, str, tuple[tuple[str, str, bool, str], ...]], ...] = (
    ("/api/names", "get", "Names in the store, one page, each with versions, aliases, latest release, last activity",
     (("page", "query", False, "1-based page"), ("per_page", "query", False, "names per page (max 500)"),
      ("q", "query", False, "only names containing this text"))),
    ("/api/name/{name}", "get", "A name: summary, aliases, a page of versions (newest first), a page of history",
     (("name", "path", True, "model name (may contain /)"), ("page", "query", False, "page of versions"),
      ("per_page", "query", False, "versions per page"), ("history_page", "query", False, "page of history"))),
    ("/api/metrics/{name}", "get", "Every metric of every version of a name, from the version tags",
     (("name", "path", True, "model name"),)),
    ("/api/version/{ref}", "get", "One version: manifest, registry status, code diff, config, metric history, events",
     (("ref", "path", True, "any reference: name@1.2.0, name@production, name@blake3:3f9a01bc"),)),
    ("/api/code-diff/{ref}", "get", "The whole uncommitted diff the run started from (text/plain; 204 when none)",
     (("ref", "path", True, "any reference"),)),
    ("/api/lineage/{ref}", "get", "The lineage graph: nodes with layout positions, edges, step records",
     (("ref", "path", True, "any reference"),)),
    ("/api/diff", "get", "modelver.diff(a, b): per facet, every change from A to B",
     (("a", "query", True, "reference of A"), ("b", "query", True, "reference of B"))),
    ("/api/compare", "get", "Two or more versions side by side: per facet, each version's value of each differing key",
     (("ref", "query", True, "a reference; repeat it: ref=A&ref=B&ref=C (the first is the base)"),)),
    ("/api/search", "get", "Versions matching a filter (modelver search language) with chosen fields; 400 if bad",
     (("q", "query", False, "the filter, e.g. metrics.auc > 0.8"), ("name", "query", False, "only this name (repeat)"),
      ("col", "query", False, "a field to return, e.g. config.lr (repeat)"), ("sort", "query", False, "a field"),
      ("dir", "query", False, "asc or desc (default)"))),
    ("/api/runs", "get", "Runs that published no version, oldest first (as `modelver runs --json`)", ()),
    ("/api/run/{run_id}", "get", "One run's whole record: reason, traceback, manifest (as `modelver runs show --json`)",
     (("run_id", "path", True, "a run id or a unique prefix of one"),)),
    ("/api/promote", "post", "Point an alias at a version (needs --allow-write); body {ref, alias, by, reason}", ()),
    ("/api/rollback", "post", "Move an alias back (needs --allow-write); body {name, alias, by, reason}", ()),
    ("/api/yank", "post", "Withdraw a version (needs --allow-write); body {ref, reason, by}", ()),
)  # fmt: skip


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of :data:`API`."""
    paths: dict[str, Any] = {}
    for path, method, summary, params in API:
        operation: dict[str, Any] = {
            "summary": summary,
            "parameters": [
                {"name": n, "in": where, "required": req, "description": d, "schema": {"type": "string"}}
                for n, where, req, d in params
            ],
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {}}},
                "400": {"description": "bad reference or argument"},
                "404": {"description": "no such name, version or alias"},
                "500": {"description": "the store is damaged (corrupt or missing object)"},
            },
        }
        if method == "post":
            operation["parameters"].append(
                {
                    "name": API_CLIENT_HEADER,
                    "in": "header",
                    "required": True,
                    "description": "any non-empty value, e.g. 1: a web page on another site cannot send it",
                    "schema": {"type": "string"},
                }
            )
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
            operation["responses"]["403"] = {
                "description": f"writing is disabled, the alias is protected, or {API_CLIENT_HEADER} is missing"
            }
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "modelver UI API", "version": __version__, "description": "Read-only unless --allow-write."},
        "paths": paths,
    }


def _status_of(exc: BaseException) -> tuple[int, str]:
    if isinstance(exc, InvalidReferenceError):
        return 400, "Bad reference"
    if isinstance(exc, MissingFieldError):
        return 400, "Missing field"
    if isinstance(exc, VersionNotFoundError | PageNotFoundError):
        return 404, "Not found"
    if isinstance(exc, ProtectedAliasError | WriteDisabledError | CrossOriginError):
        return 403, "Not allowed"
    if isinstance(exc, VersionExistsError):
        return 409, "Already exists"
    if isinstance(exc, IntegrityError):
        return 500, "The store is damaged"
    if isinstance(exc, StoreError):
        return (503, "The store cannot be reached") if is_unreachable(exc) else (500, "Store error")
    return 500, "Internal error"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_PACKAGE / "templates")),
        autoescape=jinja2.select_autoescape(("html",)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["urlref"] = lambda ref: quote(str(ref), safe="@/:")
    env.filters["human_bytes"] = lambda n: human_bytes(n) if isinstance(n, int | float) else ""
    env.filters["short"] = lambda digest: (str(digest)[:19] + "…") if digest else ""
    env.filters["tojson_pretty"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    env.filters["cell"] = _cell
    env.filters["number"] = format_metric  # tolerates ints beyond the float range in records written before
    env.globals["query"] = lambda request, **kw: "?" + urlencode({**dict(request.query_params), **kw})
    return env


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:199] + "…"


def _int(request: Request, key: str, default: int) -> int:
    try:
        return int(request.query_params.get(key, default))
    except ValueError:
        raise InvalidReferenceError(
            f"query parameter {key} must be a whole number, not {request.query_params[key]!r}"
        ) from None


def create_app(
    store: str | os.PathLike[str] | Store | None = None,
    *,
    allow_write: bool = False,
    allowed_hosts: tuple[str, ...] | None = LOOPBACK_HOSTS,
) -> Starlette:
    """Build the UI application over one store.

    Args:
        store: the store (default: see ``modelver info``); opened once, read on every request (no state is loaded
            at start).
        allow_write: enable promote, rollback and yank from the page and the API.
        allowed_hosts: host names requests may address (``None``: any; the default: the loopback names).

    Returns:
        A Starlette ASGI application.

    Raises:
        StoreError: ``store`` cannot be opened.
    """
    opened = open_store(store)
    templates = Jinja2Templates(env=_environment())
    csrf_token = new_csrf_token()  # written into the UI's own forms; another origin cannot read it

    def page(template: str, request: Request, context: dict[str, Any], status: int = 200) -> Response:
        base = {"store_url": opened.url, "allow_write": allow_write, "version": __version__, "request": request}
        if allow_write:
            base.update(csrf_field=CSRF_FIELD, csrf_token=csrf_token)
        return templates.TemplateResponse(request, template, {**base, **context}, status_code=status)

    def error_response(request: Request, exc: BaseException, as_json: bool) -> Response:
        status, title = _status_of(exc)
        if status == 500 and not isinstance(exc, ModelverError):
            log.exception("internal error on %s", request.url.path, exc_info=exc)
            message = "an unexpected error happened; the server's log has the details"
        else:
            message = str(exc)
        if as_json:
            return JSONResponse({"error": type(exc).__name__, "title": title, "message": message}, status_code=status)
        return page(
            "error.html",
            request,
            {"title": title, "status": status, "message": message, "kind": type(exc).__name__},
            status,
        )

    def guarded(as_json: bool) -> Callable[[Callable[[Request], Response]], Callable[[Request], Awaitable[Response]]]:
        def wrap(handler: Callable[[Request], Response]) -> Callable[[Request], Awaitable[Response]]:
            @functools.wraps(handler)
            async def endpoint(request: Request) -> Response:
                try:
                    return await run_in_threadpool(handler, request)
                except Exception as exc:  # every failure becomes a page or JSON error, never a traceback
                    return error_response(request, exc, as_json)

            return endpoint

        return wrap

    def names_data(request: Request) -> dict[str, Any]:
        per_page = _int(request, "per_page", views.DEFAULT_PER_PAGE)
        query = request.query_params.get("q", "")
        return views.names_page(opened, page=_int(request, "page", 1), per_page=per_page, query=query)

    def name_data(request: Request) -> dict[str, Any]:
        page_number, per_page = _int(request, "page", 1), _int(request, "per_page", views.DEFAULT_PER_PAGE)
        history_page = _int(request, "history_page", 1)
        model = request.path_params["name"]
        return views.name_page(opened, model, page=page_number, per_page=per_page, history_page=history_page)

    # -- pages ---------------------------------------------------------------------------------------------------

    @guarded(as_json=False)
    def names(request: Request) -> Response:
        return page("names.html", request, {"data": names_data(request)})

    @guarded(as_json=False)
    def name(request: Request) -> Response:
        model = request.path_params["name"]
        data = name_data(request)
        x = request.query_params.get("x", "order")
        charts = _metric_charts(views.metric_series(opened, model), x=x, highlight=())
        return page("name.html", request, {"data": data, "name": model, "charts": charts, "x": x})

    @guarded(as_json=False)
    def version(request: Request) -> Response:
        data = views.version_page(opened, request.path_params["ref"])
        history_charts = {
            key: svg.line_chart([_step_point(p) for p in points], title=f"{key} by step")
            for key, points in data["metric_history"].items()
            if len(points) > 1
        }
        context = {
            "data": data,
            "m": data["manifest"],
            "history_charts": history_charts,
            "resource_charts": _resource_charts(data["resource_series"]),
            "saved": saved_documents(opened, data["manifest"]),
        }
        return page("version.html", request, context)

    @guarded(as_json=False)
    def runs_page(request: Request) -> Response:
        return page("runs.html", request, {"runs": read_runs(opened)})

    @guarded(as_json=False)
    def run_page(request: Request) -> Response:
        record = find_run(opened, request.path_params["run_id"])
        manifest = record.get("manifest")
        return page("run.html", request, {"run": record, "m": manifest if isinstance(manifest, dict) else {}})

    @guarded(as_json=False)
    def lineage_page(request: Request) -> Response:
        data = views.lineage(opened, request.path_params["ref"])
        graph = svg.lineage_svg(data["graph"])
        return page("lineage.html", request, {"data": data, "graph": graph})

    @guarded(as_json=False)
    def compare_page(request: Request) -> Response:
        refs = [r for r in request.query_params.getlist("ref") if r.strip()]
        if len(refs) < 2:
            return page("compare_form.html", request, {"refs": refs})
        if request.query_params.get("order") == "version":
            # Ticked on a name's page (listed newest first): the oldest is the base, so changes read old -> new.
            refs = views.oldest_first(opened, refs)
        data = views.compare(opened, refs)
        model = data["refs"][0].split("@", 1)[0]
        charts: dict[str, Markup] = {}
        if all(r.split("@", 1)[0] == model for r in data["refs"]):
            highlight = tuple(r.split("@", 1)[1] for r in data["refs"])
            charts = _metric_charts(views.metric_series(opened, model), x="order", highlight=highlight)
        parallel = parallel_svg(*parallel_axes(opened, data["refs"]))
        return page("compare.html", request, {"data": data, "charts": charts, "model": model, "parallel": parallel})

    def api_page(request: Request) -> Response:
        return page("api.html", request, {"api": API})

    # -- JSON ----------------------------------------------------------------------------------------------------

    @guarded(as_json=True)
    def api_names(request: Request) -> Response:
        return JSONResponse(names_data(request))

    @guarded(as_json=True)
    def api_name(request: Request) -> Response:
        return JSONResponse(name_data(request))

    @guarded(as_json=True)
    def api_metrics(request: Request) -> Response:
        return JSONResponse(views.metric_series(opened, request.path_params["name"]))

    @guarded(as_json=True)
    def api_version(request: Request) -> Response:
        return JSONResponse(views.version_page(opened, request.path_params["ref"]))

    @guarded(as_json=True)
    def api_code_diff(request: Request) -> Response:
        text = views.code_diff(opened, request.path_params["ref"])
        return Response(status_code=204) if text is None else PlainTextResponse(text)

    @guarded(as_json=True)
    def api_lineage(request: Request) -> Response:
        data = views.lineage(opened, request.path_params["ref"])
        return JSONResponse({k: v for k, v in data.items() if k != "graph"})

    @guarded(as_json=True)
    def api_diff(request: Request) -> Response:
        a, b = request.query_params.get("a"), request.query_params.get("b")
        if not a or not b:
            raise InvalidReferenceError("give both references: /api/diff?a=REF&b=REF")
        return JSONResponse(to_json_dict(diff_versions(a, b, store=opened)))

    @guarded(as_json=True)
    def api_compare(request: Request) -> Response:
        return JSONResponse(views.compare(opened, request.query_params.getlist("ref")))

    @guarded(as_json=True)
    def api_runs(request: Request) -> Response:
        return JSONResponse(run_summaries(opened))

    @guarded(as_json=True)
    def api_run(request: Request) -> Response:
        return JSONResponse(find_run(opened, request.path_params["run_id"]))

    def api_openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    # -- writing ---------------------------------------------------------------------------------------------------

    def check_write(request: Request) -> None:
        if not allow_write:
            raise WriteDisabledError(
                "this UI is read-only; restart it with `modelver ui --allow-write` to change aliases"
            )
        check_same_origin(request)

    def act(action: str, fields: dict[str, str]) -> str:
        """Run one write action; return the name whose page shows the result."""
        # The server's OS user did not click; the person at the page must say who they are (the CLI's --by).
        by = required_field(fields, "by", "say who you are; it is recorded in the history")
        reason = fields.get("reason", "")
        if action == "yank":
            reason = required_field(fields, "reason", "say why the version is withdrawn; it is recorded in the history")
        if action == "promote":
            event = promote(fields.get("ref", ""), fields.get("alias", ""), by=by, reason=reason, store=opened)
        elif action == "rollback":
            event = rollback(fields.get("name", ""), fields.get("alias", ""), by=by, reason=reason, store=opened)
        elif action == "yank":
            done = yank(fields.get("ref", ""), reason=reason, by=by, store=opened)
            return fields.get("ref", "").split("@", 1)[0] if done is None else done.name
        else:  # pragma: no cover  (routes name only the three actions)
            raise InvalidReferenceError(f"unknown action {action!r}")
        return event.name

    async def form_action(request: Request) -> Response:
        action = request.path_params["action"]
        try:
            check_write(request)
            body = (await request.body()).decode(errors="replace")
            fields = {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}
            check_form_token(fields, csrf_token)
            model = await run_in_threadpool(act, action, fields)
        except Exception as exc:
            return error_response(request, exc, as_json=False)
        back = fields.get("back", "")
        # Only a local path: a posted "back" must not send the browser elsewhere (browsers read "/\\host" as
        # "//host", so a backslash is refused as well).
        local = back.startswith("/") and not back.startswith("//") and "\\" not in back and not urlsplit(back).netloc
        target = back if local else f"/name/{quote(model)}"
        return RedirectResponse(target, status_code=303)

    async def api_action(request: Request) -> Response:
        action = request.url.path.rsplit("/", 1)[-1]
        try:
            check_write(request)
            if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
                # A cross-site form cannot send application/json without a CORS preflight, which this server fails.
                raise InvalidReferenceError("send the action as a JSON object (Content-Type: application/json)")
            check_api_client(request)  # nor a custom header
            fields = json.loads(await request.body() or b"{}")
            if not isinstance(fields, dict):
                raise InvalidReferenceError("the body must be a JSON object")
            model = await run_in_threadpool(act, action, {k: str(v) for k, v in fields.items() if v is not None})
            state = await run_in_threadpool(views.name_page, opened, model)
        except json.JSONDecodeError as exc:
            return error_response(request, InvalidReferenceError(f"the body is not JSON: {exc}"), as_json=True)
        except Exception as exc:
            return error_response(request, exc, as_json=True)
        return JSONResponse({"ok": True, "aliases": state["aliases"], "history": state["history"]["items"][:5]})

    async def not_found(request: Request, exc: Exception) -> Response:
        path = request.url.path
        message = f"not found: no page at {path}; start from / (the JSON API is listed at /api)"
        error = PageNotFoundError(message, path=path)
        as_json = path.startswith("/api/") or wants_json(request.headers.get("accept", ""))
        return error_response(request, error, as_json=as_json)

    routes: list[BaseRoute] = [
        Route("/", names),
        Route("/name/{name:path}", name),
        Route("/version/{ref:path}", version),
        Route("/lineage/{ref:path}", lineage_page),
        Route("/runs", runs_page),
        Route("/run/{run_id:str}", run_page),
        Route("/compare", compare_page),
        Route("/api", api_page),
        Route("/api/openapi.json", api_openapi),
        Route("/api/names", api_names),
        Route("/api/name/{name:path}", api_name),
        Route("/api/metrics/{name:path}", api_metrics),
        Route("/api/version/{ref:path}", api_version),
        Route("/api/code-diff/{ref:path}", api_code_diff),
        Route("/api/lineage/{ref:path}", api_lineage),
        Route("/api/diff", api_diff),
        Route("/api/compare", api_compare),
        Route("/api/runs", api_runs),
        Route("/api/run/{run_id:str}", api_run),
        Route("/api/promote", api_action, methods=["POST"]),
        Route("/api/rollback", api_action, methods=["POST"]),
        Route("/api/yank", api_action, methods=["POST"]),
        Route("/action/{action:str}", form_action, methods=["POST"]),
        *deployment_routes(opened, page, guarded),
        *search_routes(opened, page, guarded),
        Mount("/static", StaticFiles(directory=Path(str(_PACKAGE / "static"))), name="static"),
    ]
    # Outermost first: the security headers go on every response, the host check's refusals included.
    middleware = [Middleware(SecurityHeadersMiddleware)]
    if allowed_hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    middleware.append(Middleware(JsonNegotiationMiddleware))  # innermost: rewrites the path before routing
    return Starlette(routes=routes, middleware=middleware, exception_handlers={404: not_found})


def _resource_charts(series: dict[str, Any] | None) -> dict[str, Markup]:
    """Charts of the sampled resources against seconds since the run started: memory (MiB), CPU (busy cores), and
    memory in use on each GPU (MiB)."""
    if not series:
        return {}
    mib = 1024 * 1024
    wanted = [("memory (MiB)", series["memory_bytes"], mib), ("CPU (busy cores)", series["cpu_cores"], 1)]
    wanted += [(f"GPU {i} memory (MiB)", points, mib) for i, points in sorted(series["gpu_memory_bytes"].items())]
    charts = {}
    for title, points, unit in wanted:
        if len(points) > 2:  # two samples (start and end of a short run) make no curve worth drawing
            chart_points = [svg.Point(float(t), v / unit, f"{t:.2f} s: {v / unit:.4g}") for t, v in points]
            labels = {float(points[0][0]): f"{points[0][0]:.2f} s", float(points[-1][0]): f"{points[-1][0]:.2f} s"}
            charts[title] = svg.line_chart(chart_points, title=title, x_labels=labels)
    return charts


def _step_point(point: dict[str, Any]) -> svg.Point:
    """A point of a metric's history: x is the logged step, or the call's position when no step was given."""
    x = point["step"] if point["step"] is not None else point["call"]
    return svg.Point(float(x), float(point["value"]), f"step {x}: {point['value']:.6g}")


def _metric_charts(series: dict[str, Any], *, x: str, highlight: tuple[str, ...]) -> dict[str, Markup]:
    """One chart per metric across the versions of a name; ``x`` is ``"order"`` (version order) or ``"time"``."""
    name = series["name"]
    charts = {}
    for key, points in series["metrics"].items():
        placed = []
        for p in points:
            when = views.parse_time(p["created_at"]) if x == "time" else None
            placed.append((float(p["index"]) if when is None else when.timestamp(), p))
        placed.sort(key=lambda item: item[0])
        chart_points = [
            svg.Point(
                xv,
                float(p["value"]),
                f"{p['version']}: {p['value']:.6g}",
                href=f"/version/{quote(name)}@{quote(p['version'])}",
                highlight=p["version"] in highlight,
            )
            for xv, p in placed
        ]
        if not chart_points:
            continue
        (x0, first), (x1, last) = placed[0], placed[-1]
        if x == "time":
            labels = {x0: first["created_at"][:16].replace("T", " "), x1: last["created_at"][:16].replace("T", " ")}
        else:
            labels = {x0: first["version"], x1: last["version"]}
        charts[key] = svg.line_chart(chart_points, title=f"{key} across versions of {name}", x_labels=labels)
    return charts
