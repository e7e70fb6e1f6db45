"""Calendar feeds: secret subscription URLs of colleagues' diaries, stored hashed.

Revision ID: 7a3c9e1f4b28
Revises: 5e1f2a7c9d30
Create Date: 2026-11-30 07:45:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7a3c9e1f4b28"
down_revision: str | None = "5e1f2a7c9d30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_feeds",
        sa.Column("associate_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("past_days", sa.Integer(), nullable=False),
        sa.Column("future_days", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("content_hash", sa.LargeBinary(), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "future_days BETWEEN 1 AND 366", name=op.f("ck_calendar_feeds_future_days")
        ),
        sa.CheckConstraint("past_days BETWEEN 0 AND 366", name=op.f("ck_calendar_feeds_past_days")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "associate_id"],
            ["associates.tenant_id", "associates.id"],
            name=op.f("fk_calendar_feeds_tenant_id_associate_id_associates"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_calendar_feeds")),
    )
    op.create_index(
        op.f("ix_calendar_feeds_tenant_id_associate_id_id"),
        "calendar_feeds",
        ["tenant_id", "associate_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_calendar_feeds_tenant_id_associate_id_id"), table_name="calendar_feeds")
    op.drop_table("calendar_feeds")
