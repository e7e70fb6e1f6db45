"""The invitee's hot paths as one statement each, inside one tenant: the inbox and the answer."""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, bindparam, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.availability.booking_repository import takes_part
from app.db.base import new_id
from app.db.driver import DriverStatement, fetchrow, fetchval
from app.followups.repository import FOLLOW_UP_PREFIX, NEXT_PREFIX, invitations_page
from app.followups.schemas import FollowUpSummary
from app.invitations.schemas import Invitation, NextOccurrence
from app.kit.json_sql import day, json_object
from app.kit.pagination import PageParams, id_cursor_sql
from app.models import Participant
from app.models.states import (
    Answer,
    OccurrenceStatus,
    ParticipantKind,
    ParticipantRole,
    ParticipantStatus,
)
from app.notifications.service import MAX_MESSAGE
from app.webhooks.events import CHANNEL, EVENT_FAN_OUT
from app.webhooks.payloads import InvitationAnswered


def _page_column(name: str) -> str:
    return f"i.{name}"


def _follow_up_column(name: str) -> str:
    return f"i.{FOLLOW_UP_PREFIX}{name}"


def _next_column(name: str) -> str:
    return f"i.{NEXT_PREFIX}{name}"


def _local_day(instant: str) -> str:
    """An all-day follow-up's date of `instant`, in its own zone; null when it is timed."""
    local = f"{instant} AT TIME ZONE {_follow_up_column('time_zone')}"
    return f"CASE WHEN {_follow_up_column('all_day')} THEN {day(local)} ELSE 'null' END"


# One invitation of the page as `Invitation` serialises, instants shown in `i.zone`.
_INVITATION_JSON = json_object(
    Invitation,
    _page_column,
    "i.zone",
    {
        "follow_up": json_object(
            FollowUpSummary,
            _follow_up_column,
            "i.zone",
            {
                "start_date": _local_day(_follow_up_column("start_at")),
                "end_date": _local_day(_follow_up_column("end_at")),
            },
        ),
        "next_occurrence": f"CASE WHEN {_next_column('occurrence_start')} IS NULL THEN 'null' "
        f"ELSE {json_object(NextOccurrence, _next_column, 'i.zone')} END",
    },
)
# The whole page as `Page[Invitation]` serialises: the first :limit rows of the :limit + 1
# fetched, and the last one's cursor when there are more.
_INBOX_JSON = f"""'{{"items":[' || coalesce(string_agg({_INVITATION_JSON}, ',' ORDER BY i.n)
                                   FILTER (WHERE i.n <= i.size), '')
|| '],"next_cursor":'
|| CASE WHEN count(*) > max(i.size)
        THEN '"' || max({id_cursor_sql("i.id")}) FILTER (WHERE i.n = i.size) || '"'
        ELSE 'null' END
|| '}}'"""


def _inbox(*, by_status: bool, after: bool) -> DriverStatement:
    """The inbox page statement of this variant: its rows go to JSON in the database."""
    page = invitations_page(by_status=by_status, after=after).add_columns(
        func.row_number().over(order_by=Participant.id.desc()).label("n"),
        bindparam("limit", type_=Integer).label("size"),
        bindparam("time_zone", type_=String).label("zone"),
    )
    return DriverStatement(
        select(literal_column(_INBOX_JSON).label("body")).select_from(page.subquery("i"))
    )


# The invitee's inbox page, finished JSON (see `json_sql`): one statement per filter variant.
INBOX = {
    (by_status, after): _inbox(by_status=by_status, after=after)
    for by_status in (False, True)
    for after in (False, True)
}


# What an answer changes, up to the seq bump its event is recorded under. `whole`: the answer
# is the series' (or the single follow-up's): it drops the invitee's answers to single
# occurrences. Else it answers the occurrence at :occurrence alone: that occurrence's answer
# and booking change, the invitation is only marked seen. The invitee (`upd`) books only the
# occurrences they take part in. `blocks`: the answer keeps the invitee's bookings (accepted,
# tentative), else it drops them (declined).
_TAKES_PART = takes_part("spans.occurrence_start", "upd")
# The invitee (`p`) takes part in the occurrence answered alone.
_TAKES_PART_ASKED = takes_part("CAST(:occurrence AS timestamptz)")


def _answer_changes(*, whole: bool, blocks: bool) -> str:
    """ANSWER's CTEs up to `bumped`, with only the branches of this kind of answer.

    Each variant is its own statement, not one statement with `:whole` and `:blocks`
    parameters: PostgreSQL starts up and runs every CTE of a statement on each execution, even
    one that a parameter turns off, so branches left out are work it never does.
    """
    if whole:
        spans = """SELECT f.start_at AS occurrence_start, f.during FROM f
    WHERE f.recurrence_rule IS NULL
    UNION ALL
    SELECT o.original_start, o.during
    FROM occurrences o JOIN f ON o.tenant_id = f.tenant_id AND o.follow_up_id = f.id
    WHERE NOT o.cancelled"""
        occurrence_status = ""
        answerable = ""
        changes = """status = :status,
        comment = :comment,
        responded_at = :now,
        seen_at = coalesce(old.seen_at, :now),
        rescheduled = false,
        acknowledged_at = NULL,
        updated_at = :now"""
        previous = "old.status"
        answered = """reset AS (
    DELETE FROM occurrence_answers a USING upd
    WHERE a.tenant_id = upd.tenant_id AND a.participant_id = upd.id
)"""
        one_occurrence = ""
        occurrence = "NULL"
    else:
        spans = """SELECT o.original_start AS occurrence_start, o.during
    FROM occurrences o JOIN f ON o.tenant_id = f.tenant_id AND o.follow_up_id = f.id
    WHERE NOT o.cancelled AND o.original_start = :occurrence"""
        occurrence_status = """,
           (SELECT a.status FROM occurrence_answers a
            WHERE a.tenant_id = p.tenant_id AND a.participant_id = p.id
              AND a.occurrence_start = :occurrence) AS occurrence_status"""
        answerable = "\n      AND EXISTS (SELECT FROM spans) AND " + _TAKES_PART_ASKED
        changes = """status = CASE WHEN old.status = 'not_read' THEN 'seen' ELSE old.status END,
        seen_at = coalesce(old.seen_at, :now),
        updated_at = :now"""
        previous = "coalesce(old.occurrence_status, old.status)"
        answered = """answered AS (
    INSERT INTO occurrence_answers (tenant_id, participant_id, occurrence_start, follow_up_id,
                                    status, comment, responded_at, rescheduled)
    SELECT upd.tenant_id, upd.id, spans.occurrence_start, upd.follow_up_id, :status, :comment,
           :now, false
    FROM upd, spans
    ON CONFLICT (tenant_id, participant_id, occurrence_start) DO UPDATE
        SET status = excluded.status, comment = excluded.comment,
            responded_at = excluded.responded_at, rescheduled = false
    RETURNING occurrence_start, status, comment, responded_at, rescheduled
)"""
        one_occurrence = "\n      AND b.occurrence_start = :occurrence"
        occurrence = "CAST(:occurrence AS timestamptz)"
    if blocks:
        bookings = f"""booked AS (
    INSERT INTO bookings (participant_id, tenant_id, follow_up_id, calendar_kind, calendar_id,
                          during, tentative, strict, occurrence_start)
    SELECT upd.id, upd.tenant_id, upd.follow_up_id, 'associate', upd.associate_id, spans.during,
           :tentative, false, spans.occurrence_start
    FROM upd, spans
    WHERE {_TAKES_PART}
    ON CONFLICT (tenant_id, participant_id, occurrence_start) DO UPDATE
        SET tentative = excluded.tentative, during = excluded.during
)"""  # noqa: S608 - constant SQL pieces
    else:
        bookings = f"""unbooked AS (
    DELETE FROM bookings b USING upd
    WHERE b.tenant_id = upd.tenant_id AND b.participant_id = upd.id{one_occurrence}
)"""  # noqa: S608 - constant SQL pieces
    return f"""
WITH locked AS (
    SELECT f.tenant_id, f.id, f.owner_id, f.title, f.during, f.start_at, f.recurrence_rule,
           f.xmin AS version, f AS newest
    FROM follow_ups f
    WHERE f.tenant_id = :tenant_id
      AND f.id = (SELECT follow_up_id FROM participants
                  WHERE tenant_id = :tenant_id AND id = :participant_id)
      AND f.status = 'scheduled'
    FOR NO KEY UPDATE OF f
), f AS (
    -- The lock returns the row's newest version, the rest of the statement reads its
    -- snapshot: if the follow-up changed in between, nothing happens here (stale, and the
    -- caller runs the statement again, now under the lock with a fresh snapshot). Unless
    -- every change since was another invitee's answer (each bumped the seq and
    -- answer_bumps, and the row is otherwise the same): those write their own invitation's
    -- rows and the seq, which `bumped` takes from the newest version; this invitation's
    -- own changes are caught by `mine` below. Any other change, recorded or not, is stale.
    SELECT locked.* FROM locked
    JOIN follow_ups seen ON seen.tenant_id = locked.tenant_id AND seen.id = locked.id
     AND (seen.xmin = locked.version
          OR ((locked.newest).seq - seen.seq
                  = (locked.newest).answer_bumps - seen.answer_bumps
              AND to_jsonb(locked.newest) - 'seq' - 'answer_bumps'
                  = to_jsonb(seen) - 'seq' - 'answer_bumps'))
), spans AS (
    {spans}
), old AS (
    SELECT p.id, p.status, p.seen_at, p.xmin AS version{occurrence_status}
    FROM participants p JOIN f ON f.tenant_id = p.tenant_id AND f.id = p.follow_up_id
    WHERE p.tenant_id = :tenant_id
      AND p.id = :participant_id
      AND p.associate_id = :associate_id
      AND p.role <> 'organizer'{answerable}
    FOR UPDATE OF p
), mine AS (
    -- The invitation as the snapshot saw it: its own answers, bookings and occurrence
    -- answers, which every change to it rewrites, are the snapshot's too. Else stale.
    SELECT old.* FROM old
    JOIN participants seen ON seen.tenant_id = :tenant_id AND seen.id = old.id
     AND seen.xmin = old.version
), upd AS (
    UPDATE participants p
    SET {changes}
    FROM mine AS old
    WHERE p.tenant_id = :tenant_id AND p.id = old.id
    RETURNING p.id, p.tenant_id, p.follow_up_id, p.kind, p.associate_id, p.resource_id,
              p.person_id, p.role, p.status, p.comment, p.responded_at, p.seen_at,
              p.rescheduled, p.acknowledged_at, p.only_occurrence,
              {previous} AS previous_status
), {answered}, {bookings}, kept AS (
    INSERT INTO responses (id, tenant_id, follow_up_id, participant_id, associate_id, status,
                           previous_status, comment, occurrence_start)
    SELECT :response_id, upd.tenant_id, upd.follow_up_id, upd.id, upd.associate_id, :status,
           upd.previous_status, :comment, {occurrence}
    FROM upd
), told AS (
    INSERT INTO notifications (id, tenant_id, associate_id, kind, follow_up_id, participant_id,
                               actor_id, message)
    SELECT :notification_id, f.tenant_id, f.owner_id, 'responded', f.id, upd.id,
           CAST(:actor AS text),
           left(:message_before || f.title || :message_after, :max_message)
    FROM upd, f
    WHERE f.owner_id::text <> CAST(:actor AS text)
), bumped AS (
    UPDATE follow_ups SET seq = seq + 1, answer_bumps = answer_bumps + 1
    FROM upd
    WHERE follow_ups.tenant_id = upd.tenant_id AND follow_ups.id = upd.follow_up_id
    RETURNING follow_ups.tenant_id, follow_ups.id, follow_ups.seq,
              CAST(:data AS jsonb) || jsonb_build_object(
                  'tenant_id', upd.tenant_id, 'follow_up_id', upd.follow_up_id,
                  'previous_status', upd.previous_status) AS data
), """  # noqa: S608 - constant SQL pieces


def _answer_result(*, whole: bool, blocks: bool) -> str:
    """ANSWER's result: the invitation as answered, its name, conflict flag and occurrence answer.

    A row of nulls but `stale` when the follow-up changed while the statement waited for its
    lock; no row when it is cancelled or not there.
    """
    conflict = (
        """EXISTS (
           SELECT FROM spans JOIN bookings o
               ON o.tenant_id = f.tenant_id AND o.calendar_id = upd.associate_id
              AND o.during && spans.during AND o.follow_up_id <> f.id
       )"""
        if blocks
        else "false"
    )
    if whole:
        occurrence = """CAST(NULL AS timestamptz) AS occurrence_start,
       CAST(NULL AS text) AS occurrence_status, CAST(NULL AS text) AS occurrence_comment,
       CAST(NULL AS timestamptz) AS occurrence_responded_at,
       CAST(NULL AS boolean) AS occurrence_rescheduled"""
        joined = "upd CROSS JOIN f CROSS JOIN event"
    else:
        occurrence = """answered.occurrence_start, answered.status AS occurrence_status,
       answered.comment AS occurrence_comment, answered.responded_at AS occurrence_responded_at,
       answered.rescheduled AS occurrence_rescheduled"""
        joined = "upd CROSS JOIN f CROSS JOIN event LEFT JOIN answered ON true"
    return f"""
SELECT upd.id, upd.kind, upd.associate_id, upd.resource_id, upd.person_id,
       (SELECT a.name FROM associates a
        WHERE a.tenant_id = upd.tenant_id AND a.id = upd.associate_id) AS display_name,
       upd.role, upd.status, upd.comment, upd.responded_at, upd.seen_at, upd.rescheduled,
       upd.acknowledged_at, upd.only_occurrence, upd.previous_status, event.seq,
       {conflict} AS conflict,
       {occurrence},
       (NOT EXISTS (SELECT FROM f)
        OR (EXISTS (SELECT FROM old) AND NOT EXISTS (SELECT FROM mine))) AS stale,
       (SELECT count(*) FROM fanned) AS deliveries,
       (SELECT pg_notify(:channel, '') FROM (SELECT FROM fanned LIMIT 1) AS queued) AS notified
FROM locked
LEFT JOIN ({joined}) ON true
"""  # noqa: S608 - constant SQL pieces


# Records an answer, all in one statement: lock the follow-up (so answers and organizer
# changes to it queue up, and only for this statement before the commit), re-read the
# invitation under that lock, write the answer (the series', or one occurrence's), rewrite
# its bookings (one per span the answer covers: the follow-up's own, each live occurrence of
# a series, or the one occurrence), keep the response history, tell the organizer, and
# record the event under the next seq with its deliveries. One statement per (whole, blocks):
# the series' or one occurrence's answer, keeping or dropping the invitee's bookings.
# `id` null: the invitation is not the caller's to answer now (the caller finds out why).
ANSWER = {
    (whole, blocks): DriverStatement(
        _answer_changes(whole=whole, blocks=blocks)
        + EVENT_FAN_OUT
        + _answer_result(whole=whole, blocks=blocks)
    )
    for whole in (True, False)
    for blocks in (True, False)
}
# The columns of ANSWER's row that hold our enums, as text.
_ANSWER_ENUMS = {
    "kind": ParticipantKind,
    "role": ParticipantRole,
    "status": ParticipantStatus,
    "previous_status": ParticipantStatus,
    "occurrence_status": OccurrenceStatus,
}


class Answered:
    """ANSWER's row by attribute, its enum columns as our enums; only for showing."""

    __slots__ = ("_row",)

    def __init__(self, row: Mapping[str, Any]) -> None:
        self._row = row

    def __getattr__(self, name: str) -> Any:
        try:
            value = self._row[name]
        except KeyError:
            raise AttributeError(name) from None
        enum = _ANSWER_ENUMS.get(name)
        return value if enum is None or value is None else enum(value)


# Why an invitation cannot be answered: what the caller may learn of it, without locks.
INVITATION_STATE = text(
    """
SELECT p.associate_id, p.role, f.status, f.recurrence_rule IS NOT NULL AS series,
       (SELECT o.cancelled FROM occurrences o
        WHERE o.tenant_id = f.tenant_id AND o.follow_up_id = f.id
          AND o.original_start = CAST(:occurrence AS timestamptz)
          AND """  # noqa: S608 - constant SQL pieces
    + _TAKES_PART_ASKED
    + """) AS occurrence_cancelled,
       EXISTS (SELECT FROM participants v
               WHERE v.tenant_id = f.tenant_id AND v.follow_up_id = f.id
                 AND v.associate_id = :associate_id) AS visible
FROM participants p
JOIN follow_ups f ON f.tenant_id = p.tenant_id AND f.id = p.follow_up_id
WHERE p.tenant_id = :tenant_id AND p.id = :participant_id
"""
)


@dataclass(frozen=True)
class InvitationState:
    """An invitation as the caller may see it, to say why it cannot be answered."""

    associate_id: uuid.UUID | None
    role: ParticipantRole
    follow_up_status: str
    visible: bool
    series: bool
    # For the occurrence asked about: whether it is cancelled; None when there is none (or
    # the invitee takes no part in it).
    occurrence_cancelled: bool | None


class InvitationRepository:
    """The invitee's inbox and writes on their invitations, inside one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def inbox(
        self,
        associate_id: uuid.UUID,
        status: ParticipantStatus | None,
        page: PageParams,
        time_zone: str | None,
        now: datetime,
    ) -> str:
        """The associate's invitations page as `Page[Invitation]` JSON, instants in the zone."""
        body: str = await fetchval(
            self.session,
            INBOX[status is not None, page.after is not None],
            tenant_id=self.tenant_id,
            associate_id=associate_id,
            status=status,
            after_id=page.after.id if page.after is not None else None,
            now=now,
            fetch=page.limit + 1,
            limit=page.limit,
            time_zone=time_zone,
        )
        return body

    async def answer(
        self,
        participant_id: uuid.UUID,
        associate_id: uuid.UUID,
        status: Answer,
        comment: str | None,
        now: datetime,
        *,
        occurrence: datetime | None,
        actor: str,
        message: tuple[str, str],
        event: InvitationAnswered,
    ) -> Answered | None:
        """Record the answer (to the series, or to one occurrence) in one statement.

        The row holds the invitation's columns as a participant shows them, `previous_status`,
        `seq`, `conflict`, `deliveries` (how many webhook deliveries the event queued) and
        the occurrence's answer as `occurrence_<field>`. None, or a null `id`, if the
        invitation is not answerable; `stale` if the follow-up changed while the statement
        waited for its lock (run it again: the lock is now held).
        """
        row = await fetchrow(
            self.session,
            ANSWER[occurrence is None, status != Answer.DECLINED],
            tenant_id=self.tenant_id,
            participant_id=participant_id,
            associate_id=associate_id,
            status=status.value,
            occurrence=occurrence,
            tentative=status == Answer.TENTATIVE,
            comment=comment,
            now=now,
            response_id=new_id(),
            notification_id=new_id(),
            actor=actor,
            message_before=message[0],
            message_after=message[1],
            max_message=MAX_MESSAGE,
            event_id=new_id(),
            type=f"invitation.{status.value}",
            data=event.as_json(),
            channel=CHANNEL,
        )
        return None if row is None else Answered(row)

    async def state(
        self, participant_id: uuid.UUID, associate_id: uuid.UUID, occurrence: datetime | None
    ) -> InvitationState | None:
        """The invitation's owner, role, follow-up status and occurrence; None if none."""
        row = (
            await self.session.execute(
                INVITATION_STATE,
                {
                    "tenant_id": self.tenant_id,
                    "participant_id": participant_id,
                    "associate_id": associate_id,
                    "occurrence": occurrence,
                },
            )
        ).one_or_none()
        if row is None:
            return None
        return InvitationState(
            row.associate_id,
            ParticipantRole(row.role),
            row.status,
            row.visible,
            row.series,
            row.occurrence_cancelled,
        )
