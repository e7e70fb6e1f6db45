"""What the retention job removes: one batched statement per kind of row, each with its age.

Each statement changes at most :batch rows (the job repeats it, with a pause, until a batch
comes back short) and spans tenants, like the delivery queue's claim: it is housekeeping of
the whole database, not a request. The join conditions all pair tenant_id with the id. Work
still owed is never removed: a delivery goes only once it has settled (succeeded or failed),
an event only once no delivery of it is left, and a deleted endpoint's log only when no
attempt of it is in flight (a `delivering` row waits for its attempt, or its lease).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import TextClause, text

from app.config import Settings
from app.idempotency.repository import DELETE_EXPIRED_IDEMPOTENCY_KEYS

# Clears previous secrets whose 24 hours of overlap after a rotation are over.
CLEAR_EXPIRED_PREVIOUS_SECRETS = text("""
UPDATE webhook_endpoints w SET previous_secret = NULL, previous_secret_expires_at = NULL
FROM (
    SELECT tenant_id, id FROM webhook_endpoints
    WHERE previous_secret IS NOT NULL AND previous_secret_expires_at <= clock_timestamp()
    LIMIT :batch
) expired
WHERE w.tenant_id = expired.tenant_id AND w.id = expired.id
""")

# Deletes attempts of deleted endpoints' deliveries, none of them in flight.
DELETE_ATTEMPTS_OF_DELETED_ENDPOINTS = text("""
DELETE FROM webhook_attempts a
USING (
    SELECT a.tenant_id, a.id
    FROM webhook_endpoints w
    JOIN webhook_deliveries d ON d.tenant_id = w.tenant_id AND d.endpoint_id = w.id
    JOIN webhook_attempts a ON a.tenant_id = d.tenant_id AND a.delivery_id = d.id
    WHERE w.deleted_at IS NOT NULL AND d.status <> 'delivering'
    LIMIT :batch
) doomed
WHERE a.tenant_id = doomed.tenant_id AND a.id = doomed.id
""")

# Deletes deleted endpoints' deliveries that are not in flight (their attempts went first).
DELETE_DELIVERIES_OF_DELETED_ENDPOINTS = text("""
DELETE FROM webhook_deliveries d
USING (
    SELECT d.tenant_id, d.id
    FROM webhook_endpoints w
    JOIN webhook_deliveries d ON d.tenant_id = w.tenant_id AND d.endpoint_id = w.id
    WHERE w.deleted_at IS NOT NULL AND d.status <> 'delivering'
    LIMIT :batch
) doomed
WHERE d.tenant_id = doomed.tenant_id AND d.id = doomed.id
""")

# Deletes the rows of deleted endpoints that have no delivery left.
DELETE_DELETED_ENDPOINTS = text("""
DELETE FROM webhook_endpoints w
USING (
    SELECT w.tenant_id, w.id FROM webhook_endpoints w
    WHERE w.deleted_at IS NOT NULL
      AND NOT EXISTS (
          SELECT FROM webhook_deliveries d WHERE d.tenant_id = w.tenant_id AND d.endpoint_id = w.id
      )
    LIMIT :batch
) doomed
WHERE w.tenant_id = doomed.tenant_id AND w.id = doomed.id
""")

# Deletes attempts older than :age_seconds whose delivery has settled.
DELETE_OLD_ATTEMPTS = text("""
DELETE FROM webhook_attempts a
USING (
    SELECT a.tenant_id, a.id
    FROM webhook_attempts a
    JOIN webhook_deliveries d ON d.tenant_id = a.tenant_id AND d.id = a.delivery_id
    WHERE a.started_at < clock_timestamp() - make_interval(secs => :age_seconds)
      AND d.status IN ('succeeded', 'failed')
    ORDER BY a.started_at
    LIMIT :batch
) doomed
WHERE a.tenant_id = doomed.tenant_id AND a.id = doomed.id
""")

# Deletes deliveries settled (succeeded or failed) more than :age_seconds ago, with whatever
# attempts of theirs are left.
DELETE_OLD_DELIVERIES = text("""
DELETE FROM webhook_deliveries d
USING (
    SELECT tenant_id, id FROM webhook_deliveries
    WHERE created_at < clock_timestamp() - make_interval(secs => :age_seconds)
      AND status IN ('succeeded', 'failed')
      AND coalesce(delivered_at, last_attempt_at, created_at)
          < clock_timestamp() - make_interval(secs => :age_seconds)
    ORDER BY created_at
    LIMIT :batch
) doomed
WHERE d.tenant_id = doomed.tenant_id AND d.id = doomed.id
""")

# Deletes e-mails (iMIP) settled (sent or given up) more than :age_seconds ago: they hold
# persons' addresses. Pending ones stay, whatever their age.
DELETE_OLD_MAIL_MESSAGES = text("""
DELETE FROM mail_messages m
USING (
    SELECT tenant_id, id FROM mail_messages
    WHERE status IN ('succeeded', 'failed')
      AND updated_at < clock_timestamp() - make_interval(secs => :age_seconds)
    ORDER BY updated_at
    LIMIT :batch
) doomed
WHERE m.tenant_id = doomed.tenant_id AND m.id = doomed.id
""")

# Deletes events older than :age_seconds that no delivery refers to any more.
DELETE_OLD_EVENTS = text("""
DELETE FROM events e
USING (
    SELECT e.tenant_id, e.id FROM events e
    WHERE e.created_at < clock_timestamp() - make_interval(secs => :age_seconds)
      AND NOT EXISTS (
          SELECT FROM webhook_deliveries d WHERE d.tenant_id = e.tenant_id AND d.event_id = e.id
      )
    ORDER BY e.created_at
    LIMIT :batch
) doomed
WHERE e.tenant_id = doomed.tenant_id AND e.id = doomed.id
""")

# Deletes notifications, read or not, older than :age_seconds.
DELETE_OLD_NOTIFICATIONS = text("""
DELETE FROM notifications n
USING (
    SELECT tenant_id, id FROM notifications
    WHERE created_at < clock_timestamp() - make_interval(secs => :age_seconds)
    ORDER BY created_at
    LIMIT :batch
) doomed
WHERE n.tenant_id = doomed.tenant_id AND n.id = doomed.id
""")


@dataclass(frozen=True)
class Purge:
    """One kind of row the job removes: its batched statement and, if it has one, its age."""

    name: str
    statement: TextClause
    age: Callable[[Settings], timedelta] | None = None


# In this order: a deleted endpoint's attempts before its deliveries before the endpoint, and
# attempts before deliveries before events, so that each statement finds its rows unblocked.
PURGES: tuple[Purge, ...] = (
    Purge("expired previous secrets", CLEAR_EXPIRED_PREVIOUS_SECRETS),
    Purge("attempts of deleted endpoints", DELETE_ATTEMPTS_OF_DELETED_ENDPOINTS),
    Purge("deliveries of deleted endpoints", DELETE_DELIVERIES_OF_DELETED_ENDPOINTS),
    Purge("deleted endpoints", DELETE_DELETED_ENDPOINTS),
    Purge(
        "webhook attempts", DELETE_OLD_ATTEMPTS, lambda s: timedelta(days=s.retention_attempts_days)
    ),
    Purge(
        "webhook deliveries",
        DELETE_OLD_DELIVERIES,
        lambda s: timedelta(days=s.retention_deliveries_days),
    ),
    Purge(
        "sent e-mails",
        DELETE_OLD_MAIL_MESSAGES,
        lambda s: timedelta(days=s.retention_deliveries_days),
    ),
    Purge("events", DELETE_OLD_EVENTS, lambda s: timedelta(days=s.retention_events_days)),
    Purge(
        "notifications",
        DELETE_OLD_NOTIFICATIONS,
        lambda s: timedelta(days=s.retention_notifications_days),
    ),
    # Keys expire 24 hours after their write (KEPT_FOR); expired ones only take space.
    Purge("expired idempotency keys", DELETE_EXPIRED_IDEMPOTENCY_KEYS),
)
