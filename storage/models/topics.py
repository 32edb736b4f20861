"""Forum topics of tickets: one per ticket and chat (an agent's, the customer's, the team's)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.clock import utcnow
from storage.models.core import Base
from storage.types import Id

__all__ = ["TicketTopic"]


class TicketTopic(Base):
    """A ticket's topic in one chat. `thread_id` is None while none is open there (not yet
    created, deleted by the user, or refused by Telegram): the next message opens a new one."""

    __tablename__ = "ticket_topics"
    __table_args__ = (
        UniqueConstraint("ticket_id", "chat_id"),
        Index("ix_ticket_topics_thread", "chat_id", "thread_id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(128))  # as last set in Telegram
    closed: Mapped[bool] = mapped_column(default=False)  # closed in a forum supergroup
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
