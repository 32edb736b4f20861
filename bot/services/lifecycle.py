"""A ticket's life: assignment, statuses, reopening, closing and rating.

Every change writes its activity and queues what people must be told, in the caller's
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import nulls_first, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import notices
from bot.clock import utcnow_seconds
from bot.services import activities, agents, copies, tickets, users, validation
from bot.services.errors import Forbidden, Invalid, NotFound
from bot.services.users import Actor
from storage.models import Priority, Role, Status, Ticket, User

SYSTEM = "system"


@dataclass(frozen=True)
class Change:
    number: int
    old: Status
    new: Status


def counts_as_response(
    ticket: Ticket, *, performer_id: int | None, new_status: Status | None
) -> bool:
    """metrics.md: not the requester, not a job, and a public note or a move off Open.

    `performer_id` is the performer's user id (None for a job)."""
    if performer_id is None or performer_id == ticket.customer_id:
        return False
    return new_status is None or new_status is not Status.OPEN


async def _people(session: AsyncSession, ticket: Ticket) -> tuple[User, User | None]:
    customer = await users.get(session, ticket.customer_id)
    agent = await session.get(User, ticket.agent_id) if ticket.agent_id else None
    return customer, agent


async def set_status(
    session: AsyncSession, *, ticket: Ticket, new: Status, performer: User | None
) -> Change:
    """Move `ticket` to `new`; `performer` None means one of the bot's jobs."""
    old = Status(ticket.status)
    if new is old:
        raise Invalid(f"Ticket #{ticket.id} is already {old.value}.")
    # Compare-and-set: of two concurrent changes (an agent and a job, two processes) only
    # the one that still sees the old status wins; the other is told, and writes nothing.
    claimed = await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == old.value)
        .values(status=new.value)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        raise Invalid(f"Ticket #{ticket.id} was changed meanwhile; please look again.")
    now = utcnow_seconds()
    ticket.status = new
    ticket.updated_at = now
    if new is Status.RESOLVED:
        ticket.resolved_at = now
    elif new is Status.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    elif old.is_solved:  # reopened
        ticket.resolved_at = ticket.closed_at = None
        ticket.rating = None
        ticket.rating_comment = None
    if ticket.first_response_at is None and counts_as_response(
        ticket, performer_id=performer.id if performer else None, new_status=new
    ):
        ticket.first_response_at = now
    await activities.record(
        session,
        ticket_id=ticket.id,
        activity={"status": new.value},
        performer_id=performer.telegram_id if performer else None,
        performer_type="user" if performer else SYSTEM,
        at=now,
    )
    customer, agent = await _people(session, ticket)
    by_customer = performer is not None and performer.id == customer.id
    await notices.status_changed(
        session, ticket=ticket, customer=customer, agent=agent, new=new, by_customer=by_customer
    )
    return Change(ticket.id, old, new)


async def change_status(session: AsyncSession, *, actor: Actor, number: int, new: Status) -> Change:
    """/status, /resolve, and the customer's /close."""
    ticket = await tickets.load_visible(session, actor=actor, number=number)
    if actor.role is Role.CUSTOMER and new is not Status.CLOSED:
        raise Forbidden("Only the support team can change that status.")
    performer = await users.get(session, actor.user_id)
    return await set_status(session, ticket=ticket, new=new, performer=performer)


async def open_ticket(
    session: AsyncSession,
    *,
    customer: Actor,
    subject: str,
    description: str,
    priority: Priority,
    auto_assign: bool,
    team_chat_id: int | None = None,
) -> Ticket:
    """A new ticket; with ASSIGNMENT=auto it goes straight to the least-loaded agent; with a
    team chat, its card opens the ticket's topic there."""
    ticket = await tickets.open_ticket(
        session, customer=customer, subject=subject, description=description, priority=priority
    )
    if team_chat_id is not None:
        owner = await users.get(session, customer.user_id)
        await notices.opened_for_team(session, ticket=ticket, customer=owner, chat_id=team_chat_id)
    if auto_assign:
        team = await agents.team(session)
        if team:
            least = min(agent.open_load for agent in team)
            candidates = [agent.user_id for agent in team if agent.open_load == least]
            # ties go to the agent idle longest (never active counts as longest)
            agent = await session.scalar(
                select(User)
                .where(User.id.in_(candidates))
                .order_by(nulls_first(User.last_active_at.asc()), User.id)
                .limit(1)
            )
            await _assign(session, ticket=ticket, agent=agent, by=None)
    return ticket


async def assign(session: AsyncSession, *, by: Actor, number: int, agent_ref: str) -> Ticket:
    """/assign N <agent>: by Telegram id or @username."""
    ticket = await tickets.load_visible(session, actor=by, number=number)
    if ticket.status == Status.CLOSED:
        raise Invalid(f"Ticket #{number} is closed.")
    agent = await users.find_staff(session, agent_ref)
    if ticket.agent_id == agent.id:
        raise Invalid(f"Ticket #{number} is already assigned to {agent.display_name}.")
    await _assign(session, ticket=ticket, agent=agent, by=await users.get(session, by.user_id))
    return ticket


async def take(session: AsyncSession, *, ticket: Ticket, agent: User) -> None:
    """An agent takes an unassigned ticket (the first to answer in its team-chat topic)."""
    await _assign(session, ticket=ticket, agent=agent, by=agent)


async def _assign(session: AsyncSession, *, ticket: Ticket, agent: User, by: User | None) -> None:

    # The ticket's row first (PostgreSQL; SQLite has one writer anyway): a customer's message
    # being relayed meanwhile then goes to the new agent, or is committed before we move it.
    locked = select(Ticket.id).where(Ticket.id == ticket.id).with_for_update(key_share=True)
    await session.execute(locked)  # FOR NO KEY UPDATE: foreign-key checks (FOR KEY SHARE) pass
    now = utcnow_seconds()
    ticket.agent_id = agent.id
    ticket.assigned_at = now
    ticket.updated_at = now
    await activities.record(
        session,
        ticket_id=ticket.id,
        activity={"agent_id": agent.telegram_id},
        performer_id=by.telegram_id if by else None,
        performer_type="user" if by else SYSTEM,
        at=now,
    )
    customer, _ = await _people(session, ticket)
    await notices.assigned(session, ticket=ticket, customer=customer, agent=agent)
    await copies.release_waiting(session, ticket=ticket, customer=customer, agent=agent)


@dataclass(frozen=True)
class Transferred:
    number: int
    old_name: str
    new_name: str


RECAP = 10  # messages a new agent gets with the card


async def transfer(session: AsyncSession, *, by: Actor, number: int, agent_ref: str) -> Transferred:
    """/transfer N <agent>: hand an assigned ticket to another agent. The new agent gets the
    card and the last messages, then whatever was still on its way to the old agent; both
    agents and the customer are told."""

    ticket = await tickets.load_visible(session, actor=by, number=number)
    if ticket.status == Status.CLOSED:
        raise Invalid(f"Ticket #{number} is closed.")
    if ticket.agent_id is None:
        raise Invalid(f"#{number} has no agent yet: /assign gives it one.")
    new = await users.find_staff(session, agent_ref)
    if new.id == ticket.agent_id:
        raise Invalid(f"#{number} is already {new.display_name}'s.")
    old = await users.get(session, ticket.agent_id)
    by_user = await users.get(session, by.user_id)
    await _assign(session, ticket=ticket, agent=new, by=by_user)
    last = await copies.recent(session, ticket=ticket, limit=RECAP, unsent_to=old.telegram_id)
    await notices.recap(session, ticket=ticket, agent=new, messages=last)
    await copies.hand_over(session, ticket=ticket, old=old, new=new)
    await notices.transferred(session, ticket=ticket, old=old, new=new, by=by_user)
    return Transferred(number=ticket.id, old_name=old.display_name, new_name=new.display_name)


@dataclass(frozen=True)
class Removed:
    name: str
    telegram_id: int
    unassigned: list[int]


async def remove_agent(session: AsyncSession, *, by: Actor, agent_ref: str) -> Removed:
    """The agent becomes a customer again; their active tickets go back to unassigned."""
    agent = await users.find_staff(session, agent_ref)
    if agent.role != Role.AGENT:
        raise Invalid("Admins come from ADMIN_IDS and cannot be removed here.")
    numbers = await demote(session, person=agent, performer_id=by.telegram_id)
    await notices.agent_removed(
        session, admins=await users.admins(session), agent=agent, unassigned=numbers
    )
    await session.flush()
    return Removed(agent.display_name, agent.telegram_id, numbers)


async def demote(session: AsyncSession, *, person: User, performer_id: int | None) -> list[int]:
    """`person` is no longer staff: a customer again, and nothing more reaches them as staff.

    Their active tickets go back to unassigned, and whatever was still queued for their chat
    about tickets (relayed customer messages, ticket cards) is withdrawn: those customer
    messages wait on their ticket and go to the next agent on assignment. Returns the numbers
    of the tickets handed back. `performer_id` None: done by the bot itself (ADMIN_IDS).
    """

    person.role = Role.CUSTOMER
    active = list(
        await session.scalars(
            select(Ticket)
            .where(Ticket.agent_id == person.id, Ticket.status.in_(tickets.ACTIVE))
            .order_by(Ticket.id)
        )
    )
    now = utcnow_seconds()
    for ticket in active:
        ticket.agent_id = None
        ticket.updated_at = now
        await activities.record(
            session,
            ticket_id=ticket.id,
            activity={"agent_id": None},
            performer_id=performer_id,
            performer_type="user" if performer_id is not None else SYSTEM,
            at=now,
        )
    await session.flush()
    await copies.withdraw_from(session, former_staff=person)
    return [ticket.id for ticket in active]


async def rate(session: AsyncSession, *, actor: Actor, number: int, stars: int) -> Ticket:
    """The customer's 1–5 rating of a closed ticket (once)."""
    if not 1 <= stars <= 5:
        raise Invalid("A rating is a number from 1 to 5.")
    ticket = await tickets.load_visible(session, actor=actor, number=number)
    if actor.role is not Role.CUSTOMER:
        raise Forbidden("Only the customer can rate a ticket.")
    if ticket.status != Status.CLOSED:
        raise Invalid(f"Ticket #{number} is not closed, so it cannot be rated yet.")
    if ticket.rating is not None:
        raise Invalid(f"You have already rated ticket #{number}. Thank you!")
    ticket.rating = stars
    await activities.record(
        session, ticket_id=ticket.id, activity={"rating": stars}, performer_id=actor.telegram_id
    )
    return ticket


async def comment(session: AsyncSession, *, actor: Actor, number: int, text: str) -> None:
    ticket = await tickets.load_visible(session, actor=actor, number=number)
    if ticket.rating is None:
        raise NotFound(f"Ticket #{number} has no rating to comment on.")
    ticket.rating_comment = validation.text(text, field="comment", limit=validation.COMMENT_MAX)
