"""Tickets waiting for an agent's answer, and the `sla-reminders` job that pings the agent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, literal, select
from sqlalchemy.orm import aliased

from bot.clock import utcnow
from bot.email.mails import insert_ignoring
from bot.services import outbound
from storage.db import SessionFactory
from storage.models import Message, SlaPing, Status, Ticket, User
from storage.types import EPOCH, Timestamp

log = logging.getLogger(__name__)

JOB = "sla-reminders"
AGENTS_TURN = (Status.OPEN.value, Status.PENDING.value)


@dataclass(frozen=True)
class Waiting:
    ticket_id: int
    subject: str
    agent_id: int | None
    agent_chat_id: int | None
    agent_name: str | None
    since: datetime


def waiting_since(
    *,
    created_at: datetime,
    assigned_at: datetime | None,
    first_unanswered: datetime | None,
    last_agent: datetime | None,
) -> datetime | None:
    """When the ticket started waiting for an agent: the earliest of its creation, assignment
    and customer messages newer than the agent's last reply; None when the agent answered last."""
    events = [e for e in (created_at, assigned_at, first_unanswered) if e is not None]
    unanswered = [e for e in events if last_agent is None or e > last_agent]
    return min(unanswered) if unanswered else None


async def awaiting_agent(
    session_factory: SessionFactory, *, limit: timedelta, assigned_only: bool
) -> list[Waiting]:
    """Open/Pending tickets that have waited longer than `limit` for an agent's answer."""
    now = utcnow()
    agent_msg = aliased(Message)
    customer_msg = aliased(Message)
    agent = aliased(User)
    last_agent = (
        select(func.max(agent_msg.created_at))
        .where(agent_msg.ticket_id == Ticket.id, agent_msg.kind == "agent")
        .scalar_subquery()
    )
    first_unanswered = (
        select(func.min(customer_msg.created_at))
        .where(
            customer_msg.ticket_id == Ticket.id,
            customer_msg.kind == "customer",
            customer_msg.created_at
            > func.coalesce(
                select(func.max(agent_msg.created_at))
                .where(agent_msg.ticket_id == Ticket.id, agent_msg.kind == "agent")
                .correlate(Ticket)  # two levels down: without it, a join over every ticket
                .scalar_subquery(),
                literal(EPOCH, Timestamp),  # typed: PostgreSQL will not mix BIGINT and timestamptz
            ),
        )
        .scalar_subquery()
    )
    query = (
        select(
            Ticket.id,
            Ticket.subject,
            Ticket.agent_id,
            agent.telegram_id,
            agent.name,
            agent.username,
            Ticket.created_at,
            Ticket.assigned_at,
            first_unanswered.label("first_unanswered"),
            last_agent.label("last_agent"),
        )
        .outerjoin(agent, agent.id == Ticket.agent_id)
        .where(Ticket.status.in_(AGENTS_TURN), Ticket.created_at <= now - limit)
        .order_by(Ticket.id)
    )
    if assigned_only:
        query = query.where(Ticket.agent_id.is_not(None))
    found = []
    async with session_factory() as session:
        for row in await session.execute(query):
            since = waiting_since(
                created_at=row.created_at,
                assigned_at=row.assigned_at,
                first_unanswered=row.first_unanswered,
                last_agent=row.last_agent,
            )
            if since is not None and since <= now - limit:
                name = row.name or (f"@{row.username}" if row.username else None)
                found.append(
                    Waiting(row.id, row.subject, row.agent_id, row.telegram_id, name, since)
                )
    return found


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


async def remind(
    session_factory: SessionFactory, *, limit_hours: float, dry_run: bool = False
) -> list[str]:
    """Ping each assigned agent once per ticket and breach; returns what was (or would be) done."""
    limit = timedelta(hours=limit_hours)
    done = []
    for item in await awaiting_agent(session_factory, limit=limit, assigned_only=True):
        if item.agent_chat_id is None:
            continue
        waited = _hours(utcnow() - item.since)
        if dry_run:
            done.append(f"would remind agent {item.agent_id} of #{item.ticket_id} ({waited})")
            continue
        try:
            async with session_factory() as session, session.begin():
                inserted = await session.execute(
                    insert_ignoring(session, SlaPing, "ticket_id", "waiting_since")
                    .values(
                        ticket_id=item.ticket_id,
                        waiting_since=item.since,
                        agent_id=item.agent_id,
                        pinged_at=utcnow(),
                    )
                    .returning(SlaPing.id)
                )
                if inserted.scalar() is None:
                    continue  # this breach was pinged already
                await outbound.queue_text(
                    session,
                    chat_id=item.agent_chat_id,
                    ticket_id=item.ticket_id,
                    text=(
                        f"⏰ #{item.ticket_id} · {item.subject}\n"
                        f"The customer has waited {waited} for your answer "
                        f"(limit {limit_hours:g} h)."
                    ),
                )
            done.append(f"reminded agent {item.agent_id} of #{item.ticket_id} ({waited})")
        except Exception:
            log.exception("SLA reminder for ticket %s failed", item.ticket_id)
    return done
