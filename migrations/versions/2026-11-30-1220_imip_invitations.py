"""E-mailed invitations (iMIP): the mail outbox, a person's `invited` status, their replies.

A response is now a colleague's answer or an external person's e-mailed reply.

Revision ID: c5d1e8a27f43
Revises: 5e1d7c3a9f20
Create Date: 2026-11-30 12:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c5d1e8a27f43"
down_revision: str | None = "5e1d7c3a9f20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The participant statuses, frozen as they are before this revision.
_STATUSES = ("not_read", "seen", "accepted", "declined", "tentative", "not_applicable")


def _check_statuses(table: str, column: str, statuses: Sequence[str]) -> None:
    name = op.f(f"ck_{table}_{column}")
    op.drop_constraint(name, table, type_="check")
    listed = ", ".join(f"'{value}'" for value in statuses)
    op.create_check_constraint(name, table, f"{column} IN ({listed})")


def upgrade() -> None:
    _check_statuses("participants", "status", (*_STATUSES, "invited"))
    _check_statuses("responses", "previous_status", (*_STATUSES, "invited"))
    op.alter_column("responses", "associate_id", existing_type=sa.Uuid(), nullable=True)
    op.add_column("responses", sa.Column("person_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_responses_tenant_id_person_id_persons"),
        "responses",
        "persons",
        ["tenant_id", "person_id"],
        ["tenant_id", "id"],
    )
    op.create_check_constraint(
        op.f("ck_responses_one_respondent"),
        "responses",
        "num_nonnulls(associate_id, person_id) = 1",
    )
    op.create_table(
        "mail_messages",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("follow_up_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.clock_timestamp(),
            nullable=False,
        ),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.Uuid(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'delivering', 'succeeded', 'failed')",
            name=op.f("ck_mail_messages_status"),
        ),
        sa.CheckConstraint("method IN ('REQUEST', 'CANCEL')", name=op.f("ck_mail_messages_method")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "follow_up_id"],
            ["follow_ups.tenant_id", "follow_ups.id"],
            name=op.f("fk_mail_messages_tenant_id_follow_up_id_follow_ups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_mail_messages")),
    )
    op.create_index(
        "ix_mail_messages_due",
        "mail_messages",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_mail_messages_leased",
        "mail_messages",
        ["lease_until"],
        postgresql_where=sa.text("status = 'delivering'"),
    )
    op.create_index(
        "ix_mail_messages_settled",
        "mail_messages",
        ["updated_at"],
        postgresql_where=sa.text("status IN ('succeeded', 'failed')"),
    )
    op.create_index(
        op.f("ix_mail_messages_tenant_id_follow_up_id_id"),
        "mail_messages",
        ["tenant_id", "follow_up_id", "id"],
    )


def downgrade() -> None:
    op.drop_table("mail_messages")
    op.execute("DELETE FROM responses WHERE person_id IS NOT NULL")
    op.drop_constraint(op.f("ck_responses_one_respondent"), "responses", type_="check")
    op.drop_constraint(
        op.f("fk_responses_tenant_id_person_id_persons"), "responses", type_="foreignkey"
    )
    op.drop_column("responses", "person_id")
    op.alter_column("responses", "associate_id", existing_type=sa.Uuid(), nullable=False)
    op.execute("UPDATE participants SET status = 'not_applicable' WHERE status = 'invited'")
    op.execute(
        "UPDATE responses SET previous_status = 'not_applicable' WHERE previous_status = 'invited'"
    )
    _check_statuses("responses", "previous_status", _STATUSES)
    _check_statuses("participants", "status", _STATUSES)
