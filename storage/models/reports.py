"""Models of the reports work: one summary row per ticket, and a log of activity imports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.clock import utcnow
from storage.models.core import Base
from storage.types import Id

__all__ = ["ActivityImport", "TicketSummary"]


class TicketSummary(Base):
    """A ticket's metrics so far (metrics.md), kept up to date as its activities are written.

    Durations are in microseconds and cover finished status intervals only; the report adds the
    unfinished one (`status` since `status_since`) at its as-of time. Event times are absolute.
    """

    __tablename__ = "ticket_summaries"

    source: Mapped[str] = mapped_column(String(16), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    created_at: Mapped[datetime]
    last_at: Mapped[datetime]
    activity_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str | None] = mapped_column(String(64))
    status_since: Mapped[datetime | None]
    open_us: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_us: Mapped[int] = mapped_column(BigInteger, default=0)
    waiting_customer_us: Mapped[int] = mapped_column(BigInteger, default=0)
    waiting_third_party_us: Mapped[int] = mapped_column(BigInteger, default=0)
    first_response_at: Mapped[datetime | None]
    first_resolution_at: Mapped[datetime | None]
    full_resolution_at: Mapped[datetime | None]
    reopens: Mapped[int] = mapped_column(Integer, default=0)
    priority: Mapped[int | None] = mapped_column(Integer)
    agent_id: Mapped[int | None] = mapped_column(BigInteger)
    requester: Mapped[int | None] = mapped_column(BigInteger)
    rating: Mapped[int | None] = mapped_column(Integer)
    end_at: Mapped[datetime | None]


class ActivityImport(Base):
    """One run of `import-activities`: the file, its metadata and what it added."""

    __tablename__ = "activity_imports"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(Text)
    start_at: Mapped[datetime | None]
    end_at: Mapped[datetime | None]
    records: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    tickets: Mapped[int] = mapped_column(Integer, default=0)
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
