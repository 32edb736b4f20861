"""Canned replies: saved answers an agent sends to a ticket's customer with `/r name`."""

from __future__ import annotations

import re

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import relay, tickets, users, validation
from bot.services.errors import Forbidden, Invalid, NotFound
from bot.services.users import Actor
from storage.models import CannedReply, Role

NAME = re.compile(r"[a-z0-9_-]{1,32}")
NAME_RULE = "A canned reply's name is 1-32 characters of a-z, 0-9, _ and -."
PLACEHOLDERS = ("{customer}", "{agent}", "{ticket}")


def parse_name(value: str) -> str:
    name = value.strip().lower()
    if not NAME.fullmatch(name):
        raise Invalid(NAME_RULE)
    return name


def fill(text: str, *, customer: str, agent: str, number: int) -> str:
    """The placeholders filled in; anything else, braces included, stays as written."""
    values = {"{customer}": customer, "{agent}": agent, "{ticket}": f"#{number}"}
    return re.sub("|".join(map(re.escape, PLACEHOLDERS)), lambda m: values[m.group()], text)


async def save(session: AsyncSession, *, by: Actor, name: str, text: str) -> bool:
    """Add the reply `name` (admins only), or replace its text; True if it is new."""
    if by.role is not Role.ADMIN:
        raise Forbidden("Only admins can add or delete canned replies.")
    name = parse_name(name)
    text = validation.text(text, field="canned reply", limit=validation.MESSAGE_LIMIT)
    found = await session.scalar(select(CannedReply).where(CannedReply.name == name))
    if found is not None:
        found.text = text
        return False
    session.add(CannedReply(name=name, text=text, created_by=by.telegram_id))
    await session.flush()
    return True


async def remove(session: AsyncSession, *, by: Actor, name: str) -> None:
    if by.role is not Role.ADMIN:
        raise Forbidden("Only admins can add or delete canned replies.")
    name = parse_name(name)
    done = await session.execute(delete(CannedReply).where(CannedReply.name == name))
    if not done.rowcount:
        raise NotFound(f"There is no canned reply {name}.")


async def listing(session: AsyncSession) -> list[CannedReply]:
    return list(await session.scalars(select(CannedReply).order_by(CannedReply.name)))


async def by_id(session: AsyncSession, reply_id: int) -> CannedReply:
    found = await session.get(CannedReply, reply_id)
    if found is None:
        raise NotFound("That canned reply was deleted. /canned lists the ones there are.")
    return found


async def send(
    session: AsyncSession,
    *,
    actor: Actor,
    number: int,
    reply: CannedReply,
    incoming: relay.Incoming,
    team_chat_id: int | None = None,
) -> int:
    """Send `reply` to ticket #number's customer as the actor's answer (stored and relayed
    like any answer: durable, and it counts as the first response)."""
    ticket = await tickets.load_visible(session, actor=actor, number=number)
    customer = await users.get(session, ticket.customer_id)
    text = fill(reply.text, customer=customer.display_name, agent=actor.name, number=number)
    return await relay.staff_message(
        session,
        actor=actor,
        incoming=relay.Incoming(
            update_id=incoming.update_id,
            chat_id=incoming.chat_id,
            message_id=incoming.message_id,
            text=text,
            thread_id=incoming.thread_id,
        ),
        number=number,
        team_chat_id=team_chat_id,
    )


async def named(session: AsyncSession, name: str) -> CannedReply:
    name = parse_name(name)
    found = await session.scalar(select(CannedReply).where(CannedReply.name == name))
    if found is None:
        raise NotFound(f"There is no canned reply {name}. /canned lists them.")
    return found
