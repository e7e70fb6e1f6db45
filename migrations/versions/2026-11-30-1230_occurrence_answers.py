"""Answers to one occurrence of a series, and the occurrence a response was given to.

Revision ID: 3f6b1d8e2c47
Revises: c5d1e8a27f43
Create Date: 2026-11-30 12:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f6b1d8e2c47"
down_revision: str | None = "c5d1e8a27f43"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "occurrence_answers",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("occurrence_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("follow_up_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rescheduled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint(
            "status IN ('not_read', 'accepted', 'declined', 'tentative')",
            name=op.f("ck_occurrence_answers_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "participant_id"],
            ["participants.tenant_id", "participants.id"],
            name=op.f("fk_occurrence_answers_tenant_id_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "follow_up_id", "occurrence_start"],
            ["occurrences.tenant_id", "occurrences.follow_up_id", "occurrences.original_start"],
            name=op.f("fk_occurrence_answers_tenant_id_follow_up_id_occurrence_6322"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "participant_id", "occurrence_start", name=op.f("pk_occurrence_answers")
        ),
    )
    op.create_index(
        op.f("ix_occurrence_answers_tenant_id_follow_up_id_occurrence_start"),
        "occurrence_answers",
        ["tenant_id", "follow_up_id", "occurrence_start"],
    )
    op.add_column(
        "responses", sa.Column("occurrence_start", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("responses", "occurrence_start")
    op.drop_table("occurrence_answers")
