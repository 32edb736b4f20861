"""Ticket tags: lower-case words agents put on tickets to find and group them."""

from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow_seconds
from bot.services import activities, tickets
from bot.services.errors import Invalid
from bot.services.users import Actor
from storage.models import TicketTag

TAG = re.compile(r"[a-z0-9_-]{1,32}")
TAG_RULE = "Tags are 1-32 characters of a-z, 0-9, _ and -."
MAX_TAGS = 20


def parse(word: str) -> str:
    tag = word.strip().lower().removeprefix("#")
    if not TAG.fullmatch(tag):
        raise Invalid(TAG_RULE)
    return tag


async def of(session: AsyncSession, number: int) -> list[str]:
    rows = await session.scalars(
        select(TicketTag.tag).where(TicketTag.ticket_id == number).order_by(TicketTag.tag)
    )
    return list(rows)


async def of_many(session: AsyncSession, numbers: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {number: [] for number in numbers}
    rows = await session.execute(
        select(TicketTag.ticket_id, TicketTag.tag)
        .where(TicketTag.ticket_id.in_(numbers))
        .order_by(TicketTag.tag)
    )
    for number, tag in rows:
        found[number].append(tag)
    return found


async def add(session: AsyncSession, *, actor: Actor, number: int, words: list[str]) -> list[str]:
    """Tag a ticket the actor may see; the change is an activity. Returns its tags now."""
    if not words:
        raise Invalid("Usage: /tag N word...")
    wanted = list(dict.fromkeys(parse(word) for word in words))
    await tickets.load_visible(session, actor=actor, number=number)
    have = await of(session, number)
    new = [tag for tag in wanted if tag not in have]
    if len(have) + len(new) > MAX_TAGS:
        raise Invalid(f"A ticket has at most {MAX_TAGS} tags.")
    for tag in new:
        session.add(TicketTag(ticket_id=number, tag=tag))
    if new:
        await session.flush()
        await activities.record(
            session,
            ticket_id=number,
            activity={"tags_added": new},
            performer_id=actor.telegram_id,
            at=utcnow_seconds(),
        )
    return sorted({*have, *new})


async def remove(session: AsyncSession, *, actor: Actor, number: int, word: str) -> list[str]:
    tag = parse(word)
    await tickets.load_visible(session, actor=actor, number=number)
    done = await session.execute(
        delete(TicketTag).where(TicketTag.ticket_id == number, TicketTag.tag == tag)
    )
    if not done.rowcount:
        raise Invalid(f"#{number} has no tag {tag}.")
    await activities.record(
        session,
        ticket_id=number,
        activity={"tags_removed": [tag]},
        performer_id=actor.telegram_id,
        at=utcnow_seconds(),
    )
    return await of(session, number)
