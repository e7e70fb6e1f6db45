"""Webhook subscriptions, the delivery queue fanned out from events, and each attempt's log."""

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    Boolean,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, StrEnumText, TenantScoped, one_of
from app.models.states import AttemptOutcome, DeliveryStatus, WebhookDisabledReason


class WebhookEndpoint(TenantScoped, Base):
    """A subscriber's URL, the event types it wants and the secrets that sign for it."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        Index(None, "tenant_id", "enabled"),
        # The retention job's list of deleted endpoints whose log it still has to purge.
        Index(
            "ix_webhook_endpoints_deleted",
            "deleted_at",
            postgresql_where=text("deleted_at IS NOT NULL"),
        ),
        one_of("disabled_reason", WebhookDisabledReason),
    )

    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(500))
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[WebhookDisabledReason | None] = mapped_column(
        StrEnumText(WebhookDisabledReason)
    )
    # Sealed (app/kit/keyring.py), bound to the tenant and the endpoint: never the plaintext.
    secret: Mapped[str] = mapped_column(Text)
    previous_secret: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set by the first failure after a success; five days of it disables the endpoint.
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Deleted by its admin: gone from the API at once; the retention job purges its log.
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The ping limit's state (GCRA's theoretical arrival time): when the endpoint has every ping
    # of a minute to spend again; each ping moves it a minute / the limit later.
    pings_refilled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookDelivery(Base):
    """One event owed to one endpoint: the queue row a dispatcher claims, retries and closes."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "event_id", "endpoint_id"),
        ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"],
            ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "event_id"], ["events.tenant_id", "events.id"], ondelete="CASCADE"
        ),
        one_of("status", DeliveryStatus),
        # The claim: due rows per endpoint, oldest first.
        Index(
            "ix_webhook_deliveries_due",
            "endpoint_id",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        # Order per follow-up, and the endpoint's in-flight count.
        Index(
            "ix_webhook_deliveries_open",
            "endpoint_id",
            "follow_up_id",
            "seq",
            postgresql_where=text("status IN ('pending', 'delivering')"),
        ),
        Index(
            "ix_webhook_deliveries_leased",
            "lease_until",
            postgresql_where=text("status = 'delivering'"),
        ),
        Index(None, "tenant_id", "endpoint_id", "created_at", "id"),
        # The retention job's scan for settled deliveries past their age.
        Index("ix_webhook_deliveries_created_at", "created_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, primary_key=True, server_default=func.gen_random_uuid()
    )
    endpoint_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    follow_up_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    seq: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[DeliveryStatus] = mapped_column(
        StrEnumText(DeliveryStatus), server_default=DeliveryStatus.PENDING.value
    )
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    # clock_timestamp(), not now(): the fan-out runs last in its transaction, so this is
    # within a statement of the commit, which commit-to-attempt latency is measured from.
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claim_token: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(SmallInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery: what came back, how long it took, what went wrong."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "delivery_id"],
            ["webhook_deliveries.tenant_id", "webhook_deliveries.id"],
            ondelete="CASCADE",
        ),
        Index(None, "tenant_id", "delivery_id", "attempt"),
        # The retention job's scan for attempts past their age.
        Index("ix_webhook_attempts_started_at", "started_at"),
        one_of("outcome", AttemptOutcome),
    )

    # The delivery's tenant, so that the log is keyed and distributed like everything else.
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, primary_key=True, server_default=func.gen_random_uuid()
    )
    delivery_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    attempt: Mapped[int] = mapped_column(SmallInteger)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    outcome: Mapped[AttemptOutcome] = mapped_column(StrEnumText(AttemptOutcome, 32))
    error: Mapped[str | None] = mapped_column(Text)
    response_body: Mapped[str | None] = mapped_column(Text)
