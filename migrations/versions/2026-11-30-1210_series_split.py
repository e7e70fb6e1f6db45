"""Series split ("this and following"), and the series job's report of a taken strict room.

A follow-up split off a series names it in `split_from`; two event types (`follow_up.split`,
`occurrence.resource_taken`) and one notification kind (`resource_taken`) join the checks.

Revision ID: 5e1d7c3a9f20
Revises: 7a3c9e21b6d4
Create Date: 2026-11-30 12:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e1d7c3a9f20"
down_revision: str | None = "7a3c9e21b6d4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The value sets, frozen as they are with the revision before this one.
_EVENT_TYPES = (
    "invitation.accepted",
    "invitation.declined",
    "invitation.tentative",
    "invitation.seen",
    "invitation.acknowledged",
    "follow_up.created",
    "follow_up.updated",
    "follow_up.rescheduled",
    "follow_up.cancelled",
    "follow_up.assigned",
    "participant.added",
    "participant.removed",
    "occurrence.rescheduled",
    "occurrence.cancelled",
    "webhook.ping",
)
_NEW_EVENT_TYPES = ("follow_up.split", "occurrence.resource_taken")
_NOTIFICATION_KINDS = ("invited", "rescheduled", "cancelled", "responded", "assigned", "removed")
_NEW_NOTIFICATION_KINDS = ("resource_taken",)


def _check(table: str, column: str, values: Sequence[str]) -> None:
    op.drop_constraint(op.f(f"ck_{table}_{column}"), table, type_="check")
    listed = ", ".join(f"'{value}'" for value in values)
    op.create_check_constraint(op.f(f"ck_{table}_{column}"), table, f"{column} IN ({listed})")


def upgrade() -> None:
    _check("events", "type", (*_EVENT_TYPES, *_NEW_EVENT_TYPES))
    _check("notifications", "kind", (*_NOTIFICATION_KINDS, *_NEW_NOTIFICATION_KINDS))
    op.add_column("follow_ups", sa.Column("split_from", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_follow_ups_tenant_id_split_from_follow_ups"),
        "follow_ups",
        "follow_ups",
        ["tenant_id", "split_from"],
        ["tenant_id", "id"],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("fk_follow_ups_tenant_id_split_from_follow_ups"), "follow_ups", type_="foreignkey"
    )
    op.drop_column("follow_ups", "split_from")
    op.execute(
        sa.text("DELETE FROM notifications WHERE kind = ANY(:kinds)").bindparams(
            kinds=list(_NEW_NOTIFICATION_KINDS)
        )
    )
    _check("notifications", "kind", _NOTIFICATION_KINDS)
    op.execute(
        sa.text("DELETE FROM events WHERE type = ANY(:types)").bindparams(
            types=list(_NEW_EVENT_TYPES)
        )
    )
    _check("events", "type", _EVENT_TYPES)
