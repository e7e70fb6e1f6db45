"""The access matrices' shared piece: an operation, a valid call to it, and that call varied."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import httpx

KEEP: Any = object()  # send(): keep the valid call's body or params
W = TypeVar("W")


@dataclass(frozen=True)
class Operation(Generic[W]):
    """One operation, and a valid call to it in a world `W` that a test module arranges.

    Subclasses name the path placeholders (`PATH_PARAMS`: placeholder -> the router's path
    parameter), the client that makes the valid call and any headers it needs.
    """

    PATH_PARAMS: ClassVar[dict[str, str]] = {}

    method: str
    path: str
    body: Callable[[W], Any] | None = None
    params: Callable[[W], Any] | None = None
    success: int = 200
    tags: frozenset[str] = field(default_factory=frozenset)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def placeholders(self) -> list[str]:
        return [name for name in self.PATH_PARAMS if f"{{{name}}}" in self.path]

    @property
    def route(self) -> tuple[str, str]:
        """The method and path as the router declares them."""
        path = self.path
        for name, param in self.PATH_PARAMS.items():
            path = path.replace(f"{{{name}}}", f"{{{param}}}")
        return self.method, path

    def path_ids(self, world: W) -> dict[str, str]:
        return world.path_ids  # type: ignore[attr-defined,no-any-return]

    def url(self, world: W, **replace: str) -> str:
        return self.path.format(**{**self.path_ids(world), **replace})

    def client(self, world: W) -> httpx.AsyncClient:
        raise NotImplementedError

    def headers(self, world: W) -> dict[str, str]:
        """Headers the valid call needs besides the token (If-Match, say)."""
        return {}

    async def send(
        self,
        world: W,
        headers: dict[str, str],
        *,
        url: str | None = None,
        body: Any = KEEP,
        params: Any = KEEP,
    ) -> httpx.Response:
        """The valid call, or one with its url, body (None: no body) or params replaced."""
        if body is KEEP:
            body = self.body(world) if self.body else None
        if params is KEEP:
            params = self.params(world) if self.params else None
        return await self.client(world).request(
            self.method,
            url or self.url(world),
            json=body,
            params=params,
            headers={**self.headers(world), **headers},
        )
