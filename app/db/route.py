"""The route class that runs a handler needing a session inside the request's session."""

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant

from app.db.session import get_read_session, get_session, request_session
from app.kit.strict_query import Handler, StrictQueryRoute, effective_dependant

__all__ = ["Handler", "SessionRoute"]


_SESSIONS = (get_session, get_read_session)


def _uses_session(dependant: Dependant) -> bool:
    return any(sub.call in _SESSIONS or _uses_session(sub) for sub in dependant.dependencies)


class SessionRoute(StrictQueryRoute):
    """A StrictQueryRoute whose operations that take a session run inside `request_session`."""

    def wrap_handler(self, handler: Handler) -> Handler:
        """The FastAPI handler with what a subclass adds around it, inside the session."""
        return handler

    def get_route_handler(self) -> Handler:
        uses_session = _uses_session(effective_dependant(self))
        handler = self.wrap_handler(super().get_route_handler())
        if not uses_session:
            return handler

        async def handle(request: Request) -> Response:
            async with request_session(request):
                return await handler(request)

        return handle
