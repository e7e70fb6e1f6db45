"""Bookings: busy time per calendar, GiST-indexed, strict resources never overlap.

Revision ID: 1dba6817cf82
Revises: ebc74743dd86
Create Date: 2026-11-25 20:34:47.101742+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "1dba6817cf82"
down_revision: str | None = "ebc74743dd86"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bookings",
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("follow_up_id", sa.Uuid(), nullable=False),
        sa.Column("calendar_kind", sa.String(length=16), nullable=False),
        sa.Column("calendar_id", sa.Uuid(), nullable=False),
        sa.Column("during", postgresql.TSTZRANGE(), nullable=False),
        sa.Column("tentative", sa.Boolean(), nullable=False),
        sa.Column("strict", sa.Boolean(), nullable=False),
        postgresql.ExcludeConstraint(
            (sa.column("tenant_id"), "="),
            (sa.column("calendar_id"), "="),
            (sa.column("during"), "&&"),
            where=sa.text("strict"),
            using="gist",
            name="ex_bookings_strict_no_overlap",
        ),
        sa.CheckConstraint(
            "calendar_kind IN ('associate', 'resource')", name=op.f("ck_bookings_calendar_kind")
        ),
        sa.ForeignKeyConstraint(
            ["participant_id"],
            ["participants.id"],
            name=op.f("fk_bookings_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "follow_up_id"],
            ["follow_ups.tenant_id", "follow_ups.id"],
            name=op.f("fk_bookings_tenant_id_follow_up_id_follow_ups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_bookings")),
    )
    op.create_index(
        "ix_bookings_calendar_during",
        "bookings",
        ["tenant_id", "calendar_id", "during"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_index(op.f("ix_bookings_follow_up_id"), "bookings", ["follow_up_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_bookings_follow_up_id"), table_name="bookings")
    op.drop_index("ix_bookings_calendar_during", table_name="bookings", postgresql_using="gist")
    op.drop_table("bookings")
