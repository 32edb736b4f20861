"""Models of the email work: what report-driven digests notified, which SLA breaches pinged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.clock import utcnow
from storage.models.core import Activity, Base
from storage.types import Id

__all__ = ["DigestNotice", "SlaPing"]


class DigestNotice(Base):
    """What a digest already told a customer about one ticket of a source (a report's system).

    A ticket reported Resolved/Closed again with the same date of last change is not mailed
    twice; a later change (reopened and solved again) is.
    """

    __tablename__ = "digest_notices"
    __table_args__ = (UniqueConstraint("source", "ticket_ref"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    ticket_ref: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime]
    notified_at: Mapped[datetime] = mapped_column(default=utcnow)
    period: Mapped[str] = mapped_column(String(64))


class SlaPing(Base):
    """One reminder to the assigned agent for one breach: a ticket waiting since `waiting_since`."""

    __tablename__ = "sla_pings"
    __table_args__ = (UniqueConstraint("ticket_id", "waiting_since"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigInteger)
    waiting_since: Mapped[datetime]
    agent_id: Mapped[int | None] = mapped_column(Id)
    pinged_at: Mapped[datetime] = mapped_column(default=utcnow)


# The weekly digest reads status activities by time, across tickets.
Index("ix_activities_performed_at", Activity.__table__.c.performed_at)
