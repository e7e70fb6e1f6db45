"""The Idempotency-Key header on every write: claimed before the endpoint, its answer kept after.

`IdempotentRoute` is the route class of every router with writes. On a POST, PATCH or DELETE
it adds the `idempotency_key` dependency (which runs after authentication) and wraps the
endpoint: a successful answer is stored by the request's own session, so it commits in the
same transaction as the change, or neither does. Without the header it costs nothing.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response

from app.auth.dependencies import CurrentPrincipal
from app.auth.route import AuthenticatedRoute, Handler
from app.db.session import SessionDep
from app.idempotency.errors import IdempotencyKeyInProgress, IdempotencyKeyReused
from app.idempotency.pending import HEADER, PATTERN, claimed_by_token_check, pending, read_pending
from app.idempotency.repository import IdempotencyRepository, Kept
from app.kit.keyring import Keyring
from app.kit.openapi import merge_problems, problems

REPLAYED = "Idempotent-Replayed"
KEPT_FOR = timedelta(hours=24)
WRITES = frozenset({"POST", "PATCH", "DELETE"})
# Headers of the first answer that a replay repeats (with its status and body).
_REPLAYED_HEADERS = ("content-type", "etag", "location")

KeyHeader = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=255,
        pattern=PATTERN,
        description=(
            "Makes the write safe to retry: 1 to 255 printable ASCII characters, unique per "
            "request (a UUID). For 24 hours a retry with the same key and the same request "
            "(method, path, body) gets the first answer again, with `Idempotent-Replayed: "
            "true`, and changes nothing; the same key with another request is a 422 "
            "`idempotency_key_reused`; while the first is still running, a 409 "
            "`idempotency_key_in_progress`. Errors are not kept: after one, the key is free. "
            "Keys are per caller and tenant."
        ),
    ),
]


class _Replay(Exception):
    """Raised by the dependency to answer with the kept response instead of running the write."""

    def __init__(self, kept: Kept, context: str) -> None:
        super().__init__("replay")
        self.kept = kept
        self.context = context


@dataclass(frozen=True)
class _Claim:
    """A key claimed by this request: where and how to keep its answer."""

    repository: IdempotencyRepository
    key: str
    fingerprint: bytes

    async def keep(self, response: Response, keyring: Keyring | None) -> None:
        """Store the answer in the request's transaction; 409 if a concurrent one won the key.

        With a keyring the body is kept sealed (it carries a secret).
        """
        headers = {
            name: response.headers[name] for name in _REPLAYED_HEADERS if name in response.headers
        }
        body = bytes(response.body)
        if keyring is not None:
            body = keyring.seal(body.decode(), self.repository.context(self.key)).encode()
        answer = Kept(self.fingerprint, response.status_code, headers, body)
        if not await self.repository.store(self.key, answer, KEPT_FOR.total_seconds()):
            raise IdempotencyKeyInProgress("another request with this key finished first: retry")


async def idempotency_key(
    request: Request, session: SessionDep, principal: CurrentPrincipal, key: KeyHeader = None
) -> None:
    """Claim the key for this request, or answer from the one that used it first."""
    sent = pending(request)
    if key is None or sent is None:
        return
    repository = IdempotencyRepository(session, principal.tenant_id, principal.subject)
    claimed = claimed_by_token_check(request) or await repository.claim(sent)
    if not claimed.free:
        raise IdempotencyKeyInProgress("a request with this key is still running: retry later")
    if claimed.kept is not None:
        if claimed.kept.fingerprint != sent.fingerprint:
            raise IdempotencyKeyReused(
                "this key was used for a different request: use a new key for a new request"
            )
        raise _Replay(claimed.kept, repository.context(sent.key))
    request.state.idempotency = _Claim(repository, sent.key, sent.fingerprint)


def replayed(kept: Kept) -> Response:
    """The kept answer, as it was sent the first time, marked as a replay."""
    return Response(kept.body, kept.status, headers={**kept.headers, REPLAYED: "true"})


def _with_problems(responses: Mapping[int | str, Any]) -> dict[int | str, Any]:
    """The route's documented responses, with the key's 409 and 422 added to theirs."""
    return merge_problems(dict(responses), problems(IdempotencyKeyInProgress, IdempotencyKeyReused))


class IdempotentRoute(AuthenticatedRoute):
    """An APIRoute that makes POST, PATCH and DELETE take an Idempotency-Key."""

    # Whether kept answers are sealed at rest, as for answers that carry a webhook secret.
    seals_answers = False

    def _keyring(self, request: Request) -> Keyring | None:
        return request.app.state.settings.secret_keyring if self.seals_answers else None

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        self.idempotent = bool(WRITES & set(kwargs.get("methods") or ()))
        if self.idempotent:
            kwargs["dependencies"] = [*(kwargs.get("dependencies") or ()), Depends(idempotency_key)]
            kwargs["responses"] = _with_problems(kwargs.get("responses") or {})
        super().__init__(path, endpoint, **kwargs)

    def wrap_handler(self, handler: Handler) -> Handler:
        if not self.idempotent:
            return handler

        async def handle(request: Request) -> Response:
            # Runs inside the request's session scope: what `keep` writes commits with the change.
            await read_pending(request)
            try:
                response = await handler(request)
            except _Replay as replay:
                return replayed(_opened(replay, self._keyring(request)))
            claim: _Claim | None = getattr(request.state, "idempotency", None)
            if claim is not None and response.status_code < 500:
                await claim.keep(response, self._keyring(request))
            return response

        return handle


class SealingIdempotentRoute(IdempotentRoute):
    """An IdempotentRoute whose kept answers are sealed: for writes that answer with a secret."""

    seals_answers = True


def _opened(replay: _Replay, keyring: Keyring | None) -> Kept:
    """The kept answer with its body opened when it was kept sealed."""
    kept = replay.kept
    if keyring is None:
        return kept
    body = keyring.open(kept.body.decode(), replay.context).encode()
    return Kept(kept.fingerprint, kept.status, kept.headers, body)
