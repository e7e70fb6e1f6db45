"""The route class that checks the bearer token before the request body is read or parsed.

FastAPI reads and parses a JSON body before any dependency runs, so a malformed body sent
without a token would be a 422 that tells an unauthenticated caller about the operation's
input. `AuthenticatedRoute` verifies the token first (a signature check, no database) and
leaves the verified principal in the request's state, where `get_principal` takes it: the
token is verified once per request, as before.
"""

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant

from app.auth.dependencies import get_principal, verify_bearer
from app.kit.strict_query import Handler, StrictQueryRoute

__all__ = ["AuthenticatedRoute", "Handler"]


def _needs_principal(dependant: Dependant) -> bool:
    return any(sub.call is get_principal or _needs_principal(sub) for sub in dependant.dependencies)


class AuthenticatedRoute(StrictQueryRoute):
    """A StrictQueryRoute whose operations that need a caller verify the token before the body."""

    def wrap_handler(self, handler: Handler) -> Handler:
        """The FastAPI handler with what a subclass adds around it, inside the token check."""
        return handler

    def get_route_handler(self) -> Handler:
        handler = self.wrap_handler(super().get_route_handler())
        if not _needs_principal(self.dependant):
            return handler

        async def handle(request: Request) -> Response:
            await verify_bearer(request)
            return await handler(request)

        return handle
