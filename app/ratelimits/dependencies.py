"""The rate limit, charged once the caller is authenticated, and its header fields."""

import uuid
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute

from app.kit.errors import ProblemError
from app.kit.openapi import problems
from app.kit.request_context import request_record
from app.ratelimits.limiter import RateLimiter

DRAFT = "draft-ietf-httpapi-ratelimit-headers-11"


class RateLimited(ProblemError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"
    description = (
        "The token's or the tenant's quota for the current window is used up: wait "
        "`Retry-After` seconds. `RateLimit` names the policy with `r=0`."
    )


Cost = Callable[[Request], int]
# Where an operation's endpoint keeps what it costs, when that is not one unit.
_COST = "_convene_rate_limit_cost"


def priced(router: APIRouter, cost: Cost) -> APIRouter:
    """Charge each operation of `router` `cost(request)` units instead of one."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            setattr(route.endpoint, _COST, cost)
    return router


async def charge_caller(request: Request, token: str, tenant_id: uuid.UUID) -> None:
    """Charge the request to its bearer token's and tenant's quotas, at its operation's price.

    Called when the caller's token is verified (`app.auth.dependencies.get_principal`), so a
    request without a valid token is a 401 before it is counted, and only a genuine token
    can spend its tenant's quota. It is part of that dependency rather than one of its own:
    each dependency FastAPI solves costs every request some tens of microseconds.
    """
    cost: Cost | None = getattr(getattr(request.scope.get("route"), "endpoint", None), _COST, None)
    await charge(request, token, tenant_id, cost(request) if cost is not None else 1)


async def charge(request: Request, secret: str, tenant_id: uuid.UUID, units: int = 1) -> None:
    """Charge `units` to the quotas of this secret (a token, a feed's URL) and of the tenant.

    429 when either is used up; the header fields go on the response whatever answers.
    """
    limiter: RateLimiter = request.app.state.rate_limiter
    if not limiter.enabled:
        return
    verdict = await limiter.charge(secret, tenant_id, units)
    if verdict is None:
        return
    record = request_record(request.scope)
    if record is not None:  # the telemetry middleware adds them to the response
        record.headers = verdict.headers
    if verdict.refused is not None:
        policy = verdict.refused
        raise RateLimited(
            f"the {policy.name} quota of {policy.quota} per {policy.window} s is used up; "
            f"retry in {verdict.retry_after} s"
        )


_FIELDS = {
    "RateLimit-Policy": (
        f'The quota policies ({DRAFT}): `"token";q=<units>;w=<seconds>, '
        '"tenant";q=<units>;w=<seconds>`, for those configured'
    ),
    "RateLimit": (
        f'The quota left ({DRAFT}): `"token";r=<units>;t=<seconds to the window\'s end>` and '
        "the same for the tenant (absent when the token's quota refused the request)"
    ),
}
HEADERS = {
    name: {"description": text, "schema": {"type": "string"}} for name, text in _FIELDS.items()
}
RETRY_AFTER = {
    "description": "Seconds until the exceeded quota's window ends",
    "schema": {"type": "integer", "minimum": 1},
}

RESPONSES: dict[int | str, dict[str, Any]] = {
    429: {**problems(RateLimited)[429], "headers": {"Retry-After": RETRY_AFTER, **HEADERS}}
}
"""The `responses=` entry of every rate-limited operation."""


def document_rate_limit_headers(app: FastAPI) -> None:
    """Name the RateLimit fields on the 2xx responses of every operation that can answer 429."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                if "429" not in responses:
                    continue
                for status, response in responses.items():
                    if status.startswith("2"):
                        response.setdefault("headers", {}).update(HEADERS)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
