"""The happy path end to end: an answer is committed, the receiver gets it signed."""

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.webhooks.support import world


@pytest.fixture(scope="module")
def committed_url(make_database: Callable[..., str]) -> str:
    return make_database()


async def test_an_answer_arrives_signed(committed_url: str, tmp_path: Path) -> None:
    async with world(committed_url, tmp_path) as w:
        webhook = await w.subscribe()
        organizer = await w.admin.new_member(name="Olga Organizer")
        invitee = await w.admin.new_member(name="Ivan Invitee")
        _, ids = await w.invite(organizer, invitee)
        response = await invitee.post(
            f"/v1/invitations/{ids[invitee.subject]}/response", json={"status": "accepted"}
        )
        assert response.status_code == 200, response.text
        [received] = await w.receiver.wait_for(1)
        payload = received.verified_by(webhook["secret"])
        assert payload["type"] == "invitation.accepted"
        assert payload["data"]["participant_id"] == ids[invitee.subject]
