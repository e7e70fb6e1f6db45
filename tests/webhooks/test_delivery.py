"""Webhook delivery end to end: committed changes reach a real receiver signed, in order, retried.

Every test runs the app on a committed database with a dispatcher in the test's event loop
(fast settings: 0.2 s retries, 0.1 s polls) and an aiohttp receiver on loopback. Tests wait on
the receiver or poll the delivery log against a deadline; the only plain sleeps are the short
"stays quiet" checks.
"""

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.invitations.repository import InvitationRepository
from app.kit.errors import Conflict
from app.webhooks.dispatcher import APPLICATION_NAME
from app.webhooks.metrics import QueueGauges
from tests.fixtures.factories import Caller
from tests.fixtures.pgbouncer import database_settings
from tests.webhooks.receiver import Answer, Received
from tests.webhooks.support import RESPONSES, Delivery, World, world

RESPONSE_KEYS = {
    "tenant_id",
    "follow_up_id",
    "participant_id",
    "associate_id",
    "person_id",
    "status",
    "previous_status",
    "occurrence_start",
    "has_comment",
    "responded_at",
    "seq",
}


@pytest.fixture(scope="module")
def committed_url(make_database: Callable[..., str]) -> str:
    return make_database()


async def _answer(
    invitee: Caller, participant_id: str, status: str, comment: str | None = None
) -> dict[str, Any]:
    response = await invitee.post(
        f"/v1/invitations/{participant_id}/response", json={"status": status, "comment": comment}
    )
    assert response.status_code == 200, response.text
    answered: dict[str, Any] = response.json()
    return answered


async def _one_invitation(w: World) -> tuple[Caller, str, str]:
    """An invitee, the follow-up they are invited to and their participant id."""
    organizer = await w.admin.new_member(name="Olga Organizer")
    invitee = await w.admin.new_member(name="Ivan Invitee")
    follow_up_id, ids = await w.invite(organizer, invitee)
    return invitee, follow_up_id, ids[invitee.subject]


async def _event_ids(w: World, follow_up_id: str) -> list[str]:
    """Ids of the follow-up's invitation answers, in seq order, read from the database."""
    rows = await w.sql(
        "SELECT id FROM events WHERE follow_up_id = :f AND type = ANY(:types) ORDER BY seq",
        f=uuid.UUID(follow_up_id),
        types=RESPONSES,
    )
    return [str(row.id) for row in rows]


def _settled(count: int, status: str = "succeeded") -> Callable[[list[Delivery]], bool]:
    """A delivery-log condition: `count` deliveries, every one in `status`."""
    return lambda log: len(log) == count and all(d["status"] == status for d in log)


async def _webhook(w: World, webhook_id: str) -> dict[str, Any]:
    response = await w.admin.get(f"/v1/webhooks/{webhook_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _signatures(received: Received) -> list[str]:
    return received.headers["webhook-signature"].split()


# --- what arrives -------------------------------------------------------------------------


async def test_each_kind_of_answer_arrives_signed_with_its_data(
    committed_url: str, tmp_path: Path
) -> None:
    async with world(committed_url, tmp_path) as w:
        webhook = await w.subscribe()
        invitee, follow_up_id, participant_id = await _one_invitation(w)
        answers = [("accepted", None), ("declined", "Away that week"), ("tentative", "Maybe")]
        answered = [await _answer(invitee, participant_id, s, c) for s, c in answers]

        received = await w.receiver.wait_for(3)
        assert len(received) == 3
        event_ids = await _event_ids(w, follow_up_id)
        previous = "not_read"
        for message, (status, comment), answer, event_id in zip(
            received, answers, answered, event_ids, strict=True
        ):
            payload = message.verified_by(webhook["secret"])
            assert set(json.loads(message.body)) == {"type", "timestamp", "data"}
            headers = {k.lower(): v for k, v in message.headers.items()}
            assert headers["content-type"] == "application/json"
            assert message.webhook_id == event_id
            assert payload["type"] == f"invitation.{status}"
            assert datetime.fromisoformat(payload["timestamp"]).tzinfo is not None
            data = payload["data"]
            assert set(data) == RESPONSE_KEYS
            assert {k: v for k, v in data.items() if k not in ("responded_at", "seq")} == {
                "tenant_id": str(w.admin.tenant_id),
                "follow_up_id": follow_up_id,
                "participant_id": participant_id,
                "associate_id": invitee.subject,
                "person_id": None,
                "status": status,
                "previous_status": previous,
                "occurrence_start": None,
                "has_comment": comment is not None,
            }
            assert datetime.fromisoformat(data["responded_at"]) == datetime.fromisoformat(
                answer["responded_at"]
            )
            previous = status
        seqs = [json.loads(m.body)["data"]["seq"] for m in received]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == 3
        assert await w.receiver.stays_quiet(seconds=0.3)


async def test_quick_answers_to_one_follow_up_arrive_in_seq_order(
    committed_url: str, tmp_path: Path
) -> None:
    async with world(committed_url, tmp_path) as w:
        webhook = await w.subscribe()
        # Each answer takes the receiver a moment, so later events queue behind earlier ones.
        w.receiver.always(Answer(delay=0.03))
        organizer = await w.admin.new_member(name="Olga Organizer")
        invitees = [await w.admin.new_member(name=f"Invitee {i}") for i in range(5)]
        follow_up_id, ids = await w.invite(organizer, *invitees)
        statuses = ["accepted", "declined", "tentative"]
        for round_ in range(2):
            for i, invitee in enumerate(invitees):
                await _answer(invitee, ids[invitee.subject], statuses[(i + round_) % 3])

        received = await w.receiver.wait_for(10)
        payloads = [m.verified_by(webhook["secret"]) for m in received]
        seqs = [p["data"]["seq"] for p in payloads]
        assert seqs == sorted(seqs), f"arrived out of seq order: {seqs}"
        assert len(set(seqs)) == 10
        assert [m.webhook_id for m in received] == await _event_ids(w, follow_up_id)
        assert await w.receiver.stays_quiet(seconds=0.3)


async def test_ping_delivers_a_signed_webhook_ping(committed_url: str, tmp_path: Path) -> None:
    async with world(committed_url, tmp_path) as w:
        webhook = await w.subscribe()
        response = await w.admin.post(f"/v1/webhooks/{webhook['id']}/ping")
        assert response.status_code == 202, response.text
        event_id = response.json()["event_id"]

        [received] = await w.receiver.wait_for(1)
        payload = received.verified_by(webhook["secret"])
        assert received.webhook_id == event_id
        assert payload["type"] == "webhook.ping"
        assert payload["data"] == {
            "tenant_id": str(w.admin.tenant_id),
            "endpoint_id": webhook["id"],
        }
        [delivery] = await w.until_deliveries(webhook["id"], _settled(1))
        assert delivery["event_type"] == "webhook.ping"
        assert delivery["event_id"] == event_id


# --- retries and failures -------------------------------------------------------------------


async def test_a_receiver_failing_three_times_gets_the_event_on_the_fourth_attempt(
    committed_url: str, tmp_path: Path
) -> None:
    async with world(committed_url, tmp_path) as w:
        webhook = await w.subscribe()
        w.receiver.answer(*[Answer(500, body=f"broken {i}") for i in range(3)])
        invitee, follow_up_id, participant_id = await _one_invitation(w)
        await _answer(invitee, participant_id, "accepted")

        received = await w.receiver.wait_for(4)
        [event_id] = await _event_ids(w, follow_up_id)
        # The same message every time: one webhook-id (the event's), one body, all signed.
        assert {m.webhook_id for m in received} == {event_id}
        assert len({m.body for m in received}) == 1
        for message in received:
            message.verified_by(webhook["secret"])

        [delivery] = await w.until_deliveries(webhook["id"], _settled(1))
        assert delivery["event_id"] == event_id
        assert delivery["attempts"] == 4
        assert delivery["last_status_code"] == 200
        assert delivery["delivered_at"] is not None
        assert delivery["next_attempt_at"] is None
        log = delivery["attempt_log"]
        assert [a["attempt"] for a in log] == [1, 2, 3, 4]
        assert [a["outcome"] for a in log] == ["http_error"] * 3 + ["success"]
        assert [a["status_code"] for a in log] == [500, 500, 500, 200]
        assert [a["response_body"] for a in log] == ["broken 0", "broken 1", "broken 2", "ok"]
        assert [a["error"] for a in log] == ["HTTP 500"] * 3 + [None]
        assert all(a["duration_ms"] >= 0 for a in log)
        assert await w.receiver.stays_quiet(seconds=0.5)


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured(committed_url: str, tmp_path: Path, status: int) -> None:
    async with world(committed_url, tmp_path) as w:
        webhook = await w.subscribe()
        w.receiver.answer(Answer(status, headers={"Retry-After": "1"}))
        invitee, _, participant_id = await _one_invitation(w)
        await _answer(invitee, participant_id, "declined")

        first, second = await w.receiver.wait_for(2)
        # The schedule would retry after 0.2 s (± 20 %); the receiver asked for 1 s.
        assert second.arrived - first.arrived >= 0.95
        assert second.webhook_id == first.webhook_id
        [delivery] = await w.until_deliveries(webhook["id"], _settled(1))
        log = delivery["attempt_log"]
        assert [(a["outcome"], a["status_code"]) for a in log] == [
            ("http_error", status),
            ("success", 200),
        ]
        gap = datetime.fromisoformat(log[1]["started_at"]) - datetime.fromisoformat(
            log[0]["started_at"]
        )
        assert gap >= timedelta(seconds=0.95)


async def test_410_disables_the_endpoint_and_nothing_more_is_sent(
    committed_url: str, tmp_path: Path
) -> None:
    async with world(committed_url, tmp_path) as w:
        webhook = await w.subscribe()
        w.receiver.answer(Answer(410, body="no such hook"))
        invitee, _, participant_id = await _one_invitation(w)
        await _answer(invitee, participant_id, "accepted")

        await w.receiver.wait_for(1)
        [delivery] = await w.until_deliveries(webhook["id"], _settled(1, "failed"))
        assert delivery["attempts"] == 1
        [attempt] = delivery["attempt_log"]
        assert (attempt["outcome"], attempt["status_code"]) == ("gone", 410)
        endpoint = await _webhook(w, webhook["id"])
        assert endpoint["enabled"] is False
        assert endpoint["disabled_reason"] == "gone"

        await _answer(invitee, participant_id, "declined")
        assert await w.receiver.stays_quiet(seconds=1.0)
        assert len(w.receiver.on()) == 1
        assert len(await w.deliveries(webhook["id"])) == 1


async def test_redirects_are_failures_and_never_followed(
    committed_url: str, tmp_path: Path
) -> None:
    async with world(committed_url, tmp_path) as w:
        codes = (301, 302, 307)
        webhooks = {}
        for code in codes:
            path = f"/moved-{code}"
            webhooks[code] = await w.subscribe(path=path)
            w.receiver.answer(
                Answer(code, headers={"Location": w.receiver.url("/target")}), path=path
            )
        invitee, _, participant_id = await _one_invitation(w)
        await _answer(invitee, participant_id, "accepted")

        ids = set()
        for code in codes:
            first, second = await w.receiver.wait_for(2, path=f"/moved-{code}")
            ids |= {first.webhook_id, second.webhook_id}
            [delivery] = await w.until_deliveries(webhooks[code]["id"], _settled(1))
            assert [(a["outcome"], a["status_code"]) for a in delivery["attempt_log"]] == [
                ("redirect", code),
                ("success", 200),
            ]
            assert delivery["attempt_log"][0]["error"] == f"HTTP {code}"
        # One event: the same webhook-id on every attempt, to every endpoint.
        assert len(ids) == 1
        assert await w.receiver.stays_quiet("/target", seconds=0.3)
        assert w.receiver.arrivals("/target") == 0


async def test_retries_exhausted_fail_the_delivery_and_long_bodies_are_cut_to_4_kib(
    committed_url: str, tmp_path: Path
) -> None:
    async with world(committed_url, tmp_path) as w:
        webhook = await w.subscribe()
        w.receiver.always(Answer(500, body="x" * 5000 + "tail"))
        invitee, _, participant_id = await _one_invitation(w)
        await _answer(invitee, participant_id, "tentative")

        # The test schedule has four retries: five attempts in all, then it gives up.
        received = await w.receiver.wait_for(5)
        [delivery] = await w.until_deliveries(webhook["id"], _settled(1, "failed"))
        assert delivery["attempts"] == 5
        assert delivery["delivered_at"] is None
        assert delivery["next_attempt_at"] is None
        assert delivery["last_status_code"] == 500
        assert delivery["last_error"] == "HTTP 500"
        log = delivery["attempt_log"]
        assert [a["outcome"] for a in log] == ["http_error"] * 5
        assert all(a["response_body"] == "x" * 4096 for a in log)
        assert await w.receiver.stays_quiet(seconds=0.6)
        assert len(w.receiver.on()) == len(received) == 5
        assert (await _webhook(w, webhook["id"]))["failing_since"] is not None


@pytest.mark.parametrize(
    ("body", "kept"),
    [
        # 1 + 2 * 3000 bytes: byte 4096 is the first half of an "é".
        ("x" + "é" * 3000, "x" + "é" * 2047),
        # NUL cannot be stored in PostgreSQL text, but its stand-in must not outgrow the limit.
        ("\x00" * 5000, ""),
    ],
    ids=["cut-inside-a-character", "nul-bytes"],
)
async def test_a_stored_body_never_exceeds_4096_bytes(
    committed_url: str, tmp_path: Path, body: str, kept: str
) -> None:
    async with world(committed_url, tmp_path) as w:
        webhook = await w.subscribe()
        w.receiver.answer(Answer(500, body=body))
        invitee, _, participant_id = await _one_invitation(w)
        await _answer(invitee, participant_id, "accepted")

        [delivery] = await w.until_deliveries(webhook["id"], _settled(1))
        stored = delivery["attempt_log"][0]["response_body"]
        assert stored.startswith(kept)
        assert "\x00" not in stored
        size = len(stored.encode())
        assert size <= 4096, f"stored {size} bytes"


async def test_a_timeout_is_recorded_and_retried(committed_url: str, tmp_path: Path) -> None:
    async with world(committed_url, tmp_path, webhook_timeout_seconds=0.5) as w:
        webhook = await w.subscribe()
        w.receiver.answer(Answer(delay=1.5))
        invitee, _, participant_id = await _one_invitation(w)
        await _answer(invitee, participant_id, "accepted")

        [delivery] = await w.until_deliveries(webhook["id"], _settled(1))
        log = delivery["attempt_log"]
        assert [a["outcome"] for a in log] == ["timeout", "success"]
        assert log[0]["status_code"] is None
        assert log[0]["error"]
        assert 400 <= log[0]["duration_ms"] < 1500
        assert w.receiver.arrivals() == 2


async def test_a_nul_byte_in_a_response_body_does_not_stall_the_dispatcher(
    committed_url: str, tmp_path: Path
) -> None:
    """PostgreSQL text cannot hold NUL; the attempt must still be recorded, and others too."""
    async with world(committed_url, tmp_path, stop_timeout=3) as w:
        odd = await w.subscribe(path="/odd")
        w.receiver.answer(Answer(500, body=b"bad\x00body"), path="/odd")
        invitee, _, participant_id = await _one_invitation(w)
        await _answer(invitee, participant_id, "accepted")
        await w.receiver.wait_for(1, path="/odd")

        plain = await w.subscribe(path="/plain")
        await _answer(invitee, participant_id, "declined")
        await w.receiver.wait_for(1, path="/plain")
        await w.until_deliveries(plain["id"], _settled(1), timeout=3)
        log = await w.until_deliveries(odd["id"], _settled(2), timeout=3)
        first = log[-1]["attempt_log"][0]
        assert (first["status_code"], first["outcome"]) == (500, "http_error")
        assert first["response_body"].startswith("bad")


async def test_delivery_goes_on_after_the_dispatchers_connections_are_killed(
    committed_url: str, tmp_path: Path
) -> None:
    """What a database restart does to a dispatcher: every connection it holds is cut."""
    async with world(committed_url, tmp_path) as w:
        webhook = await w.subscribe()
        invitee, _, participant_id = await _one_invitation(w)
        await _answer(invitee, participant_id, "accepted")
        await w.receiver.wait_for(1)
        await w.until_deliveries(webhook["id"], _settled(1))

        killed = await w.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = :name",
            name=APPLICATION_NAME,
        )
        # The LISTEN connection and the engine's pooled one; behind PgBouncer the server
        # connection the pooled one last ran on may carry another client's name by now.
        assert len(killed) >= (1 if database_settings(committed_url) else 2)
        await _answer(invitee, participant_id, "declined")

        _, second = await w.receiver.wait_for(2)
        assert second.verified_by(webhook["secret"])["type"] == "invitation.declined"
        await w.until_deliveries(webhook["id"], _settled(2))


# --- what must not be sent ------------------------------------------------------------------


async def test_a_rolled_back_answer_sends_nothing(
    committed_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with world(committed_url, tmp_path) as w:
        webhook = await w.subscribe()
        organizer = await w.admin.new_member(name="Olga Organizer")
        invitee = await w.admin.new_member(name="Ivan Invitee")
        cancelled_id, cancelled_ids = await w.invite(organizer, invitee)
        follow_up_id, ids = await w.invite(organizer, invitee)

        # An answer to a cancelled follow-up is refused: no event, no delivery.
        cancel = await organizer.post(f"/v1/follow-ups/{cancelled_id}/cancel", json={})
        assert cancel.status_code == 200, cancel.text
        refused = await invitee.post(
            f"/v1/invitations/{cancelled_ids[invitee.subject]}/response",
            json={"status": "accepted"},
        )
        assert refused.status_code == 409, refused.text

        # A request failing after its event was written rolls the event back with it. (The
        # answer's one statement commits on its own, change and event together; with an
        # Idempotency-Key the request has a transaction, to keep its answer in.)
        recorded: list[str] = []

        # The answer records its event inside its one statement; fail right after it.
        answer = InvitationRepository.answer

        async def answer_then_fail(self: InvitationRepository, *args: Any, **kwargs: Any) -> Any:
            answered = await answer(self, *args, **kwargs)
            assert answered is not None
            assert answered.deliveries == 1
            recorded.append(f"invitation.{answered.status}")
            raise Conflict("failed after the event was written")

        monkeypatch.setattr(InvitationRepository, "answer", answer_then_fail)
        failed = await invitee.post(
            f"/v1/invitations/{ids[invitee.subject]}/response",
            json={"status": "declined"},
            headers={"Idempotency-Key": "fails-after-the-event"},
        )
        assert failed.status_code == 409, failed.text
        assert recorded == ["invitation.declined"]
        monkeypatch.undo()

        assert await w.receiver.stays_quiet(seconds=0.5)
        assert await w.deliveries(webhook["id"]) == []
        assert await _event_ids(w, cancelled_id) == []
        assert await _event_ids(w, follow_up_id) == []

        # The same answer, committed this time, is the only thing that arrives.
        await _answer(invitee, ids[invitee.subject], "declined")
        [received] = await w.receiver.wait_for(1)
        assert received.verified_by(webhook["secret"])["type"] == "invitation.declined"
        assert [received.webhook_id] == await _event_ids(w, follow_up_id)
        assert await w.receiver.stays_quiet(seconds=0.3)


async def test_disabled_and_deleted_endpoints_receive_nothing(
    committed_url: str, tmp_path: Path
) -> None:
    async with world(committed_url, tmp_path) as w:
        live = await w.subscribe(path="/live")
        off = await w.subscribe(path="/off")
        gone = await w.subscribe(path="/gone")
        patched = await w.admin.patch(f"/v1/webhooks/{off['id']}", json={"enabled": False})
        assert patched.status_code == 200, patched.text
        assert patched.json()["disabled_reason"] == "manual"
        deleted = await w.admin.delete(f"/v1/webhooks/{gone['id']}")
        assert deleted.status_code == 204, deleted.text

        invitee, _, participant_id = await _one_invitation(w)
        await _answer(invitee, participant_id, "accepted")
        await _answer(invitee, participant_id, "declined")

        await w.receiver.wait_for(2, path="/live")
        await w.until_deliveries(live["id"], _settled(2))
        assert await w.receiver.stays_quiet("/off", seconds=0.5)
        assert w.receiver.arrivals("/off") == 0
        assert w.receiver.arrivals("/gone") == 0
        assert await w.deliveries(off["id"]) == []
        missing = await w.admin.get(f"/v1/webhooks/{gone['id']}/deliveries")
        assert missing.status_code == 404


async def test_deleting_an_endpoint_with_a_delivery_in_flight_stalls_nothing(
    committed_url: str, tmp_path: Path
) -> None:
    """The attempt to a deleted endpoint ends after its rows are gone; later ones still record."""
    async with world(committed_url, tmp_path, stop_timeout=3) as w:
        doomed = await w.subscribe(path="/doomed")
        w.receiver.answer(Answer(delay=0.5), path="/doomed")
        invitee, _, participant_id = await _one_invitation(w)
        await _answer(invitee, participant_id, "accepted")
        await w.receiver.wait_for_arrivals(1, path="/doomed")
        deleted = await w.admin.delete(f"/v1/webhooks/{doomed['id']}")
        assert deleted.status_code == 204, deleted.text
        await w.receiver.wait_for(1, path="/doomed")

        after = await w.subscribe(path="/after")
        await _answer(invitee, participant_id, "declined")
        await w.receiver.wait_for(1, path="/after")
        await w.until_deliveries(after["id"], _settled(1), timeout=3)


async def test_another_tenants_events_never_reach_this_tenants_endpoint(
    committed_url: str, tmp_path: Path
) -> None:
    async with world(committed_url, tmp_path) as w:
        other_admin = w.another_tenant()
        other_receiver = await w.another_receiver()
        ours = await w.subscribe(path="/ours")
        theirs = await w.subscribe(path="/theirs", receiver=other_receiver, admin=other_admin)

        invitee, our_follow_up, participant_id = await _one_invitation(w)
        their_organizer = await other_admin.new_member(name="Tove Other")
        their_invitee = await other_admin.new_member(name="Uffe Other")
        their_follow_up, their_ids = await w.invite(their_organizer, their_invitee)
        await _answer(their_invitee, their_ids[their_invitee.subject], "declined")
        await _answer(invitee, participant_id, "accepted")
        await _answer(their_invitee, their_ids[their_invitee.subject], "accepted")

        [mine] = await w.receiver.wait_for(1, path="/ours")
        their_messages = await other_receiver.wait_for(2, path="/theirs")
        assert await w.receiver.stays_quiet("/ours", seconds=0.5)
        assert len(w.receiver.on("/ours")) == 1
        assert len(other_receiver.on("/theirs")) == 2
        assert w.receiver.arrivals("/theirs") == other_receiver.arrivals("/ours") == 0

        payload = mine.verified_by(ours["secret"])
        assert payload["data"]["tenant_id"] == str(w.admin.tenant_id)
        assert payload["data"]["follow_up_id"] == our_follow_up
        for message in their_messages:
            data = message.verified_by(theirs["secret"])["data"]
            assert data["tenant_id"] == str(other_admin.tenant_id)
            assert data["follow_up_id"] == their_follow_up
            with pytest.raises(WebhookVerificationError):
                message.verified_by(ours["secret"])
        assert {d["event_id"] for d in await w.deliveries(ours["id"])} == {mine.webhook_id}
        # Neither admin sees the other's endpoint.
        assert (await other_admin.get(f"/v1/webhooks/{ours['id']}/deliveries")).status_code == 404


# --- secrets, health, recovery --------------------------------------------------------------


async def test_after_rotation_deliveries_verify_with_the_new_and_the_old_secret(
    committed_url: str, tmp_path: Path
) -> None:
    async with world(committed_url, tmp_path) as w:
        webhook = await w.subscribe()
        w.receiver.always(Answer(204, body=""))  # any 2xx is a success
        old = webhook["secret"]
        invitee, _, participant_id = await _one_invitation(w)
        await _answer(invitee, participant_id, "accepted")
        [before] = await w.receiver.wait_for(1)
        before.verified_by(old)
        assert len(_signatures(before)) == 1

        rotated = await w.admin.post(f"/v1/webhooks/{webhook['id']}/rotate-secret")
        assert rotated.status_code == 200, rotated.text
        new = rotated.json()["secret"]
        assert new.startswith("whsec_")
        assert new != old
        expires = datetime.fromisoformat(rotated.json()["previous_secret_expires_at"])
        assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(hours=24)

        await _answer(invitee, participant_id, "declined")
        _, after = await w.receiver.wait_for(2)
        assert after.verified_by(new)["type"] == "invitation.declined"
        assert after.verified_by(old)["type"] == "invitation.declined"
        assert len(_signatures(after)) == 2
        assert all(s.startswith("v1,") for s in _signatures(after))
        with pytest.raises(WebhookVerificationError):
            Webhook(new).verify(before.body, before.headers)
        log = await w.until_deliveries(webhook["id"], _settled(2))
        assert [d["last_status_code"] for d in log] == [204, 204]


async def test_a_secret_copied_from_another_endpoint_signs_nothing_and_is_retried(
    committed_url: str, tmp_path: Path
) -> None:
    """A row whose sealed secret was moved from another endpoint fails to open: no message
    goes out signed by it, the attempt is logged as an error, and the delivery is retried."""
    async with world(committed_url, tmp_path) as w:
        source = await w.subscribe(path="/source", event_types=["follow_up.cancelled"])
        target = await w.subscribe(path="/target")
        await w.sql(
            "UPDATE webhook_endpoints SET secret = (SELECT secret FROM webhook_endpoints"
            " WHERE id = :source) WHERE id = :target",
            source=uuid.UUID(source["id"]),
            target=uuid.UUID(target["id"]),
        )
        invitee, _, participant_id = await _one_invitation(w)
        await _answer(invitee, participant_id, "accepted")

        def errored(log: list[Delivery]) -> bool:
            return len(log) == 1 and len(log[0]["attempt_log"]) >= 2

        [delivery] = await w.until_deliveries(target["id"], errored)
        assert delivery["status"] in ("pending", "delivering", "failed")
        first = delivery["attempt_log"][0]
        assert first["outcome"] == "error"
        assert "signing secret unavailable" in first["error"]
        assert w.receiver.arrivals("/target") == 0


async def test_an_endpoint_failing_for_days_is_disabled_and_recovered(
    committed_url: str, tmp_path: Path
) -> None:
    async with world(committed_url, tmp_path) as w:
        since = datetime.now(UTC) - timedelta(minutes=1)
        webhook = await w.subscribe()
        w.receiver.always(Answer(500))
        invitee, follow_up_id, participant_id = await _one_invitation(w)

        # A: fails every attempt; the streak starts.
        await _answer(invitee, participant_id, "accepted")
        await w.until_deliveries(webhook["id"], _settled(1, "failed"))
        assert (await _webhook(w, webhook["id"]))["enabled"] is True

        # Pretend the streak began more than five days ago; B's failure then disables it.
        await w.sql(
            "UPDATE webhook_endpoints SET failing_since = now() - interval '5 days 1 hour' "
            "WHERE id = :id",
            id=uuid.UUID(webhook["id"]),
        )
        arrived = len(w.receiver.on())
        await _answer(invitee, participant_id, "declined")
        await w.receiver.wait_for(arrived + 1)
        deadline = time.monotonic() + 5
        while (endpoint := await _webhook(w, webhook["id"]))["enabled"]:
            assert time.monotonic() < deadline, endpoint
            await asyncio.sleep(0.05)
        assert endpoint["disabled_reason"] == "failing"
        assert await w.receiver.stays_quiet(seconds=0.5), "a disabled endpoint was retried"

        # C: committed while the endpoint is disabled, so nothing is queued for it.
        await _answer(invitee, participant_id, "tentative")
        assert len(await w.deliveries(webhook["id"])) == 2
        a, b, c = await _event_ids(w, follow_up_id)

        # The receiver is fixed; enable and recover: A (failed), B (waiting) and C (missed).
        w.receiver.always(Answer(200))
        fixed_from = len(w.receiver.received)
        enabled = await w.admin.patch(f"/v1/webhooks/{webhook['id']}", json={"enabled": True})
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["disabled_reason"] is None
        assert enabled.json()["failing_since"] is None
        recovered = await w.admin.post(
            f"/v1/webhooks/{webhook['id']}/recover", json={"since": since.isoformat()}
        )
        assert recovered.status_code == 202, recovered.text
        assert recovered.json() == {"recovered": 2}

        def all_three(received: list[Received]) -> bool:
            return {r.webhook_id for r in received[fixed_from:]} >= {a, b, c}

        await w.receiver.wait_until(all_three, timeout=10)
        log = await w.until_deliveries(webhook["id"], _settled(3))
        assert {d["event_id"] for d in log} == {a, b, c}
        for message in w.receiver.received[fixed_from:]:
            message.verified_by(webhook["secret"])
        assert (await _webhook(w, webhook["id"]))["failing_since"] is None


async def _slow_endpoint_holds_up_healthy_one(w: World, slow_receiver: Any, slow_path: str) -> None:
    """Fill the slow endpoint's share, then time an answer to the healthy endpoint."""
    slow_receiver.always(Answer(delay=2.0), path=slow_path)
    await w.subscribe(["follow_up.created"], path=slow_path, receiver=slow_receiver)
    healthy = await w.subscribe(path="/healthy")
    organizer = await w.admin.new_member(name="Olga Organizer")
    invitee = await w.admin.new_member(name="Ivan Invitee")
    # Each new follow-up queues a follow_up.created for the slow endpoint: far more than its
    # concurrency (2) lets through at once.
    follow_ups = [await w.invite(organizer, invitee) for _ in range(6)]
    await slow_receiver.wait_for_arrivals(2, path=slow_path, timeout=5)

    start = time.monotonic()
    await _answer(invitee, follow_ups[-1][1][invitee.subject], "accepted")
    [message] = await w.receiver.wait_for(1, path="/healthy", timeout=10)
    waited = message.arrived - start
    slow_busy = slow_receiver.busy(slow_path)
    [delivery] = await w.until_deliveries(healthy["id"], _settled(1))
    [attempt] = delivery["attempt_log"]
    assert waited < 1.0, (
        f"the healthy endpoint received its event {waited:.2f}s after the commit; "
        f"its attempt took {attempt['duration_ms']} ms (time spent inside the HTTP client)"
    )
    assert slow_busy >= 1, "the slow endpoint should still be busy"
    assert slow_receiver.peak(slow_path) <= 2


async def test_a_slow_endpoint_does_not_hold_up_a_healthy_one(
    committed_url: str, tmp_path: Path
) -> None:
    async with world(committed_url, tmp_path, webhook_endpoint_concurrency=2) as w:
        slow_receiver = await w.another_receiver()
        await _slow_endpoint_holds_up_healthy_one(w, slow_receiver, "/slow")


async def test_a_slow_endpoint_does_not_hold_up_a_healthy_one_on_the_same_host(
    committed_url: str, tmp_path: Path
) -> None:
    """Two endpoints on one host:port (two tenants of one SaaS hub, say) are two endpoints."""
    async with world(committed_url, tmp_path, webhook_endpoint_concurrency=2) as w:
        await _slow_endpoint_holds_up_healthy_one(w, w.receiver, "/slow")


# --- metrics --------------------------------------------------------------------------------


async def _metrics(w: World) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await w.admin.client.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


SUCCESSES = ("convene_webhook_deliveries_total", (("outcome", "success"),))
DEPTH = ("convene_webhook_queue_depth", ())


async def test_metrics_count_successes_and_show_the_queue_depth(
    committed_url: str, tmp_path: Path
) -> None:
    async with world(committed_url, tmp_path, webhook_endpoint_concurrency=1) as w:
        # Each scrape reads the queue here (in service a reading is kept for a few seconds).
        w.committed.app.state.queue_gauges = QueueGauges(0.0)
        webhook = await w.subscribe()
        organizer = await w.admin.new_member(name="Olga Organizer")
        invitees = [await w.admin.new_member(name=f"Invitee {i}") for i in range(4)]
        # Four follow-ups, so only the endpoint's concurrency (1) keeps them waiting.
        invitations = [await w.invite(organizer, invitee) for invitee in invitees]
        before = await _metrics(w)
        assert before[DEPTH] == 0

        w.receiver.always(Answer(delay=0.4))
        for invitee, (_, ids) in zip(invitees, invitations, strict=True):
            await _answer(invitee, ids[invitee.subject], "accepted")
        backlog = await _metrics(w)
        assert backlog[DEPTH] >= 2, backlog[DEPTH]
        assert backlog[("convene_webhook_oldest_due_seconds", ())] > 0

        await w.receiver.wait_for(4)
        await w.until_deliveries(webhook["id"], _settled(4))
        after = await _metrics(w)
        assert after[SUCCESSES] >= before.get(SUCCESSES, 0) + 4
        assert after[DEPTH] == 0
