"""One-time invite links that make a Telegram account an agent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.services import secrets, validation
from bot.services.errors import Invalid
from bot.services.users import Actor
from storage.models import AgentInvite, Role, User

VALID_FOR = timedelta(days=7)
ALREADY_USED = "This invite link has already been used. Ask an admin for a new one."


@dataclass(frozen=True)
class NewInvite:
    token: str
    name: str
    expires_at: object


async def create(
    session: AsyncSession, *, by: Actor, name: str, email: str | None = None
) -> NewInvite:
    """A fresh invite; only the token's hash is stored, the token is shown once."""
    name = validation.text(name, field="agent's name", limit=validation.NAME_MAX)
    if email is not None:
        email = validation.email(email)
    token = secrets.new_token()
    invite = AgentInvite(
        token_hash=secrets.digest(token),
        name=name,
        email=email,
        created_by=by.telegram_id,
        created_at=utcnow(),
        expires_at=utcnow() + VALID_FOR,
    )
    session.add(invite)
    await session.flush()
    return NewInvite(token=token, name=name, expires_at=invite.expires_at)


@dataclass(frozen=True)
class Redeemed:
    name: str
    invited_by: int


async def redeem(session: AsyncSession, *, user: User, token: str, is_admin: bool) -> Redeemed:
    """Make `user` an agent with the invite's name; the invite can never be used again."""
    if not secrets.TOKEN_PATTERN.match(token):
        raise Invalid("This invite link is not valid.")
    invite = await session.scalar(
        select(AgentInvite).where(AgentInvite.token_hash == secrets.digest(token))
    )
    if invite is None:
        raise Invalid("This invite link is not valid.")
    if invite.used_at is not None:
        raise Invalid(ALREADY_USED)
    now = utcnow()
    if invite.expires_at <= now:
        raise Invalid("This invite link has expired. Ask an admin for a new one.")
    if is_admin:
        raise Invalid("You are an admin already; an admin can do everything an agent can.")
    # The claim itself is one conditional UPDATE: of two redemptions at once, the second waits
    # for the first's row lock (SQLite: write lock) and then finds the invite used.
    claimed = await session.scalar(
        update(AgentInvite)
        .where(
            AgentInvite.id == invite.id,
            AgentInvite.used_at.is_(None),
            AgentInvite.expires_at > now,
        )
        .values(used_by=user.telegram_id, used_at=now)
        .returning(AgentInvite.id)
        .execution_options(synchronize_session=False)
    )
    if claimed is None:
        raise Invalid(ALREADY_USED)
    user.role = Role.AGENT
    user.name = invite.name
    user.email = invite.email or user.email
    user.registered_at = user.registered_at or utcnow()
    user.deleted_at = None
    await session.flush()
    return Redeemed(name=invite.name, invited_by=invite.created_by)
