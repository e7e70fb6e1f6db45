"""Follow-ups, participants (invitations), response history, notifications and events.

Revision ID: ebc74743dd86
Revises: c720543bced2
Create Date: 2026-11-25 20:03:27.442577+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "ebc74743dd86"
down_revision: str | None = "c720543bced2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("follow_up_id", sa.Uuid(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(
        op.f("ix_events_tenant_id_follow_up_id_seq"),
        "events",
        ["tenant_id", "follow_up_id", "seq"],
        unique=False,
    )
    op.create_index(op.f("ix_events_tenant_id_id"), "events", ["tenant_id", "id"], unique=False)
    op.create_table(
        "notifications",
        sa.Column("associate_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("follow_up_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=True),
        sa.Column("actor_id", sa.String(length=200), nullable=True),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    op.create_index(
        op.f("ix_notifications_tenant_id_associate_id_id"),
        "notifications",
        ["tenant_id", "associate_id", "id"],
        unique=False,
    )
    op.create_index(
        "ix_notifications_unread",
        "notifications",
        ["tenant_id", "associate_id", "id"],
        unique=False,
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.create_table(
        "follow_ups",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("location", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="scheduled", nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "during",
            postgresql.TSTZRANGE(),
            sa.Computed("tstzrange(start_at, end_at, '[)')", persisted=True),
            nullable=False,
        ),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("all_day", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("cancel_reason", sa.String(length=1000), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seq", sa.Integer(), server_default="0", nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('meeting', 'appointment', 'call', 'task')", name=op.f("ck_follow_ups_kind")
        ),
        sa.CheckConstraint(
            "status IN ('scheduled', 'cancelled')", name=op.f("ck_follow_ups_status")
        ),
        sa.CheckConstraint("end_at > start_at", name=op.f("ck_follow_ups_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "contact_id"],
            ["contacts.tenant_id", "contacts.id"],
            name=op.f("fk_follow_ups_tenant_id_contact_id_contacts"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "owner_id"],
            ["associates.tenant_id", "associates.id"],
            name=op.f("fk_follow_ups_tenant_id_owner_id_associates"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_follow_ups_tenant_id_id")),
    )
    op.create_index(
        op.f("ix_follow_ups_tenant_id_contact_id"),
        "follow_ups",
        ["tenant_id", "contact_id"],
        unique=False,
        postgresql_where=sa.text("contact_id IS NOT NULL"),
    )
    op.create_index(
        "ix_follow_ups_tenant_id_owner_id_during",
        "follow_ups",
        ["tenant_id", "owner_id", "during"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_table(
        "participants",
        sa.Column("follow_up_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("associate_id", sa.Uuid(), nullable=True),
        sa.Column("resource_id", sa.Uuid(), nullable=True),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rescheduled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(kind = 'associate') = (associate_id IS NOT NULL) AND "
            "(kind = 'resource') = (resource_id IS NOT NULL) AND "
            "(kind = 'person') = (person_id IS NOT NULL)",
            name=op.f("ck_participants_kind_matches_target"),
        ),
        sa.CheckConstraint(
            "role IN ('organizer', 'required', 'optional')", name=op.f("ck_participants_role")
        ),
        sa.CheckConstraint(
            "status IN ('not_read', 'seen', 'accepted', 'declined', 'tentative', 'not_applicable')",
            name=op.f("ck_participants_status"),
        ),
        sa.CheckConstraint(
            "num_nonnulls(associate_id, resource_id, person_id) = 1",
            name=op.f("ck_participants_exactly_one_target"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "associate_id"],
            ["associates.tenant_id", "associates.id"],
            name=op.f("fk_participants_tenant_id_associate_id_associates"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "follow_up_id"],
            ["follow_ups.tenant_id", "follow_ups.id"],
            name=op.f("fk_participants_tenant_id_follow_up_id_follow_ups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "person_id"],
            ["persons.tenant_id", "persons.id"],
            name=op.f("fk_participants_tenant_id_person_id_persons"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "resource_id"],
            ["resources.tenant_id", "resources.id"],
            name=op.f("fk_participants_tenant_id_resource_id_resources"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participants")),
        sa.UniqueConstraint(
            "follow_up_id", "associate_id", name=op.f("uq_participants_follow_up_id_associate_id")
        ),
        sa.UniqueConstraint(
            "follow_up_id", "person_id", name=op.f("uq_participants_follow_up_id_person_id")
        ),
        sa.UniqueConstraint(
            "follow_up_id", "resource_id", name=op.f("uq_participants_follow_up_id_resource_id")
        ),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_participants_tenant_id_id")),
    )
    op.create_index(
        op.f("ix_participants_tenant_id_associate_id_id"),
        "participants",
        ["tenant_id", "associate_id", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_participants_tenant_id_person_id"),
        "participants",
        ["tenant_id", "person_id"],
        unique=False,
        postgresql_where=sa.text("person_id IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_participants_tenant_id_resource_id"),
        "participants",
        ["tenant_id", "resource_id"],
        unique=False,
        postgresql_where=sa.text("resource_id IS NOT NULL"),
    )
    op.create_table(
        "responses",
        sa.Column("follow_up_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=True),
        sa.Column("associate_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("previous_status", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_responses_participant_id_participants"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "follow_up_id"],
            ["follow_ups.tenant_id", "follow_ups.id"],
            name=op.f("fk_responses_tenant_id_follow_up_id_follow_ups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
    )
    op.create_index(
        op.f("ix_responses_tenant_id_follow_up_id_id"),
        "responses",
        ["tenant_id", "follow_up_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_responses_tenant_id_follow_up_id_id"), table_name="responses")
    op.drop_table("responses")
    op.drop_index(
        op.f("ix_participants_tenant_id_resource_id"),
        table_name="participants",
        postgresql_where=sa.text("resource_id IS NOT NULL"),
    )
    op.drop_index(
        op.f("ix_participants_tenant_id_person_id"),
        table_name="participants",
        postgresql_where=sa.text("person_id IS NOT NULL"),
    )
    op.drop_index(op.f("ix_participants_tenant_id_associate_id_id"), table_name="participants")
    op.drop_table("participants")
    op.drop_index(
        "ix_follow_ups_tenant_id_owner_id_during", table_name="follow_ups", postgresql_using="gist"
    )
    op.drop_index(
        op.f("ix_follow_ups_tenant_id_contact_id"),
        table_name="follow_ups",
        postgresql_where=sa.text("contact_id IS NOT NULL"),
    )
    op.drop_table("follow_ups")
    op.drop_index(
        "ix_notifications_unread",
        table_name="notifications",
        postgresql_where=sa.text("read_at IS NULL"),
    )
    op.drop_index(op.f("ix_notifications_tenant_id_associate_id_id"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(op.f("ix_events_tenant_id_id"), table_name="events")
    op.drop_index(op.f("ix_events_tenant_id_follow_up_id_seq"), table_name="events")
    op.drop_table("events")
