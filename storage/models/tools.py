"""The agents' tools: canned replies and ticket tags."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.clock import utcnow
from storage.models.core import Base
from storage.types import Id

__all__ = ["CannedReply", "TicketTag"]


class CannedReply(Base):
    """A saved answer agents send with `/r name`; `{customer}`, `{agent}`, `{ticket}` filled in."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketTag(Base):
    """One tag of a ticket (lower-case `a-z 0-9 _ -`, up to 32 characters)."""

    __tablename__ = "ticket_tags"
    __table_args__ = (Index("ix_ticket_tags_tag", "tag"),)

    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(32), primary_key=True)
