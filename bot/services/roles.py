"""ADMIN_IDS is who the admins are: the stored roles follow it at every start.

The role is stored (users.role) because queries need it: who gets /feedback copies, who can
be assigned a ticket, whose chat gets the admins' menu. Stored, it must not outlive the
setting: every process that starts with the settings (the bot, `python bot.py job ...`)
reconciles it before it does anything else, so a change of ADMIN_IDS takes effect at the
restart, not when the person next writes.

A former admin becomes a customer, not whatever they were before: ADMIN_IDS is the
operator's word on who holds power, and taking someone out of it should leave them no staff
access that nobody granted again (an admin does so with /addagent in one step). What they
were before cannot be told reliably either: an invite they once redeemed may have been undone
by /removeagent since. Their tickets go back to unassigned, as with /removeagent.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import notices
from bot.services import lifecycle
from storage.db import SessionFactory
from storage.models import Role, User

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reconciled:
    promoted: list[int] = field(default_factory=list)  # Telegram ids now stored as admins
    demoted: list[int] = field(default_factory=list)  # Telegram ids no longer admins


async def reconcile_admins(session: AsyncSession, admin_ids: Collection[int]) -> Reconciled:
    """Store the admin role for exactly the known people in `admin_ids`.

    The remaining admins are told who stopped being one and which tickets went back to
    unassigned.
    """
    ids = sorted(set(admin_ids))
    promoted = list(
        await session.scalars(
            update(User)
            .where(User.telegram_id.in_(ids), User.role != Role.ADMIN)
            .values(role=Role.ADMIN)
            .returning(User.telegram_id)
            .execution_options(synchronize_session=False)
        )
    )
    former = list(
        await session.scalars(
            select(User)
            .where(User.role == Role.ADMIN, User.telegram_id.not_in(ids))
            .order_by(User.id)
        )
    )
    for person in former:
        numbers = await lifecycle.demote(session, person=person, performer_id=None)
        await notices.admin_removed(session, admin_ids=ids, person=person, unassigned=numbers)
    await session.flush()
    return Reconciled(promoted=sorted(promoted), demoted=[p.telegram_id for p in former])


async def at_start(session_factory: SessionFactory, admin_ids: Collection[int]) -> Reconciled:
    """`reconcile_admins` in a transaction of its own, before a process does anything else."""
    async with session_factory() as session:
        reconciled = await reconcile_admins(session, admin_ids)
        await session.commit()
    if reconciled.promoted or reconciled.demoted:
        log.info(
            "ADMIN_IDS: now admins %s, no longer admins %s", reconciled.promoted, reconciled.demoted
        )
    return reconciled
