"""The mail outbox: iMIP invitations written with the change they announce, sent by the worker."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, StrEnumText, TenantScoped, one_of
from app.models.states import DeliveryStatus


class ImipMethod(StrEnum):
    """The RFC 5546 method of an e-mailed invitation: ask (again), or call off.

    Kept here, not in `states.py`: it is the mail's own, never a value the API shows.
    """

    REQUEST = "REQUEST"
    CANCEL = "CANCEL"


class MailMessage(TenantScoped, Base):
    """One e-mail to one external person: the whole RFC 5322 message and its sending state."""

    __tablename__ = "mail_messages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "follow_up_id"],
            ["follow_ups.tenant_id", "follow_ups.id"],
            ondelete="CASCADE",
        ),
        one_of("status", DeliveryStatus),
        one_of("method", ImipMethod),
        # The worker's claim: due messages, oldest first, across tenants.
        Index(
            "ix_mail_messages_due", "next_attempt_at", postgresql_where=text("status = 'pending'")
        ),
        # The worker's search for leases that ran out.
        Index(
            "ix_mail_messages_leased", "lease_until", postgresql_where=text("status = 'delivering'")
        ),
        Index(None, "tenant_id", "follow_up_id", "id"),
        # The retention job's scan for settled messages past their age.
        Index(
            "ix_mail_messages_settled",
            "updated_at",
            postgresql_where=text("status IN ('succeeded', 'failed')"),
        ),
    )

    follow_up_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    person_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    recipient: Mapped[str] = mapped_column(String(320))
    method: Mapped[ImipMethod] = mapped_column(StrEnumText(ImipMethod))
    # The follow-up's seq when written: the calendar part's SEQUENCE.
    sequence: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[DeliveryStatus] = mapped_column(
        StrEnumText(DeliveryStatus), server_default=DeliveryStatus.PENDING.value
    )
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claim_token: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
