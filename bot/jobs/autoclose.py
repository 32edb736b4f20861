"""The `auto-close` job: tickets Waiting for Customer for AUTO_CLOSE_DAYS are Closed."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.services import activities, lifecycle, outbound
from bot.services.errors import Invalid
from storage.db import SessionFactory
from storage.models import Activity, Message, Status, Ticket, User

log = logging.getLogger(__name__)

JOB = "auto-close"


async def close_ticket_by_job(session: AsyncSession, *, ticket_id: int, days: int) -> bool:
    """Close one ticket still Waiting for Customer, as the system, through the lifecycle (history,
    the customer told in Telegram and asked for a rating, the "closed" mail). Flushes only."""
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or ticket.status != Status.WAITING_CUSTOMER.value:
        return False  # someone changed it meanwhile
    try:
        await lifecycle.set_status(session, ticket=ticket, new=Status.CLOSED, performer=None)
    except Invalid:
        return False  # changed by someone else between the read and the write
    customer = await session.get(User, ticket.customer_id)
    if customer is not None and customer.deleted_at is None:
        await outbound.queue_text(
            session,
            chat_id=customer.telegram_id,
            ticket_id=ticket_id,
            text=(
                f"We closed ticket #{ticket_id} after waiting {days} days for your answer. "
                "Send /new if you still need help."
            ),
        )
    return True


async def due(session: AsyncSession, *, days: int) -> list[int]:
    """Tickets that have waited for the customer at least `days` days."""
    cutoff = utcnow() - timedelta(days=days)
    waiting = (
        await session.execute(
            select(Ticket.id, Ticket.updated_at).where(
                Ticket.status == Status.WAITING_CUSTOMER.value
            )
        )
    ).all()
    if not waiting:
        return []
    ids = [row.id for row in waiting]
    entered: dict[int, datetime] = {}
    status = Activity.activity["status"].as_string()
    for chunk in range(0, len(ids), 500):
        part = ids[chunk : chunk + 500]
        rows = await session.execute(
            select(Activity.ticket_id, func.max(Activity.performed_at))
            .where(
                Activity.source == activities.TELEGRAM,
                Activity.ticket_id.in_(part),
                status == Status.WAITING_CUSTOMER.value,
            )
            .group_by(Activity.ticket_id)
        )
        entered.update({int(ticket_id): at for ticket_id, at in rows})
        answered = await session.execute(
            select(Message.ticket_id, func.max(Message.created_at))
            .where(Message.ticket_id.in_(part), Message.kind == "customer")
            .group_by(Message.ticket_id)
        )
        for ticket_id, at in answered:
            since = entered.get(ticket_id)
            if since is not None and at > since:
                entered[ticket_id] = at
    result = []
    for row in waiting:
        since = entered.get(row.id, row.updated_at)
        if since <= cutoff:
            result.append(row.id)
    return result


async def run(session_factory: SessionFactory, *, days: int, dry_run: bool = False) -> list[str]:
    if days <= 0:
        return ["auto-close is off (AUTO_CLOSE_DAYS=0)"]
    async with session_factory() as session:
        ticket_ids = await due(session, days=days)
    done = []
    for ticket_id in ticket_ids:
        if dry_run:
            done.append(f"would close #{ticket_id}")
            continue
        try:
            async with session_factory() as session, session.begin():
                if await close_ticket_by_job(session, ticket_id=ticket_id, days=days):
                    done.append(f"closed #{ticket_id}")
        except Exception:
            log.exception("auto-close of ticket %s failed", ticket_id)
    return done
