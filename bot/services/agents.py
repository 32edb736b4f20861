"""The support team: agents and admins, their load and activity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.tickets import OPEN
from storage.models import Role, Ticket, User


@dataclass(frozen=True)
class AgentView:
    user_id: int
    telegram_id: int
    username: str | None
    name: str
    role: str
    open_load: int
    last_active_at: datetime | None


async def team(session: AsyncSession, *, include_admins: bool = False) -> list[AgentView]:
    """Agents (and admins who have used the bot, if asked), least loaded first."""
    roles = [Role.AGENT, Role.ADMIN] if include_admins else [Role.AGENT]
    load = (
        select(Ticket.agent_id, func.count().label("open_load"))
        .where(Ticket.status.in_(OPEN))
        .group_by(Ticket.agent_id)
        .subquery()
    )
    rows = await session.execute(
        select(User, func.coalesce(load.c.open_load, 0))
        .outerjoin(load, load.c.agent_id == User.id)
        .where(User.role.in_(roles), User.deleted_at.is_(None))
        .order_by(User.id)
    )
    return [
        AgentView(
            user_id=user.id,
            telegram_id=user.telegram_id,
            username=user.username,
            name=user.display_name,
            role=user.role,
            open_load=int(open_load),
            last_active_at=user.last_active_at,
        )
        for user, open_load in rows
    ]
