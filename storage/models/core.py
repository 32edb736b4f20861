"""The core schema: people, tickets, messages, deliveries, history, jobs, dialogues."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.clock import utcnow
from storage.types import Id, Timestamp

__all__ = [
    "Activity",
    "AgentInvite",
    "Base",
    "ChatMessageRef",
    "CodeMail",
    "Delivery",
    "Dialogue",
    "EmailCode",
    "EmailOutbox",
    "Feedback",
    "JobRun",
    "Message",
    "Priority",
    "Role",
    "Status",
    "Ticket",
    "User",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: Timestamp, dict[str, Any]: JSON}


class Role(enum.StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    ADMIN = "admin"


class Status(enum.StrEnum):
    """Freshdesk's ticket statuses; the value is the name Freshdesk exports."""

    OPEN = "Open"
    PENDING = "Pending"
    WAITING_CUSTOMER = "Waiting for Customer"
    WAITING_THIRD_PARTY = "Waiting for Third Party"
    RESOLVED = "Resolved"
    CLOSED = "Closed"

    @property
    def is_solved(self) -> bool:
        return self in (Status.RESOLVED, Status.CLOSED)


class Priority(enum.IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    URGENT = 4


class User(Base):
    """Anyone who has written to the bot; personal fields are erased on /deleteme."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default=Role.CUSTOMER)
    name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    email_verified_at: Mapped[datetime | None]
    phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_active_at: Mapped[datetime | None]
    registered_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    blocked_at: Mapped[datetime | None]
    # /ban: their messages are no longer relayed; told once (ban_told_at), tickets stay.
    banned_at: Mapped[datetime | None]
    banned_by: Mapped[int | None] = mapped_column(BigInteger)  # the admin's Telegram id
    ban_reason: Mapped[str | None] = mapped_column(String(200))
    ban_told_at: Mapped[datetime | None]

    @property
    def display_name(self) -> str:
        if self.deleted_at is not None:
            return "erased user"  # their id is a pseudonym: "user -5" would mean nothing
        return display_name(self.name, self.username, self.telegram_id)


def display_name(name: str | None, username: str | None, telegram_id: int) -> str:
    """How a person is named to others: their name, else @username, else their id."""
    if name:
        return name
    return f"@{username}" if username else f"user {telegram_id}"


class AgentInvite(Base):
    """A one-time link that makes whoever opens it an agent; only the token's hash is kept."""

    __tablename__ = "agent_invites"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    created_by: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_by: Mapped[int | None] = mapped_column(BigInteger)
    used_at: Mapped[datetime | None]


class EmailCode(Base):
    """A pending 6-digit email verification code (hashed)."""

    __tablename__ = "email_codes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]


class CodeMail(Base):
    """One verification mail: what the limits per person and per address count.

    Only a hash of the address is kept, and rows older than the longest limit's window are
    deleted as new ones are written.
    """

    __tablename__ = "code_mails"
    __table_args__ = (
        Index("ix_code_mails_user_sent", "user_id", "sent_at"),
        Index("ix_code_mails_address_sent", "address_key", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"))
    address_key: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime]


class Ticket(Base):
    """A ticket of the bot's own; its id is the number shown as #N."""

    __tablename__ = "tickets"
    __table_args__ = (Index("ix_tickets_agent_status", "agent_id", "status"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id"))
    subject: Mapped[str] = mapped_column(String(150))
    description: Mapped[str] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(Integer, default=Priority.MEDIUM)
    status: Mapped[str] = mapped_column(String(32), default=Status.OPEN, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    rating: Mapped[int | None]
    rating_comment: Mapped[str | None] = mapped_column(Text)

    customer: Mapped[User] = relationship(foreign_keys=[customer_id], lazy="raise")
    agent: Mapped[User | None] = relationship(foreign_keys=[agent_id], lazy="raise")


class Message(Base):
    """A message that belongs to a ticket: the customer's, the agent's, a note or the bot's."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # None while the customer has not yet said which of their tickets a message is about.
    ticket_id: Mapped[int | None] = mapped_column(Id, ForeignKey("tickets.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(Id, ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))  # customer, agent, note, system
    text: Mapped[str | None] = mapped_column(Text)
    media_kind: Mapped[str | None] = mapped_column(String(16))
    file_id: Mapped[str | None] = mapped_column(String(256))
    source_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    source_message_id: Mapped[int | None] = mapped_column(BigInteger)
    media_group_id: Mapped[str | None] = mapped_column(String(64))  # an album's items share it
    update_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One thing that must reach one chat; pending rows are sent in id order per chat."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_pending", "status", "chat_id", "id"),
        Index("ix_deliveries_paced", "status", "not_before"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    ticket_id: Mapped[int | None] = mapped_column(Id, ForeignKey("tickets.id"))
    message_id: Mapped[int | None] = mapped_column(Id, ForeignKey("messages.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A paced message (bot/services/flood.py): not sent before this; holds its chat and ticket.
    not_before: Mapped[datetime | None]
    # The sending process that claimed this pending row; it holds it until next_try_at (the
    # lease), renewing it while it sends (bot/delivery.py).
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    parts_sent: Mapped[int] = mapped_column(default=0)
    sent_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class ChatMessageRef(Base):
    """Which ticket a message the bot sent into a chat belongs to (so a reply finds it)."""

    __tablename__ = "chat_message_refs"
    __table_args__ = (UniqueConstraint("chat_id", "telegram_message_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    telegram_message_id: Mapped[int] = mapped_column(BigInteger)
    ticket_id: Mapped[int] = mapped_column(Id, ForeignKey("tickets.id"))


class Activity(Base):
    """One entry of a ticket's history in Freshdesk's activity shape.

    `source`/`ticket_id` name the ticket in its own system (`telegram`: the bot's ticket
    number; `freshdesk`: the imported id); `import_key` makes re-importing harmless.
    """

    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_ticket", "source", "ticket_id", "performed_at", "id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    ticket_id: Mapped[int] = mapped_column(BigInteger)
    performed_at: Mapped[datetime]
    performer_type: Mapped[str] = mapped_column(String(16))
    performer_id: Mapped[int | None] = mapped_column(BigInteger)
    activity: Mapped[dict[str, Any]] = mapped_column(JSON)
    import_key: Mapped[str | None] = mapped_column(String(64), unique=True)


class EmailOutbox(Base):
    """A mail written in the same transaction as the change that caused it."""

    __tablename__ = "email_outbox"
    __table_args__ = (Index("ix_email_outbox_due", "status", "next_try_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_try_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class JobRun(Base):
    """A scheduled job's period (an ISO week, a day, ...): claimed once, on any instance."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "period"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    window_start: Mapped[datetime | None]
    window_end: Mapped[datetime | None]
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Dialogue(Base):
    """The state of one user's dialogue, written before the bot asks the next question."""

    __tablename__ = "dialogues"
    __table_args__ = (UniqueConstraint("name", "chat_id", "user_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_update_id: Mapped[int] = mapped_column(BigInteger, default=0)
    prompt: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Feedback(Base):
    """Free text a customer or agent sent to the admins with /feedback."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
