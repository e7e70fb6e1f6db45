"""Unknown or repeated query parameters are a 422: a mistyped filter never silently lists all."""

import typing
from types import UnionType

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.kit.errors import ValidationFailed

_CACHE = "_convene_query_params"


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
    declared = _declared(route)
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
