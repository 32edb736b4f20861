"""Tickets: opening, who may see them, listing; every change writes an activity."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.clock import utcnow_seconds
from bot.services import activities, validation
from bot.services.errors import Invalid, NotFound
from bot.services.users import Actor
from storage.models import Priority, Role, Status, Ticket, TicketTag, User

ACTIVE = [s.value for s in Status if s is not Status.CLOSED]
OPEN = [s.value for s in Status if not s.is_solved]
MAX_ACTIVE_TICKETS = 10  # per customer; active = not Closed


@dataclass(frozen=True)
class TicketView:
    number: int
    subject: str
    description: str
    priority: Priority
    status: Status
    customer_name: str
    customer_telegram_id: int
    agent_name: str | None
    agent_telegram_id: int | None
    created_at: datetime
    rating: int | None
    tags: tuple[str, ...] = ()


def parse_priority(value: str) -> Priority:
    try:
        return Priority[value.strip().upper()]
    except KeyError:
        raise Invalid("Choose a priority with the buttons: Low, Medium, High or Urgent.") from None


async def check_can_open(session: AsyncSession, *, customer: Actor) -> None:
    """Refuse a new ticket to anyone but a registered customer with room for another."""
    if customer.role is not Role.CUSTOMER or not customer.registered:
        raise Invalid("Only registered customers can open tickets. Send /start to register.")
    active = await session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.customer_id == customer.user_id, Ticket.status != Status.CLOSED)
    )
    if active >= MAX_ACTIVE_TICKETS:
        raise Invalid(
            f"You already have {active} active tickets, the most one person may have. "
            "Close one you no longer need with /close N (see /tickets) to open another."
        )


async def open_ticket(
    session: AsyncSession, *, customer: Actor, subject: str, description: str, priority: Priority
) -> Ticket:
    """A new Open ticket of a registered customer with fewer than MAX_ACTIVE_TICKETS active."""
    await check_can_open(session, customer=customer)
    subject = validation.text(subject, field="subject", limit=validation.SUBJECT_MAX)
    description = validation.text(
        description, field="description", limit=validation.DESCRIPTION_MAX
    )
    now = utcnow_seconds()
    ticket = Ticket(
        customer_id=customer.user_id,
        subject=subject,
        description=description,
        priority=int(priority),
        status=Status.OPEN,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    await session.flush()
    await activities.record(
        session,
        ticket_id=ticket.id,
        activity={
            "status": Status.OPEN.value,
            "priority": int(priority),
            "requester": customer.telegram_id,
        },
        performer_id=customer.telegram_id,
        at=now,
    )
    return ticket


def _view_query() -> tuple[Select, type[User], type[User]]:
    customer, agent = aliased(User), aliased(User)
    query = (
        select(Ticket, customer, agent)
        .join(customer, Ticket.customer_id == customer.id)
        .outerjoin(agent, Ticket.agent_id == agent.id)
    )
    return query, customer, agent


def _view(ticket: Ticket, customer: User, agent: User | None) -> TicketView:
    return TicketView(
        number=ticket.id,
        subject=ticket.subject,
        description=ticket.description,
        priority=Priority(ticket.priority),
        status=Status(ticket.status),
        customer_name=customer.display_name,
        customer_telegram_id=customer.telegram_id,
        agent_name=agent.display_name if agent else None,
        agent_telegram_id=agent.telegram_id if agent else None,
        created_at=ticket.created_at,
        rating=ticket.rating,
    )


def visible_to(query: Select, actor: Actor) -> Select:
    """`query` (which selects from tickets) narrowed to the tickets `actor` may see."""
    if actor.role is Role.ADMIN:
        return query
    if actor.role is Role.AGENT:
        return query.where(Ticket.agent_id == actor.user_id)
    return query.where(Ticket.customer_id == actor.user_id)


async def load_visible(session: AsyncSession, *, actor: Actor, number: int) -> Ticket:
    """The ticket row if `actor` may see it; otherwise the same answer as for no ticket."""
    ticket = await session.scalar(visible_to(select(Ticket).where(Ticket.id == number), actor))
    if ticket is None:
        raise NotFound(f"You have no ticket #{number}.")
    return ticket


async def view(session: AsyncSession, *, actor: Actor, number: int) -> TicketView:
    query, _, _ = _view_query()
    row = (await session.execute(visible_to(query.where(Ticket.id == number), actor))).first()
    if row is None:
        raise NotFound(f"You have no ticket #{number}.")
    tagged = await session.scalars(
        select(TicketTag.tag).where(TicketTag.ticket_id == number).order_by(TicketTag.tag)
    )
    return replace(_view(*row), tags=tuple(tagged))


async def listing(
    session: AsyncSession, *, actor: Actor, scope: str = "open", offset: int = 0, limit: int = 10
) -> tuple[list[TicketView], int]:
    """A page of tickets `actor` may see, newest first, with the total count.

    scope: `open` (neither Resolved nor Closed), `active` (not Closed), `unassigned`, `all`,
    `tag:word` (tagged so, any status).
    """
    query, _, _ = _view_query()
    query = visible_to(query, actor)
    if scope.startswith("tag:"):
        from bot.services import tags  # tags builds on tickets

        tagged = select(TicketTag.ticket_id).where(TicketTag.tag == tags.parse(scope[4:]))
        query = query.where(Ticket.id.in_(tagged))
    elif scope == "open":
        query = query.where(Ticket.status.in_(OPEN))
    elif scope == "active":
        query = query.where(Ticket.status.in_(ACTIVE))
    elif scope == "unassigned":
        query = query.where(Ticket.agent_id.is_(None), Ticket.status.in_(ACTIVE))
    elif scope != "all":
        raise Invalid("Use /tickets open, /tickets unassigned, /tickets all or /tickets tag:word.")
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.execute(query.order_by(Ticket.id.desc()).offset(offset).limit(limit))
    return [_view(*row) for row in rows], int(total or 0)
