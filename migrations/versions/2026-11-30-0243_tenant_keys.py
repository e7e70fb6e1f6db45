"""Every key includes tenant_id: primary keys (tenant_id, id), tenant-first uniques, composite FKs.

Ready for distributing every table by tenant_id (Citus): primary keys become (tenant_id, id)
(bookings: (tenant_id, participant_id)), which makes the UNIQUE (tenant_id, id) keys redundant;
the unique constraints and foreign keys that lacked tenant_id gain it; webhook_attempts gets the
tenant_id of its delivery. Ids stay globally unique, so no row changes but the attempts'.

Revision ID: db6338294f8a
Revises: 7d3c0e2a9b41
Create Date: 2026-11-30 02:43:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "db6338294f8a"
down_revision: str | None = "7d3c0e2a9b41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Tables whose primary key goes from (id) to (tenant_id, id).
_ID_KEYED = (
    "associates",
    "contacts",
    "resources",
    "persons",
    "events",
    "notifications",
    "follow_ups",
    "participants",
    "responses",
    "webhook_endpoints",
    "webhook_deliveries",
    "webhook_attempts",
)
# Their UNIQUE (tenant_id, id), which foreign keys referred to: the primary key takes its place.
_TENANT_ID_UNIQUE = (
    "associates",
    "contacts",
    "resources",
    "persons",
    "follow_ups",
    "participants",
    "webhook_endpoints",
)
# Unique constraints that gain tenant_id first: (table, columns before).
_UNIQUES = (
    ("participants", ("follow_up_id", "associate_id")),
    ("participants", ("follow_up_id", "resource_id")),
    ("participants", ("follow_up_id", "person_id")),
    ("webhook_deliveries", ("event_id", "endpoint_id")),
)

# A foreign key: (table, columns, referred table, referred columns, ON DELETE).
_ForeignKey = tuple[str, tuple[str, ...], str, tuple[str, ...], str | None]
_TENANT_ID = ("tenant_id", "id")
# Those already composite: dropped (they refer to the unique keys above) and made again as they
# were, now referring to the primary keys.
_COMPOSITE: tuple[_ForeignKey, ...] = (
    ("persons", ("tenant_id", "contact_id"), "contacts", _TENANT_ID, "RESTRICT"),
    ("follow_ups", ("tenant_id", "contact_id"), "contacts", _TENANT_ID, None),
    ("follow_ups", ("tenant_id", "owner_id"), "associates", _TENANT_ID, None),
    ("participants", ("tenant_id", "associate_id"), "associates", _TENANT_ID, None),
    ("participants", ("tenant_id", "follow_up_id"), "follow_ups", _TENANT_ID, "CASCADE"),
    ("participants", ("tenant_id", "person_id"), "persons", _TENANT_ID, None),
    ("participants", ("tenant_id", "resource_id"), "resources", _TENANT_ID, None),
    ("responses", ("tenant_id", "follow_up_id"), "follow_ups", _TENANT_ID, "CASCADE"),
    ("bookings", ("tenant_id", "follow_up_id"), "follow_ups", _TENANT_ID, "CASCADE"),
    (
        "webhook_deliveries",
        ("tenant_id", "endpoint_id"),
        "webhook_endpoints",
        _TENANT_ID,
        "CASCADE",
    ),
)
# Those on the id alone, before and after. A removed participant's responses keep their
# tenant_id: SET NULL clears participant_id only (PostgreSQL 15+).
_SINGLE: tuple[_ForeignKey, ...] = (
    ("responses", ("participant_id",), "participants", ("id",), "SET NULL"),
    ("bookings", ("participant_id",), "participants", ("id",), "CASCADE"),
    ("webhook_deliveries", ("event_id",), "events", ("id",), "CASCADE"),
    ("webhook_attempts", ("delivery_id",), "webhook_deliveries", ("id",), "CASCADE"),
)
_WITH_TENANT: tuple[_ForeignKey, ...] = (
    (
        "responses",
        ("tenant_id", "participant_id"),
        "participants",
        _TENANT_ID,
        "SET NULL (participant_id)",
    ),
    ("bookings", ("tenant_id", "participant_id"), "participants", _TENANT_ID, "CASCADE"),
    ("webhook_deliveries", ("tenant_id", "event_id"), "events", _TENANT_ID, "CASCADE"),
    (
        "webhook_attempts",
        ("tenant_id", "delivery_id"),
        "webhook_deliveries",
        _TENANT_ID,
        "CASCADE",
    ),
)


def _fk_name(fk: _ForeignKey) -> str:
    table, columns, referred, _, _ = fk
    return f"fk_{table}_{'_'.join(columns)}_{referred}"


def _create_foreign_keys(fks: Sequence[_ForeignKey]) -> None:
    for fk in fks:
        table, columns, referred, referred_columns, ondelete = fk
        op.create_foreign_key(
            op.f(_fk_name(fk)),
            table,
            referred,
            list(columns),
            list(referred_columns),
            ondelete=ondelete,
        )


def _drop_foreign_keys(fks: Sequence[_ForeignKey]) -> None:
    for fk in fks:
        op.drop_constraint(op.f(_fk_name(fk)), fk[0], type_="foreignkey")


def _set_primary_keys(with_tenant: bool) -> None:
    lead = ["tenant_id"] if with_tenant else []
    for table in _ID_KEYED:
        op.drop_constraint(op.f(f"pk_{table}"), table, type_="primary")
        op.create_primary_key(op.f(f"pk_{table}"), table, [*lead, "id"])
    op.drop_constraint(op.f("pk_bookings"), "bookings", type_="primary")
    op.create_primary_key(op.f("pk_bookings"), "bookings", [*lead, "participant_id"])


def upgrade() -> None:
    op.add_column("webhook_attempts", sa.Column("tenant_id", sa.Uuid(), nullable=True))
    op.execute(
        "UPDATE webhook_attempts a SET tenant_id = d.tenant_id "
        "FROM webhook_deliveries d WHERE d.id = a.delivery_id"
    )
    op.alter_column("webhook_attempts", "tenant_id", nullable=False)

    _drop_foreign_keys([*_COMPOSITE, *_SINGLE])
    _set_primary_keys(with_tenant=True)
    for table in _TENANT_ID_UNIQUE:
        op.drop_constraint(op.f(f"uq_{table}_tenant_id_id"), table, type_="unique")
    for table, columns in _UNIQUES:
        op.drop_constraint(op.f(f"uq_{table}_{'_'.join(columns)}"), table, type_="unique")
        op.create_unique_constraint(
            op.f(f"uq_{table}_tenant_id_{'_'.join(columns)}"), table, ["tenant_id", *columns]
        )
    # The primary key is this index now.
    op.drop_index(op.f("ix_events_tenant_id_id"), table_name="events")
    op.drop_index(op.f("ix_webhook_attempts_delivery_id_attempt"), table_name="webhook_attempts")
    op.create_index(
        op.f("ix_webhook_attempts_tenant_id_delivery_id_attempt"),
        "webhook_attempts",
        ["tenant_id", "delivery_id", "attempt"],
        unique=False,
    )
    _create_foreign_keys([*_COMPOSITE, *_WITH_TENANT])


def downgrade() -> None:
    _drop_foreign_keys([*_COMPOSITE, *_WITH_TENANT])
    op.drop_index(
        op.f("ix_webhook_attempts_tenant_id_delivery_id_attempt"), table_name="webhook_attempts"
    )
    op.create_index(
        op.f("ix_webhook_attempts_delivery_id_attempt"),
        "webhook_attempts",
        ["delivery_id", "attempt"],
        unique=False,
    )
    op.create_index(op.f("ix_events_tenant_id_id"), "events", ["tenant_id", "id"], unique=False)
    for table, columns in _UNIQUES:
        op.drop_constraint(op.f(f"uq_{table}_tenant_id_{'_'.join(columns)}"), table, type_="unique")
        op.create_unique_constraint(op.f(f"uq_{table}_{'_'.join(columns)}"), table, list(columns))
    for table in _TENANT_ID_UNIQUE:
        op.create_unique_constraint(op.f(f"uq_{table}_tenant_id_id"), table, ["tenant_id", "id"])
    _set_primary_keys(with_tenant=False)
    _create_foreign_keys([*_COMPOSITE, *_SINGLE])
    op.drop_column("webhook_attempts", "tenant_id")
