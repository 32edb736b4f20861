"""Telling people about tickets: the wording, queued durably in the current transaction.

Telegram notices go through the delivery queue (bot.services.outbound) and mails through
the email outbox, both written with the change that caused them, so a crash loses neither.
"""

from __future__ import annotations

from collections.abc import Iterable

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.email import mails
from bot.services import outbound
from storage.models import Message, Priority, Status, Ticket, User

STATUS_MAILS = {
    Status.WAITING_CUSTOMER: "waiting_customer",
    Status.RESOLVED: "resolved",
    Status.CLOSED: "closed",
}
RATING_PROMPT = "How did we do on ticket #{n}? Rate it from 1 (poor) to 5 (excellent):"


def rating_buttons(number: int) -> list[list[tuple[str, str]]]:
    return [[(str(stars), f"rate:{number}:{stars}") for stars in range(1, 6)]]


def _reachable(user: User | None) -> bool:
    return user is not None and user.deleted_at is None


async def opened_for_team(
    session: AsyncSession, *, ticket: Ticket, customer: User, chat_id: int
) -> None:
    """The team chat gets the new ticket's card (in its topic there: the sender opens it)."""
    await outbound.queue_relay_text(
        session,
        chat_id=chat_id,
        header=f"#{ticket.id} · {customer.display_name} opened a ticket.",
        body=(
            f"Subject: {ticket.subject}\nPriority: {Priority(ticket.priority).name.title()}\n\n"
            f"{ticket.description}\n\nWrite in this topic to answer; the first agent to write "
            "takes the ticket."
        ),
        ticket_id=ticket.id,
        message_id=None,
    )


async def assigned(session: AsyncSession, *, ticket: Ticket, customer: User, agent: User) -> None:
    """The agent gets the ticket's details; the customer learns who handles it."""
    await outbound.queue_topic_sync(session, ticket_id=ticket.id)  # a former agent's: ↪
    # Plain header and body: the sender escapes them and splits a long description.
    await outbound.queue_relay_text(
        session,
        chat_id=agent.telegram_id,
        header=f"#{ticket.id} · {customer.display_name} is assigned to you.",
        body=(
            f"Subject: {ticket.subject}\n\n{ticket.description}\n\n"
            "Reply to the customer's messages (or to this one) to answer."
        ),
        ticket_id=ticket.id,
        message_id=None,
    )
    if _reachable(customer):
        await outbound.queue_text(
            session,
            chat_id=customer.telegram_id,
            ticket_id=ticket.id,
            text=f"{agent.display_name} is now handling your ticket #{ticket.id}.",
        )
        await mails.queue_status_mail(session, ticket=ticket, customer=customer, event="assigned")


async def recap(
    session: AsyncSession, *, ticket: Ticket, agent: User, messages: list[tuple[str, Message]]
) -> None:
    """A new agent of a ticket gets its last messages, as one text (who wrote what)."""
    if not messages:
        return
    lines = [
        f"{name}: {message.text or f'({message.media_kind})'}"
        if message.media_kind is None or message.text is None
        else f"{name}: ({message.media_kind}) {message.text}"
        for name, message in messages
    ]
    await outbound.queue_relay_text(
        session,
        chat_id=agent.telegram_id,
        header=f"#{ticket.id} · the last {len(messages)} messages",
        body="\n\n".join(lines),
        ticket_id=ticket.id,
        message_id=None,
    )


async def transferred(
    session: AsyncSession, *, ticket: Ticket, old: User, new: User, by: User
) -> None:
    """The agent who had the ticket learns who has it now (the customer and the new agent
    are told by `assigned`)."""
    who = "" if by.id == old.id else f" by {by.display_name}"
    await outbound.queue_relay_text(
        session,
        chat_id=old.telegram_id,
        header=f"#{ticket.id} · handed over",
        body=f"{ticket.subject}\nis now {new.display_name}'s (handed over{who}).",
        ticket_id=ticket.id,
        message_id=None,
    )


async def status_changed(
    session: AsyncSession,
    *,
    ticket: Ticket,
    customer: User,
    agent: User | None,
    new: Status,
    by_customer: bool,
) -> None:
    """The customer is told of every change; Closed also asks for a rating."""
    await outbound.queue_topic_sync(session, ticket_id=ticket.id)  # ✅ once done, and back
    if _reachable(customer):
        await outbound.queue_text(
            session,
            chat_id=customer.telegram_id,
            ticket_id=ticket.id,
            text=Markup("Your ticket #{} ({}) is now <b>{}</b>.").format(
                ticket.id, ticket.subject, new.value
            ),
        )
        if new in STATUS_MAILS:
            await mails.queue_status_mail(
                session, ticket=ticket, customer=customer, event=STATUS_MAILS[new]
            )
        if new is Status.CLOSED:
            await outbound.queue_text(
                session,
                chat_id=customer.telegram_id,
                ticket_id=ticket.id,
                text=RATING_PROMPT.format(n=ticket.id),
                buttons=rating_buttons(ticket.id),
            )
    if by_customer and agent is not None:
        await outbound.queue_text(
            session,
            chat_id=agent.telegram_id,
            ticket_id=ticket.id,
            text=Markup("#{}: the customer changed the status to <b>{}</b>.").format(
                ticket.id, new.value
            ),
        )


async def agent_removed(
    session: AsyncSession, *, admins: Iterable[User], agent: User, unassigned: list[int]
) -> None:
    """The admins learn that an agent is one no longer, and which tickets went back."""
    listed = ", ".join(f"#{n}" for n in unassigned) or "none"
    await to_staff(
        session,
        [admin.telegram_id for admin in admins],
        f"{agent.display_name} is no longer an agent. Tickets back to unassigned: {listed}.",
    )


async def admin_removed(
    session: AsyncSession, *, admin_ids: Iterable[int], person: User, unassigned: list[int]
) -> None:
    """The admins learn that someone left ADMIN_IDS, and which tickets went back."""
    listed = ", ".join(f"#{n}" for n in unassigned) or "none"
    await to_staff(
        session,
        admin_ids,
        Markup(
            "{} is no longer an admin (not in ADMIN_IDS). Tickets back to unassigned: {}."
        ).format(person.display_name, listed),
    )


async def to_staff(session: AsyncSession, chat_ids: Iterable[int], text: str | Markup) -> None:
    """One notice (plain `str` or `Markup`) to each of these staff chats."""
    for chat_id in dict.fromkeys(chat_ids):
        await outbound.queue_text(session, chat_id=chat_id, text=text)
