"""Erasure: `/deleteme` and `python bot.py erase USER_ID`, in the caller's one transaction.

Everything that identifies the person or that they wrote goes: their profile, the subjects,
descriptions and rating comments of their tickets, the texts and files of the conversations on
them, feedback, dialogue drafts, the deliveries and mails to or about them. Their active tickets
are closed. Tickets, activities and summaries stay, anonymised, for the statistics.

Their Telegram id is replaced everywhere (the users row, activities' performer and requester,
summaries) by a pseudonym, the negative of their users row id. Statistics keep working (the
same person is still the same requester, so first-response rules hold), nothing in the database
holds the real id any more, and the pseudonym can never be a real Telegram user (those are
positive): if they write again they are a new, unregistered customer with no past here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from markupsafe import escape
from sqlalchemy import Text, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.services import lifecycle, outbound
from bot.services.errors import Invalid, NotFound
from storage.models import (
    Activity,
    AgentInvite,
    ChatMessageRef,
    Delivery,
    Dialogue,
    EmailCode,
    EmailOutbox,
    Feedback,
    KbOffer,
    Message,
    Role,
    Status,
    Ticket,
    TicketSummary,
    TicketTopic,
    User,
)

ERASED = "[erased]"
TELEGRAM = "telegram"
# Shorter values (a two-letter name) would blot out unrelated words in other people's rows.
MIN_NEEDLE = 3


@dataclass(frozen=True)
class Erased:
    """What an erasure did, for the operator's summary."""

    tickets: int
    closed: list[int]
    messages: int
    deliveries: int
    mails: int


def pseudonym(user_id: int) -> int:
    """The id that replaces an erased person's Telegram id (never a real user's: those are >0)."""
    return -user_id


async def by_telegram_id(session: AsyncSession, telegram_id: int) -> User:
    """The person an operator names by Telegram id (an erased person is no longer known)."""
    user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
    if user is None:
        raise NotFound(f"No user with Telegram id {telegram_id}.")
    return user


async def erase(session: AsyncSession, *, user_id: int) -> Erased:
    """Erase one customer (see the module's docstring); flushes, the caller commits."""
    user = await session.get(User, user_id)
    if user is None or user.telegram_id == pseudonym(user.id):
        raise NotFound("No such user.")
    if user.role != Role.CUSTOMER:
        raise Invalid(
            f"User {user.telegram_id} is an {user.role}: remove them from the team "
            "(/removeagent, or ADMIN_IDS) before erasing them."
        )
    telegram_id, alias = user.telegram_id, pseudonym(user.id)
    own = list(
        await session.scalars(
            select(Ticket).where(Ticket.customer_id == user.id).order_by(Ticket.id)
        )
    )
    numbers = [ticket.id for ticket in own]
    emails = {user.email.lower()} if user.email else set()
    emails |= {
        email.lower()
        for email in await session.scalars(
            select(EmailCode.email).where(EmailCode.user_id == user.id)
        )
    }
    needles = _needles([user.name, user.username, user.phone, *emails, *(t.subject for t in own)])

    # First: from here on nothing is told to them or mailed to them (notices skip the erased).
    user.deleted_at = utcnow()
    await session.flush()
    closed = await _close_active(session, own)

    messages = select(Message.id).where(
        or_(Message.ticket_id.in_(numbers), Message.author_id == user.id)
    )
    dropped = await _drop_deliveries(session, telegram_id, numbers, messages, needles)
    # The agents of the closed tickets learn why, without a name or a subject.
    for number, agent_chat in closed:
        if agent_chat is None:
            continue
        await outbound.queue_text(
            session,
            chat_id=agent_chat,
            ticket_id=number,
            text=f"#{number} is closed: its customer erased their personal data.",
        )
    erased_messages = await session.execute(
        update(Message)
        .where(Message.id.in_(messages))
        .values(text=None, file_id=None, source_chat_id=None, source_message_id=None)
        .execution_options(synchronize_session=False)
    )
    for ticket in own:
        ticket.subject = ticket.description = ERASED
        ticket.rating_comment = None
    await session.execute(delete(Feedback).where(Feedback.user_id == user.id))
    # The questions they asked the knowledge base: the counts stay, their words go.
    await session.execute(update(KbOffer).where(KbOffer.user_id == user.id).values(question=""))
    mails = await _drop_mails(session, emails, needles)
    await session.execute(
        delete(Dialogue).where(
            or_(Dialogue.user_id == telegram_id, Dialogue.chat_id == telegram_id)
        )
    )
    await session.execute(delete(EmailCode).where(EmailCode.user_id == user.id))
    await session.execute(delete(ChatMessageRef).where(ChatMessageRef.chat_id == telegram_id))
    # Their own chat's topics go; the agents' and the team's lose the subject in their names
    # (renamed in Telegram too, through the delivery queue, after the drop of rows above).
    await session.execute(delete(TicketTopic).where(TicketTopic.chat_id == telegram_id))
    for ticket in own:
        await session.execute(
            update(TicketTopic)
            .where(TicketTopic.ticket_id == ticket.id)
            .values(name=f"#{ticket.id} · {ERASED}")
        )
        await outbound.queue_topic_sync(session, ticket_id=ticket.id)
    await _pseudonymise_history(session, telegram_id, alias)

    user.telegram_id = alias
    user.name = user.username = user.email = user.phone = user.language = None
    user.ban_reason = None  # an admin's words about them
    user.email_verified_at = user.registered_at = user.last_active_at = user.blocked_at = None
    await session.flush()
    return Erased(
        tickets=len(own),
        closed=[number for number, _ in closed],
        messages=erased_messages.rowcount or 0,
        deliveries=dropped,
        mails=mails,
    )


async def _close_active(session: AsyncSession, own: list[Ticket]) -> list[tuple[int, int | None]]:
    """Close their active tickets as the system; returns (number, agent's chat) of each."""
    closed = []
    for ticket in own:
        if ticket.status == Status.CLOSED:
            continue
        agent = await session.get(User, ticket.agent_id) if ticket.agent_id else None
        await lifecycle.set_status(session, ticket=ticket, new=Status.CLOSED, performer=None)
        closed.append((ticket.id, agent.telegram_id if agent else None))
    return closed


async def _drop_deliveries(
    session: AsyncSession,
    telegram_id: int,
    numbers: list[int],
    messages: Any,
    needles: list[str],
) -> int:
    """Every delivery to them or about their tickets and messages goes, sent or pending; so does
    their feedback as relayed to the admins. Other rows that name them (an admin digest listing
    a subject) keep their use with the values blotted out."""
    dropped = await session.execute(
        delete(Delivery)
        .where(
            or_(
                Delivery.chat_id == telegram_id,
                Delivery.ticket_id.in_(numbers),
                Delivery.message_id.in_(messages),
            )
        )
        .execution_options(synchronize_session=False)
    )
    count = dropped.rowcount or 0
    variants = [json.dumps(v)[1:-1] for needle in needles for v in {needle, str(escape(needle))}]
    variants.append(f"id {telegram_id}")  # the header of relayed feedback
    naming = cast(Delivery.payload, Text)
    rows = await session.scalars(
        select(Delivery).where(
            Delivery.ticket_id.is_(None),
            Delivery.message_id.is_(None),
            or_(*(naming.icontains(v, autoescape=True) for v in variants)),
        )
    )
    # Their feedback as relayed to the admins: the sender's id and the word, whatever the wording.
    sender = re.compile(rf"\bid {telegram_id}\b")
    for row in rows:
        text = json.dumps(row.payload, ensure_ascii=False)
        if sender.search(text) and "feedback" in text.lower():
            await session.delete(row)
            count += 1
            continue
        scrubbed = _scrub(row.payload, needles)
        if scrubbed != row.payload:
            row.payload = scrubbed
    return count


async def _drop_mails(session: AsyncSession, emails: set[str], needles: list[str]) -> int:
    """Mails to any address they gave go, sent or pending; others naming them are blotted."""
    count = 0
    if emails:
        dropped = await session.execute(
            delete(EmailOutbox)
            .where(func.lower(func.trim(EmailOutbox.recipient)).in_(emails))
            .execution_options(synchronize_session=False)
        )
        count = dropped.rowcount or 0
    if not needles:
        return count
    columns = (EmailOutbox.subject, EmailOutbox.text, EmailOutbox.html)
    variants = [v for needle in needles for v in {needle, str(escape(needle))}]
    rows = await session.scalars(
        select(EmailOutbox).where(
            or_(*(column.icontains(v, autoescape=True) for column in columns for v in variants))
        )
    )
    for row in rows:
        row.subject = _scrub(row.subject, needles)
        row.text = _scrub(row.text, needles)
        row.html = _scrub(row.html, needles)
    return count


async def _pseudonymise_history(session: AsyncSession, telegram_id: int, alias: int) -> None:
    """Their Telegram id becomes the pseudonym in the bot's own activities and summaries."""
    rows = await session.scalars(
        select(Activity).where(
            Activity.source == TELEGRAM,
            or_(
                Activity.performer_id == telegram_id,
                cast(Activity.activity, Text).contains(str(telegram_id)),
            ),
        )
    )
    for row in rows:
        if row.performer_id == telegram_id:
            row.performer_id = alias
        if telegram_id in row.activity.values():
            row.activity = {k: alias if v == telegram_id else v for k, v in row.activity.items()}
    summaries = await session.scalars(
        select(TicketSummary).where(
            TicketSummary.source == TELEGRAM,
            or_(TicketSummary.requester == telegram_id, TicketSummary.agent_id == telegram_id),
        )
    )
    for summary in summaries:
        if summary.requester == telegram_id:
            summary.requester = alias
        if summary.agent_id == telegram_id:
            summary.agent_id = alias
    invites = await session.scalars(select(AgentInvite).where(AgentInvite.used_by == telegram_id))
    for invite in invites:  # once an agent: the name and address the admin typed for them
        invite.used_by, invite.name, invite.email = alias, ERASED, None


def _needles(values: Iterable[str | None]) -> list[str]:
    """The values to blot out of rows not tied to them by ids, longest first."""
    found = {value.strip() for value in values if value and len(value.strip()) >= MIN_NEEDLE}
    return sorted(found, key=len, reverse=True)


def _scrub(value: Any, needles: list[str]) -> Any:
    """`value` (a string, or JSON of them) with every needle, plain or HTML-escaped, blotted."""
    if not needles or value is None:
        return value
    if isinstance(value, dict):
        return {key: _scrub(item, needles) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, needles) for item in value]
    if not isinstance(value, str):
        return value
    variants = {v for needle in needles for v in (needle, str(escape(needle)))}
    pattern = "|".join(re.escape(v) for v in sorted(variants, key=len, reverse=True))
    return re.sub(pattern, ERASED, value, flags=re.IGNORECASE)
