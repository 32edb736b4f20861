"""Messages between a customer and their agent, both ways, stored before they are sent.

A message is stored with the update id it came from (unique, so an update delivered twice
is stored once) and with a delivery row for the other side's chat, in one transaction.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Row, bindparam, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from bot.clock import utcnow_seconds
from bot.services import activities, lifecycle, outbound, tickets, users, validation
from bot.services.copies import NO_CAPTION, Answers  # noqa: F401  (part of the relay's API)
from bot.services.copies import header as _header
from bot.services.copies import queue_to as _queue_to
from bot.services.errors import Invalid, NotFound
from bot.services.users import Actor
from storage.models import (
    ChatMessageRef,
    Delivery,
    Message,
    Role,
    Status,
    Ticket,
    TicketTopic,
    User,
)

CUSTOMER, AGENT, NOTE = "customer", "agent", "note"


@dataclass(frozen=True)
class Incoming:
    """A message as the relay needs it, whatever chat app it came from."""

    update_id: int
    chat_id: int
    message_id: int
    text: str | None = None
    media_kind: str | None = None
    file_id: str | None = None
    reply_to: int | None = None
    # The first line of the replied-to message when the bot wrote it (a relayed message starts
    # with its `#N · name` header): names the ticket while its reference is not stored yet.
    reply_header: str | None = None
    # The forum topic it was written in (topic mode): names its ticket before anything else.
    thread_id: int | None = None
    # The part of the replied-to message it quotes (Telegram's TextQuote), kept when relayed.
    quote: str | None = None
    # An album's items arrive as separate messages sharing this (relayed as one album).
    media_group_id: str | None = None


class Outcome(enum.Enum):
    RELAYED = "relayed"
    WAITING = "waiting"  # no agent yet: delivered on assignment
    REOPENED = "reopened"
    CHOOSE = "choose"  # several active tickets: the customer picks one
    NO_TICKET = "no_ticket"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    number: int | None = None
    message_id: int | None = None
    choices: list[tuple[int, str]] = field(default_factory=list)


# Built once: every relayed message runs these, and building a statement costs more than
# SQLite takes to run it.
_MESSAGES = Message.__table__
_DUPLICATE = select(exists().where(_MESSAGES.c.update_id == bindparam("b_update_id")))
# The insert is also the duplicate check: an update delivered again inserts nothing (update_id
# is unique) and returns no id. One statement per dialect (ON CONFLICT is each one's own).
_INSERT_MESSAGE = {
    name: dialect_insert(_MESSAGES)
    .on_conflict_do_nothing(index_elements=[_MESSAGES.c.update_id])
    .returning(_MESSAGES.c.id)
    for name, dialect_insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}
_STORED = (
    "ticket_id",
    "author_id",
    "kind",
    "text",
    "media_kind",
    "file_id",
    "source_chat_id",
    "source_message_id",
    "media_group_id",
    "update_id",
    "created_at",
)
_REPLIED = select(ChatMessageRef.ticket_id).where(
    ChatMessageRef.chat_id == bindparam("b_chat_id"),
    ChatMessageRef.telegram_message_id == bindparam("b_message_id"),
)
_TOPIC = select(TicketTopic.ticket_id).where(
    TicketTopic.chat_id == bindparam("b_chat_id"),
    TicketTopic.thread_id == bindparam("b_thread_id"),
)
# The original of a relayed copy: the chat and message it was copied from.
_ORIGINAL = (
    select(Message.source_chat_id, Message.source_message_id)
    .join(Delivery, Delivery.message_id == Message.id)
    .where(
        Delivery.chat_id == bindparam("b_chat_id"),
        Delivery.sent_message_id == bindparam("b_message_id"),
    )
    .limit(1)
)
_ACTIVE = (
    select(Ticket)
    # every status but Closed (tickets.ACTIVE), without an IN list to expand per execution
    .where(Ticket.customer_id == bindparam("b_customer_id"), Ticket.status != Status.CLOSED)
    .order_by(Ticket.id)
    # customer and agent come along, so _attach finds them without a query each
    .options(joinedload(Ticket.customer), joinedload(Ticket.agent))
)
_TICKETS = Ticket.__table__
_ACTIVE_ROWS = _TICKETS.alias("active")
_ACTIVE_IDS = select(_ACTIVE_ROWS.c.id).where(
    _ACTIVE_ROWS.c.customer_id == bindparam("b_customer_id"),
    _ACTIVE_ROWS.c.status != Status.CLOSED,
)
_AGENTS = User.__table__.alias("agent")
# The usual customer message (no reply, no topic: their one active ticket): the ticket found,
# held and touched in one statement, its agent read once the row is held (an assignment or a
# transfer committed meanwhile decides who gets the message; PostgreSQL waits for it here).
# No row: none or several active tickets, which the slower path tells apart.
_HOLD_ONLY_ACTIVE = (
    update(_TICKETS)
    .where(_TICKETS.c.id == _ACTIVE_IDS.order_by(_ACTIVE_ROWS.c.id).limit(1).scalar_subquery())
    .where(select(func.count()).select_from(_ACTIVE_IDS.limit(2).subquery()).scalar_subquery() == 1)
    .values(updated_at=bindparam("b_updated_at"))
    .returning(
        _TICKETS.c.id,
        _TICKETS.c.status,
        select(_AGENTS.c.telegram_id)
        .where(_AGENTS.c.id == _TICKETS.c.agent_id)
        .correlate(_TICKETS)
        .scalar_subquery()
        .label("agent_telegram_id"),
    )
)
_TOUCH_TICKET = (
    update(_TICKETS)
    .where(_TICKETS.c.id == bindparam("b_id"))
    .values(updated_at=bindparam("b_updated_at"))
    .returning(_TICKETS.c.agent_id)
)


async def _is_duplicate(session: AsyncSession, update_id: int) -> bool:
    return bool(await session.scalar(_DUPLICATE, {"b_update_id": update_id}))


async def _store(
    session: AsyncSession, incoming: Incoming, *, kind: str, author: int, ticket_id: int | None
) -> Message | None:
    """Insert the message (Core: nothing reads it back through the ORM in this transaction);
    None when its update was stored before (delivered again)."""
    if incoming.text is not None and incoming.media_kind is None:
        validation.text(incoming.text, field="message", limit=validation.MESSAGE_LIMIT)
    message = Message(
        ticket_id=ticket_id,
        author_id=author,
        kind=kind,
        text=incoming.text,
        media_kind=incoming.media_kind,
        file_id=incoming.file_id,
        source_chat_id=incoming.chat_id,
        source_message_id=incoming.message_id,
        media_group_id=incoming.media_group_id,
        update_id=incoming.update_id,
        created_at=utcnow_seconds(),
    )
    values = {key: getattr(message, key) for key in _STORED}
    statement = _INSERT_MESSAGE[session.get_bind().dialect.name]
    message.id = await session.scalar(statement, values)
    return message if message.id is not None else None


async def _touch_ticket(session: AsyncSession, ticket: Ticket, at: datetime) -> None:
    """Touch the ticket, and take its agent as it is once the row is ours: an assignment or a
    transfer committed meanwhile (PostgreSQL waits for it here) decides who gets the message."""
    agent_id = await session.scalar(_TOUCH_TICKET, {"b_id": ticket.id, "b_updated_at": at})
    set_committed_value(ticket, "updated_at", at)
    set_committed_value(ticket, "agent_id", agent_id)


async def ticket_of_topic(
    session: AsyncSession, *, chat_id: int, thread_id: int | None
) -> int | None:
    """The ticket whose forum topic this is in that chat (None: not a ticket's topic)."""
    if thread_id is None:
        return None
    return await session.scalar(_TOPIC, {"b_chat_id": chat_id, "b_thread_id": thread_id})


async def _ticket_of(session: AsyncSession, incoming: Incoming) -> int | None:
    """The ticket a message names: the topic it was written in, else the message it answers.

    In a topic a plain message "replies" to the topic's creation message (Telegram's forum
    layout), so the topic must be asked first.
    """
    number = await ticket_of_topic(session, chat_id=incoming.chat_id, thread_id=incoming.thread_id)
    return number if number is not None else await _ticket_of_reply(session, incoming)


async def _ticket_of_reply(session: AsyncSession, incoming: Incoming) -> int | None:
    """The ticket of the message replied to: its stored reference, else its header.

    The reference is stored once Telegram has confirmed the send, so a very quick reply (or
    one to a part whose confirmation a crash lost) finds none; the header it carries says the
    same. Callers check that the ticket is the actor's, so a header typed by hand gains nothing.
    """
    if incoming.reply_to is None:
        return None
    number = await session.scalar(
        _REPLIED, {"b_chat_id": incoming.chat_id, "b_message_id": incoming.reply_to}
    )
    if number is None and incoming.reply_header is not None:
        match = _HEADER.match(incoming.reply_header)
        if match is not None:
            number = int(match.group(1))
    return number


_HEADER = re.compile(r"#(\d{1,18}) · ")


async def _answers(session: AsyncSession, incoming: Incoming) -> Answers | None:
    """What a reply answers in the other chat (None: not a reply to a relayed message)."""
    if incoming.reply_to is None or incoming.reply_to == incoming.thread_id:
        return None  # in a topic, a plain message "replies" to the topic's creation
    found = (
        await session.execute(
            _ORIGINAL, {"b_chat_id": incoming.chat_id, "b_message_id": incoming.reply_to}
        )
    ).first()
    if found is None or found.source_chat_id is None:
        return None
    return Answers(found.source_chat_id, found.source_message_id, incoming.quote)


async def customer_message(
    session: AsyncSession,
    *,
    actor: Actor,
    incoming: Incoming,
    team_chat_id: int | None = None,
    not_before: datetime | None = None,
) -> Result:
    """Route a customer's message to the agent of the ticket it belongs to (and to its topic in
    the team chat, when there is one).

    `not_before`: the message is paced (bot/services/flood.py); it is stored now all the same.
    """
    number = await _ticket_of(session, incoming)
    if number is not None:
        ticket = await tickets.load_visible(session, actor=actor, number=number)
        if ticket.status == Status.CLOSED:
            raise Invalid(f"Ticket #{number} is closed. Send /new to open a new ticket.")
    else:
        values = {"b_customer_id": actor.user_id, "b_updated_at": utcnow_seconds()}
        held = (await session.execute(_HOLD_ONLY_ACTIVE, values)).first()
        if held is not None and held.status != Status.RESOLVED:  # resolved: reopened below
            return await _relay_held(
                session,
                held,
                actor=actor,
                incoming=incoming,
                team_chat_id=team_chat_id,
                not_before=not_before,
            )
        active = list((await session.scalars(_ACTIVE, {"b_customer_id": actor.user_id})).unique())
        if not active:
            return Result(Outcome.NO_TICKET)
        if len(active) > 1:
            message = await _store(
                session, incoming, kind=CUSTOMER, author=actor.user_id, ticket_id=None
            )
            if message is None:
                return Result(Outcome.DUPLICATE)
            choices = [(t.id, t.subject) for t in active]
            return Result(Outcome.CHOOSE, message_id=message.id, choices=choices)
        ticket = active[0]
    message = await _store(
        session, incoming, kind=CUSTOMER, author=actor.user_id, ticket_id=ticket.id
    )
    if message is None:
        return Result(Outcome.DUPLICATE)
    answers = await _answers(session, incoming)
    return await _attach(
        session,
        message=message,
        ticket=ticket,
        team_chat_id=team_chat_id,
        answers=answers,
        not_before=not_before,
    )


async def _relay_held(
    session: AsyncSession,
    held: Row,
    *,
    actor: Actor,
    incoming: Incoming,
    team_chat_id: int | None,
    not_before: datetime | None,
) -> Result:
    """`_attach` for the usual message, its ticket held (`_HOLD_ONLY_ACTIVE`): nothing more is
    read; the customer is the one writing (`actor`), the agent came with the ticket."""
    number = held.id
    message = await _store(session, incoming, kind=CUSTOMER, author=actor.user_id, ticket_id=number)
    if message is None:  # delivered again: only the ticket's updated_at moved, to now
        return Result(Outcome.DUPLICATE)
    answers = await _answers(session, incoming)
    await activities.record(
        session,
        ticket_id=number,
        activity={"note": {"id": message.id, "type": 1}},
        performer_id=actor.telegram_id,
        at=message.created_at,
    )
    header = _header(number, actor.name)
    if team_chat_id is not None:
        await _queue_to(
            session, message=message, ticket_id=number, chat_id=team_chat_id, header=header
        )
    if held.agent_telegram_id is None:
        return Result(Outcome.WAITING, number=number, message_id=message.id)
    await _queue_to(
        session,
        message=message,
        ticket_id=number,
        chat_id=held.agent_telegram_id,
        header=header,
        answers=answers,
        not_before=not_before,
    )
    return Result(Outcome.RELAYED, number=number, message_id=message.id)


async def pick(
    session: AsyncSession,
    *,
    actor: Actor,
    message_id: int,
    number: int,
    team_chat_id: int | None = None,
) -> Result:
    """The customer said which ticket a waiting message is about."""
    message = await session.get(Message, message_id)
    if message is None or message.author_id != actor.user_id or message.kind != CUSTOMER:
        raise NotFound("This button is not valid.")
    if message.ticket_id is not None:
        raise Invalid(f"That message was already added to #{message.ticket_id}.")
    ticket = await tickets.load_visible(session, actor=actor, number=number)
    if ticket.status == Status.CLOSED:
        raise Invalid(f"Ticket #{number} is closed. Send /new to open a new ticket.")
    message.ticket_id = ticket.id
    return await _attach(session, message=message, ticket=ticket, team_chat_id=team_chat_id)


async def _attach(
    session: AsyncSession,
    *,
    message: Message,
    ticket: Ticket,
    team_chat_id: int | None,
    answers: Answers | None = None,
    not_before: datetime | None = None,
) -> Result:
    customer = await users.get(session, ticket.customer_id)
    outcome = Outcome.RELAYED
    if ticket.status == Status.RESOLVED:
        await lifecycle.set_status(session, ticket=ticket, new=Status.OPEN, performer=customer)
        outcome = Outcome.REOPENED
    await _touch_ticket(session, ticket, utcnow_seconds())
    await activities.record(
        session,
        ticket_id=ticket.id,
        activity={"note": {"id": message.id, "type": 1}},
        performer_id=customer.telegram_id,
        at=message.created_at,
    )
    header = _header(ticket.id, customer.display_name)
    if team_chat_id is not None:
        await _queue_to(
            session, message=message, ticket_id=ticket.id, chat_id=team_chat_id, header=header
        )
    if ticket.agent_id is None:
        # Other chats' updates run concurrently (bot/concurrency.py): an assignment may have
        # committed since the ticket was read. The message is flushed, so on SQLite this
        # session holds the write lock and a fresh read stays true until it commits.
        await session.refresh(ticket, ["agent_id"])
    if ticket.agent_id is None:
        return Result(Outcome.WAITING, number=ticket.id, message_id=message.id)
    agent = await users.get(session, ticket.agent_id)
    await _queue_to(
        session,
        message=message,
        ticket_id=ticket.id,
        chat_id=agent.telegram_id,
        header=header,
        answers=answers,
        not_before=not_before,
    )
    return Result(outcome, number=ticket.id, message_id=message.id)


async def staff_message(
    session: AsyncSession,
    *,
    actor: Actor,
    incoming: Incoming,
    number: int | None = None,
    team_chat_id: int | None = None,
    not_before: datetime | None = None,
) -> int:
    """An agent's answer (a reply to a relayed message, a message in the ticket's topic, or
    /reply N) goes to the customer, and to the ticket's topic in the team chat if there is
    one (unless it was written there).

    `not_before`: the answer is paced (bot/services/flood.py); it is stored now all the same.
    """
    if number is None:
        number = await _ticket_of(session, incoming)
        if number is None:
            raise NotFound(
                "That message is not about a ticket. Reply to a customer's message, "
                "or use /reply N text."
            )
    if incoming.chat_id == team_chat_id:
        # The team chat's topic names the ticket, and any agent may answer in it.
        ticket = await session.get(Ticket, number)
        if ticket is None:
            raise NotFound(f"Ticket #{number} does not exist.")
    else:
        ticket = await tickets.load_visible(session, actor=actor, number=number)
    customer = await users.get(session, ticket.customer_id)
    if customer.deleted_at is not None:
        raise Invalid(f"The customer of #{number} has erased their data and cannot be reached.")
    if ticket.status == Status.CLOSED:
        raise Invalid(f"Ticket #{number} is closed; the customer can open a new one.")
    # the agent as the guard read them (actor): no second query for who is writing
    message = await _store(session, incoming, kind=AGENT, author=actor.user_id, ticket_id=ticket.id)
    if message is None:
        return ticket.id  # delivered again: stored and sent the first time
    now = message.created_at
    await _touch_ticket(session, ticket, now)
    if ticket.first_response_at is None and lifecycle.counts_as_response(
        ticket, performer_id=actor.user_id, new_status=None
    ):
        ticket.first_response_at = now
    await activities.record(
        session,
        ticket_id=ticket.id,
        activity={"note": {"id": message.id, "type": 1}},
        performer_id=actor.telegram_id,
        at=now,
    )
    header = _header(ticket.id, actor.name)
    answers = await _answers(session, incoming)
    await _queue_to(
        session,
        message=message,
        ticket_id=ticket.id,
        chat_id=customer.telegram_id,
        header=header,
        answers=answers,
        not_before=not_before,
    )
    if team_chat_id is not None and incoming.chat_id != team_chat_id:
        await _queue_to(
            session, message=message, ticket_id=ticket.id, chat_id=team_chat_id, header=header
        )
    return ticket.id


_EDITED = select(Message).where(
    Message.source_chat_id == bindparam("b_chat_id"),
    Message.source_message_id == bindparam("b_message_id"),
    Message.kind.in_((CUSTOMER, AGENT)),
)
EDIT = "edit"


async def edited(session: AsyncSession, *, actor: Actor, incoming: Incoming) -> int:
    """A person edited a message the relay carried: the stored text follows, and each copy
    sent (or still to be sent) to another chat is edited there too. Returns how many copies
    will be edited (0: not a relayed message of theirs, such as a command)."""
    message = await session.scalar(
        _EDITED, {"b_chat_id": incoming.chat_id, "b_message_id": incoming.message_id}
    )
    if message is None or message.author_id != actor.user_id:
        return 0
    if message.media_kind is None and incoming.text is not None:
        validation.text(incoming.text, field="message", limit=validation.MESSAGE_LIMIT)
    message.text = incoming.text
    copies = await session.scalars(
        select(Delivery).where(Delivery.message_id == message.id).order_by(Delivery.id)
    )
    count = 0
    for copy in copies:
        if copy.payload.get("type") in ("text", "copy") and copy.payload.get("header"):
            await outbound.queue_edit(
                session, chat_id=copy.chat_id, of=copy.id, ticket_id=copy.ticket_id
            )
            count += 1
    return count


async def team_message(
    session: AsyncSession, *, actor: Actor, incoming: Incoming, team_chat_id: int
) -> int | None:
    """An agent writes in a ticket's topic of the team chat: it goes to the customer, and the
    first agent to write in an unassigned ticket's topic takes the ticket. None: not a ticket's
    topic (the General topic, a topic of people's own), so nothing happens."""
    number = await ticket_of_topic(session, chat_id=incoming.chat_id, thread_id=incoming.thread_id)
    if number is None:
        return None
    ticket = await session.get(Ticket, number)
    if ticket.agent_id is None and ticket.status != Status.CLOSED:
        await lifecycle.take(session, ticket=ticket, agent=await users.get(session, actor.user_id))
    return await staff_message(
        session, actor=actor, incoming=incoming, number=number, team_chat_id=team_chat_id
    )


async def note(
    session: AsyncSession, *, actor: Actor, number: int, text: str, update_id: int
) -> None:
    """An internal note: stored and in the history, never sent to the customer."""
    if actor.role is Role.CUSTOMER:
        raise Invalid("Notes are for the support team.")
    if await _is_duplicate(session, update_id):
        return
    ticket = await tickets.load_visible(session, actor=actor, number=number)
    text = validation.text(text, field="note", limit=validation.MESSAGE_LIMIT)
    message = Message(
        ticket_id=ticket.id,
        author_id=actor.user_id,
        kind=NOTE,
        text=text,
        update_id=update_id,
        created_at=utcnow_seconds(),
    )
    session.add(message)
    await session.flush()
    await activities.record(
        session,
        ticket_id=ticket.id,
        activity={"note": {"id": message.id, "type": 2, "private": True}},
        performer_id=actor.telegram_id,
        at=message.created_at,
    )
