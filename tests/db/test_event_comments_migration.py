"""The migration that takes answers' comments out of recorded events, on rows written before it."""

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.engine import async_url
from app.db.migrations import upgrade

BEFORE = "db6338294f8a"


async def _run(url: str, statement: str, **params: Any) -> list[Any]:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


def test_recorded_answers_keep_only_whether_there_was_a_comment(
    make_database: Callable[..., str],
) -> None:
    url = make_database(migrate=False)
    upgrade(url, BEFORE)
    tenant = uuid.uuid4()
    events = {
        "invitation.declined": {"status": "declined", "comment": "Private: hospital appointment"},
        "invitation.accepted": {"status": "accepted", "comment": None},
        "invitation.tentative": {"status": "tentative", "comment": ""},
        "follow_up.cancelled": {"reason": "Postponed", "comment": "not an answer's"},
    }
    for type_, data in events.items():
        asyncio.run(
            _run(
                url,
                "INSERT INTO events (id, tenant_id, type, data) VALUES (:id, :t, :type, :data)",
                id=uuid.uuid4(),
                t=tenant,
                type=type_,
                data=json.dumps(data),
            )
        )

    upgrade(url)

    rows = asyncio.run(_run(url, "SELECT type, data FROM events WHERE tenant_id = :t", t=tenant))
    assert {row.type: row.data for row in rows} == {
        "invitation.declined": {"status": "declined", "has_comment": True},
        "invitation.accepted": {"status": "accepted", "has_comment": False},
        "invitation.tentative": {"status": "tentative", "has_comment": False},
        "follow_up.cancelled": {"reason": "Postponed", "comment": "not an answer's"},
    }
