"""One occurrence with other participants: occurrence-only participants, and exclusions.

A participant with `only_occurrence` takes part in that occurrence of its series alone (its
foreign key to the occurrence carries it along a split and drops it with the occurrence);
`occurrence_exclusions` holds the series participants taken off single occurrences.

Revision ID: 8b2e4f6a1d93
Revises: 3f6b1d8e2c47
Create Date: 2026-11-30 14:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8b2e4f6a1d93"
down_revision: str | None = "3f6b1d8e2c47"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "participants", sa.Column("only_occurrence", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_foreign_key(
        op.f("fk_participants_tenant_id_follow_up_id_only_occurrence__fe23"),
        "participants",
        "occurrences",
        ["tenant_id", "follow_up_id", "only_occurrence"],
        ["tenant_id", "follow_up_id", "original_start"],
        onupdate="CASCADE",
        ondelete="CASCADE",
    )
    op.create_index(
        op.f("ix_participants_tenant_id_follow_up_id_only_occurrence"),
        "participants",
        ["tenant_id", "follow_up_id", "only_occurrence"],
        postgresql_where=sa.text("only_occurrence IS NOT NULL"),
    )
    op.create_table(
        "occurrence_exclusions",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("participant_id", sa.Uuid(), nullable=False),
        sa.Column("occurrence_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("follow_up_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "participant_id"],
            ["participants.tenant_id", "participants.id"],
            name=op.f("fk_occurrence_exclusions_tenant_id_participant_id_participants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "follow_up_id", "occurrence_start"],
            ["occurrences.tenant_id", "occurrences.follow_up_id", "occurrences.original_start"],
            name=op.f("fk_occurrence_exclusions_tenant_id_follow_up_id_occurre_df25"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "participant_id", "occurrence_start", name=op.f("pk_occurrence_exclusions")
        ),
    )
    op.create_index(
        op.f("ix_occurrence_exclusions_tenant_id_follow_up_id_occurrence_start"),
        "occurrence_exclusions",
        ["tenant_id", "follow_up_id", "occurrence_start"],
    )


def downgrade() -> None:
    op.drop_table("occurrence_exclusions")
    op.drop_index(
        op.f("ix_participants_tenant_id_follow_up_id_only_occurrence"), table_name="participants"
    )
    op.drop_constraint(
        op.f("fk_participants_tenant_id_follow_up_id_only_occurrence__fe23"),
        "participants",
        type_="foreignkey",
    )
    op.drop_column("participants", "only_occurrence")
