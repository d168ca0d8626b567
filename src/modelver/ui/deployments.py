"""UI pages for deployments (per name and target, with a timeline and ``?at=`` time travel) and model cards.

:func:`deployment_routes` gives the routes; :mod:`modelver.ui.app` mounts them with its page renderer and its error
guard, so these pages share the app's security headers, host check and error pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from modelver.cards.card import build_card
from modelver.registry.deployments import deployments
from modelver.registry.model_version import get
from modelver.registry.names import validate_name
from modelver.registry.timeline import parse_instant
from modelver.store.objects import Store

__all__ = ["deployment_routes"]

PageFn = Callable[[str, Request, dict[str, Any]], Response]
Guard = Callable[[bool], Callable[[Callable[[Request], Response]], Callable[[Request], Awaitable[Response]]]]


def deployments_view(store: Store, name: str, at: str | None) -> dict[str, Any]:
    """What the deployments page shows: each target's deployment (now or at ``at``) and its event timeline."""
    validate_name(name)
    moment = parse_instant(at).isoformat().replace("+00:00", "Z") if at else None
    found = deployments(name, at=at, store=store)
    every = deployments(name, store=store) if at else found
    timelines = {d.target: d.history for d in every}
    return {"name": name, "at": moment, "deployments": found, "timelines": timelines}


def deployment_routes(store: Store, page: PageFn, guarded: Guard) -> list[BaseRoute]:
    """The ``/deployments/{name}`` and ``/card/{ref}`` pages over ``store``.

    Args:
        store: the UI's store.
        page: renders a template with the app's common context.
        guarded: the app's error guard (``guarded(as_json)``).

    Returns:
        Routes to add to the app.

    Example:
        >>> routes = [*deployment_routes(opened, page, guarded)]  # doctest: +SKIP
    """

    @guarded(False)
    def deployments_page(request: Request) -> Response:
        name = request.path_params["name"]
        data = deployments_view(store, name, request.query_params.get("at") or None)
        return page("deployments.html", request, {"data": data})

    @guarded(False)
    def card_page(request: Request) -> Response:
        card = build_card(get(request.path_params["ref"], store=store))
        return page("card.html", request, {"card": card})

    return [
        Route("/deployments/{name:path}", deployments_page),
        Route("/card/{ref:path}", card_page),
    ]
