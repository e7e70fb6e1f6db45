"""Follow-ups as iCalendar (RFC 5545) VEVENTs, built with `icalendar`, never from templates.

A follow-up is first turned into an `EventView` (plain data, no session), then into one
VEVENT by `vevent()`: the one place where a series' RRULE, EXDATE and RECURRENCE-ID
overrides are added.
"""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vDuration, vRecur

from app.models.states import (
    FollowUpStatus,
    ParticipantKind,
    ParticipantRole,
    ParticipantStatus,
    ResourceKind,
)

PRODID = "-//Convene//Convene//EN"
UID_DOMAIN = "convene"
MEDIA_TYPE = "text/calendar; charset=utf-8"

# What each participant status says in PARTSTAT: not answered yet is NEEDS-ACTION.
PARTSTAT = {
    ParticipantStatus.NOT_READ: "NEEDS-ACTION",
    ParticipantStatus.SEEN: "NEEDS-ACTION",
    ParticipantStatus.ACCEPTED: "ACCEPTED",
    ParticipantStatus.DECLINED: "DECLINED",
    ParticipantStatus.TENTATIVE: "TENTATIVE",
    ParticipantStatus.NOT_APPLICABLE: "NEEDS-ACTION",
    ParticipantStatus.INVITED: "NEEDS-ACTION",
}
ROLE = {
    ParticipantRole.ORGANIZER: "CHAIR",
    ParticipantRole.REQUIRED: "REQ-PARTICIPANT",
    ParticipantRole.OPTIONAL: "OPT-PARTICIPANT",
}
CUTYPE = {ResourceKind.ROOM: "ROOM", ResourceKind.EQUIPMENT: "RESOURCE"}


@dataclass(frozen=True)
class Attendee:
    """One participant as a calendar shows it: who, how to reach them, their answer.

    `answers` are their answers to single occurrences of a series, by original start;
    `only` the one occurrence they were added to alone, `excluded` those they were taken off.
    """

    id: uuid.UUID
    kind: ParticipantKind
    role: ParticipantRole
    status: ParticipantStatus
    name: str
    email: str | None
    resource_kind: ResourceKind | None = None
    answers: Mapping[datetime, ParticipantStatus] = field(default_factory=dict)
    only: datetime | None = None
    excluded: frozenset[datetime] = frozenset()

    def takes_part(self, occurrence: datetime | None) -> bool:
        """Whether they attend the occurrence at this original start (None: the series)."""
        if occurrence is None:
            return self.only is None
        return self.only in (None, occurrence) and occurrence not in self.excluded

    def status_at(self, occurrence: datetime | None) -> ParticipantStatus:
        """Their answer to the occurrence at this original start (None: to the series)."""
        return self.status if occurrence is None else self.answers.get(occurrence, self.status)

    @property
    def address(self) -> str:
        """A mailto: URI when there is an address, else the directory object's urn:uuid."""
        return f"mailto:{self.email}" if self.email else f"urn:uuid:{self.id}"

    @property
    def cutype(self) -> str:
        if self.kind == ParticipantKind.RESOURCE:
            return CUTYPE[self.resource_kind or ResourceKind.EQUIPMENT]
        return "INDIVIDUAL"


@dataclass(frozen=True)
class Override:
    """An occurrence of a series in a VEVENT of its own: its RECURRENCE-ID and its span.

    One is written for each occurrence moved on its own, for each that some participant
    answered on its own (its ATTENDEEs show those answers), and for each with other
    participants than the series (its ATTENDEEs are its own).
    """

    original_start: datetime
    start_at: datetime
    end_at: datetime


@dataclass(frozen=True)
class EventView:
    """What one VEVENT says about one follow-up; `transparent` when it blocks no time.

    `diary_of` (a feed's colleague) makes each override transparent by that attendee's
    answer to its occurrence instead: an occurrence they declined alone, or were taken off,
    blocks no time. `instances_only` leaves the series' own VEVENT out: the overrides alone
    (for someone invited to one occurrence, RFC 5546 3.2.2.4).
    """

    id: uuid.UUID
    seq: int
    title: str
    description: str | None
    location: str | None
    start_at: datetime
    end_at: datetime
    time_zone: str
    all_day: bool
    status: FollowUpStatus
    created_at: datetime
    updated_at: datetime
    attendees: Sequence[Attendee]
    transparent: bool = False
    rule: str | None = None
    exdates: Sequence[datetime] = ()
    overrides: Sequence[Override] = ()
    diary_of: uuid.UUID | None = None
    instances_only: bool = False

    @property
    def uid(self) -> str:
        return f"{self.id}@{UID_DOMAIN}"

    def blocks_no_time(self, occurrence: datetime | None) -> bool:
        """Whether the series (None) or the occurrence at this original start is free time."""
        if self.status == FollowUpStatus.CANCELLED:
            return True
        if occurrence is None or self.diary_of is None:
            return self.transparent
        for attendee in self.attendees:
            if attendee.id == self.diary_of:
                declined = attendee.status_at(occurrence) == ParticipantStatus.DECLINED
                return declined or not attendee.takes_part(occurrence)
        return self.transparent


def _address(
    attendee: Attendee, *, organizer: bool = False, occurrence: datetime | None = None
) -> vCalAddress:
    address = vCalAddress(attendee.address)
    address.params["CN"] = attendee.name
    if not organizer:
        address.params["CUTYPE"] = attendee.cutype
        address.params["ROLE"] = ROLE[attendee.role]
        address.params["PARTSTAT"] = PARTSTAT[attendee.status_at(occurrence)]
    return address


def _when(view: EventView, instant: datetime) -> datetime | date:
    local = instant.astimezone(ZoneInfo(view.time_zone))
    # An all-day span runs midnight to midnight in its zone (checked on write): dates.
    return local.date() if view.all_day else local


def vevent(view: EventView, moved: Override | None = None) -> Event:
    """The VEVENT of one follow-up, with its organizer and every participant as an ATTENDEE.

    A series' VEVENT carries its RRULE and EXDATEs (and the series' participants); with
    `moved`, this is instead the VEVENT of that one occurrence (same UID, RECURRENCE-ID its
    original start, its own span, those who take part in it with their answers to it).
    """
    occurrence = moved.original_start if moved else None
    event = Event()
    event.add("uid", view.uid)
    # The last revision of the information (RFC 5545 3.8.7.2 for a calendar without METHOD).
    event.add("dtstamp", max(view.created_at, view.updated_at))
    event.add("created", view.created_at)
    event.add("last-modified", view.updated_at)
    event.add("sequence", view.seq)
    if moved is not None:
        event.add("recurrence-id", _when(view, moved.original_start))
    event.add("dtstart", _when(view, moved.start_at if moved else view.start_at))
    event.add("dtend", _when(view, moved.end_at if moved else view.end_at))
    if view.rule is not None and moved is None:
        rule = vRecur.from_ical(view.rule)
        if view.all_day and "UNTIL" in rule:
            # RFC 5545: UNTIL has DTSTART's value type, so an all-day series ends on a date.
            rule["UNTIL"] = [_when(view, until) for until in rule["UNTIL"]]
        event.add("rrule", rule)
        for excluded in view.exdates:
            event.add("exdate", _when(view, excluded))
    event.add("summary", view.title)
    if view.location:
        event.add("location", view.location)
    if view.description:
        event.add("description", view.description)
    cancelled = view.status == FollowUpStatus.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if view.blocks_no_time(occurrence) else "OPAQUE")
    for attendee in view.attendees:
        if attendee.role == ParticipantRole.ORGANIZER:
            event.add("organizer", _address(attendee, organizer=True))
    for attendee in view.attendees:
        if attendee.role == ParticipantRole.ORGANIZER or attendee.takes_part(occurrence):
            event.add("attendee", _address(attendee, occurrence=occurrence))
    return event


def calendar(
    events: Iterable[EventView],
    *,
    name: str | None = None,
    refresh: timedelta | None = None,
    through: datetime | None = None,
) -> Calendar:
    """A VCALENDAR of these follow-ups with a VTIMEZONE for every zone they name.

    `name` and `refresh` (how often to poll) are for subscribed feeds; `through` (a feed's
    window end) is how far the zones' transitions must reach for the series in it.
    """
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if name is not None:
        cal.add("name", name)
        cal.add("x-wr-calname", name)
    if refresh is not None:
        cal.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
        cal.add("x-published-ttl", vDuration(refresh))
    years: list[int] = []
    for view in events:
        if not view.instances_only:
            cal.add_component(vevent(view))
        for moved in view.overrides:
            cal.add_component(vevent(view, moved))
        years += (view.start_at.year, view.end_at.year)
        years += [o.end_at.year for o in view.overrides]
        if view.rule is not None and through is not None:
            years.append(through.year)  # a series repeats on into the window
    if years:
        # Transitions of the years the events touch only, so the same events give the same
        # bytes (the feed's ETag) and a long-lived zone is not hundreds of lines.
        cal.add_missing_timezones(date(min(years) - 1, 1, 1), date(max(years) + 1, 12, 31))
    return cal


def scheduling_calendar(view: EventView, method: str, rsvp: str) -> Calendar:
    """A VCALENDAR with an RFC 5546 METHOD (REQUEST, CANCEL) for e-mail (iMIP, RFC 6047).

    The attendee whose address is `rsvp` (a mailto: URI) is asked to reply: RSVP=TRUE.
    """
    cal = calendar([view])
    cal.add("method", method)
    for event in cal.walk("VEVENT"):
        attendees = event.get("attendee", [])
        for address in attendees if isinstance(attendees, list) else [attendees]:
            if str(address).lower() == rsvp.lower():
                address.params["RSVP"] = "TRUE"
    return cal


def ics(cal: Calendar) -> bytes:
    """The calendar as the bytes of a text/calendar body (CRLF lines, folded at 75 octets)."""
    body: bytes = cal.to_ical()
    return body
