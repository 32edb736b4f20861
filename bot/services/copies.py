"""A relayed message's copies for a chat: queued with their header, given to an agent on
assignment, handed over on transfer, withdrawn from former staff.

Below both the relay (bot/services/relay.py) and the lifecycle (bot/services/lifecycle.py),
which both queue copies: neither imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import outbound, users
from storage.models import Delivery, Message, Status, Ticket, User

CUSTOMER, AGENT = "customer", "agent"  # kinds of message (relay.CUSTOMER, relay.AGENT)
NO_CAPTION = {"sticker", "video_note"}  # Telegram copies these without a caption


@dataclass(frozen=True)
class Answers:
    """The message a relayed reply answers, as it is in the other chat: the relayed copy
    replies to it there (quoting the same part), so the thread reads the same on both sides."""

    chat_id: int
    message_id: int
    quote: str | None


def header(number: int, name: str) -> str:
    return f"#{number} · {name}"


async def release_waiting(
    session: AsyncSession, *, ticket: Ticket, customer: User, agent: User
) -> int:
    """On assignment: the customer's messages that waited for an agent go to them, in order.

    An erased customer's messages are empty shells kept for the counts: nothing goes."""
    if customer.deleted_at is not None:
        return 0
    waiting = list(
        await session.scalars(
            select(Message)
            .where(Message.ticket_id == ticket.id, Message.kind == CUSTOMER)
            .where(~exists().where(Delivery.message_id == Message.id))
            .order_by(Message.id)
        )
    )
    for message in waiting:
        await queue_to(
            session,
            message=message,
            ticket_id=ticket.id,
            chat_id=agent.telegram_id,
            header=header(ticket.id, customer.display_name),
        )
    return len(waiting)


async def withdraw_from(session: AsyncSession, *, former_staff: User) -> None:
    """Nothing queued for someone who is no longer staff reaches them as staff.

    Their chat's unsent rows about tickets other than their own as a customer (relayed
    customer messages, ticket cards, staff notices) are dropped. A customer message whose row
    is dropped has no delivery any more, so it waits on its ticket like a message sent before
    assignment: `release_waiting` gives it to the next agent, in order. A ticket that already
    has another agent gets those messages now.
    """
    own_tickets = select(Ticket.id).where(Ticket.customer_id == former_staff.id)
    dropped = await session.execute(
        delete(Delivery)
        .where(
            Delivery.chat_id == former_staff.telegram_id,
            Delivery.status.in_(outbound.UNSENT),
            or_(Delivery.ticket_id.is_(None), Delivery.ticket_id.not_in(own_tickets)),
        )
        .returning(Delivery.ticket_id)
    )
    outbound.withdrawn(session, former_staff.telegram_id)
    numbers = sorted({number for (number,) in dropped if number is not None})
    for number in numbers:
        ticket = await session.get(Ticket, number)
        if ticket is None or ticket.agent_id in (None, former_staff.id):
            continue
        if ticket.status == Status.CLOSED:
            continue
        customer = await users.get(session, ticket.customer_id)
        agent = await users.get(session, ticket.agent_id)
        await release_waiting(session, ticket=ticket, customer=customer, agent=agent)


async def hand_over(session: AsyncSession, *, ticket: Ticket, old: User, new: User) -> None:
    """A transfer: the ticket's messages not yet sent to the old agent go to the new one (in
    order, and never to the old agent once this commits)."""
    moved = list(
        await session.scalars(
            delete(Delivery)
            .where(
                Delivery.chat_id == old.telegram_id,
                Delivery.ticket_id == ticket.id,
                Delivery.status.in_(outbound.UNSENT),
                Delivery.message_id.is_not(None),
            )
            .returning(Delivery.message_id)
        )
    )
    outbound.withdrawn(session, old.telegram_id)
    if not moved:
        return
    customer = await users.get(session, ticket.customer_id)
    messages = await session.scalars(
        select(Message).where(Message.id.in_(moved), Message.kind == CUSTOMER).order_by(Message.id)
    )
    for message in messages:
        await queue_to(
            session,
            message=message,
            ticket_id=ticket.id,
            chat_id=new.telegram_id,
            header=header(ticket.id, customer.display_name),
        )


async def recent(
    session: AsyncSession, *, ticket: Ticket, limit: int, unsent_to: int
) -> list[tuple[str, Message]]:
    """The ticket's last `limit` messages both ways (notes aside), oldest first, with who
    wrote each; those still unsent to chat `unsent_to` are left out (they are handed over)."""
    unsent = select(Delivery.message_id).where(
        Delivery.chat_id == unsent_to,
        Delivery.status.in_(outbound.UNSENT),
        Delivery.message_id.is_not(None),
    )
    rows = await session.execute(
        select(Message, User)
        .outerjoin(User, User.id == Message.author_id)
        .where(Message.ticket_id == ticket.id, Message.kind.in_((CUSTOMER, AGENT)))
        .where(Message.id.not_in(unsent))
        .order_by(Message.id.desc())
        .limit(limit)
    )
    found = [(user.display_name if user else "someone", message) for message, user in rows]
    return found[::-1]


async def queue_to(
    session: AsyncSession,
    *,
    message: Message,
    ticket_id: int,
    chat_id: int,
    header: str,
    answers: Answers | None = None,
    not_before: datetime | None = None,
) -> None:
    reply = {}
    if answers is not None and answers.chat_id == chat_id:
        reply = {"reply_to": answers.message_id, "quote": answers.quote}
    if message.media_kind is None:
        await outbound.queue_relay_text(
            session,
            chat_id=chat_id,
            header=header,
            body=message.text or "",
            ticket_id=ticket_id,
            message_id=message.id,
            **reply,
            not_before=not_before,
        )
        return
    if message.media_kind in NO_CAPTION:
        await outbound.queue_relay_text(
            session,
            chat_id=chat_id,
            header=header,
            body=f"({message.media_kind})",
            ticket_id=ticket_id,
            message_id=message.id,
            not_before=not_before,
        )
    await outbound.queue_relay_copy(
        session,
        chat_id=chat_id,
        from_chat_id=message.source_chat_id,
        source_message_id=message.source_message_id,
        header=None if message.media_kind in NO_CAPTION else header,
        caption=message.text,
        ticket_id=ticket_id,
        message_id=message.id,
        album=message.media_group_id,
        **reply,
        not_before=not_before,
    )
