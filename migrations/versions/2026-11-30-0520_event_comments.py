"""Events no longer carry an answer's comment: recorded answers keep only `has_comment`.

A comment is for the organizer (and its author) alone, while events go to the admin's feed
and to webhook endpoints anywhere; the text stays in participants and responses, whose
readers are checked. Pending deliveries are built from the event when claimed, so they
carry the scrubbed data too.

Revision ID: 4b8e12b5f8a1
Revises: 3f1b7c2d9e60
Create Date: 2026-11-30 05:20:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "4b8e12b5f8a1"
down_revision: str | None = "3f1b7c2d9e60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("""
        UPDATE events
        SET data = (data - 'comment')
            || jsonb_build_object('has_comment', coalesce(data->>'comment', '') <> '')
        WHERE type IN ('invitation.accepted', 'invitation.declined', 'invitation.tentative')
          AND data ? 'comment'
    """)


def downgrade() -> None:
    # The text is not copied back into events: that it left them is the point.
    op.execute("""
        UPDATE events SET data = data - 'has_comment'
        WHERE type IN ('invitation.accepted', 'invitation.declined', 'invitation.tentative')
          AND data ? 'has_comment'
    """)
