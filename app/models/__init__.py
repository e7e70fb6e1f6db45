"""Every table, on one metadata, so Alembic sees them all."""

from app.db.base import Base
from app.models.activity import Event, Notification
from app.models.bookings import Booking
from app.models.directory import Associate, Contact, Person, Resource
from app.models.feeds import CalendarFeed
from app.models.followups import FollowUp, Participant, Response
from app.models.idempotency import IdempotencyKey
from app.models.mail import MailMessage
from app.models.series import Occurrence, OccurrenceAnswer, OccurrenceExclusion
from app.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint

__all__ = [
    "Associate",
    "Base",
    "Booking",
    "CalendarFeed",
    "Contact",
    "Event",
    "FollowUp",
    "IdempotencyKey",
    "MailMessage",
    "Notification",
    "Occurrence",
    "OccurrenceAnswer",
    "OccurrenceExclusion",
    "Participant",
    "Person",
    "Resource",
    "Response",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]
