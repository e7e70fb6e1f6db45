"""Unknown or repeated query parameters are a 422: a mistyped filter never silently lists all.

The check is the app's first dependency. Every route is a `StrictQueryRoute`: one whose
methods carry no request body takes the dependency out and checks the query just before
FastAPI's handler runs, which is the same moment (nothing comes before the first dependency
when there is no body to parse) without FastAPI's bookkeeping of one more dependency (about
30 µs a request). A write keeps it, so a malformed body is still reported first.
"""

import typing
from collections.abc import Callable, Coroutine
from types import UnionType
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, _effective_route_context_var

from app.kit.errors import ValidationFailed

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
_CACHE = "_convene_query_params"
# Methods whose request may carry a body, which FastAPI parses before any dependency runs.
_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _accepts_many(annotation: object) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, UnionType):
        return any(_accepts_many(arg) for arg in typing.get_args(annotation))
    return origin in (list, set, tuple, frozenset)


def _query_params(dependant: Dependant) -> dict[str, bool]:
    """Each declared query parameter's name, and whether it may repeat."""
    params = {f.alias: _accepts_many(f.field_info.annotation) for f in dependant.query_params}
    for sub in dependant.dependencies:
        params |= _query_params(sub)
    return params


def _declared(route: APIRoute) -> dict[str, bool]:
    """The route's query parameters, worked out once per route, not once per request."""
    declared: dict[str, bool] | None = getattr(route, _CACHE, None)
    if declared is None:
        declared = _query_params(route.dependant)
        setattr(route, _CACHE, declared)
    return declared


async def reject_unknown_query_params(request: Request) -> None:
    """Refuse query parameters the route does not declare, and repeats of single ones."""
    route = request.scope.get("route")
    if not request.scope.get("query_string") or not isinstance(route, APIRoute):
        return
    _check(request, _declared(route))


def _check(request: Request, declared: dict[str, bool]) -> None:
    errors = [
        {"loc": ["query", name], "msg": "unknown query parameter", "type": "extra_forbidden"}
        for name in sorted(set(request.query_params) - declared.keys())
    ] + [
        {"loc": ["query", name], "msg": "given more than once", "type": "repeated"}
        for name, many in sorted(declared.items())
        if not many and len(request.query_params.getlist(name)) > 1
    ]
    if errors:
        names = ", ".join(str(e["loc"][1]) for e in errors)
        raise ValidationFailed(f"unknown or repeated query parameter(s): {names}", errors=errors)


def effective_dependant(route: APIRoute) -> Dependant:
    """What FastAPI solves for the route: its own dependant, or the included one.

    While FastAPI builds the handler of a route included into the app, the included one
    (with the app's and the including router's dependencies) is what the handler solves.
    """
    context = _effective_route_context_var.get()
    if context is not None and context.original_route is route:
        dependant: Dependant = context.dependant
        return dependant
    return route.dependant


class StrictQueryRoute(APIRoute):
    """An APIRoute that checks the query itself when the request has no body to parse first."""

    def get_route_handler(self) -> Handler:
        if _WITH_BODY & (self.methods or set()):
            return super().get_route_handler()
        dependant = effective_dependant(self)
        dependant.dependencies = [
            sub for sub in dependant.dependencies if sub.call is not reject_unknown_query_params
        ]
        handler = super().get_route_handler()
        declared = _declared(self)

        async def handle(request: Request) -> Response:
            if request.scope.get("query_string"):
                _check(request, declared)
            return await handler(request)

        return handle
