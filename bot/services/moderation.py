"""Bans: an admin stops relaying what a person writes (/ban), and starts it again (/unban).

A ban is stored on the person (`users.banned_*`) and applied by the guard, in one place
(handlers/guard.py): a banned person's messages are neither stored nor relayed, and they are
told once per ban (`ban_told_at`). Their tickets stay; what they wrote before the ban stays in
the tickets' history, and whatever of it still waited to be sent (a paced flood) is not sent.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.services import outbound, users, validation
from bot.services.errors import Invalid
from bot.services.users import Actor
from storage.models import Delivery, Message, Role, User

log = logging.getLogger(__name__)

PENDING, CANCELLED = "pending", "cancelled"  # delivery statuses (bot/delivery.py)
REASON_LIMIT = 200

BANNED = (
    "You have been banned: your messages are no longer passed on to the support team."
    " You can still see your tickets (/tickets) and erase your data (/deleteme)."
)
UNBANNED = "Your ban has been lifted: your messages reach the support team again."


@dataclass(frozen=True)
class Banned:
    name: str
    cancelled: int  # messages of theirs that were waiting to be sent, and will not be


async def ban(
    session: AsyncSession, *, by: Actor, ref: str, reason: str | None, admin_ids: Collection[int]
) -> Banned:
    """/ban <user> [reason]: their messages are no longer relayed; their tickets stay.

    `admin_ids`: ADMIN_IDS, so that an admin who has not written yet cannot be banned either.
    """
    if by.role is not Role.ADMIN:
        raise Invalid("Only admins can ban people.")
    if reason is not None:
        reason = validation.text(reason, field="reason", limit=REASON_LIMIT)
    person = await users.find(session, ref)
    if person.id == by.user_id:
        raise Invalid("You cannot ban yourself.")
    if person.role == Role.ADMIN or person.telegram_id in admin_ids:
        raise Invalid(f"{person.display_name} is an admin and cannot be banned.")
    if person.role == Role.AGENT:
        raise Invalid(f"{person.display_name} is an agent: remove them with /removeagent first.")
    if person.banned_at is not None:
        raise Invalid(f"{person.display_name} is already banned.")
    person.banned_at = utcnow()
    person.banned_by = by.telegram_id
    person.ban_reason = reason
    person.ban_told_at = None
    # What they wrote that still waits for its paced turn is not sent either.
    cancelled = await session.execute(
        update(Delivery)
        .where(
            Delivery.status == PENDING,
            Delivery.message_id.in_(select(Message.id).where(Message.author_id == person.id)),
        )
        .values(status=CANCELLED, last_error="banned")
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    log.info("user %s banned by %s", person.telegram_id, by.telegram_id)
    return Banned(name=person.display_name, cancelled=cancelled.rowcount)


async def unban(session: AsyncSession, *, by: Actor, ref: str) -> User:
    """/unban <user>: what they write from now on is relayed again (and they are told)."""
    if by.role is not Role.ADMIN:
        raise Invalid("Only admins can lift a ban.")
    person = await users.find(session, ref)
    if person.banned_at is None:
        raise Invalid(f"{person.display_name} is not banned.")
    person.banned_at = person.banned_by = person.ban_reason = person.ban_told_at = None
    if person.deleted_at is None:
        await outbound.queue_text(session, chat_id=person.telegram_id, text=UNBANNED)
    await session.flush()
    log.info("user %s unbanned by %s", person.telegram_id, by.telegram_id)
    return person


async def tell_once(session: AsyncSession, *, user_id: int) -> bool:
    """Whether a banned person is to be told of their ban now: the first time since the ban."""
    told = await session.execute(
        update(User)
        .where(User.id == user_id, User.banned_at.is_not(None), User.ban_told_at.is_(None))
        .values(ban_told_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return told.rowcount == 1
