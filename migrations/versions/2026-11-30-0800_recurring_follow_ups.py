"""Recurring follow-ups: a series' rule, its occurrences, and one booking per occurrence.

Bookings are keyed by occurrence as well as participant (a single follow-up's booking by its
start), so a series blocks each occurrence's time with a row of its own.

Revision ID: 7a3c9e21b6d4
Revises: 7a3c9e1f4b28
Create Date: 2026-11-30 08:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "7a3c9e21b6d4"
down_revision: str | None = "7a3c9e1f4b28"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The event types, frozen as they are with this revision (occurrences' events added).
_EVENT_TYPES = (
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
)
_OCCURRENCE_EVENTS = ("occurrence.rescheduled", "occurrence.cancelled")


def _check_event_types(types: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_events_type"), "events", type_="check")
    listed = ", ".join(f"'{value}'" for value in types)
    op.create_check_constraint(op.f("ck_events_type"), "events", f"type IN ({listed})")


def upgrade() -> None:
    _check_event_types((*_EVENT_TYPES, *_OCCURRENCE_EVENTS, "webhook.ping"))
    op.add_column("follow_ups", sa.Column("recurrence_rule", sa.String(500), nullable=True))
    op.add_column(
        "follow_ups", sa.Column("booked_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        op.f("ix_follow_ups_booked_until"),
        "follow_ups",
        ["booked_until"],
        postgresql_where=sa.text("booked_until IS NOT NULL"),
    )
    op.create_table(
        "occurrences",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("follow_up_id", sa.Uuid(), nullable=False),
        sa.Column("original_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "during",
            postgresql.TSTZRANGE(),
            sa.Computed("tstzrange(start_at, end_at, '[)')", persisted=True),
            nullable=False,
        ),
        sa.Column("overridden", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_occurrences_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "follow_up_id"],
            ["follow_ups.tenant_id", "follow_ups.id"],
            name=op.f("fk_occurrences_tenant_id_follow_up_id_follow_ups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "follow_up_id", "original_start", name=op.f("pk_occurrences")
        ),
    )
    op.create_index(
        op.f("ix_occurrences_tenant_id_follow_up_id_start_at"),
        "occurrences",
        ["tenant_id", "follow_up_id", "start_at"],
    )
    # Every booking so far is a single follow-up's: keyed by its start.
    op.add_column(
        "bookings", sa.Column("occurrence_start", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute("UPDATE bookings SET occurrence_start = lower(during)")
    op.alter_column("bookings", "occurrence_start", nullable=False)
    op.drop_constraint(op.f("pk_bookings"), "bookings", type_="primary")
    op.create_primary_key(
        op.f("pk_bookings"), "bookings", ["tenant_id", "participant_id", "occurrence_start"]
    )


def downgrade() -> None:
    op.execute(
        sa.text("DELETE FROM events WHERE type = ANY(:types)").bindparams(
            types=list(_OCCURRENCE_EVENTS)
        )
    )
    _check_event_types((*_EVENT_TYPES, "webhook.ping"))
    # A series keeps only its first occurrence's booking per participant.
    op.execute("""
        DELETE FROM bookings b
        USING follow_ups f
        WHERE f.tenant_id = b.tenant_id AND f.id = b.follow_up_id
          AND b.occurrence_start <> f.start_at
    """)
    op.drop_constraint(op.f("pk_bookings"), "bookings", type_="primary")
    op.create_primary_key(op.f("pk_bookings"), "bookings", ["tenant_id", "participant_id"])
    op.drop_column("bookings", "occurrence_start")
    op.drop_table("occurrences")
    op.drop_index(op.f("ix_follow_ups_booked_until"), table_name="follow_ups")
    op.drop_column("follow_ups", "booked_until")
    op.drop_column("follow_ups", "recurrence_rule")
