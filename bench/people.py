"""The people the bot benchmarks start from: an admin, agents, and customers with one ticket
each, assigned round robin to the agents; written with the real services (invites,
registration, lifecycle)."""

from __future__ import annotations

from bot.services import invites, lifecycle, registration, users
from storage.db import create_engine, create_session_factory
from storage.models import Priority
from tests.support.harness import ADMIN_ID

CUSTOMER_BASE, AGENT_BASE = 10_000, 20_000


def customer_id(index: int) -> int:
    return CUSTOMER_BASE + index


def agent_of(customer: int, agents: int) -> int:
    """The agent (Telegram id) the `customer`-th customer's ticket is assigned to."""
    return AGENT_BASE + customer % agents


async def populate(url: str, customers: int, agents: int, *, description: str) -> dict[int, int]:
    """Agents and customers, one ticket per customer assigned to an agent; customer -> ticket."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    numbers: dict[int, int] = {}
    try:
        async with sessions() as session:
            by, _ = await users.touch(
                session, telegram_id=ADMIN_ID, username="ada", language=None, is_admin=True
            )
            for a in range(agents):
                invite = await invites.create(session, by=by, name=f"Agent {a}")
                actor, _ = await users.touch(
                    session,
                    telegram_id=AGENT_BASE + a,
                    username=f"agent{a}",
                    language=None,
                    is_admin=False,
                )
                user = await users.get(session, actor.user_id)
                await invites.redeem(session, user=user, token=invite.token, is_admin=False)
            for c in range(customers):
                actor, _ = await users.touch(
                    session,
                    telegram_id=customer_id(c),
                    username=f"customer{c}",
                    language=None,
                    is_admin=False,
                )
                await registration.complete(
                    session,
                    actor=actor,
                    name=f"Customer {c}",
                    email=f"customer{c}@example.org",
                    email_verified=True,
                    phone=None,
                )
                ticket = await lifecycle.open_ticket(
                    session,
                    customer=users.actor_of(
                        await users.get(session, actor.user_id), is_admin=False
                    ),
                    subject=f"Question {c}",
                    description=description,
                    priority=Priority.MEDIUM,
                    auto_assign=False,
                )
                await lifecycle.assign(
                    session, by=by, number=ticket.id, agent_ref=str(agent_of(c, agents))
                )
                numbers[customer_id(c)] = ticket.id
            await session.commit()
    finally:
        await engine.dispose()
    return numbers
