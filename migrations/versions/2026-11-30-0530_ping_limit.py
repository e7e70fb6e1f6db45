"""Webhook endpoints keep the state of their ping limit.

Revision ID: 5e1f2a7c9d30
Revises: 4b8e12b5f8a1
Create Date: 2026-11-30 05:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1f2a7c9d30"
down_revision: str | None = "4b8e12b5f8a1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable without a default: a catalog change only, no rewrite of the table.
    op.add_column(
        "webhook_endpoints",
        sa.Column("pings_refilled_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column("webhook_endpoints", "pings_refilled_at")
