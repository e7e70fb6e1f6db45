"""Directory: associates, resources, contacts, persons; btree_gist for the availability indexes.

Revision ID: c720543bced2
Revises:
Create Date: 2026-11-25 19:40:01.525017+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "c720543bced2"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "associates",
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("working_hours", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_associates")),
        sa.UniqueConstraint(
            "tenant_id", "external_id", name=op.f("uq_associates_tenant_id_external_id")
        ),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_associates_tenant_id_id")),
    )
    op.create_table(
        "contacts",
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint(
            "tenant_id", "external_id", name=op.f("uq_contacts_tenant_id_external_id")
        ),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_contacts_tenant_id_id")),
    )
    op.create_table(
        "resources",
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column(
            "allow_double_booking", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
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
        sa.CheckConstraint("kind IN ('room', 'equipment')", name=op.f("ck_resources_kind")),
        sa.CheckConstraint(
            "capacity IS NULL OR capacity > 0", name=op.f("ck_resources_capacity_positive")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resources")),
        sa.UniqueConstraint(
            "tenant_id", "external_id", name=op.f("uq_resources_tenant_id_external_id")
        ),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_resources_tenant_id_id")),
    )
    op.create_table(
        "persons",
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
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
            ["tenant_id", "contact_id"],
            ["contacts.tenant_id", "contacts.id"],
            name=op.f("fk_persons_tenant_id_contact_id_contacts"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint(
            "tenant_id", "external_id", name=op.f("uq_persons_tenant_id_external_id")
        ),
        sa.UniqueConstraint("tenant_id", "id", name=op.f("uq_persons_tenant_id_id")),
    )
    op.create_index(
        op.f("ix_persons_tenant_id_contact_id_id"),
        "persons",
        ["tenant_id", "contact_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_persons_tenant_id_contact_id_id"), table_name="persons")
    op.drop_table("persons")
    op.drop_table("resources")
    op.drop_table("contacts")
    op.drop_table("associates")
    op.execute("DROP EXTENSION IF EXISTS btree_gist")
