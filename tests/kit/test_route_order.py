"""Routes are matched in order: each operation must be the first to match its own paths."""

import re
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import _IncludedRouter

from app.calendars.router import router as calendars_router
from app.config import Settings
from app.followups.router import router as followups_router
from app.main import create_app
from tests.fixtures.factories import TEST_SECRET

_PARAMETER = re.compile(r"{([^}:]+)(?::[^}]+)?}")


def _in_order(routes: list[Any]) -> Iterator[Any]:
    """The app's routes as a request meets them, with the included routers' ones in place."""
    for route in routes:
        if isinstance(route, _IncludedRouter):
            yield from _in_order(route.effective_candidates())
        elif getattr(route, "methods", None):
            yield route


def _misrouted(app: FastAPI) -> list[str]:
    """Each operation whose path (a UUID for every parameter) an earlier route would take."""
    routes = list(_in_order(app.router.routes))
    wrong = []
    for route in routes:
        for method in sorted(route.methods):
            path = _PARAMETER.sub(lambda _: str(uuid.uuid4()), route.path)
            first = next(r for r in routes if method in r.methods and r.path_regex.match(path))
            if first.path != route.path:
                wrong.append(f"{method} {route.path} reaches {first.path}")
    return wrong


def test_each_operation_is_the_first_route_to_match_its_paths() -> None:
    app = create_app(Settings(jwt_secret=TEST_SECRET))
    assert len(list(_in_order(app.router.routes))) > 60
    assert _misrouted(app) == []


def test_a_narrower_route_after_a_wider_one_is_found() -> None:
    app = FastAPI()
    app.include_router(followups_router)
    app.include_router(calendars_router)
    assert "GET /v1/follow-ups/{follow_up_id}.ics reaches /v1/follow-ups/{follow_up_id}" in (
        _misrouted(app)
    )
