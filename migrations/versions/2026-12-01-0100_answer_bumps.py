"""follow_ups.answer_bumps: how many of the seq's bumps were invitees' answers.

An answer that waited for the follow-up's row lock compares it with the seq: when every
change since its snapshot was another invitee's answer, it need not run again. A constant
default, so adding the column rewrites no rows.

Revision ID: 9d4a2c6e8f11
Revises: 5c1e9a7d3b20
Create Date: 2026-12-01 01:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9d4a2c6e8f11"
down_revision: str | None = "5c1e9a7d3b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the counter, 0 for every follow-up (the seq's bumps so far count as changes)."""
    op.add_column(
        "follow_ups",
        sa.Column("answer_bumps", sa.Integer(), server_default="0", nullable=False),
    )


def downgrade() -> None:
    """Drop the counter."""
    op.drop_column("follow_ups", "answer_bumps")
