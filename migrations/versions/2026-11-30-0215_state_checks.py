"""Every stored value set is checked: answers, notification kinds, event types, outcomes.

Revision ID: 7d3c0e2a9b41
Revises: 41589ffae37e
Create Date: 2026-11-30 02:15:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7d3c0e2a9b41"
down_revision: str | None = "41589ffae37e"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here as they are today: a later value set gets a migration of its own.
_CHECKS = {
    ("responses", "status"): ("accepted", "declined", "tentative"),
    ("responses", "previous_status"): (
        "not_read",
        "seen",
        "accepted",
        "declined",
        "tentative",
        "not_applicable",
    ),
    ("notifications", "kind"): (
        "invited",
        "rescheduled",
        "cancelled",
        "responded",
        "assigned",
        "removed",
    ),
    ("webhook_attempts", "outcome"): (
        "success",
        "http_error",
        "redirect",
        "gone",
        "timeout",
        "connection_error",
        "refused",
        "error",
    ),
    ("events", "type"): (
        "invitation.accepted",
        "invitation.declined",
        "invitation.tentative",
        "invitation.seen",
        "invitation.acknowledged",
        "follow_up.created",
        "follow_up.updated",
        "follow_up.rescheduled",
        "follow_up.cancelled",
        "follow_up.assigned",
        "participant.added",
        "participant.removed",
        "webhook.ping",
    ),
}


def upgrade() -> None:
    for (table, column), values in _CHECKS.items():
        listed = ", ".join(f"'{value}'" for value in values)
        op.create_check_constraint(column, table, f"{column} IN ({listed})")


def downgrade() -> None:
    for table, column in reversed(list(_CHECKS)):
        op.drop_constraint(column, table, type_="check")
