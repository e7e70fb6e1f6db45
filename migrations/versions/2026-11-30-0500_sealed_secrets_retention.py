"""Webhook secrets sealed at rest; deleted endpoints wait for the retention job; its indexes.

The secret columns widen to text and every plaintext secret is sealed (AES-GCM, bound to its
tenant and endpoint) under the key the app would use: CONVENE_SECRET_KEYS and
CONVENE_SECRET_KEY_ID, else in development the key kept in the data dir. With plaintext rows
and no key to seal them (production without CONVENE_SECRET_KEYS) the migration fails and
changes nothing: no secret is ever left in the clear by it. An empty table needs no key.
The downgrade opens them again (it needs every key they were sealed under).

Revision ID: 5c1e7a93d2b4
Revises: db6338294f8a
Create Date: 2026-11-30 05:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from app.config import Settings
from app.kit.keyring import Keyring, is_sealed
from app.webhooks import sealed_secrets

revision: str = "5c1e7a93d2b4"
down_revision: str | None = "db6338294f8a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Every endpoint's secrets, locked until this migration commits.
ALL_SECRETS = sa.text(
    "SELECT tenant_id, id, secret, previous_secret FROM webhook_endpoints "
    "ORDER BY tenant_id, id FOR UPDATE"
)
# Writes one endpoint's secrets in their new form.
WRITE_SECRETS = sa.text(
    "UPDATE webhook_endpoints SET secret = :secret, previous_secret = :previous_secret "
    "WHERE tenant_id = :tenant_id AND id = :id"
)
# Endpoints deleted but not yet purged, removed with their logs before the column goes.
PURGE_DELETED = sa.text("DELETE FROM webhook_endpoints WHERE deleted_at IS NOT NULL")

# (index, table, column)
_TIME_INDEXES = (
    ("ix_events_created_at", "events", "created_at"),
    ("ix_notifications_created_at", "notifications", "created_at"),
    ("ix_webhook_deliveries_created_at", "webhook_deliveries", "created_at"),
    ("ix_webhook_attempts_started_at", "webhook_attempts", "started_at"),
)


def _keyring() -> Keyring:
    """The app's keys: the caller's settings (`convene migrate`), else the environment's."""
    settings = context.config.attributes.get("settings") or Settings()
    return settings.secret_keyring


def _rewrite(sealing: bool) -> None:
    connection = op.get_bind()
    rows = connection.execute(ALL_SECRETS).all()
    keyring: Keyring | None = None
    changed = []
    for row in rows:
        values = {}
        for column in ("secret", "previous_secret"):
            value = getattr(row, column)
            if value is not None and is_sealed(value) != sealing:
                keyring = keyring or _keyring()
                value = (
                    sealed_secrets.seal(keyring, row.tenant_id, row.id, value)
                    if sealing
                    else sealed_secrets.open_(keyring, row.tenant_id, row.id, value)
                )
            values[column] = value
        if (values["secret"], values["previous_secret"]) != (row.secret, row.previous_secret):
            changed.append({"tenant_id": row.tenant_id, "id": row.id, **values})
    if changed:
        connection.execute(WRITE_SECRETS, changed)


def upgrade() -> None:
    for column in ("secret", "previous_secret"):
        op.alter_column(
            "webhook_endpoints", column, type_=sa.Text(), existing_type=sa.String(length=100)
        )
    op.add_column(
        "webhook_endpoints", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_webhook_endpoints_deleted",
        "webhook_endpoints",
        ["deleted_at"],
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
    )
    for name, table, column in _TIME_INDEXES:
        op.create_index(name, table, [column])
    _rewrite(sealing=True)


def downgrade() -> None:
    _rewrite(sealing=False)
    for name, table, _ in _TIME_INDEXES:
        op.drop_index(name, table_name=table)
    op.execute(PURGE_DELETED)
    op.drop_index("ix_webhook_endpoints_deleted", table_name="webhook_endpoints")
    op.drop_column("webhook_endpoints", "deleted_at")
    for column in ("secret", "previous_secret"):
        op.alter_column(
            "webhook_endpoints", column, type_=sa.String(length=100), existing_type=sa.Text()
        )
