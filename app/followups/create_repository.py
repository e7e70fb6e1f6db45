"""The create path's two statements: what a new follow-up names, and the single booking itself.

A single (non-recurring) follow-up is written by one statement: the follow-up, its
participants, their bookings, the invitees' notifications and the `follow_up.created` event
with its webhook deliveries. Statements in one `WITH` do not see each other's rows, so the
bookings and the event are made from the rows the inserts return, not read back.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from app.availability.booking_repository import STRICT_NO_OVERLAP
from app.db import driver
from app.db.base import new_id
from app.db.driver import DriverStatement
from app.followups.rows import FollowUpRow
from app.models.states import EventType, ParticipantKind
from app.webhooks.events import CHANNEL, EVENT_FAN_OUT, NOTIFY_IF_QUEUED

# The owner, the colleagues, resources and persons named, and the contact, as (kind, id,
# active, time_zone) rows; and, as kind `strict`, the named resources that refuse double
# booking, locked in id order (the row-lock protocol of app/availability/bookings.py). The
# lock comes first: the statement that books them starts after it, with a snapshot that
# sees every booking committed by the one who held it.
DIRECTORY = DriverStatement("""
WITH strict AS (
    SELECT r.id FROM resources r
    WHERE r.tenant_id = :tenant_id AND r.id = ANY(:resource_ids) AND NOT r.allow_double_booking
    ORDER BY r.id
    FOR NO KEY UPDATE
)
SELECT 'associate' AS kind, a.id, a.active, a.time_zone
FROM associates a
WHERE a.tenant_id = :tenant_id AND (a.id = ANY(:associate_ids) OR a.id = :owner_id)
UNION ALL
SELECT 'resource', r.id, r.active, NULL
FROM resources r WHERE r.tenant_id = :tenant_id AND r.id = ANY(:resource_ids)
UNION ALL
SELECT 'person', p.id, true, NULL
FROM persons p WHERE p.tenant_id = :tenant_id AND p.id = ANY(:person_ids)
UNION ALL
SELECT 'contact', c.id, true, NULL
FROM contacts c WHERE c.tenant_id = :tenant_id AND c.id = :contact_id
UNION ALL
SELECT 'strict', s.id, true, NULL FROM strict s
""")

# Books a single follow-up, unless one of :strict_ids (locked) is booked then: then it writes
# nothing and returns no row. Else it returns the follow-up's row (seq 1: its first event).
# A null :time_zone is the owner's (a follow-up of its owner alone skips DIRECTORY).
# Bookings as app/availability/booking_repository.py's _BLOCKED makes them: a colleague not
# yet answered is tentative; resources are accepted; persons block nothing.
# `taken` probes each strict resource's own calendar (all three GiST columns as index
# conditions): `calendar_id = ANY(...)` is none, so it scanned every booking of the tenant in
# the span, even with no strict resource at all, which was half of a create's PostgreSQL CPU.
_CREATE_CHANGES = """
WITH taken AS (
    SELECT FROM unnest(CAST(:strict_ids AS uuid[])) AS s(id)
    JOIN bookings b ON b.tenant_id = :tenant_id AND b.calendar_id = s.id
                   AND b.during && tstzrange(:start_at, :end_at, '[)')
    LIMIT 1
), f AS (
    INSERT INTO follow_ups (tenant_id, id, owner_id, title, description, location, kind,
                            start_at, end_at, time_zone, all_day, contact_id, seq)
    SELECT :tenant_id, :follow_up_id, :owner_id, :title, :description, :location, :kind,
           :start_at, :end_at,
           coalesce(CAST(:time_zone AS text),
                    (SELECT a.time_zone FROM associates a
                     WHERE a.tenant_id = :tenant_id AND a.id = :owner_id)),
           :all_day, :contact_id, 1
    WHERE NOT EXISTS (SELECT FROM taken)
    RETURNING *
), p AS (
    INSERT INTO participants (tenant_id, id, follow_up_id, kind, associate_id, resource_id,
                              person_id, role, status, responded_at, rescheduled)
    SELECT f.tenant_id, x.id, f.id, x.kind, x.associate_id, x.resource_id, x.person_id,
           x.role, x.status, x.responded_at, false
    FROM f, unnest(CAST(:participant_ids AS uuid[]), CAST(:kinds AS text[]),
                   CAST(:associate_ids AS uuid[]), CAST(:resource_ids AS uuid[]),
                   CAST(:person_ids AS uuid[]), CAST(:roles AS text[]),
                   CAST(:statuses AS text[]), CAST(:responded_ats AS timestamptz[]))
         AS x(id, kind, associate_id, resource_id, person_id, role, status, responded_at)
    RETURNING tenant_id, id, follow_up_id, kind, associate_id, resource_id, status
), booked AS (
    INSERT INTO bookings (participant_id, tenant_id, follow_up_id, calendar_kind, calendar_id,
                          during, tentative, strict, occurrence_start)
    SELECT p.id, p.tenant_id, p.follow_up_id, p.kind, coalesce(p.associate_id, p.resource_id),
           f.during, p.status IN ('not_read', 'seen', 'tentative'),
           coalesce(NOT r.allow_double_booking, false), f.start_at
    FROM p
    JOIN f ON true
    LEFT JOIN resources r ON r.tenant_id = p.tenant_id AND r.id = p.resource_id
    WHERE p.kind IN ('associate', 'resource') AND p.status <> 'declined'
), told AS (
    INSERT INTO notifications (tenant_id, id, associate_id, kind, follow_up_id, participant_id,
                               actor_id, message)
    SELECT f.tenant_id, x.id, x.associate_id, :notification_kind, f.id, x.participant_id,
           :actor_id, :message
    FROM f, unnest(CAST(:notification_ids AS uuid[]), CAST(:notified_ids AS uuid[]),
                   CAST(:notified_participant_ids AS uuid[]))
         AS x(id, associate_id, participant_id)
), bumped AS (
    SELECT tenant_id, id, seq, CAST(:data AS jsonb) AS data FROM f
), """
# The follow-up's row, and NOTIFY when a delivery was queued.
_CREATE_RESULT_HEAD = """
SELECT f.*, """
_CREATE_RESULT_TAIL = """ AS notified
FROM f
"""
CREATE_SINGLE = DriverStatement(
    _CREATE_CHANGES + EVENT_FAN_OUT + _CREATE_RESULT_HEAD + NOTIFY_IF_QUEUED + _CREATE_RESULT_TAIL
)


@dataclass
class Directory:
    """What a new follow-up's references name: the owner's time zone, the objects by kind."""

    time_zone: str
    found: dict[ParticipantKind, dict[uuid.UUID, "Named"]] = field(default_factory=dict)
    contact: bool = False
    strict: list[uuid.UUID] = field(default_factory=list)


@dataclass(frozen=True)
class Named:
    """One directory object a reference names, and whether it is active."""

    id: uuid.UUID
    active: bool


@dataclass(frozen=True)
class Notified:
    """The notification a new follow-up puts in each invited colleague's inbox."""

    kind: str
    actor_id: str
    message: str
    recipients: Sequence[tuple[uuid.UUID, uuid.UUID | None]]


# The follow-up's columns CREATE_SINGLE takes as they are.
_FOLLOW_UP_PARAMS = (
    "tenant_id",
    "owner_id",
    "title",
    "description",
    "location",
    "start_at",
    "end_at",
    "time_zone",
    "all_day",
    "contact_id",
)


class CreateRepository:
    """The create path's statements, inside one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def directory(
        self,
        owner_id: uuid.UUID,
        by_kind: dict[ParticipantKind, list[uuid.UUID]],
        contact_id: uuid.UUID | None,
    ) -> Directory:
        """The owner and what the references name; locks the strict resources among them."""
        rows = await driver.fetch_written(
            self.session,
            DIRECTORY,
            tenant_id=self.tenant_id,
            owner_id=owner_id,
            associate_ids=by_kind[ParticipantKind.ASSOCIATE],
            resource_ids=by_kind[ParticipantKind.RESOURCE],
            person_ids=by_kind[ParticipantKind.PERSON],
            contact_id=contact_id,
        )
        found: dict[ParticipantKind, dict[uuid.UUID, Named]] = {k: {} for k in ParticipantKind}
        directory = Directory(time_zone="", found=found)
        for row in rows:
            kind, id_ = row["kind"], row["id"]
            if kind == "strict":
                directory.strict.append(id_)
            elif kind == "contact":
                directory.contact = True
            elif kind == ParticipantKind.ASSOCIATE and id_ == owner_id:
                directory.time_zone = row["time_zone"]
                if id_ in by_kind[ParticipantKind.ASSOCIATE]:
                    found[ParticipantKind.ASSOCIATE][id_] = Named(id_, row["active"])
            else:
                found[ParticipantKind(kind)][id_] = Named(id_, row["active"])
        return directory

    async def create_single(
        self,
        fields: dict[str, Any],
        participants: Sequence[dict[str, Any]],
        strict: Sequence[uuid.UUID],
        notified: Notified,
        data: str,
    ) -> FollowUpRow | None:
        """Write the single follow-up (its columns, ids given); None, writing nothing, if taken.

        Taken: a strict resource is booked then, by a booking seen before the insert or one
        the exclusion constraint refuses. With strict resources the statement runs under a
        savepoint, so that the transaction stays usable for the 409 that follows.
        """
        params: dict[str, Any] = {
            **{name: fields[name] for name in _FOLLOW_UP_PARAMS},
            "follow_up_id": fields["id"],
            "kind": fields["kind"].value,
            "strict_ids": list(strict),
            "participant_ids": [p["id"] for p in participants],
            "kinds": [p["kind"].value for p in participants],
            "associate_ids": [p.get("associate_id") for p in participants],
            "resource_ids": [p.get("resource_id") for p in participants],
            "person_ids": [p.get("person_id") for p in participants],
            "roles": [p["role"].value for p in participants],
            "statuses": [p["status"].value for p in participants],
            "responded_ats": [p.get("responded_at") for p in participants],
            "notification_kind": notified.kind,
            "actor_id": notified.actor_id,
            "message": notified.message,
            "notification_ids": [new_id() for _ in notified.recipients],
            "notified_ids": [associate_id for associate_id, _ in notified.recipients],
            "notified_participant_ids": [p for _, p in notified.recipients],
            "event_id": new_id(),
            "type": EventType.FOLLOW_UP_CREATED.value,
            "data": data,
            "channel": CHANNEL,
        }
        if not strict:
            rows = await driver.fetch_written(self.session, CREATE_SINGLE, **params)
        else:
            try:
                async with self.session.begin_nested():
                    rows = await driver.fetch_written(self.session, CREATE_SINGLE, **params)
            except DBAPIError as exc:
                if _constraint(exc) != STRICT_NO_OVERLAP:
                    raise
                return None
        return FollowUpRow(rows[0]) if rows else None


def _constraint(exc: DBAPIError) -> str:
    """The violated constraint's name, from the driver's error (under SQLAlchemy's or not)."""
    for error in (exc.orig, getattr(exc.orig, "__cause__", None)):
        name = getattr(error, "constraint_name", None)
        if name:
            return str(name)
    return ""
