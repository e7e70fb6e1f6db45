"""The route class that checks the bearer token before the request body is read or parsed.

FastAPI reads and parses a JSON body before any dependency runs, so a malformed body sent
without a token would be a 422 that tells an unauthenticated caller about the operation's
input. `AuthenticatedRoute` verifies the token first (a signature check, no database) and
leaves the verified principal in the request's scope, where `get_principal` takes it: the
token is verified once per request, as before.
"""

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant

from app.auth.dependencies import RESOLVES_CALLER, verify_bearer
from app.db.route import Handler, SessionRoute

__all__ = ["AuthenticatedRoute", "Handler"]


def _needs_principal(dependant: Dependant) -> bool:
    return any(
        sub.call in RESOLVES_CALLER or _needs_principal(sub) for sub in dependant.dependencies
    )


class AuthenticatedRoute(SessionRoute):
    """A SessionRoute whose operations that need a caller verify the token before the body.

    The token is verified before the request's session is opened; what a subclass adds
    (`wrap_handler`) runs inside the session.
    """

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if not _needs_principal(self.dependant):
            return handler

        async def handle(request: Request) -> Response:
            await verify_bearer(request)
            return await handler(request)

        return handle
